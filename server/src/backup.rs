//! The backup file (docs/PROTOCOL.md 13): the data folder's files and a consistent snapshot of
//! the store, as JSON lines, ending in a line that gives the count of lines and bytes before it
//! and their SHA-256. A file that is truncated anywhere, altered or of another format version
//! is refused before anything is restored.
//!
//! ```text
//! VOUCH-BACKUP 1
//! {"file":"config.toml","mode":420,"data":"<base64>"}
//! {"bucket":"devices","key":"<base64>","value":"<base64>"}
//! {"end":{"lines":2,"bytes":123,"sha256":"<hex>"}}
//! ```
//!
//! The server's `GET /v1/admin/backup` answers the same shape with bucket lines only (its own
//! end line checks the transfer); `vouch-server backup` adds the data folder's files and writes
//! the file.

use std::path::{Component, Path, PathBuf};
use vouch_protocol::wire::ErrorCode;

use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use vouch_protocol::key::{hex, sha256};

use crate::error::{Failure, ServerError};
use crate::store::{Bucket, BucketDump};

/// The first line of every backup of this format.
pub const MAGIC: &str = "VOUCH-BACKUP 1";
/// The start every backup's first line shares, whatever its version.
const MAGIC_PREFIX: &str = "VOUCH-BACKUP ";

/// A file of the data folder, by its path inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataFile {
    /// Its path inside the data folder, `/`-separated.
    pub path: String,
    /// Its Unix permission bits.
    pub mode: u32,
    /// Its contents.
    pub data: Vec<u8>,
}

/// Everything a backup holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Backup {
    /// The data folder's files (the store's folder and the running server's address aside).
    pub files: Vec<DataFile>,
    /// The store's buckets.
    pub buckets: BucketDump,
}

