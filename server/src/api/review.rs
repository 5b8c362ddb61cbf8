//! Supervisor review: list devices, show one with its evidence, approve, reject, revoke.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::staff::scans_of;
use super::{
    blocking, checked_reason, require_reviewer, ApiError, ApiJson, ApiPath, ApiQuery, AppState,
};
use vouch_protocol::key::{hex, sha256};
use vouch_protocol::wire::{
    Decision, DeviceList, DeviceState, DeviceSummary, ErrorCode, ImportAnswer, ImportRequest,
    ReasonRequest,
};

use crate::domain::device::decide as rule;
use crate::domain::manifest::{import_id, parse_manifest, plan_import, ImportMeta, ManifestError};
use crate::domain::Device;
use crate::error::ServerError;
use crate::tls::ConnInfo;

/// `GET /v1/devices` query.
#[derive(Deserialize)]
pub struct ListQuery {
    state: Option<String>,
}

fn summary(d: &Device) -> DeviceSummary {
    DeviceSummary {
        serial: d.serial.clone(),
        model: d.model.clone(),
        state: d.state,
        key_fingerprint: d.key_fingerprint.clone(),
        scans: d.scans.len(),
        other_keys: d.other_keys.len(),
        other_serials: d.other_serials.clone(),
        updated_at_ms: d.updated_at_ms,
        created_at_ms: d.created_at_ms,
        expected_from: d.expected.as_ref().map(|e| e.import_id.clone()),
        manifest_match: d.expected.as_ref().and_then(|e| e.matched),
    }
}

/// A serial from a path, through the protocol's one serial rule: `400 bad_serial` for one no
/// label can carry (`..` among them), rather than a lookup that cannot succeed.
fn checked_serial(serial: &str) -> Result<(), ApiError> {
    vouch_protocol::Serial::new(serial)
        .map(drop)
        .map_err(|e| ApiError::new(ErrorCode::BadSerial, e.to_string()))
}

/// `GET /v1/devices[?state=...]`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<DeviceList>, ApiError> {
    blocking(move || {
        require_reviewer(&state, &conn)?;
        let wanted = match q.state.as_deref() {
            None | Some("") => None,
            Some(s) => Some(DeviceState::parse(s).ok_or_else(|| {
                ApiError::new(ErrorCode::BadState, format!("unknown state {s:?}: use expected, scanned, approved, enrolled, rejected, conflict or revoked"))
            })?),
        };
        let mut devices = state.store.devices()?;
        // Expected devices (a manifest's, never scanned) are many and need no review: listed
        // only when asked for by state.
        devices.retain(|d| match wanted {
            Some(w) => d.state == w,
            None => d.state != DeviceState::Expected,
        });
        devices.sort_by_key(|d| std::cmp::Reverse(d.updated_at_ms));
        Ok(Json(DeviceList {
            devices: devices.iter().map(summary).collect(),
        }))
    })
    .await
}

/// `GET /v1/devices/{serial}`: the device, every scan of it, and chain gaps of the scanners.
pub async fn show(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiPath(serial): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    checked_serial(&serial)?;
    blocking(move || {
        require_reviewer(&state, &conn)?;
        let device = state
            .store
            .device(&serial)?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no device with serial {serial:?}")))?;
        let scans = scans_of(&state, &device.scans)?;
        let installers: BTreeSet<String> = scans.iter().map(|s| s.record.record().installer().to_hex()).collect();
        let mut gaps = Vec::new();
        for key_id in installers {
            if let Some(m) = state.store.staff(&key_id)? {
                if !m.gaps.is_empty() || m.revoked_at_ms.is_some() {
                    gaps.push(json!({"key_id": m.key_id, "name": m.name, "gaps": m.gaps, "revoked_at_ms": m.revoked_at_ms}));
                }
            }
        }
        let evidence: Vec<Value> = scans
            .iter()
            .map(|s| {
                let r = s.record.record();
                json!({
                    "record_id": r.record_id().to_hex(), "scanned_at_ms": r.scanned_at_ms(),
                    "received_at_ms": s.received_at_ms, "site": r.site(), "note": r.note(),
                    "technician": s.installer_name, "installer": r.installer().to_hex(),
                    "serial": r.label().serial().as_str(), "key_fingerprint": r.label().key().fingerprint().to_string(),
                    "label_text": r.label_text(),
                })
            })
            .collect();
        Ok(Json(json!({ "device": device, "scans": evidence, "scanner_problems": gaps })))
    })
    .await
}

