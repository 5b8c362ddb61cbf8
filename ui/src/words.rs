//! Codes in plain words: record states, refusals, device states and timeline events.

/// A queue record's state, for a badge.
pub fn record_state(state: &str) -> &'static str {
    match state {
        "queued" => "Waiting to sync",
        "syncing" => "Sending",
        "held" => "Held: an earlier scan is missing",
        "accepted" => "Synced",
        "duplicate" => "Synced (already there)",
        "refused" => "Refused",
        _ => "Unknown",
    }
}

/// Why the server refused a record, in words a technician can act on.
pub fn refusal(code: &str) -> &'static str {
    match code {
        "bad_signature" => {
            "The scan was changed after it was signed on this tablet, so the server cannot \
             trust it. Scan the label again and tell your supervisor."
        }
        "sequence_gap" => {
            "An earlier scan from this tablet never reached the server, so this one waits. It is \
             sent again at every sync; if it stays held, tell your supervisor: once they accept \
             the gap, the next sync gets it through."
        }
        "sequence_replay" | "record_id_reused" => {
            "The server already holds a different scan under this number. Tell your supervisor."
        }
        "chain_broken" => {
            "This scan does not follow the last one the server accepted from this tablet \
             (scans were lost or changed here). Tell your supervisor."
        }
        "installer_mismatch" | "unknown_installer" => {
            "The scan was not made by this tablet's registered key. Join again with a new \
             invite."
        }
        "malformed_record" => "The scan could not be read by the server. Scan the label again.",
        "forbidden" | "revoked" | "staff_revoked" => {
            "This tablet's registration was revoked. Ask a supervisor for a new invite."
        }
        _ => "The server refused this scan. Tell your supervisor.",
    }
}

/// A device state, for the review screen.
pub fn device_state(state: &str) -> &'static str {
    match state {
        "scanned" => "Waiting for review",
        "approved" => "Approved: may enroll",
        "enrolled" => "Enrolled",
        "rejected" => "Rejected",
        "conflict" => "Conflict: label seen with another key or serial",
        "revoked" => "Revoked",
        _ => "Unknown",
    }
}

/// A timeline event.
pub fn timeline_event(event: &str) -> &'static str {
    match event {
        "scanned" => "Scanned",
        "corroborated" => "Scanned again (same key)",
        "conflict" => "Conflict found",
        "conflict_flagged" => "Conflicting scan flagged",
        "approved" => "Approved",
        "rejected" => "Rejected",
        "revoked" => "Revoked",
        "challenged" => "Challenged",
        "enrolled" => "Enrolled",
        "renewed" => "Certificate renewed",
        "duplicate_enrollment" => "Second enrollment attempt refused",
        "reenrollment_allowed" => "Allowed to enroll again",
        _ => "Event",
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
