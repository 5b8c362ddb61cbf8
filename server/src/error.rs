//! The server library's one error type.
//!
//! A refusal of a request carries its [`ErrorCode`] from the wire contract, and the answer's
//! HTTP status is that code's ([`ErrorCode::status`]); no variant implies a status by its name.
//! A failure the caller cannot fix (the store, a file, the configuration, the CA, TLS, the
//! admin client) is answered `internal` and carries a [`Failure`]: what was being done and the
//! typed error of the library that failed, kept whole for the log (as rustls' `Error` keeps a
//! typed cause per kind instead of a message).

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use vouch_protocol::wire::{ErrorBody, ErrorCode};

/// The typed error of the library a [`Failure`] came from (sled, rcgen, cryptoki, rustls,
/// reqwest, serde_json, tokio, ...), boxed so each subsystem keeps its own error type.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure inside the server: what was being done, and the error that stopped it (none when
/// the server itself found the problem, e.g. a setting out of range).
#[derive(Debug)]
pub struct Failure {
    what: Cow<'static, str>,
    cause: Option<Cause>,
}

impl Failure {
    /// A failure the server found itself, described by `what`.
    pub fn new(what: impl Into<Cow<'static, str>>) -> Self {
        Self {
            what: what.into(),
            cause: None,
        }
    }

    /// A failure while doing `what`, caused by another library's error.
    pub fn caused(
        what: impl Into<Cow<'static, str>>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            what: what.into(),
            cause: Some(Box::new(cause)),
        }
    }

    /// Another library's error, with no more to say about it.
    pub fn of(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::caused("", cause)
    }

    /// What was being done.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The typed error that caused it, if another library's.
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.cause.as_deref()
    }
}

/// "what: cause", either part alone when the other is missing.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.cause, self.what.is_empty()) {
            (None, _) => f.write_str(&self.what),
            (Some(cause), true) => write!(f, "{cause}"),
            (Some(cause), false) => write!(f, "{}: {cause}", self.what),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

/// What can go wrong in the server library.
///
/// The cause's text is part of each variant's own message (the log line and the command
/// line's error say it once), so [`Failure`]s are not chained as `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The request is refused: the contract's code (which sets the answer's status) and what
    /// to tell the caller.
    #[error("{message}")]
    Refusal {
        /// The wire code; its status is the answer's.
        code: ErrorCode,
        /// The answer's message.
        message: String,
    },
    /// The database failed or holds something unreadable.
    #[error("storage error: {0}")]
    Storage(Failure),
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error("configuration error: {0}")]
    Config(Failure),
    /// The certificate authority could not do what was asked.
    #[error("certificate authority error: {0}")]
    Authority(Failure),
    /// TLS set-up failed.
    #[error("TLS error: {0}")]
    Tls(Failure),
    /// A protocol object was invalid.
    #[error(transparent)]
    Protocol(#[from] vouch_protocol::Error),
    /// The admin client could not talk to the server.
    #[error("{0}")]
    Client(Failure),
    /// The server answered the admin client with an error (its body, read by the contract).
    #[error("the server refused: {} [HTTP {status}]", refusal_text(body))]
    Refused {
        /// The answer's HTTP status.
        status: u16,
        /// The answer's code and message.
        body: ErrorBody,
    },
}

/// "message (code)", or the message alone when the answer had no code.
fn refusal_text(body: &ErrorBody) -> String {
    if body.code.as_str().is_empty() {
        body.message.clone()
    } else {
        format!("{} ({})", body.message, body.code)
    }
}

impl ServerError {
    /// A refusal with the contract's `code` (whose status the answer takes) and `message`.
    pub fn refuse(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Refusal {
            code,
            message: message.into(),
        }
    }

    /// The API's code for this error, which carries the answer's status: a refusal keeps its
    /// own code; everything the caller cannot fix is `internal`.
    pub fn code(&self) -> ErrorCode {
        match self {
            ServerError::Refusal { code, .. } => code.clone(),
            ServerError::Protocol(p) => ErrorCode::of(p),
            // Storage, files, configuration, the CA, TLS, and the admin client's own failures
            // (another server's refusal is not this server's answer).
            ServerError::Storage(_)
            | ServerError::Io { .. }
            | ServerError::Config(_)
            | ServerError::Authority(_)
            | ServerError::Tls(_)
            | ServerError::Client(_)
            | ServerError::Refused { .. } => ErrorCode::Internal,
        }
    }

    /// Whether this is a refusal with `code`.
    pub fn is(&self, code: &ErrorCode) -> bool {
        matches!(self, ServerError::Refusal { code: c, .. } if c == code)
    }

    /// An I/O error on a path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_refusal_answers_with_its_own_code_and_an_internal_failure_with_internal() {
        let busy = ServerError::refuse(ErrorCode::Busy, "full");
        assert_eq!(busy.code(), ErrorCode::Busy);
        assert_eq!(busy.code().status(), Some(503));
        assert!(busy.is(&ErrorCode::Busy) && !busy.is(&ErrorCode::Conflict));
        assert_eq!(busy.to_string(), "full");
        let gone = ServerError::refuse(ErrorCode::CaUnavailable, "token away");
        assert_eq!(gone.code().status(), Some(503));
        let failed = ServerError::Storage(Failure::caused(
            "reading",
            std::io::Error::other("disk on fire"),
        ));
        assert_eq!(failed.code(), ErrorCode::Internal);
        assert!(!failed.is(&ErrorCode::Internal));
        assert_eq!(failed.to_string(), "storage error: reading: disk on fire");
    }

    #[test]
    fn a_failure_keeps_its_typed_cause() {
        let json = serde_json::from_str::<u8>("x").unwrap_err();
        let failure = Failure::caused("corrupt record", json);
        let cause = failure.cause().unwrap();
        assert!(cause.downcast_ref::<serde_json::Error>().is_some());
        assert!(std::error::Error::source(&failure).is_some());
        assert_eq!(Failure::new("alone").to_string(), "alone");
        let io = Failure::of(std::io::Error::other("bare"));
        assert_eq!(io.to_string(), "bare");
        assert_eq!(io.what(), "");
    }
}
