//! Enrollment, hello and renewal against an in-process stand-in server (tests/common): the
//! HTTP requests the client sends, channel binding end to end, and error mapping.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::TestServer;
use vouch_device::store::{CERT_FILE, CHAIN_FILE, OPERATIONAL_KEY_FILE, PENDING_FILE};
use vouch_device::{
    enroll, enroll_wait, exit, hello, keygen, load, renew, request_challenge, EnrollMode,
    EnrollOptions, Error, Server, Session, WaitPolicy,
};
use vouch_protocol::key::public_key_of;
use vouch_protocol::{Model, Serial};

fn new_device(dir: &std::path::Path, serial: &str) -> vouch_device::Device {
    keygen(
        dir,
        &Model::new("ACME-T1").unwrap(),
        &Serial::new(serial).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn client_exporter_equals_server_exporter_of_the_same_connection() {
    let server = TestServer::start().await;
    let mut session = Session::open(&server.server(), None).await.unwrap();
    let client_side = session.channel_binding().expect("rustls exports");
    // One request so the server has certainly recorded the connection.
    let reply = session.get("/nothing-here").await.unwrap();
    assert_eq!(reply.status, 404);
    let seen = server.seen();
    let server_side = server.state.lock().unwrap().exporters[&seen[0].connection];
    assert_eq!(client_side, server_side);

    // A second connection has another value.
    let other = Session::open(&server.server(), None).await.unwrap();
    assert_ne!(other.channel_binding(), Some(client_side));
}

#[tokio::test]
async fn enrollment_sends_the_contract_requests_on_one_connection_and_binds_it() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let device = new_device(tmp.path(), "SN-0001");
    server.register("SN-0001", device.public_key(), false);

    // Known but not approved: the proof verified, the answer is "try later".
    let err = enroll(tmp.path(), &server.server(), &EnrollOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PendingApproval), "{err:?}");
    assert_eq!(err.exit_code(), exit::NOT_YET_APPROVED);
    assert!(!tmp.path().join(CERT_FILE).exists());

    server.approve("SN-0001");
    let issued = enroll(tmp.path(), &server.server(), &EnrollOptions::default())
        .await
        .unwrap();
    assert_eq!(issued.cert.public_key, device.public_key());

    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    for pair in seen.chunks(2) {
        let (challenge, complete) = (&pair[0], &pair[1]);
        assert_eq!(
            challenge.connection, complete.connection,
            "one TLS connection"
        );
        assert_eq!(
            (challenge.method.as_str(), challenge.path.as_str()),
            ("POST", "/v1/enroll/challenge")
        );
        assert_eq!(
            (complete.method.as_str(), complete.path.as_str()),
            ("POST", "/v1/enroll/complete")
        );
        let body: serde_json::Value = serde_json::from_slice(&challenge.body).unwrap();
        assert_eq!(body, serde_json::json!({"serial": "SN-0001"}));
        let header = |name: &str| {
            complete
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header("content-type").as_deref(), Some("application/json"));
        assert_eq!(
            header("host"),
            Some(format!("127.0.0.1:{}", server.addr.port()))
        );
        let body: serde_json::Value = serde_json::from_slice(&complete.body).unwrap();
        assert_eq!(body["mode"], "same_key");
        assert_eq!(body["channel_binding"], "tls-exporter");
        assert_eq!(body["serial"], "SN-0001");
        assert_eq!(body["signature"].as_str().unwrap().len(), 128);
    }

    // The server verified both signatures with its own exporter of that very connection.
    {
        let state = server.state.lock().unwrap();
        assert_eq!(state.verified_bindings.len(), 2);
        for (connection, binding) in &state.verified_bindings {
            assert_eq!(binding.as_ref(), Some(&state.exporters[connection]));
        }
    }

    // Stored: certificate and chain; the label key is the mTLS key.
    assert!(tmp.path().join(CHAIN_FILE).exists());
    assert!(!tmp.path().join(OPERATIONAL_KEY_FILE).exists());
    let identity = load(tmp.path()).unwrap().identity().unwrap();
    assert_eq!(public_key_of(identity.key()), device.public_key());

    // Enrolling again is refused locally (the server would flag it).
    let err = enroll(tmp.path(), &server.server(), &EnrollOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyEnrolled { .. }), "{err:?}");
}

