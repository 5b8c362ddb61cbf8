//! Device enrollment: challenge and completion. Every refusal to a caller that has not proven
//! possession of a vouched key is the same `403 refused`; the log says why.

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use ring::rand::SecureRandom;
use vouch_protocol::enroll::{
    decode_base64, CertificateResponse, Challenge, ChallengeRequest, ChannelBinding, EnrollMode,
    EnrollRequest, EnrollmentMessage, Nonce,
};
use vouch_protocol::key::{hex, sha256};
use vouch_protocol::wire::ErrorCode;
use vouch_protocol::{PublicKey, Serial, Signature};

use super::{on_store, ApiError, ApiJson, AppState, RateKey};
use crate::authority::checks::{check_csr_key, parse_csr_signed_by_its_key, verify_csr};
use crate::authority::Profile;
use crate::domain::enroll::{self as rules, BindingClaim, Step};
use crate::domain::{ChallengeRecord, Device, DeviceCertificate};
use crate::error::{Failure, ServerError};
use crate::metrics::FrontDoor;
use crate::store::{ChallengeStored, Commit};
use crate::tls::ConnInfo;

/// Why an enrollment did not produce a certificate.
#[derive(Debug)]
pub enum Refusal {
    /// Unproven caller or failed check: the uniform "no" (the reason is only logged).
    Refused(&'static str),
    /// Proven, but not approved yet.
    Pending,
    /// Proven, and rejected by a supervisor.
    Rejected,
    /// Proven, and revoked.
    Revoked,
    /// Proven, but the label key already enrolled once (flagged for review in this commit).
    AlreadyEnrolled(Commit),
    /// A server failure.
    Internal(ServerError),
}

impl From<ServerError> for Refusal {
    fn from(e: ServerError) -> Self {
        Refusal::Internal(e)
    }
}

fn random_nonce() -> Result<Nonce, ServerError> {
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ServerError::Authority(Failure::new("the system random generator failed")))?;
    Ok(Nonce(bytes))
}

/// The answer to a request whose commit found the device no longer approved: another request
/// for it committed between this one's read and its commit. The step is decided again on the
/// device as it is now ([`rules::next_step`]), so the race's loser gets what a request just
/// after the winner gets: this very CSR's certificate again (the same request twice, a lost
/// answer retried), refused and flagged as a second enrollment of the label key (another
/// CSR), rejected or revoked. Anything else (approved again, back to pending) is refused, as
/// a device that changed under the request; the certificate this request had signed is never
/// sent or recorded.
fn after_a_lost_race(
    state: &AppState,
    serial: &str,
    csr_sha256: &str,
    now: u64,
) -> Result<Issued, Refusal> {
    let current = state
        .store
        .device(serial)?
        .ok_or(Refusal::Refused("serial_unknown"))?;
    tracing::info!(%serial, state = ?current.state, "enrollment lost a race for the device; decided again");
    match rules::next_step(&current, csr_sha256) {
        Step::Redeliver(cert) => Ok(redeliver(state, &cert)),
        Step::Flag => flag_duplicate(state, serial, now),
        Step::Rejected => Err(Refusal::Rejected),
        Step::Revoked => Err(Refusal::Revoked),
        Step::Issue | Step::Pending | Step::Conflict | Step::Unvouched => {
            Err(Refusal::Refused("device_changed_during_issuance"))
        }
    }
}

/// `POST /v1/enroll/challenge`.
pub async fn challenge(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiJson(req): ApiJson<ChallengeRequest>,
) -> Result<Json<Challenge>, ApiError> {
    state.rate_limit(&conn.peer.ip().to_string(), RateKey::Serial(&req.serial))?;
    let nonce = random_nonce()?;
    let now = state.now_ms();
    let expires_at_ms = rules::challenge_expiry(now, state.config.enrollment.nonce_ttl_secs);
    let record = ChallengeRecord {
        serial: req.serial,
        expires_at_ms,
    };
    let (nonce_hex, peer) = (nonce.to_hex(), conn.peer);
    on_store(&state, move |state| {
        store_challenge(&state, &nonce_hex, &record, now, peer)
    })
    .await?;
    Ok(Json(Challenge {
        nonce,
        expires_at_ms,
    }))
}

