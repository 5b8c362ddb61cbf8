//! TLS to PostgreSQL, against real clusters from `scripts/pg-cluster.sh` on a loopback port:
//! one with `ssl=on` and a certificate made here (TCP clients must use TLS: pg_hba has only
//! `hostssl`), one that offers no TLS. The store works over TLS verified against
//! `store.ca_file`; a certificate from another CA, one for another host name, and a server that
//! offers no TLS where `sslmode=require` asks for it are each refused with a message that says
//! which, by the backend and by `vouch-server init`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::pg::sql;
use common::*;
use vouch_server::store::postgres::PgBackend;
use vouch_testkit::{PgCluster, ServerProcess};

/// A CA, a server certificate it signed for `localhost`, and another CA that signed nothing
/// here: PEM files in a folder that lives as long as the test process.
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    other_ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn ca(name: &str) -> (rcgen::CertificateParams, rcgen::KeyPair) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    (params, rcgen::KeyPair::generate().unwrap())
}

impl Pki {
    fn make() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        let (ca_params, ca_key) = ca("Vouch test database CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let (other_params, other_key) = ca("Another CA");
        let other_cert = other_params.self_signed(&other_key).unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let mut server = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        server
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let server_cert = server.signed_by(&server_key, &issuer).unwrap();
        Self {
            ca: write("ca.pem", ca_cert.pem()),
            other_ca: write("other-ca.pem", other_cert.pem()),
            cert: write("server.crt", server_cert.pem()),
            key: write("server.key", server_key.serialize_pem()),
            _dir: dir,
        }
    }
}

/// The PKI and the TLS-only cluster its certificate is served by, shared by the tests here.
fn tls_cluster() -> &'static (Pki, PgCluster) {
    static CLUSTER: OnceLock<(Pki, PgCluster)> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let pki = Pki::make();
        let cluster = PgCluster::start_tcp(Some((&pki.cert, &pki.key)));
        (pki, cluster)
    })
}

/// A cluster on a loopback port that offers no TLS.
fn plain_cluster() -> &'static PgCluster {
    static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| PgCluster::start_tcp(None))
}

/// A new database's URL with `sslmode` added.
fn database(cluster: &PgCluster, sslmode: &str) -> String {
    format!("{}&sslmode={sslmode}", cluster.create_database())
}

/// The error `PgBackend::connect_with` gives, as text; panics if it connected.
fn refusal(url: &str, ca_file: Option<&Path>) -> String {
    match PgBackend::connect_with(url, 2, ca_file) {
        Ok(_) => panic!("connected to {url}"),
        Err(e) => e.to_string(),
    }
}

/// A data folder `vouch-server init` set up on a new database of the TLS cluster, with
/// `sslmode=require`, and that database's URL.
fn initialised() -> (tempfile::TempDir, String) {
    let (pki, cluster) = tls_cluster();
    let url = database(cluster, "require");
    let data = tempfile::tempdir().unwrap();
    let out = init(data.path(), &url, &pki.ca);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (data, url)
}

/// `vouch-server init` on `data` with the store given by the environment.
fn init(data: &Path, url: &str, ca_file: &Path) -> Output {
    Command::new(bin())
        .arg("--data")
        .arg(data)
        .args(["init", "--hostname", "localhost"])
        .env("VOUCH_STORE_URL", url)
        .env("VOUCH_STORE_CA_FILE", ca_file)
        .output()
        .unwrap()
}

/// `init` and `serve` over TLS verified against `store.ca_file` (given in the environment),
/// and a round trip through the store: a technician registers and a scan is stored, on a
/// cluster that takes TCP clients over TLS only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_on_postgres_over_verified_tls() {
    let (pki, _) = tls_cluster();
    let (data, url) = initialised();
    let ca_file = pki.ca.to_str().unwrap();
    let env = [
        ("VOUCH_STORE_URL", url.as_str()),
        ("VOUCH_STORE_CA_FILE", ca_file),
    ];
    let process =
        ServerProcess::try_serve_with_env(Path::new(bin()), data, "127.0.0.1:0", "info", &env)
            .unwrap();
    let server = Server::from_process(process);

    let mut tech = register(&server, "technician", "Tess").await;
    let device = Device::new("SN-TLS-1");
    let (status, answer) = tech.scan_and_upload(&server, &device.text()).await;
    assert_eq!(
        answer["results"][0]["outcome"], "accepted",
        "{status} {answer}"
    );
    let listed = server.admin_ok(&["device", "list"]);
    assert!(listed.contains("SN-TLS-1"), "{listed}");

    // The server's own connections are the TLS ones PostgreSQL reports.
    let tls_sessions = sql(
        &url,
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE ssl AND pid <> pg_backend_pid() AND datname = current_database()",
    );
    // Without TLS this cluster takes no TCP client, so the round trip above was over TLS.
    assert_ne!(tls_sessions, "0", "no TLS session of the server");
}