/// An `enroll` cut off after it committed the answer (certificate staged, last) and before it
/// moved it into place: running the same command again succeeds with that certificate and sends
/// nothing, where it used to find the device "already enrolled" (exit 2). A device that was
/// enrolled before is still refused.
#[tokio::test]
async fn enroll_run_again_after_an_interrupted_install_succeeds_without_asking_again() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let device = new_device(dir, "SN-0009");
    server.register("SN-0009", device.public_key(), true);
    let options = EnrollOptions::default();
    let issued = enroll(dir, &server.server(), &options).await.unwrap();
    let asked = server.seen().len();
    // The state a kill leaves between staging the answer and moving it into place.
    for name in [CERT_FILE, CHAIN_FILE] {
        fs::rename(dir.join(name), dir.join(format!("{name}.new"))).unwrap();
    }

    let again = enroll(dir, &server.server(), &options).await.unwrap();
    assert_eq!(
        again.response.certificate_pem,
        issued.response.certificate_pem
    );
    assert_eq!(again.response.chain_pem, issued.response.chain_pem);
    assert_eq!(again.response.not_after_ms, issued.response.not_after_ms);
    assert_eq!(again.cert, issued.cert);
    assert_eq!(server.seen().len(), asked, "nothing was sent");
    assert!(!dir.join(format!("{CERT_FILE}.new")).exists());

    // Once in place, the device is enrolled, and enrolling it again is refused as before.
    let err = enroll(dir, &server.server(), &options).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyEnrolled { .. }), "{err:?}");
    // So is an update that replaced a certificate (a renewal cut off the same way).
    fs::copy(dir.join(CERT_FILE), dir.join(format!("{CERT_FILE}.new"))).unwrap();
    let err = enroll(dir, &server.server(), &options).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyEnrolled { .. }), "{err:?}");
}

#[tokio::test]
async fn no_channel_binding_is_signed_and_labelled_as_none() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let device = new_device(tmp.path(), "SN-0002");
    server.register("SN-0002", device.public_key(), true);
    let options = EnrollOptions {
        channel_binding: vouch_device::ChannelBinding::None,
        ..EnrollOptions::default()
    };
    enroll(tmp.path(), &server.server(), &options)
        .await
        .unwrap();
    let state = server.state.lock().unwrap();
    assert_eq!(state.verified_bindings.len(), 1);
    assert_eq!(state.verified_bindings[0].1, None);
}

#[tokio::test]
async fn rekey_stores_a_0600_operational_key_bound_by_the_label_key() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let device = new_device(tmp.path(), "SN-0003");
    server.register("SN-0003", device.public_key(), true);
    let options = EnrollOptions {
        mode: EnrollMode::Rekey,
        ..EnrollOptions::default()
    };
    let issued = enroll(tmp.path(), &server.server(), &options)
        .await
        .unwrap();
    let key_path = tmp.path().join(OPERATIONAL_KEY_FILE);
    assert_eq!(
        fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let operational = vouch_device::store::read_key(&key_path).unwrap();
    assert_eq!(issued.cert.public_key, public_key_of(&operational));
    assert_ne!(issued.cert.public_key, device.public_key());
    let body: serde_json::Value = serde_json::from_slice(&server.seen()[1].body).unwrap();
    assert_eq!(body["mode"], "rekey");

    let identity = load(tmp.path()).unwrap().identity().unwrap();
    assert_eq!(public_key_of(identity.key()), public_key_of(&operational));
    let hello = hello(tmp.path(), &server.server()).await.unwrap();
    assert_eq!(hello.serial, "SN-0003");
}

