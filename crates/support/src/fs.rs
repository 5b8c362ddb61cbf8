//! Atomic, durable file writes.
//!
//! A file is never written in place: the bytes go to a temporary file in the same folder
//! (created with the file's final mode, so a key is never readable by others, not even for a
//! moment), which is flushed to disk (`fsync`) and then renamed to its name; the folder is then
//! flushed too, because the rename is only durable once the folder's entry is. A crash at any
//! point leaves either the old file or the new one, whole, never a torn one; a crash before the
//! rename may leave a temporary file (`.NAME.XXXXXX.tmp`) behind, which nothing reads.
//!
//! [`write_new`] is for files that must never be overwritten (a CA key, a device's label key):
//! the final step is `renameat2(RENAME_NOREPLACE)`, or a hard link where the kernel or the file
//! system lacks it; both fail if the name exists, atomically in the kernel. There is no "check,
//! then rename" window in which a racing writer could slip in and be overwritten.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Whether the final rename may replace an existing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Replace {
    Yes,
    No,
}

/// Writes `bytes` to `path` atomically and durably, replacing any file there. On Unix the file
/// has `mode` (e.g. 0600 for keys) from its creation on.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write(path, bytes, mode, Replace::Yes)
}

/// Like [`write_atomic`], but never overwrites: if `path` exists (or a racing writer creates it
/// first) the call fails with [`Error::AlreadyExists`] and the existing file is untouched.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write(path, bytes, mode, Replace::No)
}

fn write(path: &Path, bytes: &[u8], mode: u32, replace: Replace) -> Result<()> {
    let dir = parent(path);
    let tmp = temp_file(path, dir, mode)?;
    write_and_sync(tmp.as_file(), bytes).map_err(|e| Error::io("writing", tmp.path(), e))?;
    // A failed persist hands the temporary file back; dropping it removes it.
    let persisted = match replace {
        Replace::Yes => tmp.persist(path),
        Replace::No => tmp.persist_noclobber(path),
    };
    persisted.map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists if replace == Replace::No => Error::AlreadyExists {
            path: path.to_path_buf(),
        },
        _ => Error::io("renaming into place", path, e.error),
    })?;
    sync_dir(dir)
}

/// The folder `path` is in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// A new, uniquely named temporary file next to `path`, with `mode` from its creation on.
/// Unique names let two writers of one file (threads or processes) never share a temporary.
fn temp_file(path: &Path, dir: &Path, mode: u32) -> Result<tempfile::NamedTempFile> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    builder
        .tempfile_in(dir)
        .map_err(|e| Error::io("creating a temporary file in", dir, e))
}

fn write_and_sync(mut file: &File, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()
}

/// Creates a folder and its missing parents (on Unix with `mode`, e.g. 0700 for a folder of
/// keys, 0777 for "as the umask allows"), then flushes its parent so the new entry is durable.
/// A folder that already exists is left as it is.
pub fn create_dir(path: &Path, mode: u32) -> Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    builder
        .create(path)
        .map_err(|e| Error::io("creating folder", path, e))?;
    sync_dir(parent(path))
}

/// Flushes a folder (`fsync`), making the names in it (new files, renames, removals) durable.
/// A no-op where folders cannot be opened (Windows).
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io("flushing folder", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Flushes one file (`fsync`), opened read-only where that is enough (Linux, macOS; Windows
/// needs write access for `FlushFileBuffers`).
pub fn sync_file(path: &Path) -> Result<()> {
    OpenOptions::new()
        .read(true)
        .write(cfg!(windows))
        .open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("flushing", path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"one", 0o644).unwrap();
        write_atomic(&path, b"two", 0o644).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(names(dir.path()), vec!["a.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_created_with_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for (name, mode) in [("key.pem", 0o600), ("cert.pem", 0o644)] {
            let path = dir.path().join(name);
            write_new(&path, b"x", mode).unwrap();
            let meta = std::fs::metadata(&path).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, mode, "{name}");
        }
    }

    #[test]
    fn write_new_refuses_to_overwrite_and_keeps_the_old_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.key");
        write_new(&path, b"first", 0o600).unwrap();
        let e = write_new(&path, b"second", 0o600).unwrap_err();
        assert!(
            matches!(&e, Error::AlreadyExists { path: p } if p == &path),
            "{e}"
        );
        assert!(e.to_string().contains("refusing to overwrite"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(
            names(dir.path()),
            vec!["ca.key"],
            "the temporary is removed"
        );
    }

    /// Many writers race to create one file: exactly one wins, every other is told the file
    /// exists, and the file holds the winner's bytes whole. A check-then-rename would let
    /// several "win", each overwriting the last.
    #[test]
    fn racing_create_new_writers_have_exactly_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("label.key.pem");
        for round in 0..20 {
            let _ = std::fs::remove_file(&path);
            let barrier = std::sync::Barrier::new(8);
            let results: Vec<(usize, bool)> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|i| {
                        let (path, barrier) = (&path, &barrier);
                        s.spawn(move || {
                            let bytes = format!("writer {i} round {round}").repeat(1000);
                            barrier.wait();
                            match write_new(path, bytes.as_bytes(), 0o600) {
                                Ok(()) => (i, true),
                                Err(Error::AlreadyExists { .. }) => (i, false),
                                Err(e) => panic!("writer {i}: {e}"),
                            }
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let winners: Vec<usize> = results.iter().filter(|r| r.1).map(|r| r.0).collect();
            assert_eq!(winners.len(), 1, "round {round}: {results:?}");
            let expected = format!("writer {} round {round}", winners[0]).repeat(1000);
            assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
            assert_eq!(names(dir.path()), vec!["label.key.pem"]);
        }
    }

    /// Racing replacing writers never leave a mix: the file is one writer's bytes, whole.
    #[test]
    fn racing_replacing_writers_leave_one_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("info.json");
        std::thread::scope(|s| {
            for i in 0..8 {
                let path = &path;
                s.spawn(move || {
                    let bytes = vec![b'a' + i; 64 * 1024];
                    write_atomic(path, &bytes, 0o644).unwrap();
                });
            }
        });
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 64 * 1024);
        assert!(bytes.iter().all(|b| *b == bytes[0]));
        assert_eq!(names(dir.path()), vec!["info.json"]);
    }

    #[test]
    fn a_failed_write_names_the_step_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("x.pem");
        let e = write_atomic(&path, b"x", 0o644).unwrap_err();
        match &e {
            Error::Io { step, path: p, .. } => {
                assert_eq!(*step, "creating a temporary file in");
                assert_eq!(p, &dir.path().join("missing"));
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_bare_name_is_written_in_the_current_folder_s_terms() {
        assert_eq!(parent(Path::new("x.pem")), Path::new("."));
        assert_eq!(parent(Path::new("/d/x.pem")), Path::new("/d"));
    }

    #[test]
    fn create_dir_makes_parents_and_accepts_an_existing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a").join("b");
        create_dir(&deep, 0o700).unwrap();
        assert!(deep.is_dir());
        create_dir(&deep, 0o700).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&deep).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "no access for others: {mode:o}");
        }
    }

    #[test]
    fn sync_file_and_sync_dir_name_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        assert!(matches!(sync_file(&gone), Err(Error::Io { path, .. }) if path == gone));
        #[cfg(unix)]
        assert!(matches!(sync_dir(&gone), Err(Error::Io { path, .. }) if path == gone));
        sync_dir(dir.path()).unwrap();
    }
}
