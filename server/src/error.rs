//! The server library's one error type.

use std::path::PathBuf;

use vouch_protocol::wire::{ErrorBody, ErrorCode};

/// What can go wrong in the server library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The database failed or holds something unreadable.
    #[error("storage error: {0}")]
    Storage(String),
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
    Config(String),
    /// The certificate authority could not do what was asked.
    #[error("certificate authority error: {0}")]
    Authority(String),
    /// TLS set-up failed.
    #[error("TLS error: {0}")]
    Tls(String),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// A protocol object was invalid.
    #[error(transparent)]
    Protocol(#[from] vouch_protocol::Error),
    /// A bounded resource is full; the caller may try again later.
    #[error("{0}")]
    Busy(String),
    /// A client was too slow: a request body did not arrive in time.
    #[error("{0}")]
    TooSlow(String),
    /// The CA key cannot sign right now (its PKCS#11 token is unreachable); try again later.
    #[error("{0}")]
    CaUnavailable(String),
    /// The admin client could not talk to the server.
    #[error("{0}")]
    Client(String),
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
    /// The API's code for this error, which carries the answer's status: a refusal of the
    /// request keeps its own code; everything the caller cannot fix is `internal`.
    pub fn code(&self) -> ErrorCode {
        match self {
            ServerError::NotFound(_) => ErrorCode::NotFound,
            ServerError::Conflict(_) => ErrorCode::Conflict,
            ServerError::BadRequest(_) => ErrorCode::BadRequest,
            ServerError::Busy(_) => ErrorCode::Busy,
            ServerError::TooSlow(_) => ErrorCode::RequestTimeout,
            ServerError::CaUnavailable(_) => ErrorCode::CaUnavailable,
            ServerError::Protocol(p) => ErrorCode::of(p),
            // Storage, files, configuration, the CA, TLS, and the admin client's own failures
            // (another server's refusal is not this server's answer).
            _ => ErrorCode::Internal,
        }
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