/// One line after the first.
#[derive(Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum Line {
    File {
        file: String,
        mode: u32,
        data: String,
    },
    Entry {
        bucket: String,
        key: String,
        value: String,
    },
    End {
        end: End,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct End {
    lines: u64,
    bytes: u64,
    sha256: String,
}

fn refused(why: impl std::fmt::Display) -> ServerError {
    ServerError::refuse(
        ErrorCode::BadRequest,
        format!("the backup cannot be restored: {why}"),
    )
}

/// Writes `backup` in the file format, end line included.
pub fn encode(backup: &Backup) -> Result<Vec<u8>, ServerError> {
    let mut lines: Vec<Line> = backup
        .files
        .iter()
        .map(|f| Line::File {
            file: f.path.clone(),
            mode: f.mode,
            data: BASE64.encode(&f.data),
        })
        .collect();
    for (bucket, entries) in &backup.buckets {
        lines.extend(entries.iter().map(|(k, v)| Line::Entry {
            bucket: bucket.name().to_string(),
            key: BASE64.encode(k),
            value: BASE64.encode(v),
        }));
    }
    let mut out = format!("{MAGIC}\n").into_bytes();
    for line in &lines {
        serde_json::to_writer(&mut out, line).map_err(|e| ServerError::Storage(Failure::of(e)))?;
        out.push(b'\n');
    }
    let end = Line::End {
        end: End {
            lines: lines.len() as u64,
            bytes: out.len() as u64,
            sha256: hex(&sha256(&out)),
        },
    };
    serde_json::to_writer(&mut out, &end).map_err(|e| ServerError::Storage(Failure::of(e)))?;
    out.push(b'\n');
    Ok(out)
}

/// Reads a backup, checking its format version, its end line and its digest first, then
/// every line; a clear error for a file that is not a backup, truncated, altered, or names a
/// file outside the data folder or an unknown bucket.
pub fn decode(bytes: &[u8]) -> Result<Backup, ServerError> {
    let body = verified_body(bytes)?;
    let text = std::str::from_utf8(body).map_err(|_| refused("it is not UTF-8 text"))?;
    let mut backup = Backup::default();
    for (i, line) in text.lines().enumerate().skip(1) {
        let number = i + 1;
        let parsed: Line = serde_json::from_str(line)
            .map_err(|e| refused(format!("line {number} is not a backup line ({e})")))?;
        match parsed {
            Line::File { file, mode, data } => {
                safe_relative(&file).map_err(|why| refused(format!("line {number}: {why}")))?;
                backup.files.push(DataFile {
                    path: file,
                    mode: mode & 0o777,
                    data: base64(&data, number)?,
                });
            }
            Line::Entry { bucket, key, value } => {
                let bucket = Bucket::ALL
                    .into_iter()
                    .find(|b| b.name() == bucket)
                    .ok_or_else(|| refused(format!("line {number}: unknown bucket {bucket:?}")))?;
                let entry = (base64(&key, number)?, base64(&value, number)?);
                match backup.buckets.last_mut() {
                    Some((b, entries)) if *b == bucket => entries.push(entry),
                    _ => backup.buckets.push((bucket, vec![entry])),
                }
            }
            Line::End { .. } => return Err(refused(format!("line {number}: a second end line"))),
        }
    }
    Ok(backup)
}

fn base64(text: &str, number: usize) -> Result<Vec<u8>, ServerError> {
    BASE64
        .decode(text.as_bytes())
        .map_err(|_| refused(format!("line {number}: bad base64")))
}

/// The bytes before the end line, once the version, the end line and the digest check out.
fn verified_body(bytes: &[u8]) -> Result<&[u8], ServerError> {
    let truncated = || {
        refused(format!(
            "it is truncated: its end line is missing ({} bytes read)",
            bytes.len()
        ))
    };
    let Some(first_end) = bytes.iter().position(|&b| b == b'\n') else {
        if !bytes.is_empty() && MAGIC.as_bytes().starts_with(bytes) {
            return Err(truncated());
        }
        return Err(refused(
            "it is not a Vouch backup (no VOUCH-BACKUP line first)",
        ));
    };
    let first = String::from_utf8_lossy(&bytes[..first_end]);
    if first != MAGIC {
        if let Some(version) = first.strip_prefix(MAGIC_PREFIX) {
            return Err(refused(format!(
                "it is of format version {version}; this vouch-server reads version 1"
            )));
        }
        return Err(refused(
            "it is not a Vouch backup (no VOUCH-BACKUP line first)",
        ));
    }
    let without_newline = bytes.strip_suffix(b"\n").ok_or_else(truncated)?;
    let last_start = without_newline
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let Ok(Line::End { end }) = serde_json::from_slice::<Line>(&without_newline[last_start..])
    else {
        return Err(truncated());
    };
    let body = &bytes[..last_start];
    if end.bytes != body.len() as u64 {
        return Err(refused(format!(
            "it holds {} bytes before its end line, which says {}: it was truncated or altered",
            body.len(),
            end.bytes
        )));
    }
    if hex(&sha256(body)) != end.sha256 {
        return Err(refused(
            "its SHA-256 does not match its end line: it was altered or damaged",
        ));
    }
    let lines = body
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        .saturating_sub(1);
    if end.lines != lines as u64 {
        return Err(refused(format!(
            "it holds {lines} lines, its end line says {}",
            end.lines
        )));
    }
    Ok(body)
}

/// A path inside the data folder: relative, no `..`, no root.
fn safe_relative(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    let normal = p.components().all(|c| matches!(c, Component::Normal(_)));
    if path.is_empty() || !normal {
        return Err(format!("{path:?} is not a path inside the data folder"));
    }
    Ok(())
}

/// Whether a data-folder path (relative, `/`-separated) is left out of a backup: the store's
/// own folder (its snapshot comes through the server) and the running server's address.
pub fn left_out(relative: &str) -> bool {
    relative == "db" || relative.starts_with("db/") || relative == "server.addr"
}

/// Every file of the data folder `root` a backup keeps, in path order.
pub fn data_files(root: &Path) -> Result<Vec<DataFile>, ServerError> {
    let mut out = Vec::new();
    collect(root, root, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<DataFile>) -> Result<(), ServerError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ServerError::io("reading", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| ServerError::io("reading", dir, e))?;
        let path = entry.path();
        let relative = relative_name(root, &path)?;
        if left_out(&relative) {
            continue;
        }
        let meta =
            std::fs::symlink_metadata(&path).map_err(|e| ServerError::io("reading", &path, e))?;
        if meta.is_dir() {
            collect(root, &path, out)?;
        } else if meta.is_file() {
            let data = std::fs::read(&path).map_err(|e| ServerError::io("reading", &path, e))?;
            out.push(DataFile {
                path: relative,
                mode: file_mode(&meta),
                data,
            });
        }
    }
    Ok(())
}

fn relative_name(root: &Path, path: &Path) -> Result<String, ServerError> {
    let relative = path.strip_prefix(root).map_err(|_| {
        ServerError::Storage(Failure::new(format!(
            "{} is outside the data folder",
            path.display()
        )))
    })?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(parts.join("/"))
}

