//! Codes in plain words, in the app's language: record states, refusals, device states,
//! timeline events, sync steps and the activity log.

use vouch_protocol::wire::{AppActivity, DeviceEvent, DeviceState, ErrorCode, QueueState};

use crate::error::IpcError;
use crate::i18n::{t, tf};
use crate::ipc::{LogLine, ShellError};

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

/// Why the server refused (or holds) a record, for its row in the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The reason in the catalogue's words, which a technician can act on.
    pub reason: String,
    /// The server's code and, where the catalogue has no words of its own for that code, the
    /// server's own text, marked as the server's (it is not translated): `None` without a
    /// code.
    pub server: Option<String>,
}

/// Why the server refused a record with `code` and `message`: the catalogue's words for every
/// code the server puts on a record (the refusals of PROTOCOL.md 11.9.2, by the contract's
/// [`ErrorCode`]); the server's text is kept only for a code this build has no words for (a
/// newer server's), where it is the only explanation there is. The code itself is always
/// shown, for the supervisor and the operator.
pub fn refusal(code: Option<&ErrorCode>, message: Option<&str>) -> Refusal {
    let Some(code) = code else {
        return Refusal {
            reason: t("refusal-other"),
            server: None,
        };
    };
    let known = refusal_words(code);
    let message = message.map(str::trim).filter(|m| !m.is_empty());
    let server = match (&known, message) {
        (None, Some(message)) => tf(
            "queue-server-said",
            &[
                ("code", code.as_str().to_string().into()),
                ("message", message.to_string().into()),
            ],
        ),
        _ => tf(
            "queue-server-code",
            &[("code", code.as_str().to_string().into())],
        ),
    };
    Refusal {
        reason: known.unwrap_or_else(|| t("refusal-other")),
        server: Some(server),
    }
}

/// The catalogue's words for a record refused with `code`, if it has words of its own.
fn refusal_words(code: &ErrorCode) -> Option<String> {
    match code {
        ErrorCode::Protocol(_) => protocol_refusal(code),
        ErrorCode::RecordIdReused => Some(t("refusal-reused")),
        ErrorCode::UnknownInstaller => Some(t("refusal-not-this-key")),
        ErrorCode::MalformedRecord => Some(t("refusal-malformed")),
        ErrorCode::Forbidden | ErrorCode::Revoked => Some(t("refusal-revoked")),
        _ => None,
    }
}

/// A record refused by a protocol check (the code is the protocol core's, section 8).
fn protocol_refusal(code: &ErrorCode) -> Option<String> {
    use vouch_protocol::Error as E;
    let is = |e: E| *code == ErrorCode::of(&e);
    let order = (0, 0);
    let words = if is(E::BadSignature) {
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
        return None;
    };
    Some(words)
}

/// What the app did, for a line of the activity log (one a newer shell adds reads as
/// "Action").
pub fn activity(what: &str) -> String {
    let Some(what) = AppActivity::parse(what) else {
        return t("activity-other");
    };
    match what {
        AppActivity::Open => t("activity-open"),
        AppActivity::Start => t("activity-start"),
        AppActivity::Register => t("activity-register"),
        AppActivity::Scan => t("activity-scan"),
        AppActivity::ScanImage => t("activity-scan-image"),
        AppActivity::BatchScan => t("activity-batch-scan"),
        AppActivity::Undo => t("activity-undo"),
        AppActivity::Export => t("activity-export"),
        AppActivity::Sync => t("activity-sync"),
        AppActivity::Approve => t("activity-approve"),
        AppActivity::Reject => t("activity-reject"),
        AppActivity::Revoke => t("activity-revoke"),
        AppActivity::Reenroll => t("activity-reenroll"),
        AppActivity::AcceptGap => t("activity-accept-gap"),
    }
}

/// A line of the activity log in the app's language: what was done, and how it ended (a
/// failure in the catalogue's words for its code, as a command's error is shown).
pub fn activity_line(line: &LogLine) -> (String, String) {
    let outcome = match (&line.error, line.after_ms) {
        (Some(error), _) => IpcError::reported(&line.what, error).to_string(),
        (None, Some(ms)) => tf("activity-ready", &[("ms", ms.into())]),
        (None, None) => t("activity-done"),
    };
    (activity(&line.what), outcome)
}

