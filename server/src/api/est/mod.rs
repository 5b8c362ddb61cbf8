//! The EST front door (RFC 7030) under `/.well-known/est/`: one more way in to the same
//! enrollment and renewal as the native protocol (docs/PROTOCOL.md 12). Nothing here decides:
//! the rules are `domain::enroll`'s, the issuance and the commits are the native handlers'
//! (`enroll::issue_for_device`, `device::renew_now`); this module reads EST's request shapes
//! and writes EST's answers.

mod wire;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use vouch_protocol::enroll::EnrollMode;
use vouch_protocol::key::{hex, sha256};
use vouch_protocol::wire::ErrorCode;

use super::device::renew_now;
use super::enroll::{
    device_key, flag_duplicate, issue_for_device, redeliver, settle, Issued, Refusal,
};
use super::{on_store, too_slow_cause, ApiError, AppState, RateKey};
use crate::authority::checks::{check_csr_key, verify_csr, VerifiedCsr};
use crate::authority::files::pem_to_der;
use crate::domain::enroll::{self as rules, BindingClaim, Step};
use crate::metrics::FrontDoor;
use crate::tls::ConnInfo;

/// `GET`: the CA certificate (RFC 7030 section 4.1).
pub const CACERTS: &str = "/.well-known/est/cacerts";
/// `POST`: a device's first enrollment (section 4.2.1).
pub const SIMPLEENROLL: &str = "/.well-known/est/simpleenroll";
/// `POST`: a renewal or re-key over mTLS (section 4.2.2).
pub const SIMPLEREENROLL: &str = "/.well-known/est/simplereenroll";
/// `GET`: what the server wants in a CSR (section 4.5).
pub const CSRATTRS: &str = "/.well-known/est/csrattrs";
/// Every EST path this server answers (no label segment: PROTOCOL.md 12.1).
pub const EST_PATHS: [&str; 4] = [CACERTS, SIMPLEENROLL, SIMPLEREENROLL, CSRATTRS];

/// The content type of `cacerts` (RFC 7030 section 4.1.3).
const PKCS7: &str = "application/pkcs7-mime";
/// The content type of an issued certificate (RFC 7030 section 4.2.3).
const PKCS7_CERTS_ONLY: &str = "application/pkcs7-mime; smime-type=certs-only";
/// The content type of `csrattrs` (RFC 7030 section 4.5.2).
const CSRATTRS_TYPE: &str = "application/csrattrs";
/// The content type an enrollment request must carry (RFC 7030 section 4.2.1).
const PKCS10: &str = "application/pkcs10";

/// A base64 answer as RFC 7030 and 8951 want it: unbroken base64, `Content-Transfer-Encoding:
/// base64` (which RFC 8951 tells clients to ignore, and older ones read), a `Content-Length`.
fn base64_answer(content_type: &'static str, der: &[u8]) -> Response {
    let body = wire::encode_body(der);
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        "content-transfer-encoding",
        HeaderValue::from_static("base64"),
    );
    response
}

