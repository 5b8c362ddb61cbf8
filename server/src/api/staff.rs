//! Staff endpoints: registering an app install with an invite, and uploading scan records.

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_protocol::key::{hex, sha256};
use vouch_protocol::record::RecordWire;
use vouch_protocol::wire::{
    ErrorCode, RecordOutcome, RecordResult, RegisterRequest, RenewRequest, StaffCertificate,
    UploadAnswer,
};
use vouch_protocol::SignedScanRecord;

use super::enroll::verify_fast;
use super::{blocking, csr_from_base64, identify, ApiError, ApiJson, AppState, Identity, RateKey};
use crate::authority::Profile;
use crate::domain::{
    scan, staff as rules, AuditNote, ScanOutcome, ScanPolicy, StaffMember, StoredScan,
};
use crate::error::{Failure, ServerError};
use crate::tls::ConnInfo;

fn invite_invalid() -> ApiError {
    ApiError::new(
        ErrorCode::InviteInvalid,
        "this invite is unknown, used or expired",
    )
}

/// `POST /v1/staff/register`.
pub async fn register(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Json<StaffCertificate>, ApiError> {
    // Per address, and per invite (so guesses at one code are limited too).
    state.rate_limit(&conn.peer.ip().to_string(), RateKey::Invite(&req.code))?;
    blocking(move || {
        let (_, csr) = csr_from_base64(&req.csr)?;
        let code_hash = hex(&sha256(req.code.trim().as_bytes()));
        let now = state.now_ms();
        let Some(invite) = state.store.invite(&code_hash)? else {
            tracing::warn!(peer = %conn.peer, "registration with an unknown invite code");
            return Err(invite_invalid());
        };
        let key_id = csr.key.key_id().to_hex();
        let profile = Profile::Staff { name: invite.name.clone(), role: invite.role, key_id: key_id.clone() };
        let c = &state.config.certificates;
        let issued = state.authority.issue_client(&csr.spki_der, &profile, c.staff_validity_days, c.backdate_secs)?;
        let member = StaffMember {
            key_id: key_id.clone(),
            name: invite.name.clone(),
            role: invite.role,
            trusted: invite.trusted,
            public_key: hex(&csr.key.to_sec1_compressed()),
            registered_at_ms: now,
            revoked_at_ms: None,
            revoked_reason: None,
            chain: vouch_protocol::ChainHead::GENESIS,
            gaps: vec![],
            certificate_serial: issued.serial.clone(),
            not_after_ms: issued.not_after_ms,
        };
        let record = issued.record(&profile);
        let registered = state.store.redeem_invite(&code_hash, &|stored| {
            if stored.as_ref().is_some_and(|s| s.role != member.role || s.name != member.name) {
                return Err(ServerError::refuse(ErrorCode::Conflict, "the invite changed during registration"));
            }
            Ok(rules::redeem(&code_hash, stored, &member, &record, now))
        })?;
        let Some(member) = registered else {
            tracing::warn!(peer = %conn.peer, "registration with a used or expired invite");
            return Err(invite_invalid());
        };
        tracing::info!(name = %member.name, role = member.role.as_str(), key_id = %member.key_id, "staff member registered");
        Ok(staff_certificate_answer(&state, &issued.pem, &member))
    })
    .await
}

/// The answer to a registration or a renewal: the new certificate, its chain, and who it is for.
fn staff_certificate_answer(
    state: &AppState,
    pem: &str,
    member: &StaffMember,
) -> Json<StaffCertificate> {
    Json(StaffCertificate {
        certificate_pem: pem.to_string(),
        chain_pem: state.authority.chain_pem().to_string(),
        name: member.name.clone(),
        role: member.role,
        key_id: member.key_id.clone(),
        not_after_ms: member.not_after_ms,
    })
}

/// `POST /v1/staff/renew`: a new certificate for the calling install's key (the key is the
/// install's identity, so it does not change); the old certificate is revoked in the same
/// commit.
pub async fn renew(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiJson(req): ApiJson<RenewRequest>,
) -> Result<Json<StaffCertificate>, ApiError> {
    blocking(move || {
        let Identity::Staff { key_id, role, name } = identify(&state, &conn)? else {
            return Err(ApiError::forbidden("this endpoint is for staff"));
        };
        let (_, csr) = csr_from_base64(&req.csr)?;
        if csr.key.key_id().to_hex() != key_id {
            return Err(ApiError::new(
                ErrorCode::BadCsr,
                "the CSR must be for this install's own key (its identity)",
            ));
        }
        let member = state
            .store
            .staff(&key_id)?
            .ok_or_else(|| ApiError::forbidden("unknown staff member"))?;
        let profile = Profile::Staff {
            name,
            role,
            key_id: key_id.clone(),
        };
        let c = &state.config.certificates;
        let issued = state.authority.issue_client(
            &csr.spki_der,
            &profile,
            c.staff_validity_days,
            c.backdate_secs,
        )?;
        let note = AuditNote {
            actor: format!("staff:{key_id}"),
            action: "staff.renewed",
            subject: key_id.clone(),
            detail: json!({"certificate": issued.serial, "replaces": member.certificate_serial}),
        };
        let now = state.now_ms();
        let old_serial = member.certificate_serial;
        let new = issued.record(&profile);
        let member = state.store.update_staff(&key_id, &|current| {
            rules::renew(current, &old_serial, &new, note.clone(), now)
                .map_err(|refused| ServerError::refuse(ErrorCode::Conflict, refused.0.to_string()))
        })?;
        tracing::info!(%key_id, name = %member.name, "staff certificate renewed");
        Ok(staff_certificate_answer(&state, &issued.pem, &member))
    })
    .await
}

/// `GET /v1/me`.
pub async fn me(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || match identify(&state, &conn)? {
        Identity::Staff { key_id, .. } => {
            let m = state
                .store
                .staff(&key_id)?
                .ok_or_else(|| ApiError::forbidden("unknown staff member"))?;
            Ok(Json(json!({
                "name": m.name, "role": m.role.as_str(), "key_id": m.key_id,
                "not_after_ms": m.not_after_ms, "next_sequence": m.chain.next_sequence,
            })))
        }
        Identity::Operator => Ok(Json(json!({"name": "operator", "role": "operator"}))),
        Identity::Device { .. } => Err(ApiError::forbidden("this endpoint is for staff")),
    })
    .await
}

