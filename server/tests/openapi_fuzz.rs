//! The API description against the real server: schemathesis (pinned in
//! scripts/python-tools.txt, installed by scripts/setup.sh) generates requests from
//! `/openapi.json`, valid and invalid, for every operation, without a client certificate and
//! with a supervisor's, and fails on any 5xx answer and on any answer the description does not
//! allow (status code, content type, headers, body schema). Bounded by work, not by time: a
//! fixed number of examples per operation (about 12 s a run on an idle 2-core machine, several
//! times that when other builds share the cores). The wall-clock guard only stops a hung run; it
//! is far above any loaded run, so the test never fails for being slow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// What is checked on every answer.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

/// Test cases per operation and phase.
const EXAMPLES: &str = "25";

/// A run still going after this has hung (a loaded machine takes minutes, not this): it is
/// stopped and fails.
const RUN_LIMIT: Duration = Duration::from_secs(900);

/// Runs schemathesis over the server's own description; its output, and whether it passed.
fn schemathesis(server: &Server, work: &Path, client: Option<(&Path, &Path)>) -> (bool, String) {
    let mut command = Command::new(vouch_testkit::external_tool("schemathesis"));
    command
        .current_dir(work)
        .arg("run")
        .arg(format!("{}/openapi.json", server.url()))
        .arg("--url")
        .arg(server.url())
        .arg("--tls-verify")
        .arg(server.ca_pem_path())
        .args(["--checks", CHECKS, "--max-examples", EXAMPLES])
        .args(["--workers", "2", "--request-timeout", "10"])
        .args(["--generation-database", "none", "--no-color"])
        .args(["--wait-for-schema", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((cert, key)) = client {
        command
            .arg("--request-cert")
            .arg(cert)
            .arg("--request-cert-key")
            .arg(key);
    }
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > RUN_LIMIT {
            vouch_testkit::terminate(&mut child);
            let out = child.wait_with_output().unwrap();
            return (
                false,
                format!(
                    "schemathesis took longer than {RUN_LIMIT:?}:\n{}",
                    String::from_utf8_lossy(&out.stdout)
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The number after `label` in schemathesis' summary (0 when absent).
fn summary_number(text: &str, label: &str) -> usize {
    text.split(label)
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_as_its_openapi_description_says() {
    let server = Server::start();
    let supervisor = register(&server, "supervisor", "Sam").await;
    let work = tempfile::tempdir().unwrap();
    let cert = work.path().join("supervisor.pem");
    let key = work.path().join("supervisor.key.pem");
    std::fs::write(&cert, &supervisor.cert_pem).unwrap();
    std::fs::write(&key, &supervisor.key_pem).unwrap();

    for client in [None, Some((cert.as_path(), key.as_path()))] {
        let (ok, text) = schemathesis(&server, work.path(), client);
        let who = if client.is_some() {
            "with a supervisor certificate"
        } else {
            "without a client certificate"
        };
        assert!(
            ok,
            "schemathesis {who} found answers the description does not allow (or 5xx):\n{text}"
        );
        let selected = summary_number(&text, "Selected: ");
        assert!(
            selected >= 22 && text.contains(&format!("Tested: {selected}")),
            "every operation was tested {who}:\n{text}"
        );
    }
    // Nothing it sent took the server into an internal error.
    let log = server.log();
    assert!(!log.contains("internal error"), "{log}");
}
