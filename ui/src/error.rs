//! Errors the front end can meet when it talks to the Tauri shell.

use std::fmt;

use vouch_protocol::wire::AppErrorCode;

use crate::i18n::t;
use crate::ipc::ShellError;

/// Why a call into the Tauri shell (see [`crate::ipc`]) did not produce a value.
///
/// It holds only strings so that it can live in Yew state (`Clone + PartialEq`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpcError {
    /// `window.__TAURI__` is missing: the page runs in a plain browser (e.g. `trunk serve`
    /// opened directly) rather than inside the app.
    NotInTauri,
    /// The arguments could not be turned into a JavaScript value.
    Encode {
        /// Name of the command.
        command: String,
        /// What the serialiser reported.
        message: String,
    },
    /// The shell refused or failed: the command returned its error (`{"code", "message",
    /// "detail"}`), or the command does not exist or is not permitted (code `ipc`).
    Command {
        /// Name of the command.
        command: String,
        /// The shell's stable code (`not_registered`, `offline`, `bad_label`, ...).
        code: String,
        /// The shell's message, written for the person using the app.
        message: String,
        /// The protocol's code behind a refused label (`check_mismatch`, ...), if any.
        detail: Option<String>,
        /// The particulars without the advice (a path, an address, what the server or the
        /// system said), in no one's language.
        facts: Option<String>,
    },
    /// The command answered, but not with the shape the front end expects.
    Decode {
        /// Name of the command.
        command: String,
        /// What the deserialiser reported.
        message: String,
    },
}

impl IpcError {
    /// An error the shell reported as data for `command` (a line of the activity log, the
    /// data folder's problem), to be shown like a command's error.
    pub fn reported(command: &str, error: &ShellError) -> Self {
        Self::Command {
            command: command.to_string(),
            code: error.code.clone(),
            message: error.message.clone(),
            detail: error.detail.clone(),
            facts: error.facts.clone(),
        }
    }

    /// The stable code: the shell's for a command error, else `not_in_tauri`, `encode` or
    /// `decode`.
    pub fn code(&self) -> &str {
        match self {
            Self::NotInTauri => AppErrorCode::NotInTauri.as_str(),
            Self::Encode { .. } => AppErrorCode::Encode.as_str(),
            Self::Command { code, .. } => code,
            Self::Decode { .. } => AppErrorCode::Decode.as_str(),
        }
    }

    /// The protocol code behind a refused label, if any.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Self::Command { detail, .. } => detail.as_deref(),
            _ => None,
        }
    }

    /// Whether this is the error `code` (the shell's, or this side's).
    pub fn is(&self, code: AppErrorCode) -> bool {
        self.code() == code.as_str()
    }

    /// What went wrong, in the app's language: the catalogue's words for the code (for a
    /// refused label, with the reason the label was refused).
    pub fn words(&self) -> String {
        let Some(code) = AppErrorCode::parse(self.code()) else {
            return t("error-unknown");
        };
        let words = code_words(code);
        match (code, self.detail()) {
            (AppErrorCode::BadLabel, Some(label_code)) => {
                format!("{words} {}", crate::label::reason(label_code))
            }
            _ => words,
        }
    }

    /// What the shell adds to the catalogue's words: the error's facts (a path, a server
    /// address, a serial, the server's or the operating system's reason), never the shell's
    /// English advice. For a code this side has no words for, the shell's whole text, since
    /// nothing else says what happened. `None` when it would only say the words again.
    pub fn shell_detail(&self) -> Option<String> {
        match self {
            Self::NotInTauri => None,
            Self::Encode { command, message } | Self::Decode { command, message } => {
                Some(format!("{command}: {message}"))
            }
            Self::Command {
                code,
                message,
                facts,
                ..
            } => match AppErrorCode::parse(code) {
                None => (!message.is_empty()).then(|| message.clone()),
                Some(code) if adds_information(code) => {
                    facts.clone().filter(|facts| !facts.is_empty())
                }
                Some(_) => None,
            },
        }
    }
}

/// Whether the shell's message for `code` names something the catalogue's words cannot.
fn adds_information(code: AppErrorCode) -> bool {
    use AppErrorCode as C;
    !matches!(
        code,
        C::NotRegistered
            | C::InviteRefused
            | C::BadLabel
            | C::RepeatScan
            | C::NotSupervisor
            | C::NoDataDir
            | C::SyncRunning
            | C::NoBatch
            | C::NoCamera
            | C::CameraIsPlugin
            | C::NotInTauri
    )
}

