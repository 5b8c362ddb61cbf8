//! The one error type every command returns.
//!
//! It crosses the IPC bridge as `{"code": "...", "message": "...", "detail": "..." | null,
//! "facts": "..." | null}`
//! (the same shape as the server's HTTP errors, and as Tauri's barcode-scanner plugin's
//! `Error`): `code` is stable and machine-readable, `message` says in words a technician can act
//! on what happened and what to do, and `detail` is the protocol's own code behind a refused
//! label (`check_mismatch`, `group_check_mismatch`, ...), so the UI can point at the typo;
//! `facts` are the particulars without the advice (a path, an address, what the server or the
//! system said), which a UI in another language shows next to its own words for `code`.

use serde::ser::{Serialize, Serializer};
use vouch_protocol::wire::AppErrorCode;

/// Why a command did not do what it was asked. `#[non_exhaustive]`: match with a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The field engine refused or failed (its code and message are passed on unchanged).
    #[error(transparent)]
    Field(#[from] vouch_field::Error),

    /// The data folder could not be opened when the app started (another process holds it, a
    /// damaged config, no permission). Every command that needs it answers this.
    #[error("{message}")]
    Unavailable {
        /// The field engine's code (`busy`, `config`, `storage`, ...).
        code: &'static str,
        /// The field engine's message.
        message: String,
        /// The field engine's facts ([`vouch_field::Error::facts`]).
        facts: Option<String>,
    },

    /// No camera is connected, or none can be listed.
    #[error(
        "no camera was found on this device: import a photo of the label, or type the line \
         printed under the code"
    )]
    NoCamera,

    /// The camera failed, is used by another program, or was unplugged.
    #[error(
        "the camera cannot be used ({0}); close other programs that use it and try again, or \
         import a photo of the label"
    )]
    Camera(String),

    /// On Android and iOS the camera is the barcode-scanner plugin, driven from the page.
    #[error("on this platform the camera is opened by the barcode scanner, not by the app shell")]
    CameraIsPlugin,

    /// Tauri itself failed (a window, an event, a path).
    #[error("the app shell failed ({0}); restart the app")]
    Shell(String),
}

impl Error {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Field(e) => e.code(),
            Error::Unavailable { code, .. } => code,
            Error::NoCamera => AppErrorCode::NoCamera.as_str(),
            Error::Camera(_) => AppErrorCode::Camera.as_str(),
            Error::CameraIsPlugin => AppErrorCode::CameraIsPlugin.as_str(),
            Error::Shell(_) => AppErrorCode::Shell.as_str(),
        }
    }

    /// The protocol error code behind a refused label, if this is one.
    pub fn detail(&self) -> Option<&'static str> {
        match self {
            Error::Field(e) => e.label_code(),
            _ => None,
        }
    }

    /// The particulars without the advice (paths, addresses, what the camera or the system
    /// said), for a UI that shows the error in its own words: see [`vouch_field::Error::facts`].
    pub fn facts(&self) -> Option<String> {
        match self {
            Error::Field(e) => e.facts(),
            Error::Unavailable { facts, .. } => facts.clone(),
            Error::Camera(said) | Error::Shell(said) => Some(said.clone()),
            Error::NoCamera | Error::CameraIsPlugin => None,
        }
    }

    /// What crosses the IPC bridge for this error, kept apart from the error itself so that
    /// the activity log and the about screen can hold it after the error is gone.
    pub fn report(&self) -> Report {
        Report {
            code: self.code(),
            message: self.to_string(),
            detail: self.detail(),
            facts: self.facts(),
        }
    }
}

impl From<tauri::Error> for Error {
    fn from(e: tauri::Error) -> Self {
        Error::Shell(e.to_string())
    }
}

impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.report().serialize(serializer)
    }
}

/// An error as the UI receives it, `{"code", "message", "detail", "facts"}`: a command's
/// error, a failed line of the activity log, the data folder's problem. The UI shows the
/// catalogue's words for `code` and, where they name what the words cannot (a path, an
/// address), the `facts`; `message` (English) is for logs and scripts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// The stable code ([`vouch_protocol::wire::AppErrorCode`]).
    pub code: &'static str,
    /// The shell's or the field engine's words (English).
    pub message: String,
    /// The protocol code behind a refused label, if any.
    pub detail: Option<&'static str>,
    /// The particulars without the advice, in no one's language (a path, an address, what the
    /// server or the system said): shown next to the catalogue's words instead of `message`.
    pub facts: Option<String>,
}

/// The result every command returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn serialises_with_a_stable_code() {
        let v = serde_json::to_value(Error::NoCamera).unwrap();
        assert_eq!(v["code"], "no_camera");
        assert!(v["message"].as_str().unwrap().contains("import a photo"));
        assert!(v["detail"].is_null());
        assert!(v["facts"].is_null());
        let camera = serde_json::to_value(Error::Camera("device busy".into())).unwrap();
        assert_eq!(camera["facts"], "device busy");
    }

    #[test]
    fn field_errors_keep_their_code_and_label_detail() {
        let bad = vouch_field::Error::BadLabel(vouch_protocol::Error::NotALabel);
        let v = serde_json::to_value(Error::from(bad)).unwrap();
        assert_eq!(v["code"], "bad_label");
        assert_eq!(v["detail"], "not_a_label");
        let unavailable = Error::Unavailable {
            code: "busy",
            message: "in use".into(),
            facts: Some("/data".into()),
        };
        assert_eq!(unavailable.report().facts.as_deref(), Some("/data"));
        assert_eq!(serde_json::to_value(unavailable).unwrap()["code"], "busy");
    }
}
