//! Operator (and supervisor) administration: invites, staff, audit.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ring::rand::SecureRandom;
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_protocol::key::{hex, sha256};
use vouch_protocol::wire::{ErrorCode, ReasonRequest};
use vouch_protocol::Invite;

use super::{
    blocking, checked_reason, identify, require_reviewer, ApiError, ApiJson, ApiPath, AppState,
    Identity,
};
use crate::domain::audit::verify_audit;
use crate::domain::staff::{accept_gap_planned, revoke};
use crate::domain::{AuditNote, GapAcceptance, InviteRecord, Role, StaffMember};
use crate::error::{Failure, ServerError};
use crate::tls::ConnInfo;

fn require_operator(state: &AppState, conn: &ConnInfo) -> Result<(), ApiError> {
    match identify(state, conn)? {
        Identity::Operator => Ok(()),
        _ => Err(ApiError::forbidden("this needs the operator credential")),
    }
}

/// `POST /v1/admin/invites` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    role: String,
    name: String,
    #[serde(default)]
    trusted: bool,
    /// The URL the app should use (default: what the caller connected to is unknown here, so
    /// the CLI sends it).
    server_url: String,
}

/// `POST /v1/admin/invites`: a one-time, expiring invite.
pub async fn invite(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiJson(req): ApiJson<InviteRequest>,
) -> Result<Json<Value>, ApiError> {
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::new(ErrorCode::BadRole, "role must be technician or supervisor")
    })?;
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::BadName,
            "name must be 1 to 64 characters, on one line",
        ));
    }
    blocking(move || {
        let actor = require_reviewer(&state, &conn)?.actor();
        let mut secret = [0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut secret)
            .map_err(|_| ApiError::from(ServerError::Authority(Failure::new("random generator failed"))))?;
        let code = data_encoding::BASE32_NOPAD.encode(&secret);
        let invite = Invite::new(&req.server_url, state.authority.ca_sha256(), &code)
            .map_err(|e| ApiError::new(ErrorCode::BadServerUrl, e.to_string()))?;
        let now = state.now_ms();
        let expires_at_ms = now + u64::from(state.config.invites.ttl_hours) * 3_600_000;
        let record = InviteRecord { role, name: name.clone(), trusted: req.trusted, created_at_ms: now, expires_at_ms, used_at_ms: None };
        let note = AuditNote {
            actor,
            action: "staff.invited",
            subject: name.clone(),
            detail: json!({"role": role.as_str(), "trusted": req.trusted, "expires_at_ms": expires_at_ms}),
        };
        state.store.put_invite(&hex(&sha256(code.as_bytes())), &record, note)?;
        Ok(Json(json!({"invite": invite.to_string(), "expires_at_ms": expires_at_ms, "role": role.as_str(), "name": name})))
    })
    .await
}

/// `GET /v1/admin/staff`.
pub async fn staff_list(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        require_reviewer(&state, &conn)?;
        let staff: Vec<Value> = state
            .store
            .all_staff()?
            .into_iter()
            .map(|m| {
                json!({
                    "key_id": m.key_id, "name": m.name, "role": m.role.as_str(), "trusted": m.trusted,
                    "registered_at_ms": m.registered_at_ms, "revoked_at_ms": m.revoked_at_ms,
                    "revoked_reason": m.revoked_reason, "next_sequence": m.chain.next_sequence, "gaps": m.gaps,
                    "key_fingerprint": vouch_protocol::KeyId::from_hex(&m.key_id).map(|k| k.fingerprint().to_string()).unwrap_or_default(),
                })
            })
            .collect();
        Ok(Json(json!({ "staff": staff })))
    })
    .await
}

/// `POST /v1/admin/staff/{key_id}/revoke`.
pub async fn staff_revoke(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiPath(key_id): ApiPath<String>,
    ApiJson(req): ApiJson<ReasonRequest>,
) -> Result<Json<Value>, ApiError> {
    let reason = checked_reason(&req.reason)?;
    blocking(move || {
        let actor = require_reviewer(&state, &conn)?.actor();
        let now = state.now_ms();
        let member = state.store.update_staff(&key_id, &|m: StaffMember| {
            revoke(m, &reason, &actor, now).map_err(|refused| ServerError::refuse(ErrorCode::Conflict, refused.0.to_string()))
        })?;
        tracing::info!(key_id = %member.key_id, name = %member.name, %actor, "staff member revoked");
        Ok(Json(json!({"key_id": member.key_id, "name": member.name, "revoked_at_ms": member.revoked_at_ms})))
    })
    .await
}