/// `POST /v1/records` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// Records, in sequence order.
    records: Vec<Value>,
}

/// `POST /v1/records`: ingest a batch; each record gets its own outcome.
pub async fn upload_records(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiJson(req): ApiJson<UploadRequest>,
) -> Result<Json<UploadAnswer>, ApiError> {
    blocking(move || {
        let Identity::Staff { key_id, .. } = identify(&state, &conn)? else {
            return Err(ApiError::forbidden(
                "records are uploaded by staff app installs",
            ));
        };
        let max = state.config.limits.max_records_per_batch;
        if req.records.len() > max {
            return Err(ApiError::new(
                ErrorCode::BatchTooLarge,
                format!("at most {max} records per upload"),
            ));
        }
        let member = state
            .store
            .staff(&key_id)?
            .ok_or_else(|| ApiError::forbidden("unknown staff member"))?;
        let results = ingest_batch(&state, &member, req.records)?;
        Ok(Json(UploadAnswer { results }))
    })
    .await
}

/// A record refused before ingestion.
struct EarlyRefusal {
    record_id: String,
    code: ErrorCode,
    message: String,
    /// For `malformed_record` whose JSON had the right shape: the protocol error's own code
    /// (PROTOCOL.md section 8), e.g. `too_long` or `label_mismatch`.
    protocol_code: Option<ErrorCode>,
}

impl EarlyRefusal {
    fn new(record_id: String, code: ErrorCode, message: String) -> Self {
        Self {
            record_id,
            code,
            message,
            protocol_code: None,
        }
    }
}

/// Checks each record (shape, installer, signature), ingests the good ones in one durable
/// batch, and answers one outcome per record, in order.
fn ingest_batch(
    state: &AppState,
    member: &StaffMember,
    raw: Vec<Value>,
) -> Result<Vec<RecordResult>, ApiError> {
    let key_bytes = data_encoding::HEXLOWER
        .decode(member.public_key.as_bytes())
        .unwrap_or_default();
    let key = vouch_protocol::PublicKey::from_sec1(&key_bytes).map_err(|_| {
        ApiError::from(crate::error::ServerError::Storage(Failure::new(
            "stored staff key is invalid",
        )))
    })?;
    let mut results: Vec<Option<RecordResult>> = Vec::with_capacity(raw.len());
    let mut good = Vec::new();
    for checked in check_records_in_parallel(member, &key, raw) {
        match checked {
            Ok(record) => {
                results.push(None);
                good.push(record);
            }
            Err(refusal) => results.push(Some(refuse(state, member, refusal))),
        }
    }
    let policy = ScanPolicy {
        auto_approve_trusted: state.config.policy.auto_approve_trusted,
        approve_on_manifest_match: state.config.policy.approve_on_manifest_match,
        unlisted: state.config.policy.unlisted,
    };
    let now = state.now_ms();
    let ingest = |record: &SignedScanRecord, view: &crate::domain::IngestView| {
        scan::ingest(record, view, policy, now)
    };
    let outcomes = state.store.ingest_scans(&good, &ingest)?;
    let mut outcomes = good.iter().zip(outcomes);
    Ok(results
        .into_iter()
        .map(|slot| {
            slot.unwrap_or_else(|| match outcomes.next() {
                Some((record, outcome)) => outcome_answer(
                    state,
                    member,
                    &record.record().record_id().to_hex(),
                    outcome,
                ),
                None => {
                    RecordResult::refused("", ErrorCode::Internal, "lost track of a record".into())
                }
            })
        })
        .collect())
}

