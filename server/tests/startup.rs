//! `vouch-server serve` refuses to start, saying what is wrong, on a data folder it cannot
//! serve safely: a CA key that is not the CA certificate's, an invalid `log.level`, a database
//! folder that holds something other than a Vouch store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vouch_testkit::init_data;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_vouch-server"))
}

/// Runs `serve` on the folder and expects it to exit with an error within 30 s; its stderr.
/// A server that starts anyway is killed and the test fails.
fn serve_must_refuse(data: &Path) -> String {
    let mut child = Command::new(bin())
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("VOUCH_LOG_LEVEL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) || data.join("server.addr").exists() {
            vouch_testkit::terminate(&mut child);
            panic!("the server started on a folder it must refuse");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_ca_key_that_is_not_the_certificates_is_refused() {
    let data = init_data(bin(), &[]);
    let other = rcgen::KeyPair::generate().unwrap().serialize_pem();
    std::fs::write(data.path().join("ca/ca.key.pem"), other).unwrap();
    let stderr = serve_must_refuse(data.path());
    assert!(
        stderr.contains("the CA key does not belong to the CA certificate")
            && stderr.contains("ca.key.pem"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_log_level_is_refused() {
    let data = init_data(bin(), &[("level = \"info\"", "level = \"verbose\"")]);
    let stderr = serve_must_refuse(data.path());
    assert!(
        stderr.contains("log.level \"verbose\"") && stderr.contains("is not a level"),
        "{stderr}"
    );
}

#[test]
fn a_database_folder_of_garbage_is_refused() {
    let data = init_data(bin(), &[]);
    let db = data.path().join("db");
    std::fs::create_dir_all(&db).unwrap();
    for (name, bytes) in [("conf", &b"not sled\n"[..]), ("db", &[0x5a; 4096][..])] {
        std::fs::write(db.join(name), bytes).unwrap();
    }
    let stderr = serve_must_refuse(data.path());
    assert!(
        stderr.contains("cannot open the database in") && stderr.contains("not a Vouch store"),
        "{stderr}"
    );
}