/// The data folder's problem, in the catalogue's words for its code.
pub fn open_problem(error: &ShellError) -> String {
    IpcError::reported(AppActivity::Open.as_str(), error).to_string()
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

#[cfg(test)]
mod tests {
    use vouch_protocol::wire::AppErrorCode;

    use super::*;
    use crate::i18n::{set, Lang};

    fn line(what: &str, after_ms: Option<u64>, error: Option<ShellError>) -> LogLine {
        LogLine {
            at_ms: 1,
            what: what.into(),
            after_ms,
            error,
        }
    }

    #[test]
    fn every_activity_has_words_in_every_language() {
        for lang in Lang::ALL {
            set(lang);
            let other = activity("from_a_newer_shell");
            for what in AppActivity::ALL {
                let words = activity(what.as_str());
                assert!(!words.starts_with("activity-"), "{lang:?} {what:?}");
                assert_ne!(words, other, "{lang:?} {what:?}");
            }
        }
    }

    #[test]
    fn an_activity_line_reads_in_the_chosen_language() {
        let busy = ShellError {
            code: AppErrorCode::Busy.as_str().into(),
            message: "the data folder /home/me/vouch is in use by another process".into(),
            detail: None,
            facts: Some("/home/me/vouch".into()),
        };
        set(Lang::De);
        assert_eq!(
            activity_line(&line(AppActivity::Register.as_str(), None, None)),
            ("Beitritt zum Server".to_string(), "erledigt".to_string())
        );
        let (what, outcome) = activity_line(&line(AppActivity::Start.as_str(), Some(812), None));
        assert_eq!(what, "Start");
        assert_eq!(
            outcome,
            "die Ansicht „Scannen“ war 812 ms nach dem Start bereit"
        );
        let (what, outcome) =
            activity_line(&line(AppActivity::Open.as_str(), None, Some(busy.clone())));
        assert_eq!(what, "Öffnen des Datenordners");
        // The catalogue's words for the code; the path only the engine's text names follows.
        assert!(
            outcome.starts_with("Der Datenordner wird von einem anderen Programm benutzt."),
            "{outcome}"
        );
        assert!(outcome.ends_with(" (/home/me/vouch)"), "{outcome}");
        assert!(!outcome.contains("in use by another"), "{outcome}");
        assert_eq!(open_problem(&busy), outcome);
        let refused = ShellError {
            code: AppErrorCode::BadLabel.as_str().into(),
            message: "not a valid label (check character mismatch); nothing was queued".into(),
            detail: Some("check_mismatch".into()),
            facts: None,
        };
        let (_, outcome) = activity_line(&line(AppActivity::Scan.as_str(), None, Some(refused)));
        assert!(
            outcome.contains("Das Prüfzeichen am Ende passt nicht"),
            "{outcome}"
        );
        assert!(!outcome.contains("nothing was queued"), "{outcome}");
        assert_eq!(activity("from_a_newer_shell"), "Aktion");
        set(Lang::En);
        assert_eq!(
            activity_line(&line(AppActivity::Sync.as_str(), None, None)),
            ("Sync".to_string(), "done".to_string())
        );
    }

    #[test]
    fn a_refusal_the_catalogue_knows_is_not_followed_by_the_servers_words() {
        let gap = ErrorCode::of(&vouch_protocol::Error::SequenceGap {
            expected: 3,
            found: 5,
        });
        let said = "sequence gap: expected 3, found 5; the record is held until record 3 arrives";
        set(Lang::De);
        let held = refusal(Some(&gap), Some(said));
        assert!(held.reason.starts_with("Ein früherer Scan"), "{held:?}");
        assert_eq!(
            held.server.as_deref(),
            Some(" (Code des Servers: sequence_gap)")
        );
        for code in [
            ErrorCode::MalformedRecord,
            ErrorCode::UnknownInstaller,
            ErrorCode::RecordIdReused,
            ErrorCode::of(&vouch_protocol::Error::BadSignature),
            ErrorCode::of(&vouch_protocol::Error::ChainBroken),
            ErrorCode::of(&vouch_protocol::Error::InstallerMismatch),
            ErrorCode::of(&vouch_protocol::Error::SequenceReplay {
                expected: 1,
                found: 1,
            }),
        ] {
            let r = refusal(Some(&code), Some("the server's English"));
            assert_ne!(r.reason, t("refusal-other"), "{code}");
            assert!(!r.server.unwrap().contains("English"), "{code}");
        }
        // A code this build has no words for: the general words, then the server's, marked.
        let newer = ErrorCode::parse("quota_exceeded");
        let r = refusal(Some(&newer), Some("this site's quota is used up"));
        assert_eq!(r.reason, t("refusal-other"));
        let server = r.server.unwrap();
        assert!(server.contains("die Worte des Servers"), "{server}");
        assert!(
            server.contains("„this site's quota is used up“"),
            "{server}"
        );
        assert!(server.contains("quota_exceeded"), "{server}");
        // ... and without a text, only its code.
        let r = refusal(Some(&newer), Some(" "));
        assert_eq!(
            r.server.as_deref(),
            Some(" (Code des Servers: quota_exceeded)")
        );
        assert_eq!(
            refusal(None, Some("x")),
            Refusal {
                reason: t("refusal-other"),
                server: None
            }
        );
        set(Lang::En);
        assert!(refusal(Some(&gap), None)
            .reason
            .starts_with("An earlier scan"));
    }
}
