//! The data folder's files: where each lives, and writing secrets safely (mode 0600, written
//! to a temporary file, fsynced, renamed, the folder fsynced; never over an existing file:
//! `vouch_support::fs`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::ServerError;
use vouch_protocol::wire::ErrorCode;

/// Paths inside a data folder.
#[derive(Clone, Debug)]
pub struct DataPaths {
    root: PathBuf,
}

impl DataPaths {
    /// The layout under `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }
    /// The data folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `config.toml`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// The CA certificate.
    pub fn ca_cert(&self) -> PathBuf {
        self.root.join("ca/ca.pem")
    }
    /// The CA key (0600).
    pub fn ca_key(&self) -> PathBuf {
        self.root.join("ca/ca.key.pem")
    }
    /// The PKCS#11 URI of a CA key held in a token (instead of [`DataPaths::ca_key`]).
    pub fn ca_key_uri(&self) -> PathBuf {
        self.root.join("ca/ca.key.uri")
    }
    /// The server's TLS certificate.
    pub fn server_cert(&self) -> PathBuf {
        self.root.join("tls/server.pem")
    }
    /// The server's TLS key (0600).
    pub fn server_key(&self) -> PathBuf {
        self.root.join("tls/server.key.pem")
    }
    /// The operator's client certificate.
    pub fn operator_cert(&self) -> PathBuf {
        self.root.join("operator/operator.pem")
    }
    /// The operator's key (0600).
    pub fn operator_key(&self) -> PathBuf {
        self.root.join("operator/operator.key.pem")
    }
    /// The sled database folder.
    pub fn database(&self) -> PathBuf {
        self.root.join("db")
    }
    /// Where a running server writes the address it listens on (for admin commands).
    pub fn address_file(&self) -> PathBuf {
        self.root.join("server.addr")
    }
}

/// Reads a text file, naming it on failure.
pub fn read_text(path: &Path) -> Result<String, ServerError> {
    fs::read_to_string(path).map_err(|e| ServerError::io("reading", path, e))
}

fn ensure_parent(path: &Path) -> Result<(), ServerError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            vouch_support::fs::create_dir(parent, 0o777).map_err(fs_error)
        }
        _ => Ok(()),
    }
}

/// Writes `contents` to `path` with `mode`, atomically and durably (temp file, fsync, rename,
/// folder fsync). Unless `replace`, an existing file is never overwritten, even by a racing
/// writer (the rename itself refuses): a [`ServerError::Refusal`] with `conflict`.
pub fn write_file(
    path: &Path,
    contents: &[u8],
    mode: u32,
    replace: bool,
) -> Result<(), ServerError> {
    ensure_parent(path)?;
    let written = if replace {
        vouch_support::fs::write_atomic(path, contents, mode)
    } else {
        vouch_support::fs::write_new(path, contents, mode)
    };
    written.map_err(fs_error)
}

/// Flushes a folder, making a rename in it durable.
pub fn sync_dir(dir: &Path) -> Result<(), ServerError> {
    vouch_support::fs::sync_dir(dir).map_err(fs_error)
}

/// The server's error for a failed file-system step; an existing file that must not be
/// overwritten is a conflict.
fn fs_error(e: vouch_support::Error) -> ServerError {
    match e {
        vouch_support::Error::Io { step, path, source } => ServerError::io(step, path, source),
        e @ vouch_support::Error::AlreadyExists { .. } => {
            ServerError::refuse(ErrorCode::Conflict, e.to_string())
        }
        // File-system calls return no other variant; one would be kept as its text.
        other => ServerError::io("writing", PathBuf::new(), std::io::Error::other(other)),
    }
}

/// Writes a secret (mode 0600), never over an existing file.
pub fn write_secret(path: &Path, contents: &str) -> Result<(), ServerError> {
    write_file(path, contents.as_bytes(), 0o600, false)
}

/// Writes a public file (mode 0644), never over an existing file.
pub fn write_public(path: &Path, contents: &str) -> Result<(), ServerError> {
    write_file(path, contents.as_bytes(), 0o644, false)
}

/// The DER inside the first PEM block labelled `label`.
pub fn pem_to_der(pem: &str, label: &str) -> Result<Vec<u8>, ServerError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or_else(|| {
        ServerError::refuse(ErrorCode::BadRequest, format!("no {label} PEM block found"))
    })?;
    let body_start = start + begin.len();
    let stop = pem[body_start..].find(&end).ok_or_else(|| {
        ServerError::refuse(
            ErrorCode::BadRequest,
            format!("the {label} PEM block is not terminated"),
        )
    })?;
    let body: String = pem[body_start..body_start + stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    data_encoding::BASE64.decode(body.as_bytes()).map_err(|_| {
        ServerError::refuse(
            ErrorCode::BadRequest,
            format!("the {label} PEM block is not valid base64"),
        )
    })
}