/// Body of a gap acceptance.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptGapRequest {
    /// The sequence number the server expected when the gap was seen.
    expected: u64,
    /// Why the missing records are accepted as lost.
    reason: String,
}

/// `POST /v1/admin/staff/{key_id}/accept-gap`: a reviewer declares the records of a chain gap
/// lost, so that the install's records from the one that arrived instead are accepted.
pub async fn staff_accept_gap(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiPath(key_id): ApiPath<String>,
    ApiJson(req): ApiJson<AcceptGapRequest>,
) -> Result<Json<Value>, ApiError> {
    let reason = checked_reason(&req.reason)?;
    blocking(move || {
        let actor = require_reviewer(&state, &conn)?.actor();
        let now = state.now_ms();
        let member = state.store.update_staff(&key_id, &|m: StaffMember| {
            let acceptance = GapAcceptance { by: actor.clone(), at_ms: now, reason: reason.clone() };
            accept_gap_planned(m, req.expected, acceptance)
                .map_err(|refused| ServerError::refuse(ErrorCode::Conflict, refused.0.to_string()))
        })?;
        let gap = member.gaps.iter().find(|g| g.expected == req.expected);
        tracing::info!(key_id = %member.key_id, expected = req.expected, %actor, "chain gap accepted");
        Ok(Json(json!({"key_id": member.key_id, "name": member.name, "gap": gap, "next_sequence": member.chain.next_sequence})))
    })
    .await
}

/// `POST /v1/admin/operator/rotate` (operator only): a new operator key and certificate in the
/// data folder; the calling certificate is revoked and refused from then on.
pub async fn operator_rotate(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiJson(req): ApiJson<ReasonRequest>,
) -> Result<Json<Value>, ApiError> {
    let reason = checked_reason(&req.reason)?;
    blocking(move || {
        require_operator(&state, &conn)?;
        let note = AuditNote {
            actor: "operator".into(),
            action: "operator.rotated",
            subject: "operator".into(),
            detail: json!({"reason": reason}),
        };
        let rotated = state
            .operator
            .rotate(&state.authority, state.store.as_ref(), note, state.now_ms())?;
        tracing::warn!(revoked = %rotated.revoked, serial = %rotated.serial, "operator credential rotated");
        Ok(Json(json!({
            "revoked": rotated.revoked,
            "serial": rotated.serial,
            "not_after_ms": rotated.not_after_ms,
            "certificate": rotated.cert_path.display().to_string(),
        })))
    })
    .await
}

/// `GET /v1/admin/audit`: the log as JSON lines.
pub async fn audit_export(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
) -> Result<impl IntoResponse, ApiError> {
    blocking(move || {
        require_operator(&state, &conn)?;
        let mut out = String::new();
        for entry in state.store.audit_entries()? {
            out.push_str(
                &serde_json::to_string(&entry)
                    .map_err(|e| ApiError::from(ServerError::Storage(Failure::of(e))))?,
            );
            out.push('\n');
        }
        Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], out))
    })
    .await
}

/// `GET /v1/admin/audit/verify`.
pub async fn audit_verify(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        require_operator(&state, &conn)?;
        let entries = state.store.audit_entries()?;
        Ok(Json(match verify_audit(&entries) {
            Ok(n) => json!({"ok": true, "entries": n}),
            Err(e) => json!({"ok": false, "entries": entries.len(), "error": e}),
        }))
    })
    .await
}

/// `GET /v1/admin/backup` (operator only): a consistent snapshot of the store in the backup
/// format ([`crate::backup`]), bucket lines only; `vouch-server backup` adds the data folder's
/// files. Every change answered before the request arrived is in it; changes keep being made
/// while it is sent (they wait only while the snapshot is copied in memory).
pub async fn backup(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
) -> Result<impl IntoResponse, ApiError> {
    blocking(move || {
        require_operator(&state, &conn)?;
        let started = std::time::Instant::now();
        let buckets = state.store.snapshot()?;
        let entries: usize = buckets.iter().map(|(_, e)| e.len()).sum();
        let bytes = crate::backup::encode(&crate::backup::Backup {
            files: vec![],
            buckets,
        })?;
        tracing::info!(
            entries,
            bytes = bytes.len(),
            ms = started.elapsed().as_millis() as u64,
            "store snapshot taken for a backup"
        );
        Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], bytes))
    })
    .await
}