/// `GET /.well-known/est/cacerts`.
pub async fn cacerts(State(state): State<Arc<AppState>>) -> Response {
    match wire::certs_only(&[state.authority.ca_der()]) {
        Ok(der) => base64_answer(PKCS7, &der),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /.well-known/est/csrattrs`.
pub async fn csrattrs(State(state): State<Arc<AppState>>) -> Response {
    match wire::csr_attributes(state.config.est.require_channel_binding) {
        Ok(der) => base64_answer(CSRATTRS_TYPE, &der),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The CSR an enrollment request carries: the content type must be `application/pkcs10`, the
/// body (within `limits.max_body_bytes`, in time) base64 DER whose self-signature verifies
/// with a P-256 key. Nothing about a device is looked at yet, so what is wrong is said.
fn request_csr(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Vec<u8>, VerifiedCsr), ApiError> {
    let body = body.map_err(|rejection| body_rejection(&rejection))?;
    let media_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some(PKCS10) {
        return Err(ApiError::new(
            ErrorCode::BadContentType,
            "send the CSR as Content-Type: application/pkcs10",
        ));
    }
    let der = wire::decode_body(&body).map_err(|e| ApiError::new(ErrorCode::BadCsr, e.0))?;
    let csr = verify_csr(&der).map_err(|p| ApiError::new(ErrorCode::BadCsr, p.0))?;
    Ok((der, csr))
}

fn body_rejection(rejection: &BytesRejection) -> ApiError {
    if let Some(slow) = too_slow_cause(rejection) {
        return ApiError::too_slow(slow);
    }
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(ErrorCode::BodyTooLarge, "the request body is too large");
    }
    ApiError::new(ErrorCode::BadRequest, rejection.body_text())
}

/// `POST /.well-known/est/simpleenroll`: the CSR's key finds the device it was vouched for,
/// and the CSR's signature proves possession of it (PROTOCOL.md 12.3).
pub async fn simpleenroll(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (der, csr) = match request_csr(&headers, body) {
        Ok(request) => request,
        Err(e) => return refused_at_the_door(&state, e),
    };
    let key_hex = hex(&csr.key.to_sec1_compressed());
    let address = conn.peer.ip().to_string();
    if let Err(limited) =
        state.rate_limit_at(FrontDoor::Est, &address, RateKey::DeviceKey(&key_hex))
    {
        return limited.into_response();
    }
    let binding = conn.channel_binding;
    let attempt = on_store(&state, move |state| {
        enroll_by_csr(&state, &der, &csr, binding)
    })
    .await;
    match settle(&state, attempt).await {
        Ok(issued) => {
            state.metrics.enrolled(FrontDoor::Est);
            tracing::info!(key = %key_hex, peer = %conn.peer, "device enrolled by EST");
            certificate_answer(&issued.answer.certificate_pem)
        }
        Err(refusal) => refusal_answer(&state, &key_hex, &conn, refusal),
    }
}

/// The enrollment checks of a CSR whose self-signature has verified, and the issuance.
fn enroll_by_csr(
    state: &AppState,
    der: &[u8],
    csr: &VerifiedCsr,
    binding: Option<[u8; 32]>,
) -> Result<Issued, Refusal> {
    let now = state.now_ms();
    let serials = state
        .store
        .serials_for_key(&hex(&csr.key.to_sec1_compressed()))?;
    let serial = rules::device_for_key(&serials).map_err(Refusal::Refused)?;
    let device = state
        .store
        .device(serial)?
        .filter(crate::domain::device::vouched)
        .ok_or(Refusal::Refused("serial_unknown"))?;
    // The key index also lists a key that was only seen, in conflict, under this serial.
    check_csr_key(csr, &device_key(&device)?, false)
        .map_err(|_| Refusal::Refused("csr_key_not_the_vouched_key"))?;
    let claim = csr
        .challenge_password
        .as_deref()
        .map_or(BindingClaim::None, BindingClaim::ChallengePassword);
    let required = state.config.est.require_channel_binding;
    rules::channel_binding(claim, binding, required).map_err(Refusal::Refused)?;
    // From here on the caller has proven possession of the vouched key.
    let csr_sha256 = hex(&sha256(der));
    match rules::next_step(&device, &csr_sha256) {
        Step::Issue => issue_for_device(
            state,
            &device.serial,
            &csr.spki_der,
            &csr.key,
            csr_sha256,
            EnrollMode::SameKey,
            now,
        ),
        Step::Redeliver(cert) => Ok(redeliver(state, &cert)),
        Step::Flag => flag_duplicate(state, &device.serial, now),
        Step::Pending => Err(Refusal::Pending),
        Step::Conflict => Err(Refusal::Refused("device_in_conflict")),
        Step::Unvouched => Err(Refusal::Refused("serial_unknown")),
        Step::Rejected => Err(Refusal::Rejected),
        Step::Revoked => Err(Refusal::Revoked),
    }
}

/// EST's answer to an enrollment that issued nothing: `202` with `Retry-After` while a
/// supervisor has not decided, the uniform `403 refused` for everything else (the reason is
/// logged and counted), a server failure as it is.
fn refusal_answer(state: &AppState, key: &str, conn: &ConnInfo, refusal: Refusal) -> Response {
    let why = match refusal {
        Refusal::Internal(e) => return ApiError::from(e).into_response(),
        Refusal::Pending => {
            tracing::info!(%key, peer = %conn.peer, "EST enrollment waits for approval");
            state
                .metrics
                .refusal(FrontDoor::Est, ErrorCode::PendingApproval.as_str());
            return wait_answer(state.config.est.retry_after_secs);
        }
        Refusal::Refused(why) => why,
        Refusal::Rejected => ErrorCode::Rejected.as_str(),
        Refusal::Revoked => ErrorCode::Revoked.as_str(),
        Refusal::AlreadyEnrolled(_) => ErrorCode::AlreadyEnrolled.as_str(),
    };
    tracing::warn!(%key, peer = %conn.peer, reason = why, "EST enrollment refused");
    state.metrics.refusal(FrontDoor::Est, why);
    ApiError::refused().into_response()
}

/// `202 Accepted` with `Retry-After` (RFC 7030 section 4.2.3) and an empty body.
fn wait_answer(retry_after_secs: u64) -> Response {
    let mut response = StatusCode::ACCEPTED.into_response();
    let headers = response.headers_mut();
    headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(0u32));
    response
}

/// The issued certificate as a certs-only SignedData.
fn certificate_answer(certificate_pem: &str) -> Response {
    let certificate = pem_to_der(certificate_pem, "CERTIFICATE");
    match certificate.and_then(|der| wire::certs_only(&[&der])) {
        Ok(der) => base64_answer(PKCS7_CERTS_ONLY, &der),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// A request refused before any device was looked at, counted as EST's.
fn refused_at_the_door(state: &AppState, error: ApiError) -> Response {
    state
        .metrics
        .refusal(FrontDoor::Est, error.body.code.as_str());
    error.into_response()
}

/// `POST /.well-known/est/simplereenroll`: the native renewal (the caller's current device
/// certificate at the TLS handshake, the old certificate revoked in the renewal's commit),
/// with EST's own checks (`est_renewal_checks`).
pub async fn simplereenroll(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let der = match request_csr(&headers, body) {
        Ok((der, _)) => der,
        Err(e) => return refused_at_the_door(&state, e),
    };
    let peer = conn.peer;
    let renewed = on_store(&state, move |state| {
        renew_now(&state, &conn, Ok(der), est_renewal_checks)
    })
    .await;
    let durable = match renewed {
        Ok((answer, commit)) => state.store.durable(commit).await.map(|()| answer),
        Err(e) => return refused_at_the_door(&state, e),
    };
    match durable {
        Ok(answer) => {
            state.metrics.renewed(FrontDoor::Est);
            tracing::info!(%peer, "device re-enrolled by EST");
            certificate_answer(&answer.certificate_pem)
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// EST's checks of a re-enrollment CSR: its subject is the current certificate's
/// (`CN=<serial>`) or empty (RFC 7030 section 4.2.2; the new certificate's names come from the
/// profile either way), and a challengePassword, if there is one, is this connection's
/// binding (the client certificate already authenticates the caller, so none is required).
fn est_renewal_checks(
    _: &AppState,
    conn: &ConnInfo,
    csr: &VerifiedCsr,
    serial: &str,
) -> Result<(), ApiError> {
    if !csr.subject.is_empty_or(serial) {
        return Err(ApiError::new(
            ErrorCode::BadCsr,
            "a re-enrollment CSR names the current certificate's subject (CN=<serial>) or none",
        ));
    }
    let claim = csr
        .challenge_password
        .as_deref()
        .map_or(BindingClaim::None, BindingClaim::ChallengePassword);
    rules::channel_binding(claim, conn.channel_binding, false).map_err(|why| {
        tracing::warn!(%serial, peer = %conn.peer, reason = why, "EST re-enrollment refused");
        ApiError::forbidden("the CSR's challengePassword is not this connection's channel binding")
    })?;
    Ok(())
}