/// Stores the nonce if the serial is vouched; anyone else gets a nonce that goes nowhere.
fn store_challenge(
    state: &AppState,
    nonce: &str,
    record: &ChallengeRecord,
    now_ms: u64,
    peer: std::net::SocketAddr,
) -> Result<(), ApiError> {
    let serial = &record.serial;
    if serial.len() > 64 {
        let serial: String = serial.chars().take(64).collect();
        tracing::info!(%serial, %peer, "challenge for an unknown serial (nothing stored)");
        return Ok(());
    }
    // The device is read and the nonce stored in one step (one statement on PostgreSQL). Each
    // outcome is answered alike: a different answer would tell who is vouched.
    let vouched = &crate::domain::device::vouched;
    match state
        .store
        .put_challenge_for_device(nonce, record, now_ms, vouched)?
    {
        ChallengeStored::Stored => {}
        ChallengeStored::UnknownSerial => {
            tracing::info!(%serial, %peer, "challenge for an unknown serial (nothing stored)");
        }
        ChallengeStored::Full => {
            let why = "too many outstanding enrollment challenges";
            tracing::warn!(%serial, %peer, why, "challenge not stored");
        }
    }
    Ok(())
}

/// `POST /v1/enroll/complete`.
///
/// With a store in this process's memory, the checks, one CA signature and the commit run on
/// the async worker (a few hundred microseconds); the wait for the disk holds no thread
/// (group commit). Another store is called from the blocking pool.
pub async fn complete(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Result<Json<CertificateResponse>, ApiError> {
    state.rate_limit(&conn.peer.ip().to_string(), RateKey::Serial(&req.serial))?;
    let serial = req.serial.chars().take(64).collect::<String>();
    let exporter = conn.channel_binding;
    let attempt = on_store(&state, move |state| enroll(&state, &req, exporter)).await;
    let refusal = match settle(&state, attempt).await {
        Ok(issued) => {
            state.metrics.enrolled(FrontDoor::Native);
            tracing::info!(%serial, peer = %conn.peer, "device enrolled");
            return Ok(Json(issued.answer));
        }
        Err(refusal) => refusal,
    };
    Err(refusal_answer(&state, &serial, &conn, refusal))
}

/// Waits until what an attempt committed is durable: the certificate before it is handed out,
/// a duplicate's flag before the refusal says so, a rejection or revocation (perhaps another
/// instance's) before it is told.
pub(super) async fn settle(
    state: &AppState,
    attempt: Result<Issued, Refusal>,
) -> Result<Issued, Refusal> {
    match attempt {
        Ok(issued) => match state.store.durable(issued.commit).await {
            Ok(()) => Ok(issued),
            Err(e) => Err(Refusal::Internal(e)),
        },
        Err(Refusal::AlreadyEnrolled(commit)) => match state.store.durable(commit).await {
            Ok(()) => Err(Refusal::AlreadyEnrolled(commit)),
            Err(e) => Err(Refusal::Internal(e)),
        },
        // Told from a state that another instance may have written and not yet flushed: said
        // once it is on disk (rare answers, so the barrier is cheap).
        Err(refusal @ (Refusal::Rejected | Refusal::Revoked)) => {
            match state.store.durable(state.store.fence()).await {
                Ok(()) => Err(refusal),
                Err(e) => Err(Refusal::Internal(e)),
            }
        }
        Err(refusal) => Err(refusal),
    }
}

fn refusal_answer(state: &AppState, serial: &str, conn: &ConnInfo, refusal: Refusal) -> ApiError {
    let (code, message) = match refusal {
        Refusal::Refused(why) => {
            tracing::warn!(%serial, peer = %conn.peer, reason = why, "enrollment refused");
            // Operators count by the logged reason; the caller still gets the uniform answer.
            // Per-reason counts can tell which serials exist, hence /metrics stays internal
            // (SECURITY.md 4.6).
            state.metrics.refusal(FrontDoor::Native, why);
            return ApiError::refused();
        }
        Refusal::Internal(e) => return ApiError::from(e),
        Refusal::Pending => (
            ErrorCode::PendingApproval,
            "the device is not approved yet: try again later",
        ),
        Refusal::Rejected => (
            ErrorCode::Rejected,
            "the device was rejected by a supervisor",
        ),
        Refusal::Revoked => (ErrorCode::Revoked, "the device was revoked"),
        Refusal::AlreadyEnrolled(_) => (
            ErrorCode::AlreadyEnrolled,
            "this label key has already enrolled; the attempt was flagged for review",
        ),
    };
    tracing::warn!(%serial, peer = %conn.peer, code = code.as_str(), "proven device not issued a certificate");
    state.metrics.refusal(FrontDoor::Native, code.as_str());
    ApiError::new(code, message)
}

/// A certificate to hand out once its commit is durable.
pub struct Issued {
    /// The answer for the device.
    pub answer: CertificateResponse,
    /// The commit that recorded it (or, for a re-delivery, every commit so far).
    pub commit: Commit,
}

/// The whole completion check and issuance (see docs/PROTOCOL.md).
pub fn enroll(
    state: &AppState,
    req: &EnrollRequest,
    exporter: Option<[u8; 32]>,
) -> Result<Issued, Refusal> {
    let now = state.now_ms();
    let nonce = Nonce::from_hex(&req.nonce).map_err(|_| Refusal::Refused("nonce_malformed"))?;
    // The device is read with the take (one exchange on PostgreSQL), used only once the
    // challenge is found to be for it.
    let (taken, device) = state
        .store
        .take_challenge_and_device(&nonce.to_hex(), &req.serial)?;
    rules::check_challenge(taken.as_ref(), &req.serial, now).map_err(Refusal::Refused)?;
    let device = device
        .filter(crate::domain::device::vouched)
        .ok_or(Refusal::Refused("serial_unknown"))?;
    let csr_der = decode_base64(&req.csr, "csr").map_err(|_| Refusal::Refused("csr_not_base64"))?;
    let signature =
        Signature::from_hex(&req.signature).map_err(|_| Refusal::Refused("signature_malformed"))?;
    let claim = match req.channel_binding {
        ChannelBinding::TlsExporter => BindingClaim::Exporter,
        ChannelBinding::None => BindingClaim::None,
    };
    let required = state.config.enrollment.require_channel_binding;
    let channel_binding =
        rules::channel_binding(claim, exporter, required).map_err(Refusal::Refused)?;
    let serial = Serial::new(&req.serial).map_err(|_| Refusal::Refused("serial_malformed"))?;
    let message = EnrollmentMessage {
        mode: req.mode,
        nonce,
        serial: &serial,
        csr_der: &csr_der,
        channel_binding,
    };
    let vouched = device_key(&device)?;
    if !verify_fast(&vouched, &message.signed_bytes(), &signature) {
        return Err(Refusal::Refused("signature_invalid"));
    }
    // From here on the caller has proven possession of the vouched key.
    let csr_sha256 = hex(&sha256(&csr_der));
    match rules::next_step(&device, &csr_sha256) {
        Step::Issue => {}
        Step::Redeliver(cert) => return Ok(redeliver(state, &cert)),
        Step::Flag => return flag_duplicate(state, &device.serial, now),
        // Native tells a proven device in conflict that it waits for a supervisor.
        Step::Pending | Step::Conflict => return Err(Refusal::Pending),
        Step::Unvouched => return Err(Refusal::Refused("serial_unknown")),
        Step::Rejected => return Err(Refusal::Rejected),
        Step::Revoked => return Err(Refusal::Revoked),
    }
    // Same key: the enrollment signature just verified is the CSR key's proof of possession.
    let read_csr = match req.mode {
        EnrollMode::SameKey => parse_csr_signed_by_its_key,
        EnrollMode::Rekey => verify_csr,
    };
    let csr = read_csr(&csr_der).map_err(|p| {
        tracing::warn!(serial = %req.serial, problem = p.0, "CSR refused");
        Refusal::Refused("csr_invalid")
    })?;
    check_csr_key(&csr, &vouched, req.mode == EnrollMode::Rekey).map_err(|p| {
        tracing::warn!(serial = %req.serial, problem = p.0, "CSR key refused");
        Refusal::Refused("csr_key_mismatch")
    })?;
    issue_for_device(
        state,
        &device.serial,
        &csr.spki_der,
        &csr.key,
        csr_sha256,
        req.mode,
        now,
    )
}

pub(super) fn device_key(device: &Device) -> Result<PublicKey, Refusal> {
    let bytes = data_encoding::HEXLOWER
        .decode(device.key.as_bytes())
        .map_err(|_| {
            Refusal::Internal(ServerError::Storage(Failure::new(
                "stored device key is not hex",
            )))
        })?;
    PublicKey::from_sec1(&bytes).map_err(|_| {
        Refusal::Internal(ServerError::Storage(Failure::new(
            "stored device key is invalid",
        )))
    })
}

/// Verifies an ECDSA P-256 signature (r||s) with ring, the fast path.
pub fn verify_fast(key: &PublicKey, signed: &[u8], signature: &Signature) -> bool {
    use p256_point::uncompressed;
    let point = uncompressed(key);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &point)
        .verify(signed, &signature.0)
        .is_ok()
}

