//! The field engine's one error type.
//!
//! Every message says what happened and what to do about it, in words a technician can act on.
//! [`Error::code`] gives each variant a stable, machine-readable code, and the type serialises as
//! `{"code": "...", "message": "..."}` so the Tauri shell can hand it to the UI unchanged.

use std::path::{Path, PathBuf};
use vouch_protocol::wire::{AppErrorCode, ErrorCode};

/// What went wrong in the field engine. `#[non_exhaustive]`: match with a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No staff identity in the data folder yet.
    #[error(
        "this install is not registered yet: run `vouch-field register --invite ...` with an \
         invite from your supervisor (data folder {data})"
    )]
    NotRegistered {
        /// The data folder.
        data: PathBuf,
    },

    /// The data folder already holds a registered identity.
    #[error(
        "this install is already registered as {name} ({role}) with {server}; to register \
         another identity, use another data folder (--data DIR)"
    )]
    AlreadyRegistered {
        /// The registered name.
        name: String,
        /// The registered role.
        role: String,
        /// The server it is registered with.
        server: String,
    },

    /// The invite text does not parse.
    #[error("this invite is not valid ({0}): scan or paste it again, or ask for a new invite")]
    BadInvite(vouch_protocol::Error),

    /// The CA served by the server is not the one the invite pins.
    #[error(
        "the server at {url} sent a CA certificate whose SHA-256 is {found}, but the invite \
         pins {expected}: this is not the server the invite was made for, or something is in \
         between; nothing was sent. Check the network and ask for a new invite"
    )]
    CaMismatch {
        /// The server URL.
        url: String,
        /// The hash the invite carries.
        expected: String,
        /// The hash of what the server sent.
        found: String,
    },

    /// The server sent a staff certificate that the pinned CA did not sign.
    #[error(
        "the server sent a staff certificate that the CA pinned by the invite does not vouch \
         for ({detail}); nothing was stored, and every later connection would have failed. \
         Tell the operator (the server's CA key may not match its CA certificate); a \
         registration used the invite up, so ask for a new one"
    )]
    UntrustedCertificate {
        /// Why the certificate does not verify.
        detail: String,
    },

    /// The server refused the invite code.
    #[error(
        "the server refused the invite: it is unknown, already used or expired; ask your \
         supervisor for a new one"
    )]
    InviteRefused,

    /// A scanned or typed label does not read as a Vouch label.
    #[error(
        "not a valid label ({0}); nothing was queued: scan it again, or type the line printed \
         under the code"
    )]
    BadLabel(vouch_protocol::Error),

    /// The site or note is not acceptable (too long, control characters).
    #[error("the {what} is not valid ({message}); nothing was queued: shorten or correct it")]
    BadField {
        /// `site` or `note`.
        what: &'static str,
        /// Why.
        message: String,
    },

    /// An argument is not one of the accepted values.
    #[error("{0}")]
    BadArgument(String),

    /// No QR code was found in an image.
    #[error(
        "no QR code could be read in {path}; nothing was queued: take a closer, sharper photo, \
         or type the label with --text"
    )]
    NoCode {
        /// The image file.
        path: PathBuf,
    },

    /// An image file could not be read or decoded.
    #[error("cannot read the image {path} ({message}); nothing was queued: check the file")]
    Image {
        /// The image file.
        path: PathBuf,
        /// Why.
        message: String,
    },

    /// The same device was the last one scanned: probably a double scan.
    #[error(
        "{serial} is the label scanned last (record #{sequence}); nothing was queued. If you \
         really mean to record a second scan of it, scan again with --again"
    )]
    RepeatScan {
        /// The device serial.
        serial: String,
        /// The sequence number of the earlier record.
        sequence: u64,
    },

    /// The server could not be reached (no network, server down, timeout).
    #[error(
        "offline: cannot reach the server at {url} ({detail}). Nothing was lost: every record \
         stays queued; sync again when a network is there"
    )]
    Offline {
        /// The server URL.
        url: String,
        /// What the network stack said.
        detail: String,
    },

    /// TLS failed: most often the server's certificate is not from the pinned CA.
    #[error(
        "the secure connection to {url} failed ({detail}); the server must present a \
         certificate from the CA pinned at registration. Check the server address; if the \
         server's CA changed, register again with a new invite"
    )]
    Tls {
        /// The server URL.
        url: String,
        /// What rustls said.
        detail: String,
    },

    /// The server refused this install's certificate or role (401, 403).
    #[error(
        "the server refused this request ({code}: {message}); if this install was revoked, ask \
         a supervisor for a new invite"
    )]
    Refused {
        /// The server's code.
        code: ErrorCode,
        /// The server's message.
        message: String,
    },

    /// A supervisor function was asked of an install that is not a supervisor.
    #[error(
        "review is for supervisors, and this install is registered as a {role}; ask a \
         supervisor to review, or register with a supervisor invite"
    )]
    NotSupervisor {
        /// The install's role.
        role: String,
    },

    /// The server has no such thing (404).
    #[error("not found on the server: {message}; check the serial")]
    NotFound {
        /// The server's message.
        message: String,
    },

    /// The server answered with an error not covered above.
    #[error(
        "the server answered {status} ({code}: {message}); try again later, or tell the operator"
    )]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's code.
        code: ErrorCode,
        /// The server's message.
        message: String,
    },

    /// The server's answer could not be understood.
    #[error(
        "the server's answer was not understood ({0}); nothing was lost: records stay queued. \
         Update vouch-field or tell the operator"
    )]
    Protocol(String),

    /// The queue database failed.
    #[error(
        "the queue in {path} failed ({detail}); no confirmed scan is lost. Check free space and \
         permissions, then retry"
    )]
    Storage {
        /// The queue folder.
        path: PathBuf,
        /// What sled or the file system said.
        detail: String,
    },

    /// The queue folder holds something sled cannot read: a damaged database, or not a queue.
    #[error(
        "the queue in {path} is damaged or is not a vouch-field queue ({detail}); nothing was \
         changed: check that --data names the right folder; if it does, keep the folder and \
         tell the operator (scans not yet synced are in it)"
    )]
    QueueDamaged {
        /// The queue folder.
        path: PathBuf,
        /// What sled said.
        detail: String,
    },

    /// Another process holds the queue.
    #[error(
        "the data folder {path} is in use by another vouch-field or by the app; close it and \
         retry"
    )]
    Busy {
        /// The queue folder.
        path: PathBuf,
    },

    /// Stored data does not read back.
    #[error(
        "stored data is damaged ({what}); do not delete the data folder: run `vouch-field \
         export` to save what can be read and tell the operator"
    )]
    Corrupt {
        /// What could not be read.
        what: String,
    },

    /// A file could not be read or written.
    #[error("cannot read or write {path} ({source}); check the path and its permissions")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// The staff key cannot be read, written or used.
    #[error(
        "the staff key in {path} cannot be used ({detail}); if it is damaged, register again \
         with a new invite in a new data folder"
    )]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        detail: String,
    },

    /// The config file does not parse.
    #[error(
        "the config file {path} is not valid ({message}); fix it, or delete it to get the \
         documented defaults back"
    )]
    Config {
        /// The config file.
        path: PathBuf,
        /// Why.
        message: String,
    },

    /// No data folder was given and the platform has none.
    #[error("no data folder could be found for this platform; pass --data DIR")]
    NoDataDir,

    /// A sync is already running in this process.
    #[error("a sync is already running; wait for it to finish")]
    SyncRunning,

    /// A label read during a batch clashes with one queued in the same batch: the same serial
    /// with another key, or the same key under another serial.
    #[error(
        "label {serial} {}, queued as #{sequence} in this batch; nothing was queued. Set this \
         device aside and tell your supervisor",
        clash(*same_serial, other_serial)
    )]
    BatchConflict {
        /// The serial of the label just read.
        serial: String,
        /// The serial of the label queued earlier in the batch.
        other_serial: String,
        /// The sequence number of that earlier record.
        sequence: u64,
        /// Whether the serials are the same (else the keys are).
        same_serial: bool,
    },

    /// A batch command came while no batch runs.
    #[error("no batch is running: start a batch with its site first")]
    NoBatch,

    /// A queued record cannot be taken back: it is gone, or it (or a record after it) has been
    /// sent to the server, or a sync is running.
    #[error("record #{sequence} cannot be undone: {reason}")]
    UndoRefused {
        /// The record's sequence number.
        sequence: u64,
        /// Why, in words.
        reason: String,
    },
}

