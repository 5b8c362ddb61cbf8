//! The one error type of the device agent, and the exit code each error maps to.

use std::path::PathBuf;
use std::time::Duration;

use vouch_protocol::wire::ErrorCode;

/// Process exit codes of the `vouch-device` CLI, one per kind of outcome, so that a script or a
/// device's init system can tell "try again later" from "give up".
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Anything not covered below (an I/O error, a corrupt device directory, a server error).
    pub const OTHER: u8 = 1;
    /// Bad arguments: a malformed model, serial or URL, an existing key, a missing file.
    pub const BAD_ARGUMENTS: u8 = 2;
    /// The device is known but not approved yet, or the server asked us to slow down: try later.
    pub const NOT_YET_APPROVED: u8 = 3;
    /// The server refused (unknown device, bad proof, rejected, revoked, already enrolled).
    pub const REFUSED: u8 = 4;
    /// The server could not be reached (connection refused, timeout, DNS, 502/503/504).
    pub const UNREACHABLE: u8 = 5;
    /// The CA file is unusable or the server's certificate did not verify against it.
    pub const BAD_CA: u8 = 6;
}

/// Everything that can go wrong in the device agent.
///
/// Each variant says what was wrong in words a person can act on, and [`Error::exit_code`] maps
/// it to one of the codes in [`exit`]. Nothing in this crate panics on bad input: every
/// malformed file, argument or server answer ends up here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value given by the caller (model, serial, URL, option) is not acceptable.
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// What was being checked.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// `keygen` found a key (or device file) already in the directory.
    #[error("{}: already exists; refusing to overwrite a device key", path.display())]
    AlreadyExists {
        /// The file that exists.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The device directory is missing a file or holds one that does not parse.
    #[error("{}: {reason}", path.display())]
    BadDeviceDir {
        /// The file or directory involved.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The device has no certificate yet (`hello` and `renew` need one).
    #[error("{}: no certificate; run `vouch-device enroll` first", dir.display())]
    NotEnrolled {
        /// The device directory.
        dir: PathBuf,
    },
    /// The device already has a certificate; enrolling again would be refused and flagged.
    #[error("{}: the device is already enrolled (cert.pem exists); use `vouch-device renew`", dir.display())]
    AlreadyEnrolled {
        /// The device directory.
        dir: PathBuf,
    },
    /// An enrollment begun with `--again` has not been answered yet; it must finish first.
    #[error("{}: an enrollment is pending (pending.json); run `vouch-device enroll` to finish it", dir.display())]
    EnrollmentPending {
        /// The device directory.
        dir: PathBuf,
    },
    /// The CA file cannot be read or holds no usable certificate.
    #[error("CA file {}: {reason}", path.display())]
    BadCa {
        /// The CA file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS handshake failed, most often because the server's certificate does not verify
    /// against the given CA (wrong CA file, wrong server name, expired certificate).
    #[error("TLS with {server} failed: {source}")]
    Tls {
        /// The server (`host:port`).
        server: String,
        /// What rustls reported.
        #[source]
        source: rustls::Error,
    },
    /// The server could not be reached, dropped the connection, or said it is unavailable.
    #[error("server {server} unreachable: {reason}")]
    Unreachable {
        /// The server (`host:port`).
        server: String,
        /// What happened.
        reason: String,
    },
    /// The server knows the device and its proof verified, but nobody has approved it yet.
    #[error("not yet approved: the device is waiting for a supervisor; try again later")]
    PendingApproval,
    /// The server asked the device to slow down.
    #[error("rate limited by the server; try again in {}", retry_after.map_or_else(|| "a while".to_string(), |d| format!("{} s", d.as_secs())))]
    RateLimited {
        /// The server's `retry-after`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// The server refused the request. `code` is the server's stable machine code
    /// (`refused`, `rejected`, `revoked`, `already_enrolled`, `client_certificate_required`,
    /// `forbidden`, ...).
    #[error("refused by the server ({code}): {message}")]
    Refused {
        /// The server's machine-readable code.
        code: ErrorCode,
        /// The server's message.
        message: String,
    },
    /// The server answered with an error this client does not expect.
    #[error("server error {status} ({code}): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's machine-readable code, or `unknown`.
        code: ErrorCode,
        /// The server's message.
        message: String,
    },
    /// The server's answer does not follow the protocol (bad JSON, a certificate for another
    /// key, ...).
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// A protocol-level value could not be built (label, message).
    #[error(transparent)]
    Label(#[from] vouch_protocol::Error),
    /// The label could not be rendered.
    #[error("cannot render the label: {0}")]
    Render(String),
    /// A key, CSR or certificate could not be made or read.
    #[error("crypto: {0}")]
    Crypto(String),
}

impl Error {
    /// The CLI exit code for this error (see [`exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::InvalidArgument { .. }
            | Error::AlreadyExists { .. }
            | Error::NotEnrolled { .. }
            | Error::AlreadyEnrolled { .. }
            | Error::EnrollmentPending { .. }
            | Error::Label(_) => exit::BAD_ARGUMENTS,
            Error::PendingApproval | Error::RateLimited { .. } => exit::NOT_YET_APPROVED,
            Error::Refused { .. } => exit::REFUSED,
            Error::Unreachable { .. } => exit::UNREACHABLE,
            Error::BadCa { .. } | Error::Tls { .. } => exit::BAD_CA,
            Error::Io { .. }
            | Error::BadDeviceDir { .. }
            | Error::Server { .. }
            | Error::Protocol(_)
            | Error::Render(_)
            | Error::Crypto(_) => exit::OTHER,
        }
    }

    /// Whether waiting and trying again may succeed: not yet approved, rate limited, or
    /// unreachable. `enroll --wait` retries exactly these.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::PendingApproval | Error::RateLimited { .. } | Error::Unreachable { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_dir(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::BadDeviceDir {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