mod p256_point {
    use vouch_protocol::p256::elliptic_curve::sec1::ToEncodedPoint;
    use vouch_protocol::PublicKey;

    /// The uncompressed SEC1 point ring expects.
    pub fn uncompressed(key: &PublicKey) -> Vec<u8> {
        key.as_p256().to_encoded_point(false).as_bytes().to_vec()
    }
}

/// The same CSR again: the first answer was lost. The same certificate goes out again, once
/// the commit that recorded it is surely on disk (it may be another instance's, hence a
/// fence).
pub(super) fn redeliver(state: &AppState, cert: &DeviceCertificate) -> Issued {
    let answer = CertificateResponse {
        certificate_pem: cert.pem.clone(),
        chain_pem: state.authority.chain_pem().to_string(),
        not_after_ms: cert.not_after_ms,
    };
    let commit = state.store.fence();
    Issued { answer, commit }
}

/// A second enrollment of an enrolled label key: refused and flagged for review.
pub(super) fn flag_duplicate(state: &AppState, serial: &str, now: u64) -> Result<Issued, Refusal> {
    let (_, commit) = state
        .store
        .update_device(serial, &|d: Device| Ok(rules::flag_duplicate(d, now)))?;
    Err(Refusal::AlreadyEnrolled(commit))
}

