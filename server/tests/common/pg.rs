//! Two `vouch-server` instances on one PostgreSQL database (a throwaway cluster from
//! `scripts/pg-cluster.sh`, through `vouch_testkit::PgCluster`), and reading its tables back.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use vouch_testkit::{external_tool, PgCluster};

use super::Server;

/// Two instances sharing one new database: `a` made by `init`, `b` given copies of the files
/// every instance needs (CA, TLS key and certificate, operator credential, configuration).
pub struct Pair {
    pub a: Server,
    pub b: Server,
    pub url: String,
}

/// The configuration edits of every test here: the store URL, and per-serial rates high
/// enough for the races (rate limits are per instance).
fn config_for(url: &str) -> Vec<(String, String)> {
    vec![
        ("url = \"\"".into(), format!("url = \"{url}\"")),
        (
            "rate_per_serial_per_minute = 12".into(),
            "rate_per_serial_per_minute = 1000".into(),
        ),
        (
            "rate_per_address_per_minute = 120".into(),
            "rate_per_address_per_minute = 10000".into(),
        ),
    ]
}

/// Copies what a second instance is given: everything `init` made but the sled database,
/// the log and the address file, which are each instance's own.
pub fn copy_instance_files(from: &Path, to: &Path) {
    for dir in ["ca", "tls", "operator"] {
        std::fs::create_dir_all(to.join(dir)).unwrap();
        for entry in std::fs::read_dir(from.join(dir)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(dir).join(entry.file_name())).unwrap();
        }
    }
    std::fs::copy(from.join("config.toml"), to.join("config.toml")).unwrap();
}

impl Pair {
    pub fn start() -> Self {
        Self::start_on(PgCluster::shared())
    }

    pub fn start_on(cluster: &PgCluster) -> Self {
        Self::on_database(cluster.create_database())
    }

    /// Two instances on the database `url` names (made by the test, with settings of its own).
    pub fn on_database(url: String) -> Self {
        let edits = config_for(&url);
        let edits: Vec<(&str, &str)> = edits
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        let a = Server::start_with_config(&edits);
        let b = Self::another(&a);
        Self { a, b, url }
    }

    /// Another instance on `a`'s database and files, on its own port.
    pub fn another(a: &Server) -> Server {
        let dir = tempfile::tempdir().unwrap();
        copy_instance_files(a.data(), dir.path());
        Server::serve(dir)
    }

    pub fn sql(&self, query: &str) -> String {
        sql(&self.url, query)
    }
}

/// One query's rows through `psql`, unaligned.
pub fn sql(url: &str, query: &str) -> String {
    let out = Command::new(external_tool("psql"))
        .args(["-X", "-qtA", "-v", "ON_ERROR_STOP=1", url, "-c", query])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// How many device certificate records the database holds for `serial`.
pub fn device_certs(pair: &Pair, serial: &str) -> usize {
    pair.sql(&format!(
        "SELECT count(*) FROM vouch_kv WHERE bucket = 'certs' \
         AND convert_from(value, 'UTF8')::jsonb->>'subject' = 'https://vouch.invalid/device/{serial}'"
    ))
    .parse()
    .unwrap()
}

pub fn audit_verifies(server: &Server) {
    let verify = server.admin_ok(&["audit", "verify"]);
    assert!(verify.contains("audit log OK"), "{verify}");
}

/// The certificate serial (hex) the database holds as `serial`'s current one.
pub fn current_certificate(pair: &Pair, serial: &str) -> String {
    pair.sql(&format!(
        "SELECT convert_from(value, 'UTF8')::jsonb->'certificate'->>'serial' FROM vouch_kv \
         WHERE bucket = 'devices' AND key = convert_to('{serial}', 'UTF8')"
    ))
}

/// Whether a certificate record with this serial (hex) is stored.
pub fn certificate_stored(pair: &Pair, cert_serial: &str) -> bool {
    pair.sql(&format!(
        "SELECT count(*) FROM vouch_kv WHERE bucket = 'certs' \
         AND key = convert_to('{cert_serial}', 'UTF8')"
    )) == "1"
}

/// An answer while the database cannot serve: `true` for a 200; `false` for a JSON `503 busy`
/// with a message; anything else fails the test.
pub fn assert_ok_or_busy(status: u16, body: &Value) -> bool {
    match status {
        200 => true,
        503 => {
            assert_eq!(body["code"], "busy", "{body}");
            assert!(
                body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{body}"
            );
            false
        }
        _ => panic!("{status} {body}"),
    }
}