#[tokio::test]
async fn unknown_device_is_refused() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    new_device(tmp.path(), "SN-0404");
    let err = enroll(tmp.path(), &server.server(), &EnrollOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Refused { code, .. } if code == "refused"),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), exit::REFUSED);
    // The challenge answer looks the same for unknown serials.
    let mut session = Session::open(&server.server(), None).await.unwrap();
    request_challenge(&mut session, &Serial::new("SN-0404").unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn hello_and_renew_over_mtls() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let device = new_device(tmp.path(), "SN-0005");

    let err = hello(tmp.path(), &server.server()).await.unwrap_err();
    assert!(matches!(err, Error::NotEnrolled { .. }), "{err:?}");

    server.register("SN-0005", device.public_key(), true);
    enroll(tmp.path(), &server.server(), &EnrollOptions::default())
        .await
        .unwrap();
    let first = hello(tmp.path(), &server.server()).await.unwrap();
    assert_eq!(first.serial, "SN-0005");
    assert_eq!(
        first.key_fingerprint,
        device.public_key().fingerprint().to_string()
    );
    assert!(
        first.extra.contains_key("connection"),
        "unknown fields are kept"
    );

    let old_cert = fs::read_to_string(tmp.path().join(CERT_FILE)).unwrap();
    let renewed = renew(tmp.path(), &server.server()).await.unwrap();
    let new_cert = fs::read_to_string(tmp.path().join(CERT_FILE)).unwrap();
    assert_ne!(old_cert, new_cert);
    let operational =
        vouch_device::store::read_key(&tmp.path().join(OPERATIONAL_KEY_FILE)).unwrap();
    assert_eq!(renewed.cert.public_key, public_key_of(&operational));
    let renew_request = server
        .seen()
        .into_iter()
        .find(|s| s.path == "/v1/device/renew")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&renew_request.body).unwrap();
    assert!(body["csr"].is_string());
    assert_eq!(body.as_object().unwrap().len(), 1);

    // The renewed identity works.
    assert_eq!(
        hello(tmp.path(), &server.server()).await.unwrap().serial,
        "SN-0005"
    );
    assert!(
        vouch_device::renewal_due(tmp.path(), Duration::from_secs(100 * 365 * 86_400)).unwrap()
    );
    assert!(!vouch_device::renewal_due(tmp.path(), Duration::from_secs(60)).unwrap());
}

#[tokio::test]
async fn a_failed_renewal_keeps_the_old_identity() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let device = new_device(tmp.path(), "SN-0006");
    server.register("SN-0006", device.public_key(), true);
    enroll(tmp.path(), &server.server(), &EnrollOptions::default())
        .await
        .unwrap();
    let before = fs::read_to_string(tmp.path().join(CERT_FILE)).unwrap();
    // The server forgets the certificate: it now refuses it.
    let issued = std::mem::take(&mut server.state.lock().unwrap().issued);
    let err = renew(tmp.path(), &server.server()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Refused { code, .. } if code == "client_certificate_required"),
        "{err:?}"
    );
    assert_eq!(
        fs::read_to_string(tmp.path().join(CERT_FILE)).unwrap(),
        before
    );
    assert!(!tmp.path().join(OPERATIONAL_KEY_FILE).exists());

    // The renewal stays pending (its answer might have been lost), and the next attempt sends
    // the very same CSR; a stored answer ends it.
    assert!(vouch_device::renewal_pending(tmp.path()).unwrap());
    let mode = fs::metadata(tmp.path().join(PENDING_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "it holds the new private key");
    let first = renewal_csr(&server.seen());
    server.state.lock().unwrap().issued = issued;
    renew(tmp.path(), &server.server()).await.unwrap();
    assert_eq!(renewal_csr(&server.seen()), first);
    assert!(!vouch_device::renewal_pending(tmp.path()).unwrap());
    assert!(!tmp.path().join(PENDING_FILE).exists());
    assert!(tmp.path().join(OPERATIONAL_KEY_FILE).exists());
}