/// Issues the device's certificate for a checked CSR and commits the enrollment (the device
/// must still be approved when the commit runs: of two requests racing for one device, at
/// either front door or instance, one commits and the other is answered as in
/// [`after_a_lost_race`]).
pub(super) fn issue_for_device(
    state: &AppState,
    serial: &str,
    spki_der: &[u8],
    key: &PublicKey,
    csr_sha256: String,
    mode: EnrollMode,
    now: u64,
) -> Result<Issued, Refusal> {
    let profile = Profile::Device {
        serial: serial.to_string(),
    };
    let certs = &state.config.certificates;
    let issued = state.authority.issue_client(
        spki_der,
        &profile,
        certs.device_validity_days,
        certs.backdate_secs,
    )?;
    let cert = DeviceCertificate {
        serial: issued.serial.clone(),
        not_after_ms: issued.not_after_ms,
        key: hex(&key.to_sec1_compressed()),
        csr_sha256,
        pem: issued.pem.clone(),
        replaces: None,
    };
    let record = issued.record(&profile);
    let rekey = mode == EnrollMode::Rekey;
    let committed = state.store.update_device(serial, &|current: Device| {
        rules::enrolled(current, cert.clone(), record.clone(), rekey, now)
            .map_err(|refused| ServerError::refuse(ErrorCode::Conflict, refused.0.to_string()))
    });
    let commit = match committed {
        Ok((_, commit)) => commit,
        Err(ServerError::Refusal {
            code: ErrorCode::Conflict,
            ..
        }) => return after_a_lost_race(state, serial, &cert.csr_sha256, now),
        Err(e) => return Err(Refusal::Internal(e)),
    };
    let answer = CertificateResponse {
        certificate_pem: issued.pem,
        chain_pem: state.authority.chain_pem().to_string(),
        not_after_ms: issued.not_after_ms,
    };
    Ok(Issued { answer, commit })
}
