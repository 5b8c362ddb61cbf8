//! In-process router tests: each endpoint's refusals, without sockets (the connection facts
//! that TLS would supply are injected as the `ConnInfo` extension).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use vouch_server::tls::ConnInfo;
use vouch_server::{Config, ImportCa};

struct App {
    _dir: tempfile::TempDir,
    router: axum::Router,
    operator_der: Vec<u8>,
}

fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    vouch_server::init(dir.path(), &["localhost".to_string()], None::<&ImportCa>).unwrap();
    let (router, _) = vouch_server::app(dir.path(), Config::defaults().unwrap()).unwrap();
    let pem = std::fs::read_to_string(dir.path().join("operator/operator.pem")).unwrap();
    let operator_der = vouch_server::authority::files::pem_to_der(&pem, "CERTIFICATE").unwrap();
    App {
        _dir: dir,
        router,
        operator_der,
    }
}

impl App {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        cert: Option<&[u8]>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let mut request = request
            .body(Body::from(body.unwrap_or("").to_string()))
            .unwrap();
        request.extensions_mut().insert(ConnInfo {
            peer: "127.0.0.1:40000".parse().unwrap(),
            client_cert: cert.map(|c| Arc::new(c.to_vec())),
            channel_binding: Some([1; 32]),
        });
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

#[tokio::test]
async fn protected_endpoints_need_a_client_certificate() {
    let app = app();
    let cases = [
        (Method::GET, "/v1/me", None),
        (Method::POST, "/v1/records", Some(r#"{"records":[]}"#)),
        (Method::GET, "/v1/devices", None),
        (Method::GET, "/v1/devices/SN-1", None),
        (
            Method::POST,
            "/v1/devices/SN-1/approve",
            Some(r#"{"reason":"x"}"#),
        ),
        (Method::GET, "/v1/device/hello", None),
        (Method::POST, "/v1/device/renew", Some(r#"{"csr":"AA=="}"#)),
        (
            Method::POST,
            "/v1/admin/invites",
            Some(r#"{"role":"technician","name":"n","server_url":"https://x"}"#),
        ),
        (Method::GET, "/v1/admin/staff", None),
        (
            Method::POST,
            "/v1/admin/staff/00/revoke",
            Some(r#"{"reason":"x"}"#),
        ),
        (Method::GET, "/v1/admin/audit", None),
        (Method::GET, "/v1/admin/audit/verify", None),
    ];
    for (method, path, body) in cases {
        let (status, answer) = app.call(method, path, body, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {answer}");
        assert_eq!(answer["code"], "client_certificate_required", "{path}");
    }
}

#[tokio::test]
async fn a_certificate_from_elsewhere_is_not_an_identity() {
    let app = app();
    let stranger = rcgen::generate_simple_self_signed(vec!["x".into()])
        .unwrap()
        .cert
        .der()
        .to_vec();
    let (status, answer) = app
        .call(Method::GET, "/v1/devices", None, Some(&stranger))
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
}

#[tokio::test]
async fn malformed_bodies_get_a_clear_code() {
    let app = app();
    for path in [
        "/v1/enroll/challenge",
        "/v1/enroll/complete",
        "/v1/staff/register",
    ] {
        let (status, answer) = app.call(Method::POST, path, Some("{nope"), None).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_json")),
            "{path}"
        );
        let (status, _) = app
            .call(Method::POST, path, Some(r#"{"unexpected": 1}"#), None)
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{path}: unknown fields are refused"
        );
    }
    let big = format!(r#"{{"serial":"{}"}}"#, "A".repeat(2 * 1024 * 1024));
    let (status, answer) = app
        .call(Method::POST, "/v1/enroll/challenge", Some(&big), None)
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
}

#[tokio::test]
async fn enrollment_refusals_are_uniform() {
    let app = app();
    let (status, challenge) = app
        .call(
            Method::POST,
            "/v1/enroll/challenge",
            Some(r#"{"serial":"SN-UNKNOWN"}"#),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a challenge looks the same for unknown serials"
    );
    assert_eq!(challenge["nonce"].as_str().unwrap().len(), 64);
    let attempts = [
        json!({"serial":"SN-UNKNOWN","nonce":challenge["nonce"],"mode":"same_key","csr":"AAAA","channel_binding":"tls-exporter","signature":"00"}),
        json!({"serial":"SN-UNKNOWN","nonce":"zz","mode":"same_key","csr":"AAAA","channel_binding":"none","signature":"00"}),
        json!({"serial":"","nonce":"00","mode":"rekey","csr":"!","channel_binding":"tls-exporter","signature":""}),
    ];
    for attempt in attempts {
        let (status, answer) = app
            .call(
                Method::POST,
                "/v1/enroll/complete",
                Some(&attempt.to_string()),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{attempt}");
        assert_eq!(
            answer,
            json!({"code": "refused", "message": "enrollment refused"})
        );
    }
}

#[tokio::test]
async fn operator_requests_are_checked() {
    let app = app();
    let op = Some(app.operator_der.as_slice());
    let (status, answer) = app
        .call(Method::GET, "/v1/devices?state=lost", None, op)
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_state"))
    );
    let (status, answer) = app.call(Method::GET, "/v1/devices/SN-NONE", None, op).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, answer) = app
        .call(
            Method::POST,
            "/v1/devices/SN-NONE/approve",
            Some(r#"{"reason":"ok"}"#),
            op,
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/devices/SN-NONE/explode",
            Some(r#"{"reason":"ok"}"#),
            op,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer) = app
        .call(
            Method::POST,
            "/v1/devices/SN-NONE/approve",
            Some(r#"{"reason":"  "}"#),
            op,
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_reason"))
    );
    let bad_invites = [
        (
            r#"{"role":"admin","name":"n","server_url":"https://x.example"}"#,
            "bad_role",
        ),
        (
            r#"{"role":"technician","name":"","server_url":"https://x.example"}"#,
            "bad_name",
        ),
        (
            r#"{"role":"technician","name":"n","server_url":"http://x.example"}"#,
            "bad_server_url",
        ),
    ];
    for (body, code) in bad_invites {
        let (status, answer) = app
            .call(Method::POST, "/v1/admin/invites", Some(body), op)
            .await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{body}"
        );
    }
    let (status, answer) = app
        .call(
            Method::POST,
            "/v1/admin/staff/abc/revoke",
            Some(r#"{"reason":"x"}"#),
            op,
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, answer) = app.call(Method::GET, "/v1/device/hello", None, op).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "the operator is not a device"
    );
    let (status, answer) = app
        .call(Method::POST, "/v1/records", Some(r#"{"records":[]}"#), op)
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, answer) = app
        .call(Method::GET, "/v1/admin/audit/verify", None, op)
        .await;
    assert_eq!(
        (status, answer["ok"].as_bool()),
        (StatusCode::OK, Some(true))
    );
}

#[tokio::test]
async fn registration_refusals() {
    let app = app();
    let (status, answer) = app
        .call(
            Method::POST,
            "/v1/staff/register",
            Some(r#"{"code":"X","csr":"%%%"}"#),
            None,
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_csr"))
    );
    let (status, answer) = app.call(Method::GET, "/nowhere", None, None).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

/// The operations `/openapi.json` describes, as `(method, path)`.
fn documented_operations(document: &Value) -> Vec<(Method, String)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            operations.push((method, path.clone()));
        }
    }
    operations
}

/// Whether the router has a route for `method path` (the fallback answers `404 not_found`
/// "no such endpoint", a route without that method `405`).
async fn routed(app: &App, method: Method, path: &str) -> bool {
    let (status, answer) = app
        .call(method, path, None, Some(app.operator_der.as_slice()))
        .await;
    status != StatusCode::METHOD_NOT_ALLOWED
        && !(status == StatusCode::NOT_FOUND && answer["message"] == "no such endpoint")
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_est_is_documented() {
    let app = app();
    let (status, document) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let operations = documented_operations(&document);
    for (method, path) in &operations {
        let concrete = path
            .replace("{serial}", "SN-DOC-1")
            .replace("{decision}", "approve")
            .replace("{key_id}", "00");
        assert!(
            routed(&app, method.clone(), &concrete).await,
            "{method} {path} is documented but not routed"
        );
    }
    // The EST front door is described like the rest: each of its paths, with its method.
    for path in vouch_server::api::EST_PATHS {
        let method = if path.ends_with("enroll") {
            Method::POST
        } else {
            Method::GET
        };
        assert!(
            operations.contains(&(method.clone(), path.to_string())),
            "{method} {path} is not in openapi.json"
        );
    }
    // The check can fail: an EST operation this server does not offer is not routed.
    assert!(!routed(&app, Method::POST, "/.well-known/est/serverkeygen").await);
    assert!(!routed(&app, Method::DELETE, "/.well-known/est/cacerts").await);
}
