//! Errors the front end can meet when it talks to the Tauri shell.

use std::fmt;

use vouch_protocol::wire::AppErrorCode;

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
}

impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInTauri => f.write_str(
                "not running inside the Vouch app (no Tauri bridge): open the Vouch app instead",
            ),
            Self::Encode { command, message } => {
                write!(
                    f,
                    "could not encode the arguments of `{command}`: {message}"
                )
            }
            Self::Command { message, .. } => f.write_str(message),
            Self::Decode { command, message } => {
                write!(
                    f,
                    "unexpected reply from `{command}` ({message}): update the app"
                )
            }
        }
    }
}

impl std::error::Error for IpcError {}
