//! One test per refusal, against the real server binary. The refusal paths are the product.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use vouch_protocol::p256::ecdsa::SigningKey;

async fn scanned(server: &Server, serial: &str, approve: bool) -> (Staff, Device) {
    let mut tech = register(server, "technician", "T").await;
    let device = Device::new(serial);
    let (status, answer) = tech.scan_and_upload(server, &device.text()).await;
    assert_eq!(
        (status, answer["results"][0]["outcome"].as_str()),
        (200, Some("accepted")),
        "{answer}"
    );
    if approve {
        server.admin_ok(&["device", "approve", serial, "--reason", "ok"]);
    }
    (tech, device)
}

fn assert_refused(status: u16, body: &Value) {
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body,
        &json!({"code": "refused", "message": "enrollment refused"}),
        "refusals must all look the same"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_serial_is_refused_and_creates_no_state() {
    let server = Server::start();
    let stranger = Device::new("SN-NOBODY");
    let (status, body, _) = enroll(&server, &stranger, &EnrollOptions::default()).await;
    assert_refused(status, &body);
    assert!(server
        .admin_ok(&["device", "list", "--json"])
        .contains("\"devices\":[]"));
    assert!(
        server.log().contains("nonce_unknown_or_used"),
        "the log says why"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unapproved_rejected_and_conflict_devices_get_no_certificate() {
    let server = Server::start();
    let (mut tech, pending) = scanned(&server, "SN-P", false).await;
    let (status, body, _) = enroll(&server, &pending, &EnrollOptions::default()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("pending_approval"))
    );

    let rejected = Device::new("SN-R");
    tech.scan_and_upload(&server, &rejected.text()).await;
    server.admin_ok(&[
        "device",
        "reject",
        "SN-R",
        "--reason",
        "label looks tampered",
    ]);
    let (status, body, _) = enroll(&server, &rejected, &EnrollOptions::default()).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("rejected")));

    // Same serial, another key: a swapped or forged label. Both stay in conflict.
    let forged = Device::new("SN-P");
    let (_, answer) = tech.scan_and_upload(&server, &forged.text()).await;
    assert_eq!(answer["results"][0]["outcome"], "accepted");
    let list: Value = serde_json::from_str(
        &server.admin_ok(&["device", "list", "--state", "conflict", "--json"]),
    )
    .unwrap();
    assert_eq!(list["devices"][0]["serial"], "SN-P");
    for who in [&pending, &forged] {
        let (status, body, _) = enroll(&server, who, &EnrollOptions::default()).await;
        assert_ne!(status, 200, "{body}");
    }
    // Same key under another serial (a cloned label): conflict too.
    let clone_label = vouch_protocol::Label::new(
        vouch_protocol::Model::new("ACME-T1").unwrap(),
        vouch_protocol::Serial::new("SN-CLONE").unwrap(),
        *rejected.label.key(),
    );
    tech.scan_and_upload(&server, &clone_label.to_compact().unwrap())
        .await;
    let show: Value =
        serde_json::from_str(&server.admin_ok(&["device", "show", "SN-CLONE", "--json"])).unwrap();
    assert_eq!(show["device"]["state"], "conflict");
    assert_eq!(show["device"]["other_serials"][0], "SN-R");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_replayed_nonce_csr_mismatch_and_unbound_channel_are_refused() {
    let server = Server::start_with_config(&[(
        "rate_per_serial_per_minute = 12",
        "rate_per_serial_per_minute = 100",
    )]);
    let (_, device) = scanned(&server, "SN-A", true).await;
    let impostor = SigningKey::random(&mut rand_core::OsRng);

    let (status, body, _) = enroll(
        &server,
        &device,
        &EnrollOptions {
            sign_with: Some(impostor.clone()),
            ..Default::default()
        },
    )
    .await;
    assert_refused(status, &body);

    let (status, body, _) = enroll(
        &server,
        &device,
        &EnrollOptions {
            csr_key: Some(impostor.clone()),
            ..Default::default()
        },
    )
    .await;
    assert_refused(status, &body);

    let (status, body, _) = enroll(
        &server,
        &device,
        &EnrollOptions {
            bind_channel: false,
            ..Default::default()
        },
    )
    .await;
    assert_refused(status, &body);

    // An answer signed for another TLS connection (a relay) does not verify on this one.
    let (status, body, _) = enroll(
        &server,
        &device,
        &EnrollOptions {
            channel_binding_override: Some([7; 32]),
            ..Default::default()
        },
    )
    .await;
    assert_refused(status, &body);

    // A malformed CSR, even when properly signed.
    let (status, body, _) = enroll(
        &server,
        &device,
        &EnrollOptions {
            csr_der: Some(b"not a CSR".to_vec()),
            ..Default::default()
        },
    )
    .await;
    assert_refused(status, &body);

    // A good answer, then the same answer replayed on a new connection with the same nonce.
    let mut conn = Conn::open(&server, None).await;
    let (_, challenge) = conn
        .request("POST", "/v1/enroll/challenge", &json!({"serial": "SN-A"}))
        .await;
    let nonce = challenge["nonce"].as_str().unwrap();
    let request = serde_json::to_value(completion(
        &device,
        nonce,
        Some(conn.exporter()),
        &EnrollOptions::default(),
    ))
    .unwrap();
    let (status, body) = conn.request("POST", "/v1/enroll/complete", &request).await;
    assert_eq!(status, 200, "{body}");
    let mut replay = Conn::open(&server, None).await;
    let (status, body) = replay
        .request("POST", "/v1/enroll/complete", &request)
        .await;
    assert_refused(status, &body);
    let log = server.log();
    for reason in [
        "signature_invalid",
        "csr_key_mismatch",
        "channel_binding_required",
        "csr_invalid",
        "nonce_unknown_or_used",
    ] {
        assert!(log.contains(reason), "the log lacks {reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rekey_csr_whose_self_signature_fails_is_refused() {
    let server = Server::start();
    let (_, device) = scanned(&server, "SN-RS", true).await;
    // The label key signs the answer, but the new key's CSR signature is broken: nothing proves
    // possession of the new key, so the server must not certify it.
    let operational = SigningKey::random(&mut rand_core::OsRng);
    let mut csr = csr_for(&operational, device.serial());
    let last = csr.len() - 3;
    csr[last] ^= 0x5a;
    let (status, body, _) = enroll(
        &server,
        &device,
        &EnrollOptions {
            mode: vouch_protocol::enroll::EnrollMode::Rekey,
            csr_key: Some(operational.clone()),
            csr_der: Some(csr),
            ..Default::default()
        },
    )
    .await;
    assert_refused(status, &body);
    assert!(server.log().contains("self-signature does not verify"));
    // The same request with an intact CSR enrolls.
    let (status, body, _) = enroll(
        &server,
        &device,
        &EnrollOptions {
            mode: vouch_protocol::enroll::EnrollMode::Rekey,
            csr_key: Some(operational),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_nonce_is_refused() {
    let server = Server::start_with_config(&[("nonce_ttl_secs = 120", "nonce_ttl_secs = 1")]);
    let (_, device) = scanned(&server, "SN-E", true).await;
    let mut conn = Conn::open(&server, None).await;
    let (_, challenge) = conn
        .request("POST", "/v1/enroll/challenge", &json!({"serial": "SN-E"}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let request = completion(
        &device,
        challenge["nonce"].as_str().unwrap(),
        Some(conn.exporter()),
        &EnrollOptions::default(),
    );
    let (status, body) = conn
        .request(
            "POST",
            "/v1/enroll/complete",
            &serde_json::to_value(request).unwrap(),
        )
        .await;
    assert_refused(status, &body);
    assert!(server.log().contains("nonce_expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csr_asking_for_ca_true_gets_a_plain_client_certificate() {
    let server = Server::start();
    let (_, device) = scanned(&server, "SN-CA", true).await;
    let pair = rcgen::KeyPair::from_pem(&key_pem(&device.key)).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["evil.example".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let csr = params.serialize_request(&pair).unwrap().der().to_vec();
    let (status, cert, _) = enroll(
        &server,
        &device,
        &EnrollOptions {
            csr_der: Some(csr),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(status, 200, "{cert}");
    let der = pem_der(cert["certificate_pem"].as_str().unwrap());
    let (_, x509) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(!x509.is_ca(), "issued without CA:TRUE");
    let ku = x509.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && !ku.key_cert_sign());
    let san = x509.subject_alternative_name().unwrap().unwrap();
    assert_eq!(
        format!("{:?}", san.value.general_names),
        "[URI(\"https://vouch.invalid/device/SN-CA\")]",
        "SAN from the profile, not the CSR"
    );
    assert!(
        x509.extended_key_usage()
            .unwrap()
            .unwrap()
            .value
            .client_auth
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_technician_tampered_record_and_chain_gap_are_refused() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;

    // Tampered: a field changed after signing.
    let mut tampered = serde_json::to_value(tech.record(&Device::new("SN-T1").text())).unwrap();
    tampered["site"] = json!("somewhere else");
    let (_, answer) = call(
        &tech.client,
        &server,
        Method::POST,
        "/v1/records",
        Some(json!({"records": [tampered]})),
    )
    .await;
    assert_eq!(answer["results"][0]["code"], "bad_signature", "{answer}");

    // Malformed: a missing field (the JSON's shape), and a value the protocol refuses (a site
    // longer than it allows), which also names the protocol's own error code.
    let mut missing = serde_json::to_value(tech.record(&Device::new("SN-T1").text())).unwrap();
    missing.as_object_mut().unwrap().remove("site");
    let mut too_long = serde_json::to_value(tech.record(&Device::new("SN-T1").text())).unwrap();
    too_long["site"] = json!("x".repeat(10_000));
    let (_, answer) = call(
        &tech.client,
        &server,
        Method::POST,
        "/v1/records",
        Some(json!({"records": [missing, too_long]})),
    )
    .await;
    let results = &answer["results"];
    assert_eq!(results[0]["code"], "malformed_record", "{answer}");
    assert!(results[0].get("protocol_code").is_none(), "{answer}");
    assert_eq!(results[1]["code"], "malformed_record", "{answer}");
    assert_eq!(results[1]["protocol_code"], "too_long", "{answer}");

    // The tampered record was not accepted, so its sequence is still free: re-sign honestly.
    tech.chain = vouch_protocol::ChainHead::GENESIS;
    let first = tech.record(&Device::new("SN-T1").text());
    let _skipped = tech.record(&Device::new("SN-T2").text());
    let third = tech.record(&Device::new("SN-T3").text());
    let (_, answer) = tech.upload(&server, &[first, third]).await;
    assert_eq!(answer["results"][0]["outcome"], "accepted", "{answer}");
    assert_eq!(answer["results"][1]["code"], "sequence_gap", "{answer}");
    let staff: Value =
        serde_json::from_str(&server.admin_ok(&["staff", "list", "--json"])).unwrap();
    assert_eq!(
        staff["staff"][0]["gaps"][0]["expected"], 2,
        "the gap is shown to supervisors"
    );

    // A record whose chain link was altered (wrong previous hash).
    tech.chain = vouch_protocol::ChainHead {
        next_sequence: 2,
        last_hash: vouch_protocol::RecordHash([9; 32]),
    };
    let forked = tech.record(&Device::new("SN-T4").text());
    let (_, answer) = tech.upload(&server, &[forked]).await;
    assert_eq!(answer["results"][0]["code"], "chain_broken", "{answer}");

    server.admin_ok(&["staff", "revoke", &tech.key_id, "--reason", "tablet stolen"]);
    let (status, answer) = tech
        .scan_and_upload(&server, &Device::new("SN-T5").text())
        .await;
    assert_eq!(status, 403, "{answer}");
    // Earlier records stay attributable.
    let show: Value =
        serde_json::from_str(&server.admin_ok(&["device", "show", "SN-T1", "--json"])).unwrap();
    assert_eq!(show["scans"][0]["technician"], "T");
}

async fn accept_gap(server: &Server, who: &Staff, key_id: &str, body: Value) -> (u16, Value) {
    let path = format!("/v1/admin/staff/{key_id}/accept-gap");
    call(&who.client, server, Method::POST, &path, Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_gap_holds_an_install_until_a_reviewer_accepts_it() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let supervisor = register(&server, "supervisor", "S").await;
    let first = tech.record(&Device::new("SN-G1").text());
    let lost = tech.record(&Device::new("SN-G2").text());
    let third = tech.record(&Device::new("SN-G3").text());
    let fourth = tech.record(&Device::new("SN-G4").text());
    let (_, answer) = tech
        .upload(&server, &[first, third.clone(), fourth.clone()])
        .await;
    let codes: Vec<_> = (0..3)
        .map(|i| answer["results"][i]["code"].clone())
        .collect();
    assert_eq!(
        codes,
        [Value::Null, json!("sequence_gap"), json!("sequence_gap")],
        "{answer}"
    );
    assert!(
        answer["results"][1]["message"]
            .as_str()
            .unwrap()
            .contains("accepts the gap"),
        "the refusal tells the way out: {answer}"
    );

    let reasoned = json!({"expected": 2, "reason": "tablet restored from backup"});
    // Not for technicians, not without a reason, not a gap that was never seen.
    let (status, answer) = accept_gap(&server, &tech, &tech.key_id, reasoned.clone()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("forbidden")),
        "{answer}"
    );
    let (status, answer) = accept_gap(
        &server,
        &supervisor,
        &tech.key_id,
        json!({"expected": 2, "reason": "  "}),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("bad_reason")),
        "{answer}"
    );
    let out = server.admin(&[
        "staff",
        "accept-gap",
        &tech.key_id,
        "--expected",
        "3",
        "--reason",
        "x",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not stand at this gap"), "{stderr}");
    let out = server.admin(&[
        "staff",
        "accept-gap",
        "00ff",
        "--expected",
        "2",
        "--reason",
        "x",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no staff member"),
        "unknown member"
    );

    // Still held: nothing was accepted by the refusals above.
    let (_, answer) = tech.upload(&server, std::slice::from_ref(&third)).await;
    assert_eq!(answer["results"][0]["code"], "sequence_gap", "{answer}");

    let (status, answer) = accept_gap(&server, &supervisor, &tech.key_id, reasoned.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["gap"]["found"], 3, "{answer}");
    assert_eq!(
        answer["gap"]["accepted"]["by"],
        format!("staff:{}", supervisor.key_id)
    );
    let (status, answer) = accept_gap(&server, &supervisor, &tech.key_id, reasoned).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("conflict")),
        "{answer}"
    );

    // The held records now continue the chain; the lost one can no longer slip in.
    let (_, answer) = tech.upload(&server, &[third, fourth]).await;
    assert_eq!(answer["results"][0]["outcome"], "accepted", "{answer}");
    assert_eq!(answer["results"][1]["outcome"], "accepted", "{answer}");
    let (_, answer) = tech.upload(&server, &[lost]).await;
    assert_eq!(answer["results"][0]["code"], "sequence_replay", "{answer}");

    let audit = server.admin_ok(&["audit", "export"]);
    let entry = audit
        .lines()
        .find(|l| l.contains("staff.chain_gap_accepted"))
        .expect("the acceptance is audited");
    assert!(entry.contains("tablet restored from backup"), "{entry}");
    server.admin_ok(&["audit", "verify"]);
    let listed = server.admin_ok(&["staff", "list"]);
    assert!(
        listed.contains("chain gap: expected record 2, got 3 (accepted by staff:"),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_bad_csr_oversized_body_and_missing_certificates() {
    let server = Server::start();
    let anon = http(&server, None);
    let raw = |path: &str, body: Vec<u8>| {
        anon.post(format!("{}{path}", server.url()))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let resp = raw("/v1/enroll/challenge", b"{not json".to_vec())
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "bad_json");

    let resp = raw("/v1/enroll/complete", b"{\"serial\": 5}".to_vec())
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    let resp = raw("/v1/enroll/challenge", vec![b' '; 2 * 1024 * 1024])
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "body_too_large");

    let invite = vouch_protocol::Invite::parse(&server.invite("technician", "X")).unwrap();
    let (status, body) = call(
        &anon,
        &server,
        Method::POST,
        "/v1/staff/register",
        Some(json!({"code": invite.code(), "csr": "AAAA"})),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_csr")));
    let (status, body) = call(&anon, &server, Method::POST, "/v1/staff/register", Some(json!({"code": "NOPE", "csr": vouch_protocol::enroll::encode_base64(&csr_for(&SigningKey::random(&mut rand_core::OsRng), "x"))}))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("invite_invalid"))
    );

    for (method, path) in [
        (Method::GET, "/v1/devices"),
        (Method::POST, "/v1/records"),
        (Method::GET, "/v1/device/hello"),
        (Method::GET, "/v1/admin/staff"),
    ] {
        let body = if method == Method::POST {
            Some(json!({"records": []}))
        } else {
            None
        };
        let (status, answer) = call(&anon, &server, method, path, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (401, Some("client_certificate_required")),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_works_once_and_a_technician_cannot_review() {
    let server = Server::start();
    let text = server.invite("technician", "Once");
    let invite = vouch_protocol::Invite::parse(&text).unwrap();
    let anon = http(&server, None);
    let csr = |k: &SigningKey| vouch_protocol::enroll::encode_base64(&csr_for(k, "x"));
    let first = SigningKey::random(&mut rand_core::OsRng);
    let (status, _) = call(
        &anon,
        &server,
        Method::POST,
        "/v1/staff/register",
        Some(json!({"code": invite.code(), "csr": csr(&first)})),
    )
    .await;
    assert_eq!(status, 200);
    let second = SigningKey::random(&mut rand_core::OsRng);
    let (status, body) = call(
        &anon,
        &server,
        Method::POST,
        "/v1/staff/register",
        Some(json!({"code": invite.code(), "csr": csr(&second)})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("invite_invalid"))
    );

    let tech = register(&server, "technician", "T").await;
    for path in ["/v1/devices", "/v1/admin/staff"] {
        let (status, body) = call(&tech.client, &server, Method::GET, path, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("forbidden")),
            "{path}"
        );
    }
    let (status, _) = call(
        &tech.client,
        &server,
        Method::POST,
        "/v1/devices/SN-X/approve",
        Some(json!({"reason": "me"})),
    )
    .await;
    assert_eq!(status, 403);
    let supervisor = register(&server, "supervisor", "S").await;
    let (status, _) = call(
        &supervisor.client,
        &server,
        Method::GET,
        "/v1/devices",
        None,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_is_rate_limited_per_serial() {
    let server = Server::start();
    let device = Device::new("SN-RATE");
    let mut conn = Conn::open(&server, None).await;
    let mut limited = None;
    for i in 0..20 {
        let (status, body) = conn
            .request(
                "POST",
                "/v1/enroll/challenge",
                &json!({"serial": "SN-RATE"}),
            )
            .await;
        if status == 429 {
            limited = Some((i, body));
            break;
        }
    }
    let (after, body) = limited.expect("the per-serial limit must apply");
    assert!(after >= 10, "not before the configured burst ({after})");
    assert_eq!(body["code"], "rate_limited");
    let _ = device;
}

/// PROTOCOL.md 11.2: the challenge and the completion draw on one per-serial bucket, and a
/// request refused after the rate limit has still spent its token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_and_completion_share_the_serial_bucket_and_refusals_spend_tokens() {
    // EST's pending answer must not tell a client to poll faster than the per-serial rate
    // allows (the server refuses such a configuration), so its Retry-After grows with it.
    let server = Server::start_with_config(&[
        (
            "rate_per_serial_per_minute = 12",
            "rate_per_serial_per_minute = 2",
        ),
        ("retry_after_secs = 5", "retry_after_secs = 30"),
    ]);
    let device = Device::new("SN-SHARED");
    // Token 1: the challenge. Token 2: its completion, refused (nobody vouched for the serial).
    let (status, body, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_refused(status, &body);
    // The bucket is empty for both endpoints now.
    let mut conn = Conn::open(&server, None).await;
    let (status, body) = conn
        .request(
            "POST",
            "/v1/enroll/challenge",
            &json!({"serial": "SN-SHARED"}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    // Another serial has its own bucket (and the address bucket has room).
    let (status, _) = conn
        .request(
            "POST",
            "/v1/enroll/challenge",
            &json!({"serial": "SN-OTHER"}),
        )
        .await;
    assert_eq!(status, 200);
}

/// A query parameter given twice is refused in the JSON error shape, like every other error
/// (axum's own rejection is plain text).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_query_parameter_is_a_json_error() {
    let server = Server::start();
    let supervisor = register(&server, "supervisor", "S").await;
    for client in [&supervisor.client, &http(&server, None)] {
        let resp = client
            .get(format!(
                "{}/v1/devices?state=scanned&state=approved",
                server.url()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!(content_type, "application/json");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "bad_query", "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("duplicate field"),
            "{body}"
        );
        assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    }
}

/// Registration is limited per invite, and the log of a refused attempt holds neither the
/// code nor anything made of it (PROTOCOL.md 7: the code is a secret until redeemed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_rate_limit_logs_no_invite_code() {
    let server = Server::start();
    let invite = vouch_protocol::Invite::parse(&server.invite("technician", "T")).unwrap();
    let code = invite.code().to_string();
    let mut conn = Conn::open(&server, None).await;
    let mut limited = None;
    for i in 0..20 {
        let body = json!({"code": code, "csr": "not a csr"});
        let (status, answer) = conn.request("POST", "/v1/staff/register", &body).await;
        if status == 429 {
            limited = Some((i, answer));
            break;
        }
        assert_eq!(answer["code"], "bad_csr", "{answer}");
    }
    let (after, answer) = limited.expect("registration must be rate limited per invite");
    assert!(after >= 10, "not before the configured burst ({after})");
    assert_eq!(answer["code"], "rate_limited");
    let log = server.log();
    assert!(log.contains("rate limit hit"), "the log says why: {log}");
    assert!(
        !log.contains(&code),
        "the invite code is in the log:\n{log}"
    );
    let hash = vouch_protocol::key::hex(&vouch_protocol::key::sha256(code.as_bytes()));
    assert!(
        !log.contains(&hash[..16]),
        "a hash of the code is in the log"
    );
    // Another invite has its own bucket.
    let other = vouch_protocol::Invite::parse(&server.invite("technician", "U")).unwrap();
    let body = json!({"code": other.code(), "csr": "not a csr"});
    let (status, answer) = conn.request("POST", "/v1/staff/register", &body).await;
    assert_eq!((status, answer["code"].as_str()), (400, Some("bad_csr")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_refuses_to_overwrite_and_keys_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start();
    let out = server.admin(&["init", "--hostname", "localhost"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    for key in [
        "ca/ca.key.pem",
        "tls/server.key.pem",
        "operator/operator.key.pem",
    ] {
        let mode = std::fs::metadata(server.data().join(key))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }
    let log = server.log();
    assert!(!log.contains("PRIVATE KEY"), "no key material in the log");
    let ca = server.admin_ok(&["ca"]);
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
}

/// Serials made only of dots are path segments (`/v1/devices/..` is another path once an HTTP
/// client normalises it), so no label may carry one: the raw API refuses them cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serial_made_only_of_dots_is_refused_everywhere() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;

    // A record whose label (correct check character) and serial are "..": the protocol's code.
    let device = Device::new("SN-DOTS");
    let mut record = serde_json::to_value(tech.record(&device.text())).unwrap();
    let key = device.text().split(':').nth(3).unwrap().to_string();
    let body = format!("VOUCH1:ACME-T1:..:{key}:");
    let check = vouch_protocol::check::label_check(body.as_bytes()).unwrap();
    record["label_text"] = json!(format!("{body}{}", char::from(check)));
    record["serial"] = json!("..");
    let (status, answer) = call(
        &tech.client,
        &server,
        Method::POST,
        "/v1/records",
        Some(json!({ "records": [record] })),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let result = &answer["results"][0];
    assert_eq!(
        (result["code"].as_str(), result["protocol_code"].as_str()),
        (Some("malformed_record"), Some("only_dots")),
        "{answer}"
    );

    // Device paths sent as they are (no client normalisation): a JSON 400, never a 5xx.
    let read = |p: &str| std::fs::read_to_string(server.data().join(p)).unwrap();
    let (cert, key) = (
        read("operator/operator.pem"),
        read("operator/operator.key.pem"),
    );
    for (method, path) in [
        ("GET", "/v1/devices/.."),
        ("GET", "/v1/devices/."),
        ("POST", "/v1/devices/../approve"),
        ("POST", "/v1/devices/%2E%2E/revoke"),
    ] {
        // One connection each: the refusal comes before the body is read, and such an answer
        // closes its connection (SECURITY.md 4.11).
        let mut conn = Conn::open(&server, Some((&cert, &key))).await;
        let (status, answer) = conn.request(method, path, &json!({"reason": "test"})).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("bad_serial")),
            "{method} {path}: {answer}"
        );
        assert!(
            answer["message"].as_str().unwrap().contains("only of dots"),
            "{answer}"
        );
    }

    // The admin command refuses it before sending anything.
    let out = server.admin(&["device", "approve", "..", "--reason", "x"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("only of dots"), "{stderr}");
}