/// Parses and verifies records on every core (the CPU-heavy part of ingestion), keeping their
/// order; the store then applies them one by one.
fn check_records_in_parallel(
    member: &StaffMember,
    key: &vouch_protocol::PublicKey,
    raw: Vec<Value>,
) -> Vec<Result<SignedScanRecord, EarlyRefusal>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    if workers < 2 || raw.len() < 64 {
        return raw
            .into_iter()
            .map(|value| check_record(member, key, value))
            .collect();
    }
    let chunk = raw.len().div_ceil(workers);
    let mut chunks: Vec<Vec<Value>> = Vec::new();
    let mut rest = raw.into_iter().peekable();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(chunk).collect());
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|values| {
                let len = values.len();
                let handle = scope.spawn(move || {
                    values
                        .into_iter()
                        .map(|v| check_record(member, key, v))
                        .collect::<Vec<_>>()
                });
                (len, handle)
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(len, handle)| {
                handle.join().unwrap_or_else(|_| {
                    let failed = || {
                        Err(EarlyRefusal::new(
                            String::new(),
                            ErrorCode::Internal,
                            "a record check failed unexpectedly".to_string(),
                        ))
                    };
                    (0..len).map(|_| failed()).collect()
                })
            })
            .collect()
    })
}

fn check_record(
    member: &StaffMember,
    key: &vouch_protocol::PublicKey,
    raw: Value,
) -> Result<SignedScanRecord, EarlyRefusal> {
    let record_id = raw
        .get("record_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(64)
        .collect::<String>();
    // Two steps, so that a value the protocol refuses keeps the protocol's own error code.
    let wire: RecordWire = serde_json::from_value(raw).map_err(|e| {
        EarlyRefusal::new(record_id.clone(), ErrorCode::MalformedRecord, e.to_string())
    })?;
    let record = SignedScanRecord::try_from(wire).map_err(|e| EarlyRefusal {
        record_id: record_id.clone(),
        code: ErrorCode::MalformedRecord,
        message: e.to_string(),
        protocol_code: Some(ErrorCode::of(&e)),
    })?;
    let r = record.record();
    if r.installer().to_hex() != member.key_id {
        return Err(EarlyRefusal::new(
            record_id,
            ErrorCode::of(&vouch_protocol::Error::InstallerMismatch),
            "an install uploads only its own records".into(),
        ));
    }
    let signed = vouch_protocol::Domain::ScanRecord.prefixed(&r.canonical_bytes());
    if !verify_fast(key, &signed, record.signature()) {
        return Err(EarlyRefusal::new(
            record_id,
            ErrorCode::of(&vouch_protocol::Error::BadSignature),
            "the record's signature does not verify (altered?)".into(),
        ));
    }
    Ok(record)
}

fn refuse(state: &AppState, member: &StaffMember, refusal: EarlyRefusal) -> RecordResult {
    let EarlyRefusal {
        record_id,
        code,
        message,
        protocol_code,
    } = refusal;
    state.metrics.record(RecordOutcome::Refused.as_str());
    tracing::warn!(installer = %member.key_id, %record_id, code = code.as_str(), protocol_code = protocol_code.as_ref().map(ErrorCode::as_str), %message, "record refused");
    RecordResult {
        protocol_code,
        ..RecordResult::refused(record_id, code, message)
    }
}

fn outcome_answer(
    state: &AppState,
    member: &StaffMember,
    id: &str,
    outcome: ScanOutcome,
) -> RecordResult {
    match outcome {
        ScanOutcome::Accepted(_) => {
            state.metrics.record(RecordOutcome::Accepted.as_str());
            RecordResult::stored(id, RecordOutcome::Accepted)
        }
        ScanOutcome::Duplicate => {
            state.metrics.record(RecordOutcome::Duplicate.as_str());
            RecordResult::stored(id, RecordOutcome::Duplicate)
        }
        ScanOutcome::Refused { code, message } => refuse(
            state,
            member,
            EarlyRefusal::new(id.to_string(), code, message),
        ),
    }
}

/// The stored scans of a device, for review.
pub fn scans_of(state: &AppState, ids: &[String]) -> Result<Vec<StoredScan>, ApiError> {
    let mut out = Vec::new();
    for id in ids {
        if let Some(scan) = state.store.scan(id)? {
            out.push(scan);
        }
    }
    Ok(out)
}
