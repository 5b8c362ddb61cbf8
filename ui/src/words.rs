//! Codes in plain words, in the app's language: record states, refusals, device states,
//! timeline events and sync steps.

use vouch_protocol::wire::{DeviceEvent, DeviceState, ErrorCode, QueueState};

use crate::i18n::t;

/// A queue record's state, for a badge.
pub fn record_state(state: QueueState) -> String {
    match state {
        QueueState::Queued => t("record-queued"),
        QueueState::Syncing => t("record-syncing"),
        QueueState::Held => t("record-held"),
        QueueState::Accepted => t("record-accepted"),
        QueueState::Duplicate => t("record-duplicate"),
        QueueState::Refused => t("record-refused"),
    }
}

/// Why the server refused a record, in words a technician can act on.
pub fn refusal(code: Option<&ErrorCode>) -> String {
    let Some(code) = code else {
        return t("refusal-other");
    };
    match code {
        ErrorCode::Protocol(_) => protocol_refusal(code),
        ErrorCode::RecordIdReused => t("refusal-reused"),
        ErrorCode::UnknownInstaller => t("refusal-not-this-key"),
        ErrorCode::MalformedRecord => t("refusal-malformed"),
        ErrorCode::Forbidden | ErrorCode::Revoked => t("refusal-revoked"),
        _ => t("refusal-other"),
    }
}

/// A record refused by a protocol check (the code is the protocol core's, section 8).
fn protocol_refusal(code: &ErrorCode) -> String {
    use vouch_protocol::Error as E;
    let is = |e: E| *code == ErrorCode::of(&e);
    let order = (0, 0);
    if is(E::BadSignature) {
        t("refusal-bad-signature")
    } else if code.holds_record() {
        t("refusal-held")
    } else if is(E::SequenceReplay {
        expected: order.0,
        found: order.1,
    }) {
        t("refusal-reused")
    } else if is(E::ChainBroken) {
        t("refusal-chain-broken")
    } else if is(E::InstallerMismatch) {
        t("refusal-not-this-key")
    } else {
        t("refusal-other")
    }
}

/// A device state, for the review screen.
pub fn device_state(state: DeviceState) -> String {
    match state {
        DeviceState::Expected => t("device-expected"),
        DeviceState::Scanned => t("device-scanned"),
        DeviceState::Approved => t("device-approved"),
        DeviceState::Enrolled => t("device-enrolled"),
        DeviceState::Rejected => t("device-rejected"),
        DeviceState::Conflict => t("device-conflict"),
        DeviceState::Revoked => t("device-revoked"),
    }
}

/// A timeline event (one a newer server may add reads as "Event").
pub fn timeline_event(event: &str) -> String {
    let Some(event) = DeviceEvent::parse(event) else {
        return t("event-other");
    };
    match event {
        DeviceEvent::Scanned => t("event-scanned"),
        DeviceEvent::Corroborated => t("event-corroborated"),
        DeviceEvent::Expected => t("event-expected"),
        DeviceEvent::ManifestMatched => t("event-manifest-matched"),
        DeviceEvent::NotInManifest => t("event-not-in-manifest"),
        DeviceEvent::Conflict => t("event-conflict"),
        DeviceEvent::ConflictFlagged => t("event-conflict-flagged"),
        DeviceEvent::Approved => t("event-approved"),
        DeviceEvent::Rejected => t("event-rejected"),
        DeviceEvent::Revoked => t("event-revoked"),
        DeviceEvent::Enrolled => t("event-enrolled"),
        DeviceEvent::Renewed => t("event-renewed"),
        DeviceEvent::DuplicateEnrollment => t("event-duplicate-enrollment"),
        DeviceEvent::ReenrollmentAllowed => t("event-reenrollment-allowed"),
    }
}

/// A sync step, for the progress line.
pub fn sync_step(event: &str) -> String {
    match event {
        "started" => t("sync-step-started"),
        "sending" => t("sync-step-sending"),
        "retrying" => t("sync-step-retrying"),
        "answered" => t("sync-step-answered"),
        "finished" => t("sync-step-finished"),
        _ => t("sync-step-other"),
    }
}