/// How a batch label clashes with an earlier one, in words.
fn clash(same_serial: bool, other_serial: &str) -> String {
    if same_serial {
        format!("carries another key than the {other_serial} label")
    } else {
        format!("carries the same key as {other_serial}")
    }
}

impl Error {
    /// A stable, machine-readable code for this error (for the UI and scripts).
    pub fn code(&self) -> &'static str {
        self.app_code().as_str()
    }

    /// The code as the contract's type ([`AppErrorCode`]), for matching.
    pub fn app_code(&self) -> AppErrorCode {
        match self {
            Error::NotRegistered { .. } => AppErrorCode::NotRegistered,
            Error::AlreadyRegistered { .. } => AppErrorCode::AlreadyRegistered,
            Error::BadInvite(_) => AppErrorCode::BadInvite,
            Error::CaMismatch { .. } => AppErrorCode::CaMismatch,
            Error::InviteRefused => AppErrorCode::InviteRefused,
            Error::UntrustedCertificate { .. } => AppErrorCode::UntrustedCertificate,
            Error::BadLabel(_) => AppErrorCode::BadLabel,
            Error::BadField { .. } => AppErrorCode::BadField,
            Error::BadArgument(_) => AppErrorCode::BadArgument,
            Error::NoCode { .. } => AppErrorCode::NoCode,
            Error::Image { .. } => AppErrorCode::BadImage,
            Error::RepeatScan { .. } => AppErrorCode::RepeatScan,
            Error::Offline { .. } => AppErrorCode::Offline,
            Error::Tls { .. } => AppErrorCode::Tls,
            Error::Refused { .. } => AppErrorCode::Refused,
            Error::NotSupervisor { .. } => AppErrorCode::NotSupervisor,
            Error::NotFound { .. } => AppErrorCode::NotFound,
            Error::Server { .. } => AppErrorCode::ServerError,
            Error::Protocol(_) => AppErrorCode::Protocol,
            Error::Storage { .. } => AppErrorCode::Storage,
            Error::QueueDamaged { .. } => AppErrorCode::QueueDamaged,
            Error::Busy { .. } => AppErrorCode::Busy,
            Error::Corrupt { .. } => AppErrorCode::Corrupt,
            Error::Io { .. } => AppErrorCode::Io,
            Error::Key { .. } => AppErrorCode::Key,
            Error::Config { .. } => AppErrorCode::Config,
            Error::NoDataDir => AppErrorCode::NoDataDir,
            Error::SyncRunning => AppErrorCode::SyncRunning,
            Error::BatchConflict { .. } => AppErrorCode::BatchConflict,
            Error::UndoRefused { .. } => AppErrorCode::UndoRefused,
            Error::NoBatch => AppErrorCode::NoBatch,
        }
    }

    /// The particulars of this error without its advice, in no one's language: paths,
    /// addresses, serials, numbers, and what an outside party said in its own words (the
    /// network stack, rustls, the server, the operating system). A UI that shows the error in
    /// its own language shows these next to its words for [`Error::code`], instead of the
    /// English message. `None` when the code says it all.
    pub fn facts(&self) -> Option<String> {
        let facts = match self {
            Error::NotRegistered { data } => data.display().to_string(),
            Error::AlreadyRegistered { name, role, server } => {
                format!("{name} ({role}), {server}")
            }
            Error::BadInvite(e) => e.code().to_string(),
            Error::CaMismatch {
                url,
                expected,
                found,
            } => format!("{url}: SHA-256 {found} ≠ {expected}"),
            Error::UntrustedCertificate { detail } | Error::Corrupt { what: detail } => {
                detail.clone()
            }
            Error::BadField { what, message } => format!("{what}: {message}"),
            Error::BadArgument(message) | Error::Protocol(message) => message.clone(),
            Error::NotFound { message } => message.clone(),
            Error::NoCode { path } | Error::Busy { path } => path.display().to_string(),
            Error::Image { path, message } | Error::Config { path, message } => {
                format!("{}: {message}", path.display())
            }
            Error::Storage { path, detail }
            | Error::QueueDamaged { path, detail }
            | Error::Key { path, detail } => format!("{}: {detail}", path.display()),
            Error::Io { path, source } => format!("{}: {source}", path.display()),
            Error::RepeatScan { serial, sequence } => format!("{serial}, #{sequence}"),
            Error::Offline { url, detail } | Error::Tls { url, detail } => {
                format!("{url}: {detail}")
            }
            Error::Refused { code, message } => format!("{code}: {message}"),
            Error::Server {
                status,
                code,
                message,
            } => format!("{status} {code}: {message}"),
            Error::NotSupervisor { role } => role.clone(),
            Error::BatchConflict {
                serial,
                other_serial,
                sequence,
                ..
            } => format!("{serial}, {other_serial} #{sequence}"),
            Error::UndoRefused { sequence, reason } => format!("#{sequence}: {reason}"),
            Error::InviteRefused
            | Error::BadLabel(_)
            | Error::NoDataDir
            | Error::SyncRunning
            | Error::NoBatch => return None,
        };
        Some(facts)
    }

    /// The protocol error code behind a refused label, if this is one (`check_mismatch`, ...).
    pub fn label_code(&self) -> Option<&'static str> {
        match self {
            Error::BadLabel(e) => Some(e.code()),
            _ => None,
        }
    }

    /// Whether trying the same network call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Offline { .. })
            || matches!(self, Error::Server { status, .. } if *status >= 500 || *status == 429)
    }

    /// The exit code the CLI uses for this error: 3 offline, 4 refused by the server or by
    /// role, 5 bad input (label, invite, image), 6 TLS or CA problems, 1 anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Offline { .. } => 3,
            Error::Refused { .. }
            | Error::NotSupervisor { .. }
            | Error::InviteRefused
            | Error::NotFound { .. } => 4,
            Error::BadLabel(_)
            | Error::BadField { .. }
            | Error::BadArgument(_)
            | Error::BadInvite(_)
            | Error::NoCode { .. }
            | Error::Image { .. }
            | Error::RepeatScan { .. } => 5,
            Error::Tls { .. } | Error::CaMismatch { .. } | Error::UntrustedCertificate { .. } => 6,
            _ => 1,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Why the queue database would not open: damaged or foreign data is told apart from a
    /// failing disk or a folder in use, which need other fixes.
    pub(crate) fn queue_open(path: &Path, e: sled::Error) -> Self {
        match e {
            // sled's own text names an offset and a backtrace, neither of use here.
            sled::Error::Corruption { .. } => Error::QueueDamaged {
                path: path.to_path_buf(),
                detail: "sled found data it cannot read".into(),
            },
            sled::Error::Unsupported(detail) => Error::QueueDamaged {
                path: path.to_path_buf(),
                detail,
            },
            // Another process holds the folder's lock, told by the error's kind (sled keeps
            // it: vendor/sled/VOUCH-PATCH.md, patch 6), not by its message.
            sled::Error::Io(io) if vouch_support::lock::is_lock_contended(&io) => Error::Busy {
                path: path.to_path_buf(),
            },
            other => Error::storage(path, other),
        }
    }

    pub(crate) fn storage(path: &Path, e: impl std::fmt::Display) -> Self {
        Error::Storage {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }
    }
}

