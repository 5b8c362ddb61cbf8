//! Errors the front end can meet when it talks to the Tauri shell.

use std::fmt;

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
    /// The shell rejected the call: the command returned an error, or it does not exist or is
    /// not permitted.
    Command {
        /// Name of the command.
        command: String,
        /// The rejection, as text.
        message: String,
    },
    /// The command answered, but not with the shape the front end expects.
    Decode {
        /// Name of the command.
        command: String,
        /// What the deserialiser reported.
        message: String,
    },
}

impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInTauri => f.write_str("not running inside the Vouch app (no Tauri bridge)"),
            Self::Encode { command, message } => {
                write!(
                    f,
                    "could not encode the arguments of `{command}`: {message}"
                )
            }
            Self::Command { command, message } => write!(f, "`{command}` failed: {message}"),
            Self::Decode { command, message } => {
                write!(f, "unexpected reply from `{command}`: {message}")
            }
        }
    }
}

impl std::error::Error for IpcError {}