/// `serve` given a CA file it cannot use stops with the reason, not a panic: the store is
/// opened inside the server's runtime, where the database runtime dropped on that error path
/// used to panic.
#[test]
fn serve_with_an_unusable_ca_file_says_why_and_does_not_panic() {
    let (data, url) = initialised();
    let empty = data.path().join("empty-ca.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    let out = Command::new(bin())
        .arg("--data")
        .arg(data.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("VOUCH_STORE_URL", &url)
        .env("VOUCH_STORE_CA_FILE", &empty)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("holds no certificate"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `init` in `data` run from the working folder `cwd`.
fn init_from(cwd: &Path, data: &Path) -> Output {
    Command::new(bin())
        .current_dir(cwd)
        .arg("--data")
        .arg(data)
        .args(["init", "--hostname", "localhost"])
        .output()
        .unwrap()
}

/// A data folder whose `config.toml` names the store at `url` with the relative
/// `ca_file = "pg/db-ca.pem"`.
fn data_naming_a_relative_ca_file(url: &str) -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let config = format!("[store]\nurl = \"{url}\"\nca_file = \"pg/db-ca.pem\"\n");
    std::fs::write(data.path().join("config.toml"), config).unwrap();
    data
}

/// A relative `store.ca_file` is the data folder's (config.rs `resolve_files`), whatever the
/// working folder: `init` run elsewhere and `serve` run from this test's folder both find
/// it and connect over verified TLS; a file of that name in the working folder, with none in
/// the data folder, is not used (init is refused, naming the path it read, and writes nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_ca_file_is_taken_from_the_data_folder() {
    let (pki, cluster) = tls_cluster();

    // The CA file only in the working folder: refused.
    let url = database(cluster, "require");
    let data = data_naming_a_relative_ca_file(&url);
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("pg")).unwrap();
    std::fs::copy(&pki.ca, cwd.path().join("pg/db-ca.pem")).unwrap();
    let out = init_from(cwd.path(), data.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let looked_at = data.path().join("pg/db-ca.pem");
    assert!(
        !out.status.success()
            && stderr.contains("store.ca_file")
            && stderr.contains(&looked_at.display().to_string()),
        "{stderr}"
    );
    assert!(!data.path().join("ca").exists(), "init wrote a CA");

    // The CA file only in the data folder, init from an empty folder: it connects.
    let url = database(cluster, "require");
    let data = data_naming_a_relative_ca_file(&url);
    std::fs::create_dir(data.path().join("pg")).unwrap();
    std::fs::copy(&pki.ca, data.path().join("pg/db-ca.pem")).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out = init_from(empty.path(), data.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `serve` runs in this test's working folder, which has no such file either.
    assert!(!Path::new("pg/db-ca.pem").exists());
    let process =
        ServerProcess::try_serve_with_env(Path::new(bin()), data, "127.0.0.1:0", "info", &[])
            .unwrap();
    let server = Server::from_process(process);
    let tech = register(&server, "technician", "Tess").await;
    assert!(!tech.key_id.is_empty());
    let listed = server.admin_ok(&["staff", "list"]);
    assert!(listed.contains("Tess"), "{listed}");
}

#[test]
fn the_tls_cluster_refuses_plain_tcp() {
    let (pki, cluster) = tls_cluster();
    let url = database(cluster, "disable");
    let e = refusal(&url, Some(&pki.ca));
    assert!(e.contains("no pg_hba.conf entry"), "{e}");
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let (pki, cluster) = tls_cluster();
    for sslmode in ["require", "prefer"] {
        // `prefer` falls back to plain text only when no TLS is offered, never past a
        // certificate that does not verify.
        let url = database(cluster, sslmode);
        let e = refusal(&url, Some(&pki.other_ca));
        assert!(
            e.contains("not signed by a CA this server trusts"),
            "{sslmode}: {e}"
        );
    }
    // The system's trust store does not hold the test CA either (or holds nothing).
    let url = database(cluster, "require");
    let e = refusal(&url, None);
    assert!(
        e.contains("not signed by a CA this server trusts") || e.contains("trust store has none"),
        "{e}"
    );
    // `init` says so and leaves no data folder behind.
    let data = tempfile::tempdir().unwrap();
    let out = init(data.path(), &url, &pki.other_ca);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not signed by a CA this server trusts"),
        "{stderr}"
    );
    assert!(!data.path().join("ca/ca.pem").exists());
}

#[test]
fn a_certificate_for_another_host_name_is_refused() {
    let (pki, cluster) = tls_cluster();
    // The same server, at 127.0.0.1, under a name its certificate does not carry.
    let url = database(cluster, "require").replacen("@localhost:", "@db.vouch.test:", 1);
    assert!(url.contains("@db.vouch.test:"), "{url}");
    let e = refusal(&url, Some(&pki.ca));
    assert!(
        e.contains("not valid for the host name in store.url"),
        "{e}"
    );
}

#[test]
fn require_refuses_a_server_that_offers_no_tls() {
    let (pki, _) = tls_cluster();
    let cluster = plain_cluster();
    let e = refusal(&database(cluster, "require"), Some(&pki.ca));
    assert!(
        e.contains("offers no TLS") && e.contains("sslmode=require"),
        "{e}"
    );
    let data = tempfile::tempdir().unwrap();
    let out = init(data.path(), &database(cluster, "require"), &pki.ca);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("offers no TLS"), "{stderr}");
    // The same server with `prefer`: it is reached, in plain text, so the refusal above was
    // about TLS and nothing else.
    let backend = PgBackend::connect_with(&database(cluster, "prefer"), 2, Some(&pki.ca)).unwrap();
    assert!(backend.schema_version().unwrap() > 0);
}