#[cfg(unix)]
fn file_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn file_mode(_meta: &std::fs::Metadata) -> u32 {
    0o600
}

/// Where a restore writes before it moves the result into place: beside `target`.
pub fn staging_dir(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map_or_else(|| "vouch-data".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.restoring-{}", std::process::id()))
}

/// Restores `backup` into `target`, which must be missing or an empty folder: everything is
/// written into a folder beside it first and moved into place at the end, so a failure leaves
/// `target` as it was. `load` fills the store in the staging folder's `db`.
pub fn restore_into(
    backup: &Backup,
    target: &Path,
    load: &dyn Fn(&Path) -> Result<(), ServerError>,
) -> Result<(), ServerError> {
    refuse_non_empty(target)?;
    let staging = staging_dir(target);
    let result = write_staging(backup, &staging, load).and_then(|()| {
        std::fs::rename(&staging, target)
            .map_err(|e| ServerError::io("moving into place", target, e))
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result?;
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::authority::files::sync_dir(parent)?;
    }
    Ok(())
}

fn refuse_non_empty(target: &Path) -> Result<(), ServerError> {
    match std::fs::read_dir(target) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(ServerError::refuse(
                    ErrorCode::Conflict,
                    format!(
                        "{} is not empty: a backup is restored only into an empty or new folder",
                        target.display()
                    ),
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ServerError::io("reading", target, e)),
    }
}

fn write_staging(
    backup: &Backup,
    staging: &Path,
    load: &dyn Fn(&Path) -> Result<(), ServerError>,
) -> Result<(), ServerError> {
    std::fs::create_dir(staging).map_err(|e| ServerError::io("creating", staging, e))?;
    for file in &backup.files {
        let path = staging.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ServerError::io("creating", parent, e))?;
        }
        crate::authority::files::write_file(&path, &file.data, file.mode, false)?;
    }
    load(&staging.join("db"))?;
    crate::authority::files::sync_dir(staging)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> Backup {
        Backup {
            files: vec![DataFile {
                path: "ca/ca.pem".into(),
                mode: 0o644,
                data: b"PEM".to_vec(),
            }],
            buckets: vec![
                (Bucket::Devices, vec![(b"SN-1".to_vec(), b"{}".to_vec())]),
                (
                    Bucket::Audit,
                    vec![(vec![0, 0, 0, 1], b"{\"a\":1}".to_vec())],
                ),
            ],
        }
    }

    #[test]
    fn a_backup_reads_back() {
        let bytes = encode(&sample()).unwrap();
        assert!(bytes.starts_with(b"VOUCH-BACKUP 1\n"));
        assert_eq!(decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn a_truncated_file_is_refused_at_every_length() {
        let bytes = encode(&sample()).unwrap();
        for cut in 0..bytes.len() {
            let e = decode(&bytes[..cut]).unwrap_err().to_string();
            assert!(
                e.contains("truncated") || e.contains("not a Vouch backup"),
                "cut at {cut}: {e}"
            );
        }
    }

    #[test]
    fn an_altered_byte_is_refused() {
        let bytes = encode(&sample()).unwrap();
        let first_newline = bytes.iter().position(|&b| b == b'\n').unwrap();
        for i in first_newline + 1..bytes.len() - 1 {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            assert!(decode(&altered).is_err(), "byte {i} altered unnoticed");
        }
    }

    #[test]
    fn another_version_or_another_file_is_named() {
        let e = decode(b"VOUCH-BACKUP 2\n{}\n").unwrap_err().to_string();
        assert!(e.contains("format version 2"), "{e}");
        let e = decode(b"hello\n").unwrap_err().to_string();
        assert!(e.contains("not a Vouch backup"), "{e}");
    }

    #[test]
    fn a_path_outside_the_folder_is_refused() {
        let mut b = sample();
        b.files[0].path = "../etc/passwd".into();
        let e = decode(&encode(&b).unwrap()).unwrap_err().to_string();
        assert!(e.contains("not a path inside"), "{e}");
        b.files[0].path = "/etc/passwd".into();
        assert!(decode(&encode(&b).unwrap()).is_err());
    }

    #[test]
    fn the_store_folder_and_address_are_left_out() {
        assert!(left_out("db") && left_out("db/conf") && left_out("server.addr"));
        assert!(!left_out("dbx") && !left_out("ca/ca.pem"));
    }
}