/// A failed file write or folder sync (`vouch_support::fs`): the I/O error with the path it
/// names. (File-system calls return no other variant; one would be kept as its text.)
impl From<vouch_support::Error> for Error {
    fn from(e: vouch_support::Error) -> Self {
        match e {
            vouch_support::Error::Io { path, source, .. } => Error::io(&path, source),
            vouch_support::Error::AlreadyExists { path } => {
                Error::io(&path, std::io::ErrorKind::AlreadyExists.into())
            }
            other => Error::Io {
                path: std::path::PathBuf::new(),
                source: std::io::Error::other(other),
            },
        }
    }
}

/// Serialises as `{"code": "...", "message": "...", "facts": "..." | null}`: the code, the
/// English message, and [`Error::facts`] for a UI that words the error in its own language
/// (the same keys as the Tauri shell's error report).
impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Error", 3)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.to_string())?;
        s.serialize_field("facts", &self.facts())?;
        s.end()
    }
}

/// The field engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serialised_error_carries_code_message_and_facts() {
        let offline = Error::Offline {
            url: "https://vouch.test:8443".into(),
            detail: "Connection refused (os error 111)".into(),
        };
        let json = serde_json::to_value(&offline).unwrap_or_default();
        assert_eq!(json["code"], "offline");
        assert_eq!(json["message"], offline.to_string());
        assert_eq!(
            json["facts"],
            "https://vouch.test:8443: Connection refused (os error 111)"
        );
        let json = serde_json::to_value(Error::NoDataDir).unwrap_or_default();
        assert!(json["facts"].is_null(), "{json}");
        assert_eq!(json["code"], "no_data_dir");
    }

    #[test]
    fn facts_keep_the_particulars_and_drop_the_advice() {
        let offline = Error::Offline {
            url: "https://vouch.test:8443".into(),
            detail: "Connection refused (os error 111)".into(),
        };
        assert_eq!(
            offline.facts().as_deref(),
            Some("https://vouch.test:8443: Connection refused (os error 111)")
        );
        assert!(offline.to_string().contains("Nothing was lost"));
        let server = Error::Server {
            status: 503,
            code: ErrorCode::Busy,
            message: "the store is unavailable".into(),
        };
        let facts = server.facts().unwrap_or_default();
        assert!(facts.starts_with("503 "), "{facts}");
        assert!(facts.ends_with(": the store is unavailable"), "{facts}");
        assert!(!facts.contains("try again"), "{facts}");
        let busy = Error::Busy {
            path: PathBuf::from("/data/vouch"),
        };
        assert_eq!(busy.facts().as_deref(), Some("/data/vouch"));
    }

    #[test]
    fn an_error_its_code_says_all_of_has_no_facts() {
        for e in [
            Error::InviteRefused,
            Error::BadLabel(vouch_protocol::Error::NotALabel),
            Error::NoDataDir,
            Error::SyncRunning,
            Error::NoBatch,
        ] {
            assert_eq!(e.facts(), None, "{e}");
        }
    }
}