/// The CSR of the last renewal request the stand-in saw.
fn renewal_csr(seen: &[common::Seen]) -> String {
    let last = seen
        .iter()
        .rev()
        .find(|s| s.path == "/v1/device/renew")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
    body["csr"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_server_not_signed_by_the_given_ca_fails_verification() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    new_device(tmp.path().join("dev").as_path(), "SN-0007");
    let other_ca = common::TestPki::new("Someone else");
    let ca = tmp.path().join("other-ca.pem");
    fs::write(&ca, &other_ca.ca_pem).unwrap();
    let wrong = Server::new(&server.url, &ca).unwrap();
    let err = enroll(&tmp.path().join("dev"), &wrong, &EnrollOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert_eq!(err.exit_code(), exit::BAD_CA);
    assert!(server.seen().is_empty(), "no request was sent");

    // A name the certificate does not carry fails too.
    let renamed = server.server().with_server_name("vouch.invalid").unwrap();
    let err = Session::open(&renamed, None).await.unwrap_err();
    assert_eq!(err.exit_code(), exit::BAD_CA, "{err:?}");

    // An unusable CA file.
    fs::write(&ca, "not a certificate").unwrap();
    let err = Server::new(&server.url, &ca).unwrap_err();
    assert!(matches!(err, Error::BadCa { .. }), "{err:?}");
    assert_eq!(err.exit_code(), exit::BAD_CA);
    let err = Server::new(&server.url, &tmp.path().join("missing.pem")).unwrap_err();
    assert_eq!(err.exit_code(), exit::BAD_CA);
}

#[tokio::test]
async fn unreachable_and_unavailable_servers() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    new_device(tmp.path(), "SN-0008");
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let nowhere = Server::new(&format!("https://127.0.0.1:{port}"), &server.ca_path).unwrap();
    let err = enroll(tmp.path(), &nowhere, &EnrollOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert_eq!(err.exit_code(), exit::UNREACHABLE);

    let mut session = Session::open(&server.server(), None).await.unwrap();
    let err = session
        .get("/v1/unavailable")
        .await
        .unwrap()
        .ok()
        .unwrap_err();
    assert_eq!(err.exit_code(), exit::UNREACHABLE, "{err:?}");
}

#[tokio::test]
async fn bad_urls_are_argument_errors() {
    let server = TestServer::start().await;
    for url in [
        "http://127.0.0.1:1",
        "127.0.0.1:8443",
        "https://",
        "https://h/?q=1",
        "https://u@h/",
    ] {
        let err = Server::new(url, &server.ca_path).unwrap_err();
        assert_eq!(err.exit_code(), exit::BAD_ARGUMENTS, "{url}: {err:?}");
    }
    // A base path is kept.
    let based = Server::new(&format!("{}/base/", server.url), &server.ca_path).unwrap();
    let mut session = Session::open(&based, None).await.unwrap();
    session.get("/v1/x").await.unwrap();
    assert_eq!(server.seen()[0].path, "/base/v1/x");
}

#[tokio::test]
async fn wait_retries_until_approved() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let device = new_device(tmp.path(), "SN-0009");
    server.register("SN-0009", device.public_key(), false);
    let policy = WaitPolicy {
        deadline: Duration::from_secs(20),
        initial: Duration::from_millis(50),
        cap: Duration::from_millis(200),
    };
    let state = server.state.clone();
    let approver = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        state
            .lock()
            .unwrap()
            .devices
            .get_mut("SN-0009")
            .unwrap()
            .approved = true;
    });
    let mut retries = Vec::new();
    let issued = enroll_wait(
        tmp.path(),
        &server.server(),
        &EnrollOptions::default(),
        &policy,
        |e, delay| retries.push((e.exit_code(), delay)),
    )
    .await
    .unwrap();
    approver.await.unwrap();
    assert_eq!(issued.cert.public_key, device.public_key());
    assert!(!retries.is_empty());
    // Every attempt sent the same CSR: had an answer been lost, the server could re-send it.
    let csrs: std::collections::HashSet<String> = server
        .seen()
        .iter()
        .filter(|s| s.path == "/v1/enroll/complete")
        .map(|s| serde_json::from_slice::<serde_json::Value>(&s.body).unwrap()["csr"].to_string())
        .collect();
    assert_eq!(csrs.len(), 1, "{csrs:?}");
    assert!(!tmp.path().join(PENDING_FILE).exists());
    assert!(retries.iter().all(
        |(code, delay)| *code == exit::NOT_YET_APPROVED && *delay <= Duration::from_millis(200)
    ));
}

#[tokio::test]
async fn wait_gives_up_at_the_deadline_and_stops_on_refusal() {
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let device = new_device(tmp.path(), "SN-0010");
    server.register("SN-0010", device.public_key(), false);
    let policy = WaitPolicy {
        deadline: Duration::from_millis(700),
        initial: Duration::from_millis(50),
        cap: Duration::from_millis(100),
    };
    let started = std::time::Instant::now();
    let err = enroll_wait(
        tmp.path(),
        &server.server(),
        &EnrollOptions::default(),
        &policy,
        |_, _| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::PendingApproval), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A refusal is final: no retry.
    let tmp2 = tempfile::tempdir().unwrap();
    new_device(tmp2.path(), "SN-0011");
    let mut retries = 0;
    let err = enroll_wait(
        tmp2.path(),
        &server.server(),
        &EnrollOptions::default(),
        &policy,
        |_, _| retries += 1,
    )
    .await
    .unwrap_err();
    assert_eq!(err.exit_code(), exit::REFUSED);
    assert_eq!(retries, 0);
}
