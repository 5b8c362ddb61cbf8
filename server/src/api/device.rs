//! The device's mTLS endpoints: hello and renewal.

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use serde_json::{json, Value};
use vouch_protocol::enroll::{decode_base64, CertificateResponse};
use vouch_protocol::key::{hex, sha256};
use vouch_protocol::wire::{ErrorCode, RenewRequest};

use super::{
    blocking, certificate_identity, identify, on_store, ApiError, ApiJson, AppState, Identity,
};
use crate::authority::checks::{verify_csr, VerifiedCsr};
use crate::authority::{Profile, DEVICE_URI_PREFIX};
use crate::domain::enroll::renewed;
use crate::domain::{Device, DeviceCertificate, DeviceState};
use crate::error::ServerError;
use crate::metrics::FrontDoor;
use crate::store::Commit;
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

/// `POST /v1/device/renew`: a new certificate over the current mTLS session, or the one a
/// lost answer carried (PROTOCOL.md 11.8.3).
pub async fn renew(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiJson(req): ApiJson<RenewRequest>,
) -> Result<Json<CertificateResponse>, ApiError> {
    // Parsing, one CA signature and a commit: with a store in this process's memory, short
    // enough for the async worker; the wait for the disk holds no thread.
    let der =
        decode_base64(&req.csr, "csr").map_err(|e| ApiError::new(ErrorCode::BadCsr, e.to_string()));
    let (answer, commit) = on_store(&state, move |state| {
        renew_now(&state, &conn, der, no_more_checks)
    })
    .await?;
    state.store.durable(commit).await?;
    state.metrics.renewed(FrontDoor::Native);
    Ok(Json(answer))
}

/// A front door's own checks of a renewal CSR, after the shared ones (the caller is the
/// enrolled device `serial`, the CSR's self-signature verifies, its key is P-256).
pub(super) type RenewalCheck = fn(&AppState, &ConnInfo, &VerifiedCsr, &str) -> Result<(), ApiError>;

/// The native renewal checks nothing more (its CSR's subject is ignored: the profile decides).
fn no_more_checks(_: &AppState, _: &ConnInfo, _: &VerifiedCsr, _: &str) -> Result<(), ApiError> {
    Ok(())
}

/// Checks and commits a renewal of the caller's certificate for the CSR `der` (or, when the
/// caller presents the certificate a renewal superseded and the same CSR, re-sends the
/// answer); the answer may be sent once the commit is durable. The native renewal and EST's
/// simplereenroll both come here.
pub(super) fn renew_now(
    state: &AppState,
    conn: &ConnInfo,
    der: Result<Vec<u8>, ApiError>,
    front_door_check: RenewalCheck,
) -> Result<(CertificateResponse, Commit), ApiError> {
    let (serial, old_certificate) = match require_device(state, conn) {
        Ok(caller) => caller,
        Err(refused) => {
            let again = match der.as_deref() {
                Ok(der) => redeliver_renewal(state, conn, der)?,
                Err(_) => None,
            };
            return again.ok_or(refused);
        }
    };
    let der = der?;
    let csr = verify_csr(&der).map_err(|p| ApiError::new(ErrorCode::BadCsr, p.0))?;
    front_door_check(state, conn, &csr, &serial)?;
    if state.store.device(&serial)?.is_none() {
        return Err(ApiError::forbidden("unknown device"));
    }
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
    let now = state.now_ms();
    let cert = DeviceCertificate {
        serial: issued.serial.clone(),
        not_after_ms: issued.not_after_ms,
        key: hex(&csr.key.to_sec1_compressed()),
        csr_sha256: hex(&sha256(&der)),
        pem: issued.pem.clone(),
        replaces: None,
    };
    let record = issued.record(&profile);
    // The superseded certificate goes on the CRL in the same commit, so that services
    // relying on it refuse it too.
    let (_, commit) = state.store.update_device(&serial, &|current: Device| {
        renewed(current, &old_certificate, cert.clone(), record.clone(), now)
            .map_err(|refused| ServerError::refuse(ErrorCode::Conflict, refused.0.to_string()))
    })?;
    let answer = CertificateResponse {
        certificate_pem: issued.pem,
        chain_pem: state.authority.chain_pem().to_string(),
        not_after_ms: issued.not_after_ms,
    };
    Ok((answer, commit))
}

/// A renewal whose answer was lost, asked for again: the caller presents the certificate that
/// the device's current one superseded, and the identical CSR. The answer is that current
/// certificate, re-sent; nothing is written. `None` for anything else (the caller then gets
/// the refusal it would have had).
///
/// Safe because nothing is issued: the certificate sent is public, usable only with the key
/// that signed the CSR (verified when it was issued), and the handshake has proven the old
/// certificate's key. A different CSR never matches, so a copy of the old key gets no
/// certificate for a key of its own.
fn redeliver_renewal(
    state: &AppState,
    conn: &ConnInfo,
    der: &[u8],
) -> Result<Option<(CertificateResponse, Commit)>, ApiError> {
    let Some((serial, presented)) = issued_device_certificate(state, conn)? else {
        return Ok(None);
    };
    let Some(device) = state.store.device(&serial)? else {
        return Ok(None);
    };
    let csr_sha256 = hex(&sha256(der));
    let Some(current) = device.certificate.filter(|c| {
        device.state == DeviceState::Enrolled
            && c.replaces.as_deref() == Some(presented.as_str())
            && c.csr_sha256 == csr_sha256
    }) else {
        return Ok(None);
    };
    tracing::info!(%serial, peer = %conn.peer, certificate = %current.serial, "renewal answer delivered again");
    let answer = CertificateResponse {
        certificate_pem: current.pem,
        chain_pem: state.authority.chain_pem().to_string(),
        not_after_ms: current.not_after_ms,
    };
    // Answered once the commit that recorded it, perhaps another instance's, is surely on
    // disk.
    Ok(Some((answer, state.store.fence())))
}

/// The device serial and certificate serial of the caller's certificate, if it is a device
/// certificate this server issued to that device, revoked or not (the handshake has already
/// checked that the CA signed it, that it is within its validity, and the key).
fn issued_device_certificate(
    state: &AppState,
    conn: &ConnInfo,
) -> Result<Option<(String, String)>, ApiError> {
    let Some((uri, presented)) = conn
        .client_cert
        .as_deref()
        .and_then(|der| certificate_identity(der))
    else {
        return Ok(None);
    };
    let Some(serial) = uri.strip_prefix(DEVICE_URI_PREFIX) else {
        return Ok(None);
    };
    let ours = state
        .store
        .certificate(&presented)?
        .is_some_and(|c| c.subject == uri);
    Ok(ours.then(|| (serial.to_string(), presented)))
}
