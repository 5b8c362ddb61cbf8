//! The crate's one error type.

use std::path::PathBuf;

/// What can fail in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system step failed.
    #[error("{step} {}: {source}", path.display())]
    Io {
        /// The step that failed, e.g. "creating", "renaming into place".
        step: &'static str,
        /// The file or folder it failed on.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file that must never be overwritten is already there.
    #[error("{} already exists: refusing to overwrite it", path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// rustls refused the TLS configuration (a CA certificate, a client certificate or key).
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    /// No CA certificate was given, so nothing could be trusted.
    #[error("TLS setup: no CA certificate to trust")]
    NoTrustAnchor,
}

impl Error {
    /// An [`Error::Io`] for `step` on `path`.
    pub(crate) fn io(step: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            step,
            path: path.into(),
            source,
        }
    }
}

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
