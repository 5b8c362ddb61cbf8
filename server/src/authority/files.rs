//! The data folder's files: where each lives, and writing secrets safely (mode 0600, written
//! to a temporary file and renamed, never over an existing file).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::ServerError;

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
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| ServerError::io("creating folder", parent, e))?;
    }
    Ok(())
}

/// Writes `contents` to `path` with `mode`, atomically (temp file, fsync, rename). Refuses to
/// replace an existing file unless `replace`.
pub fn write_file(
    path: &Path,
    contents: &[u8],
    mode: u32,
    replace: bool,
) -> Result<(), ServerError> {
    ensure_parent(path)?;
    if !replace && path.exists() {
        return Err(ServerError::Conflict(format!(
            "{} already exists: refusing to overwrite it",
            path.display()
        )));
    }
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| ServerError::io("creating", &tmp, e))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| ServerError::io("writing", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| ServerError::io("renaming into place", path, e))
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
    let start = pem
        .find(&begin)
        .ok_or_else(|| ServerError::BadRequest(format!("no {label} PEM block found")))?;
    let body_start = start + begin.len();
    let stop = pem[body_start..].find(&end).ok_or_else(|| {
        ServerError::BadRequest(format!("the {label} PEM block is not terminated"))
    })?;
    let body: String = pem[body_start..body_start + stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    data_encoding::BASE64
        .decode(body.as_bytes())
        .map_err(|_| ServerError::BadRequest(format!("the {label} PEM block is not valid base64")))
}
