//! End to end against the real `vouch-server` binary: init, invite, register a technician,
//! upload a scan, approve, device challenge and enrollment, mTLS hello, revoke, hello refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use vouch_protocol::p256::ecdsa::SigningKey;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_approve_enroll_hello_revoke() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "Tess Technician").await;
    let device = Device::new("SN-0001");

    // Before any scan the device is unknown: a uniform refusal, and nothing is stored.
    let (status, body, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("refused")),
        "{body}"
    );
    assert!(server
        .admin_ok(&["device", "list", "--json"])
        .contains("\"devices\":[]"));

    let record = tech.record(&device.text());
    let (status, answer) = tech.upload(&server, std::slice::from_ref(&record)).await;
    assert_eq!(status, 200);
    assert_eq!(answer["results"][0]["outcome"], "accepted", "{answer}");
    // At least once from the client, idempotent on the server.
    let (_, again) = tech.upload(&server, &[record]).await;
    assert_eq!(again["results"][0]["outcome"], "duplicate");

    let list: Value =
        serde_json::from_str(&server.admin_ok(&["device", "list", "--json"])).unwrap();
    assert_eq!(list["devices"][0]["serial"], "SN-0001");
    assert_eq!(list["devices"][0]["state"], "scanned");

    // Proven but not approved: the device may learn that it should wait.
    let (status, body, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("pending_approval")),
        "{body}"
    );

    server.admin_ok(&[
        "device",
        "approve",
        "SN-0001",
        "--reason",
        "checked on site",
    ]);
    let (status, cert, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_eq!(status, 200, "{cert}");
    let cert_pem = cert["certificate_pem"].as_str().unwrap().to_string();
    let device_key_pem = key_pem(&device.key);

    let mtls = http(&server, Some((&cert_pem, &device_key_pem)));
    let (status, hello) = call(&mtls, &server, Method::GET, "/v1/device/hello", None).await;
    assert_eq!(status, 200, "{hello}");
    assert_eq!(hello["serial"], "SN-0001");
    assert_eq!(hello["state"], "enrolled");

    let show: Value =
        serde_json::from_str(&server.admin_ok(&["device", "show", "SN-0001", "--json"])).unwrap();
    let events: Vec<&str> = show["device"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["scanned", "approved", "enrolled"]);
    assert_eq!(show["scans"][0]["technician"], "Tess Technician");

    server.admin_ok(&["device", "revoke", "SN-0001", "--reason", "decommissioned"]);
    let fresh = http(&server, Some((&cert_pem, &device_key_pem)));
    let (status, refused) = call(&fresh, &server, Method::GET, "/v1/device/hello", None).await;
    assert_eq!(status, 403, "{refused}");

    // The CRL now lists the certificate.
    let serial = x509_parser::parse_x509_certificate(&pem_der(&cert_pem))
        .unwrap()
        .1
        .raw_serial()
        .to_vec();
    assert!(
        crl_serials(&server).await.contains(&serial),
        "revoked serial not in CRL"
    );

    let verify = server.admin_ok(&["audit", "verify"]);
    assert!(verify.contains("audit log OK"), "{verify}");
    let export = server.admin_ok(&["audit", "export"]);
    for action in [
        "staff.invited",
        "staff.registered",
        "scan.accepted",
        "device.approved",
        "device.enrolled",
        "device.revoked",
    ] {
        assert!(export.contains(action), "audit export lacks {action}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekey_enrollment_then_renewal_and_the_label_key_enrolls_once() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let device = Device::new("SN-RK");
    tech.scan_and_upload(&server, &device.text()).await;
    server.admin_ok(&["device", "approve", "SN-RK", "--reason", "ok"]);

    let operational = vouch_protocol::p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let options = EnrollOptions {
        mode: vouch_protocol::enroll::EnrollMode::Rekey,
        csr_key: Some(operational.clone()),
        ..Default::default()
    };
    let (status, cert, _) = enroll(&server, &device, &options).await;
    assert_eq!(status, 200, "{cert}");
    let cert_pem = cert["certificate_pem"].as_str().unwrap();
    let issued = x509_parser::parse_x509_certificate(&pem_der(cert_pem))
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    assert_eq!(
        issued,
        spki_of(&operational),
        "the certificate is for the operational key"
    );

    // A second enrollment with the label key is refused and flagged.
    let (status, body, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("already_enrolled")),
        "{body}"
    );
    let show = server.admin_ok(&["device", "show", "SN-RK", "--json"]);
    assert!(show.contains("duplicate_enrollment"));

    // Renewal over the current mTLS session.
    let mtls = http(&server, Some((cert_pem, &key_pem(&operational))));
    let next = vouch_protocol::p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let body = json!({"csr": vouch_protocol::enroll::encode_base64(&csr_for(&next, "SN-RK"))});
    let (status, renewed) =
        call(&mtls, &server, Method::POST, "/v1/device/renew", Some(body)).await;
    assert_eq!(status, 200, "{renewed}");
    let renewed_pem = renewed["certificate_pem"].as_str().unwrap();
    let with_new = http(&server, Some((renewed_pem, &key_pem(&next))));
    assert_eq!(
        call(&with_new, &server, Method::GET, "/v1/device/hello", None)
            .await
            .0,
        200
    );
    // The superseded certificate no longer works: its record was revoked with the renewal, so
    // it is refused at that step (PROTOCOL.md 11.3 step 4) and says so.
    let with_old = http(&server, Some((cert_pem, &key_pem(&operational))));
    let (status, refused) = call(&with_old, &server, Method::GET, "/v1/device/hello", None).await;
    assert_eq!(
        (status, &refused),
        (
            403,
            &json!({"code": "forbidden", "message": "this client certificate is revoked"})
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_delivered_again_for_the_same_csr() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let device = Device::new("SN-LOST");
    tech.scan_and_upload(&server, &device.text()).await;
    server.admin_ok(&["device", "approve", "SN-LOST", "--reason", "ok"]);
    let fixed_csr = csr_for(&device.key, "SN-LOST");
    let options = EnrollOptions {
        csr_der: Some(fixed_csr),
        ..Default::default()
    };
    let (s1, first, _) = enroll(&server, &device, &options).await;
    let (s2, second, _) = enroll(&server, &device, &options).await;
    assert_eq!((s1, s2), (200, 200), "{first} {second}");
    assert_eq!(
        first["certificate_pem"], second["certificate_pem"],
        "same certificate, not a second one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_restarts_with_its_state() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let device = Device::new("SN-PERSIST");
    tech.scan_and_upload(&server, &device.text()).await;
    let dir = server.stop();
    let server = Server::serve(dir);
    let list = server.admin_ok(&["device", "list"]);
    assert!(
        list.contains("SN-PERSIST") && list.contains("scanned"),
        "{list}"
    );
    let (status, _) = tech
        .scan_and_upload(&server, &Device::new("SN-2").text())
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollments_answered_before_a_crash_survive_it() {
    let mut server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let devices: Vec<Device> = (0..6).map(|i| Device::new(&format!("SN-CR{i}"))).collect();
    for device in &devices {
        tech.scan_and_upload(&server, &device.text()).await;
        server.admin_ok(&["device", "approve", device.serial(), "--reason", "ok"]);
    }
    // Enroll them all at once, then kill the server the moment the last answer is in: every
    // answered enrollment must have reached the file before its answer (sled's flush; a SIGKILL
    // keeps the kernel's page cache, so this does not test the fdatasync after it).
    let options = EnrollOptions::default();
    let answers =
        futures::future::join_all(devices.iter().map(|d| enroll(&server, d, &options))).await;
    let issued: Vec<String> = answers
        .iter()
        .map(|(status, body, _)| {
            assert_eq!(*status, 200, "{body}");
            body["certificate_pem"].as_str().unwrap().to_string()
        })
        .collect();
    server.crash_and_restart();
    for (device, pem) in devices.iter().zip(&issued) {
        let show = server.admin_ok(&["device", "show", device.serial(), "--json"]);
        let show: Value = serde_json::from_str(&show).unwrap();
        assert_eq!(show["device"]["state"], "enrolled", "{show}");
        // The certificate the device was given, not another one.
        assert_eq!(
            show["device"]["certificate"]["pem"].as_str(),
            Some(pem.as_str())
        );
    }
    let verify = server.admin_ok(&["audit", "verify"]);
    assert!(verify.contains("audit log OK"), "{verify}");
}

/// `vouch-server --data DATA serve` on a free loopback port.
fn serve_command(data: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(bin());
    command
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    command
}

/// Starts `vouch-server serve` on the folder without waiting for it.
fn spawn_serve(data: &std::path::Path) -> std::process::Child {
    serve_command(data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// A server killed again and again while it starts (a restart loop, a power cut at boot) must
/// still start afterwards with its data: 40 kills spread over its start. sled writes a snapshot
/// only on the first open after its log grew, a window too short to hit by timing, so the torn
/// snapshot such a kill can leave (`vendor/sled/VOUCH-PATCH.md`, patch 4) is planted before the
/// last start: without the patch, that start fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_while_starting_starts_again_with_its_data() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let (status, _) = tech
        .scan_and_upload(&server, &Device::new("SN-BOOT").text())
        .await;
    assert_eq!(status, 200);
    let data = server.stop();
    let addr_file = data.path().join("server.addr");

    // How long a start takes here, up to the address it writes once it listens.
    let _ = std::fs::remove_file(&addr_file);
    let started = std::time::Instant::now();
    let mut probe = spawn_serve(data.path());
    while !addr_file.exists() {
        assert!(started.elapsed().as_secs() < 30, "the server did not start");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let startup = started.elapsed();
    probe.kill().unwrap();
    probe.wait().unwrap();

    // Kills spread evenly over the start, and a little past it.
    const KILLS: u32 = 40;
    for i in 0..KILLS {
        let mut child = spawn_serve(data.path());
        std::thread::sleep(startup.mul_f64(1.2 * f64::from(i) / f64::from(KILLS)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }

    std::fs::write(
        data.path()
            .join("db")
            .join("snap.7FFFFFFFFFFFFFFF.generating"),
        b"torn by a kill",
    )
    .unwrap();
    let server = Server::serve(data);
    let list = server.admin_ok(&["device", "list"]);
    assert!(
        list.contains("SN-BOOT") && list.contains("scanned"),
        "{list}"
    );
    let verify = server.admin_ok(&["audit", "verify"]);
    assert!(verify.contains("audit log OK"), "{verify}");
}

/// sled allows one process per database: a second server on a folder in use stops with a
/// message that says so (after waiting a moment for the lock), and the first one keeps serving.
#[test]
fn a_second_server_on_a_folder_in_use_is_refused_clearly() {
    let server = Server::start();
    let out = serve_command(server.data()).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is in use by another process") && stderr.contains("another vouch-server"),
        "{stderr}"
    );
    // The first server still answers (admin commands go through its API).
    let list = server.admin_ok(&["device", "list", "--json"]);
    assert!(list.contains("\"devices\":[]"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_intermediate_ca_issues_and_bad_imports_are_refused() {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let root_key = KeyPair::generate().unwrap();
    let mut root_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    root_params
        .distinguished_name
        .push(DnType::CommonName, "Corporate Root");
    root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let root_cert = root_params.self_signed(&root_key).unwrap();
    let root = Issuer::new(root_params, root_key);
    let mid_key = KeyPair::generate().unwrap();
    let mut mid_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    mid_params
        .distinguished_name
        .push(DnType::CommonName, "Vouch Intermediate");
    mid_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    mid_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    mid_params.use_authority_key_identifier_extension = true;
    let mid_cert = mid_params.signed_by(&mid_key, &root).unwrap();

    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = files.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let mid_pem = write("mid.pem", &mid_cert.pem());
    let mid_key_pem = write("mid.key.pem", &mid_key.serialize_pem());
    let other_key_pem = write(
        "other.key.pem",
        &KeyPair::generate().unwrap().serialize_pem(),
    );
    let root_pem = write("root.pem", &root_cert.pem());
    let init = |cert: &std::path::Path, key: &std::path::Path| {
        let data = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(bin())
            .arg("--data")
            .arg(data.path())
            .args(["init", "--hostname", "localhost", "--ca-cert"])
            .arg(cert)
            .arg("--ca-key")
            .arg(key)
            .output()
            .unwrap();
        (data, out)
    };
    let (_, out) = init(&mid_pem, &other_key_pem);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("does not belong")
    );

    let (data, out) = init(&mid_pem, &mid_key_pem);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::serve(data);
    let mut tech = register(&server, "technician", "T").await;
    let device = Device::new("SN-MID");
    tech.scan_and_upload(&server, &device.text()).await;
    server.admin_ok(&["device", "approve", "SN-MID", "--reason", "ok"]);
    let (status, cert, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_eq!(status, 200, "{cert}");
    let leaf = write("leaf.pem", cert["certificate_pem"].as_str().unwrap());
    let out = std::process::Command::new("openssl")
        .args(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile"])
        .arg(&root_pem)
        .arg("-untrusted")
        .arg(&mid_pem)
        .arg(&leaf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chain to the corporate root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_openapi_are_served() {
    let server = Server::start();
    let anon = http(&server, None);
    let get = |path: &str| anon.get(format!("{}{path}", server.url())).send();
    assert_eq!(get("/healthz").await.unwrap().text().await.unwrap(), "ok");
    // Two refusals for different reasons: the caller gets the same answer for both...
    let device = Device::new("SN-MET");
    let (status, unknown, request) = enroll(&server, &device, &EnrollOptions::default()).await;
    let mut malformed = serde_json::to_value(&request).unwrap();
    malformed["nonce"] = json!("not a nonce");
    let mut conn = Conn::open(&server, None).await;
    let (status2, refused) = conn
        .request("POST", "/v1/enroll/complete", &malformed)
        .await;
    assert_eq!((status, &unknown), (status2, &refused));
    assert_eq!(
        refused,
        json!({"code": "refused", "message": "enrollment refused"})
    );
    // ...and the operator's counters tell them apart, by the reason the log gives.
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    for reason in ["nonce_unknown_or_used", "nonce_malformed"] {
        assert!(
            metrics.contains(&format!(
                "vouch_refusals_total{{reason=\"{reason}\",front_door=\"native\"}} 1"
            )),
            "{reason}: {metrics}"
        );
    }
    assert!(!metrics.contains("reason=\"refused\""), "{metrics}");
    let log = server.log();
    assert!(
        log.contains("nonce_unknown_or_used") && log.contains("nonce_malformed"),
        "{log}"
    );
    assert!(
        metrics.contains("vouch_request_seconds_bucket"),
        "{metrics}"
    );
    let openapi: serde_json::Value = get("/openapi.json").await.unwrap().json().await.unwrap();
    assert_eq!(openapi["openapi"], "3.0.3");
    assert!(openapi["paths"]["/v1/enroll/complete"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crl_number_is_the_signing_time_in_milliseconds() {
    let server = Server::start();
    let before = now_ms();
    let crl = http(&server, None)
        .get(format!("{}/v1/crl", server.url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let after = now_ms();
    let (_, parsed) = x509_parser::parse_x509_crl(&crl).unwrap();
    let number = parsed.crl_number().expect("the CRL has a number");
    let number = u64::try_from(number.clone()).expect("the number fits in 64 bits");
    assert!(
        (before..=after).contains(&number),
        "CRL number {number} is not a millisecond time in {before}..={after}"
    );
}

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    u64::try_from(since.as_millis()).unwrap()
}

/// The serials on the server's CRL.
async fn crl_serials(server: &Server) -> Vec<Vec<u8>> {
    let crl = http(server, None)
        .get(format!("{}/v1/crl", server.url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let (_, parsed) = x509_parser::parse_x509_crl(&crl).unwrap();
    parsed
        .iter_revoked_certificates()
        .map(|r| r.raw_serial().to_vec())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_operator_credential_is_refused_everywhere_and_after_a_restart() {
    let server = Server::start();
    let read = |p: &str| std::fs::read_to_string(server.data().join(p)).unwrap();
    let (old_cert, old_key) = (
        read("operator/operator.pem"),
        read("operator/operator.key.pem"),
    );
    let old_serial = x509_parser::parse_x509_certificate(&pem_der(&old_cert))
        .unwrap()
        .1
        .raw_serial()
        .to_vec();
    let copied = http(&server, Some((&old_cert, &old_key)));
    let (status, _) = call(&copied, &server, Method::GET, "/v1/admin/staff", None).await;
    assert_eq!(status, 200, "the credential works before the rotation");

    let out = server.admin(&["operator", "rotate", "--reason", ""]);
    assert!(!out.status.success(), "a reason is required");
    let said = server.admin_ok(&["operator", "rotate", "--reason", "laptop lost"]);
    assert!(said.contains("rotated"), "{said}");
    assert_ne!(read("operator/operator.pem"), old_cert);
    let mode = std::fs::metadata(server.data().join("operator/operator.key.pem"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    assert!(!server.data().join("operator/operator.pem.new").exists());

    // The copy is refused; the new files work (the admin commands read them).
    let (status, answer) = call(&copied, &server, Method::GET, "/v1/admin/staff", None).await;
    assert_eq!(status, 403, "{answer}");
    server.admin_ok(&["device", "list"]);
    assert!(crl_serials(&server).await.contains(&old_serial));
    let audit = server.admin_ok(&["audit", "export"]);
    assert!(
        audit
            .lines()
            .any(|l| l.contains("operator.rotated") && l.contains("laptop lost")),
        "{audit}"
    );

    let server = Server::serve(server.stop());
    let copied = http(&server, Some((&old_cert, &old_key)));
    let (status, _) = call(&copied, &server, Method::GET, "/v1/admin/staff", None).await;
    assert_eq!(status, 403, "still refused after a restart");
    server.admin_ok(&["audit", "verify"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_renews_for_the_same_key_and_the_old_certificate_is_revoked() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let old_serial = x509_parser::parse_x509_certificate(&pem_der(&tech.cert_pem))
        .unwrap()
        .1
        .raw_serial()
        .to_vec();
    let renew = |client: &reqwest::Client, csr: Vec<u8>| {
        let body = json!({"csr": vouch_protocol::enroll::encode_base64(&csr)});
        let client = client.clone();
        let server = &server;
        async move { call(&client, server, Method::POST, "/v1/staff/renew", Some(body)).await }
    };

    // Refused: a CSR for another key (the key is the install's identity), no certificate.
    let other = SigningKey::random(&mut rand_core::OsRng);
    let (status, answer) = renew(&tech.client, csr_for(&other, "T")).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("bad_csr")),
        "{answer}"
    );
    let (status, _) = renew(&http(&server, None), csr_for(&tech.key, "T")).await;
    assert_eq!(status, 401);

    let (status, answer) = renew(&tech.client, csr_for(&tech.key, "T")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["key_id"], tech.key_id.as_str());
    let new_pem = answer["certificate_pem"].as_str().unwrap().to_string();

    // The old certificate is refused and on the CRL; the new one works, records included.
    let (status, _) = call(&tech.client, &server, Method::GET, "/v1/me", None).await;
    assert_eq!(status, 403, "the replaced certificate is refused");
    assert!(crl_serials(&server).await.contains(&old_serial));
    tech.client = http(&server, Some((&new_pem, &tech.key_pem)));
    let (status, me) = call(&tech.client, &server, Method::GET, "/v1/me", None).await;
    assert_eq!(
        (status, me["key_id"].as_str()),
        (200, Some(tech.key_id.as_str()))
    );
    let (status, answer) = tech
        .scan_and_upload(&server, &Device::new("SN-RENEWED").text())
        .await;
    assert_eq!(
        answer["results"][0]["outcome"], "accepted",
        "{status} {answer}"
    );
    let audit = server.admin_ok(&["audit", "export"]);
    assert!(audit.contains("staff.renewed"), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_lets_an_enrolled_device_enroll_again_with_its_label_key() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let device = Device::new("SN-AGAIN");
    tech.scan_and_upload(&server, &device.text()).await;
    let refused = server.admin(&["device", "reenroll", "SN-AGAIN", "--reason", "expired"]);
    assert!(!refused.status.success(), "only an enrolled device");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only an enrolled device"));
    server.admin_ok(&["device", "approve", "SN-AGAIN", "--reason", "checked"]);
    let (status, first, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_eq!(status, 200, "{first}");
    let first_pem = first["certificate_pem"].as_str().unwrap().to_string();
    let (status, again, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("already_enrolled")),
        "the label key enrolls once: {again}"
    );

    server.admin_ok(&[
        "device",
        "reenroll",
        "SN-AGAIN",
        "--reason",
        "certificate expired in storage",
    ]);
    // The certificate is revoked in the same commit; the label key may enroll once more.
    let old = http(&server, Some((&first_pem, &key_pem(&device.key))));
    let (status, _) = call(&old, &server, Method::GET, "/v1/device/hello", None).await;
    assert_eq!(status, 403);
    let serial = x509_parser::parse_x509_certificate(&pem_der(&first_pem))
        .unwrap()
        .1
        .raw_serial()
        .to_vec();
    assert!(crl_serials(&server).await.contains(&serial));
    let (status, second, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_eq!(status, 200, "{second}");
    let new_pem = second["certificate_pem"].as_str().unwrap().to_string();
    let mtls = http(&server, Some((&new_pem, &key_pem(&device.key))));
    let (status, hello) = call(&mtls, &server, Method::GET, "/v1/device/hello", None).await;
    assert_eq!((status, hello["state"].as_str()), (200, Some("enrolled")));
    let (status, third, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_eq!(status, 409, "and only once more: {third}");
    let audit = server.admin_ok(&["audit", "export"]);
    assert!(audit.contains("device.reenrollment_allowed"), "{audit}");
}
