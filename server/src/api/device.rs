//! The device's mTLS endpoints: hello and renewal.

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_protocol::enroll::CertificateResponse;
use vouch_protocol::key::{hex, sha256};

use super::{blocking, csr_from_base64, identify, now_ms, ApiError, ApiJson, AppState, Identity};
use crate::authority::Profile;
use crate::domain::{Device, DeviceCertificate, DeviceState};
use crate::store::{AuditNote, Commit};
use crate::tls::ConnInfo;

fn require_device(state: &AppState, conn: &ConnInfo) -> Result<(String, String), ApiError> {
    match identify(state, conn)? {
        Identity::Device {
            serial,
            certificate,
        } => Ok((serial, certificate)),
        _ => Err(ApiError::forbidden("this endpoint is for enrolled devices")),
    }
}

/// `GET /v1/device/hello`: who the server sees.
pub async fn hello(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let (serial, certificate) = require_device(&state, &conn)?;
        let device = state
            .store
            .device(&serial)?
            .ok_or_else(|| ApiError::forbidden("unknown device"))?;
        let not_after_ms = device.certificate.as_ref().map_or(0, |c| c.not_after_ms);
        // When this server would like the device to renew (`certificates.renew_before_days`).
        let window_ms = u64::from(state.config.certificates.renew_before_days) * 86_400_000;
        let renew_after_ms = not_after_ms.saturating_sub(window_ms);
        Ok(Json(json!({
            "serial": device.serial,
            "model": device.model,
            "state": device.state.as_str(),
            "key_fingerprint": device.key_fingerprint,
            "certificate_serial": certificate,
            "not_after_ms": not_after_ms,
            "renew_after_ms": renew_after_ms,
            "peer": conn.peer.to_string(),
        })))
    })
    .await
}

/// `POST /v1/device/renew` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// PKCS#10, DER, base64.
    pub(crate) csr: String,
}

/// `POST /v1/device/renew`: a new certificate over the current mTLS session.
pub async fn renew(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiJson(req): ApiJson<RenewRequest>,
) -> Result<Json<CertificateResponse>, ApiError> {
    // Parsing, one CA signature and an in-memory commit: short enough for the async worker;
    // the wait for the disk holds no thread.
    let (answer, commit) = renew_now(&state, &conn, &req)?;
    state.store.durable(commit).await?;
    state.metrics.renewed();
    Ok(Json(answer))
}

/// Checks and commits a renewal; the answer may be sent once the commit is durable.
fn renew_now(
    state: &AppState,
    conn: &ConnInfo,
    req: &RenewRequest,
) -> Result<(CertificateResponse, Commit), ApiError> {
    let (serial, old_certificate) = require_device(state, conn)?;
    let (der, csr) = csr_from_base64(&req.csr)?;
    let device = state
        .store
        .device(&serial)?
        .ok_or_else(|| ApiError::forbidden("unknown device"))?;
    let profile = Profile::Device {
        serial: serial.clone(),
    };
    let c = &state.config.certificates;
    let issued = state.authority.issue_client(
        &csr.spki_der,
        &profile,
        c.device_validity_days,
        c.backdate_secs,
    )?;
    let now = now_ms();
    let mut next: Device = device;
    next.certificate = Some(DeviceCertificate {
        serial: issued.serial.clone(),
        not_after_ms: issued.not_after_ms,
        key: hex(&csr.key.to_sec1_compressed()),
        csr_sha256: hex(&sha256(&der)),
        pem: issued.pem.clone(),
    });
    let actor = format!("device:{serial}");
    next.note(
        now,
        "renewed",
        &actor,
        Some(format!(
            "certificate {} replaces {old_certificate}",
            issued.serial
        )),
    );
    let note = AuditNote {
        actor,
        action: "device.renewed",
        subject: serial.clone(),
        detail: json!({"certificate": issued.serial, "replaces": old_certificate}),
    };
    let expect_current = |d: &Device| {
        d.state == DeviceState::Enrolled
            && d.certificate
                .as_ref()
                .is_some_and(|c| c.serial == old_certificate)
    };
    // The superseded certificate goes on the CRL in the same commit, so that services
    // relying on it refuse it too.
    let commit = state.store.record_issuance(
        &next,
        &issued.record(&profile),
        Some(&old_certificate),
        note,
        &expect_current,
    )?;
    let answer = CertificateResponse {
        certificate_pem: issued.pem,
        chain_pem: state.authority.chain_pem().to_string(),
        not_after_ms: issued.not_after_ms,
    };
    Ok((answer, commit))
}