/// The catalogue's words for an error code.
fn code_words(code: AppErrorCode) -> String {
    use AppErrorCode as C;
    match code {
        C::NotRegistered => t("error-not-registered"),
        C::AlreadyRegistered => t("error-already-registered"),
        C::BadInvite => t("error-bad-invite"),
        C::CaMismatch => t("error-ca-mismatch"),
        C::InviteRefused => t("error-invite-refused"),
        C::UntrustedCertificate => t("error-untrusted-certificate"),
        C::BadLabel => t("error-bad-label"),
        C::BadField => t("error-bad-field"),
        C::BadArgument => t("error-bad-argument"),
        C::NoCode => t("error-no-code"),
        C::BadImage => t("error-bad-image"),
        C::RepeatScan => t("error-repeat-scan"),
        C::Offline => t("error-offline"),
        C::Tls => t("error-tls"),
        C::Refused => t("error-refused"),
        C::NotSupervisor => t("error-not-supervisor"),
        C::NotFound => t("error-not-found"),
        C::ServerError => t("error-server-error"),
        C::Protocol => t("error-protocol"),
        C::Storage => t("error-storage"),
        C::QueueDamaged => t("error-queue-damaged"),
        C::Busy => t("error-busy"),
        C::Corrupt => t("error-corrupt"),
        C::Io => t("error-io"),
        C::Key => t("error-key"),
        C::Config => t("error-config"),
        C::NoDataDir => t("error-no-data-dir"),
        C::SyncRunning => t("error-sync-running"),
        C::BatchConflict => t("error-batch-conflict"),
        C::UndoRefused => t("error-undo-refused"),
        C::NoBatch => t("error-no-batch"),
        C::NoCamera => t("error-no-camera"),
        C::Camera => t("error-camera"),
        C::CameraIsPlugin => t("error-camera-is-plugin"),
        C::Shell => t("error-shell"),
        C::NotInTauri => t("error-not-in-tauri"),
        C::Encode => t("error-encode"),
        C::Decode => t("error-decode"),
        C::Ipc => t("error-ipc"),
    }
}

/// The words in the app's language, then the shell's detail in brackets where it adds
/// something.
impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.words())?;
        match self.shell_detail() {
            Some(detail) => write!(f, " ({detail})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for IpcError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{set, Lang};

    fn shell_error(code: &str, message: &str, detail: Option<&str>) -> IpcError {
        shell_error_with_facts(code, message, detail, None)
    }

    fn shell_error_with_facts(
        code: &str,
        message: &str,
        detail: Option<&str>,
        facts: Option<&str>,
    ) -> IpcError {
        IpcError::Command {
            command: "sync".into(),
            code: code.into(),
            message: message.into(),
            detail: detail.map(str::to_string),
            facts: facts.map(str::to_string),
        }
    }

    #[test]
    fn every_code_has_words_in_every_language() {
        for lang in Lang::ALL {
            set(lang);
            for &code in AppErrorCode::ALL {
                let words = code_words(code);
                assert!(!words.starts_with("error-"), "{lang:?} {code:?}: {words}");
            }
        }
        set(Lang::En);
    }

    #[test]
    fn a_shell_error_reads_in_the_chosen_language_with_the_shell_detail_where_it_adds_one() {
        let offline = shell_error_with_facts(
            AppErrorCode::Offline.as_str(),
            "offline: cannot reach the server at https://vouch.test (connection refused). \
             Nothing was lost",
            None,
            Some("https://vouch.test: connection refused"),
        );
        let not_supervisor = shell_error(
            AppErrorCode::NotSupervisor.as_str(),
            "review is for supervisors, and this install is registered as a technician",
            None,
        );
        let bad_label = shell_error(
            AppErrorCode::BadLabel.as_str(),
            "not a valid label (check character mismatch); nothing was queued",
            Some("check_mismatch"),
        );
        set(Lang::De);
        let text = offline.to_string();
        assert!(
            text.starts_with("Der Server ist nicht erreichbar"),
            "{text}"
        );
        assert!(
            text.ends_with(" (https://vouch.test: connection refused)"),
            "{text}"
        );
        assert!(!text.contains("Nothing was lost"), "{text}");
        let text = not_supervisor.to_string();
        assert!(
            text.starts_with("Prüfen ist Supervisoren vorbehalten"),
            "{text}"
        );
        assert!(!text.contains("review is for"), "{text}");
        let text = bad_label.to_string();
        assert!(
            text.contains("Das Prüfzeichen am Ende passt nicht"),
            "{text}"
        );
        assert!(!text.contains("nothing was queued"), "{text}");
        set(Lang::En);
        let text = offline.to_string();
        assert!(text.starts_with("The server cannot be reached"), "{text}");
        let unknown = shell_error("from_a_newer_shell", "what it said", None);
        assert_eq!(unknown.to_string(), "Something went wrong. (what it said)");
        assert_eq!(unknown.code(), "from_a_newer_shell");
    }
}
