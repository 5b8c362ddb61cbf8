//! Codes in plain words: record states, refusals, device states and timeline events.

use vouch_protocol::wire::{DeviceEvent, DeviceState, ErrorCode, QueueState};

/// A queue record's state, for a badge.
pub fn record_state(state: QueueState) -> &'static str {
    match state {
        QueueState::Queued => "Waiting to sync",
        QueueState::Syncing => "Sending",
        QueueState::Held => "Held: an earlier scan is missing",
        QueueState::Accepted => "Synced",
        QueueState::Duplicate => "Synced (already there)",
        QueueState::Refused => "Refused",
    }
}

/// Why the server refused a record, in words a technician can act on.
pub fn refusal(code: Option<&ErrorCode>) -> &'static str {
    let Some(code) = code else {
        return OTHER_REFUSAL;
    };
    match code {
        ErrorCode::Protocol(_) => protocol_refusal(code),
        ErrorCode::RecordIdReused => REUSED,
        ErrorCode::UnknownInstaller => NOT_THIS_KEY,
        ErrorCode::MalformedRecord => {
            "The scan could not be read by the server. Scan the label again."
        }
        ErrorCode::Forbidden | ErrorCode::Revoked => REVOKED,
        _ => OTHER_REFUSAL,
    }
}

const OTHER_REFUSAL: &str = "The server refused this scan. Tell your supervisor.";
const REUSED: &str =
    "The server already holds a different scan under this number. Tell your supervisor.";
const NOT_THIS_KEY: &str =
    "The scan was not made by this tablet's registered key. Join again with a new invite.";
const REVOKED: &str = "This tablet's registration was revoked. Ask a supervisor for a new invite.";

/// A record refused by a protocol check (the code is the protocol core's, section 8).
fn protocol_refusal(code: &ErrorCode) -> &'static str {
    use vouch_protocol::Error as E;
    let is = |e: E| *code == ErrorCode::of(&e);
    let order = (0, 0);
    if is(E::BadSignature) {
        "The scan was changed after it was signed on this tablet, so the server cannot trust \
         it. Scan the label again and tell your supervisor."
    } else if code.holds_record() {
        "An earlier scan from this tablet never reached the server, so this one waits. It is \
         sent again at every sync; if it stays held, tell your supervisor: once they accept \
         the gap, the next sync gets it through."
    } else if is(E::SequenceReplay {
        expected: order.0,
        found: order.1,
    }) {
        REUSED
    } else if is(E::ChainBroken) {
        "This scan does not follow the last one the server accepted from this tablet (scans \
         were lost or changed here). Tell your supervisor."
    } else if is(E::InstallerMismatch) {
        NOT_THIS_KEY
    } else {
        OTHER_REFUSAL
    }
}

/// A device state, for the review screen.
pub fn device_state(state: DeviceState) -> &'static str {
    match state {
        DeviceState::Expected => "Expected: listed in a manifest, not scanned yet",
        DeviceState::Scanned => "Waiting for review",
        DeviceState::Approved => "Approved: may enroll",
        DeviceState::Enrolled => "Enrolled",
        DeviceState::Rejected => "Rejected",
        DeviceState::Conflict => "Conflict: label seen with another key or serial",
        DeviceState::Revoked => "Revoked",
    }
}

/// A timeline event (one a newer server may add reads as "Event").
pub fn timeline_event(event: &str) -> &'static str {
    let Some(event) = DeviceEvent::parse(event) else {
        return "Event";
    };
    match event {
        DeviceEvent::Scanned => "Scanned",
        DeviceEvent::Corroborated => "Scanned again (same key)",
        DeviceEvent::Expected => "Listed in a manifest",
        DeviceEvent::ManifestMatched => "Key matches the manifest",
        DeviceEvent::NotInManifest => "Not in any manifest",
        DeviceEvent::Conflict => "Conflict found",
        DeviceEvent::ConflictFlagged => "Conflicting scan flagged",
        DeviceEvent::Approved => "Approved",
        DeviceEvent::Rejected => "Rejected",
        DeviceEvent::Revoked => "Revoked",
        DeviceEvent::Enrolled => "Enrolled",
        DeviceEvent::Renewed => "Certificate renewed",
        DeviceEvent::DuplicateEnrollment => "Second enrollment attempt refused",
        DeviceEvent::ReenrollmentAllowed => "Allowed to enroll again",
    }
}

/// A sync step, for the progress line.
pub fn sync_step(event: &str) -> &'static str {
    match event {
        "started" => "Starting",
        "sending" => "Sending",
        "retrying" => "Retrying",
        "answered" => "Server answered",
        "finished" => "Done",
        _ => "Working",
    }
}