/// `POST /v1/devices/{serial}/{approve|reject|revoke}`.
pub async fn decide(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiPath((serial, verb)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<ReasonRequest>,
) -> Result<Json<DeviceSummary>, ApiError> {
    let Some(decision) = Decision::parse(&verb) else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "use approve, reject, revoke or reenroll",
        ));
    };
    checked_serial(&serial)?;
    let reason = checked_reason(&req.reason)?;
    blocking(move || {
        let actor = require_reviewer(&state, &conn)?.actor();
        let now = state.now_ms();
        let (device, commit) = state.store.update_device(&serial, &|d: Device| {
            rule(d, decision, &actor, &reason, now)
                .map_err(|refused| ServerError::refuse(ErrorCode::Conflict, refused.0.to_string()))
        })?;
        state.store.wait(commit)?;
        tracing::info!(serial = %device.serial, decision = decision.as_str(), %actor, "review decision");
        Ok(Json(summary(&device)))
    })
    .await
}

/// A manifest's name as given: at most 200 characters, one line.
fn checked_source(source: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(source) = source.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if source.chars().count() > 200 || source.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::BadManifest,
            "the manifest's source name must be at most 200 characters, on one line",
        ));
    }
    Ok(Some(source.to_string()))
}

/// `POST /v1/manifests`: imports a manifest of expected devices, whole or not at all.
pub async fn import(
    State(state): State<Arc<AppState>>,
    Extension(conn): Extension<ConnInfo>,
    ApiJson(req): ApiJson<ImportRequest>,
) -> Result<Json<ImportAnswer>, ApiError> {
    let reason = checked_reason(&req.reason)?;
    let source = checked_source(req.source.as_deref())?;
    blocking(move || {
        let actor = require_reviewer(&state, &conn)?.actor();
        let bad = |e: ManifestError| ApiError::new(ErrorCode::BadManifest, e.to_string());
        let entries = parse_manifest(&req.manifest).map_err(bad)?;
        let meta = ImportMeta {
            id: import_id(&req.manifest),
            sha256: hex(&sha256(req.manifest.as_bytes())),
            source,
            actor,
            reason,
        };
        let serials: Vec<String> = entries.iter().map(|e| e.serial.clone()).collect();
        let now = state.now_ms();
        // The rule's refusal names a line; the store only carries a `ServerError`, so the
        // refusal itself is kept here to answer with.
        let refusal = std::sync::Mutex::new(None);
        let imported = state.store.import_devices(&serials, &|stored| {
            plan_import(&entries, stored, &meta, now).map_err(|e| {
                let text = e.to_string();
                if let Ok(mut slot) = refusal.lock() {
                    *slot = Some(e);
                }
                ServerError::refuse(ErrorCode::BadRequest, text)
            })
        });
        if let Some(e) = refusal.into_inner().ok().flatten() {
            return Err(bad(e));
        }
        let counts = imported?;
        tracing::info!(import = %meta.id, source = ?meta.source, actor = %meta.actor, lines = counts.lines, added = counts.added, updated = counts.updated, "manifest imported");
        Ok(Json(ImportAnswer {
            import_id: meta.id,
            lines: counts.lines,
            added: counts.added,
            updated: counts.updated,
            unchanged: counts.unchanged,
        }))
    })
    .await
}
