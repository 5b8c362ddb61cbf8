//! Two server instances over one store: a nonce issued by one is redeemed once, by either.
//! Both applications run in this process over one in-memory store, as two server processes
//! would over one networked database; the connection facts TLS would supply are injected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use vouch_protocol::key::{hex, public_key_of};
use vouch_protocol::p256::ecdsa::SigningKey;
use vouch_protocol::wire::ErrorCode;
use vouch_protocol::{ChainHead, NewScan, RecordId, ScanRecord, SignedScanRecord};
use vouch_server::clock::SystemClock;
use vouch_server::domain::{device, scan, staff, CertRecord, Decision, ScanPolicy, StaffMember};
use vouch_server::store::{open, InviteRecord, Store, StoreConfig};
use vouch_server::tls::ConnInfo;
use vouch_server::{Config, ImportCa};

/// The channel binding value both "connections" report.
const EXPORTER: [u8; 32] = [1; 32];

async fn post(router: &axum::Router, path: &str, body: &Value) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    request.extensions_mut().insert(ConnInfo {
        peer: "127.0.0.1:40000".parse().unwrap(),
        client_cert: None,
        channel_binding: Some(EXPORTER),
    });
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A registered technician in the store, straight through the store's contract.
fn technician(store: &dyn Store, key: &SigningKey) -> StaffMember {
    let public = public_key_of(key);
    let member = StaffMember {
        key_id: public.key_id().to_hex(),
        name: "Tess".into(),
        role: vouch_server::domain::Role::Technician,
        trusted: false,
        public_key: hex(&public.to_sec1_compressed()),
        registered_at_ms: 1,
        revoked_at_ms: None,
        revoked_reason: None,
        chain: ChainHead::GENESIS,
        gaps: vec![],
        certificate_serial: "01".into(),
        not_after_ms: u64::MAX,
    };
    let invite = InviteRecord {
        role: member.role,
        name: member.name.clone(),
        trusted: false,
        created_at_ms: 1,
        expires_at_ms: u64::MAX,
        used_at_ms: None,
    };
    let note = vouch_server::domain::AuditNote {
        actor: "operator".into(),
        action: "staff.invited",
        subject: "Tess".into(),
        detail: json!({}),
    };
    store.put_invite("code", &invite, note).unwrap();
    let cert = CertRecord {
        serial: "01".into(),
        subject: "s".into(),
        not_after_ms: u64::MAX,
        revoked_at_ms: None,
    };
    store
        .redeem_invite("code", &|stored| {
            Ok(staff::redeem("code", stored, &member, &cert, 2))
        })
        .unwrap()
        .unwrap()
}

/// A scan of `label_text`, the first record of `key`'s install.
fn first_record(key: &SigningKey, label_text: &str) -> SignedScanRecord {
    let scan = NewScan {
        record_id: RecordId([7; 16]),
        chain: &ChainHead::GENESIS,
        scanned_at_ms: 1_800_000_000_000,
        label_text,
        site: "WO-7",
        note: None,
    };
    ScanRecord::new(public_key_of(key).key_id(), &scan)
        .unwrap()
        .sign(key)
        .unwrap()
}

/// A vouched, approved device in the store.
fn approved_device(store: &dyn Store, device: &common::Device) {
    let tech = SigningKey::from_slice(&[3; 32]).unwrap();
    technician(store, &tech);
    let record = first_record(&tech, &device.text());
    let rule = |r: &SignedScanRecord, v: &vouch_server::domain::IngestView| {
        scan::ingest(r, v, ScanPolicy::default(), 3)
    };
    store.ingest_scans(&[record], &rule).unwrap();
    let (_, commit) = store
        .update_device(device.serial(), &|d| {
            device::decide(d, Decision::Approve, "operator", "checked", 4)
                .map_err(|r| vouch_server::ServerError::refuse(ErrorCode::Conflict, r.0))
        })
        .unwrap();
    store.wait(commit).unwrap();
}

#[tokio::test]
async fn a_nonce_from_one_server_is_redeemed_once_by_either() {
    let dir = tempfile::tempdir().unwrap();
    vouch_server::init(dir.path(), &["localhost".to_string()], None::<&ImportCa>).unwrap();
    let store = open(&StoreConfig::Memory).unwrap();
    let device = common::Device::new("SN-SHARED-1");
    approved_device(store.as_ref(), &device);
    let instance = || {
        let config = Config::defaults().unwrap();
        vouch_server::app_with(dir.path(), config, store.clone(), Arc::new(SystemClock)).unwrap()
    };
    let ((a, state_a), (b, state_b)) = (instance(), instance());

    let (status, challenge) = post(
        &a,
        "/v1/enroll/challenge",
        &json!({"serial": device.serial()}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    let nonce = challenge["nonce"].as_str().unwrap();
    let request = common::completion(
        &device,
        nonce,
        Some(EXPORTER),
        &common::EnrollOptions::default(),
    );
    let request = serde_json::to_value(&request).unwrap();

    let (status, answer) = post(&b, "/v1/enroll/complete", &request).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the other server redeems it: {answer}"
    );
    assert!(answer["certificate_pem"]
        .as_str()
        .unwrap()
        .contains("CERTIFICATE"));

    // The very same request would be a lost answer's re-delivery if the nonce still counted;
    // both servers refuse it because the nonce is spent.
    for (router, state) in [(&a, &state_a), (&b, &state_b)] {
        let (status, answer) = post(router, "/v1/enroll/complete", &request).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("refused"))
        );
        let metrics = state.metrics.render();
        assert!(
            metrics.contains("nonce_unknown_or_used"),
            "refused for the spent nonce: {metrics}"
        );
    }
}
