//! Telling "another process holds the database's lock" apart from other storage failures.
//!
//! sled (0.34, vendored) takes an exclusive `flock` on its `db` file when it opens, and reports
//! a lock held elsewhere as `sled::Error::Io` carrying an `io::Error`. The vendored copy keeps
//! the lock call's own error kind (`vendor/sled/VOUCH-PATCH.md`, patch 6; upstream turns it into
//! `ErrorKind::Other` with only a message), so the kind is what tells; callers hand over the
//! `io::Error` from `sled::Error::Io` and this crate needs no sled.

use std::io;

/// Whether `err` says a file lock is held by someone else: `WouldBlock` (`EWOULDBLOCK` /
/// `EAGAIN` from a non-blocking `flock`, what fs2's `lock_contended_error` is on Unix), or on
/// Windows `ERROR_LOCK_VIOLATION` (33).
pub fn is_lock_contended(err: &io::Error) -> bool {
    if err.kind() == io::ErrorKind::WouldBlock {
        return true;
    }
    cfg!(windows) && err.raw_os_error() == Some(33)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_held_lock_is_told_by_its_kind() {
        assert!(is_lock_contended(&io::Error::from(
            io::ErrorKind::WouldBlock
        )));
        assert!(is_lock_contended(&io::Error::new(
            io::ErrorKind::WouldBlock,
            "could not acquire lock on \"x/db\""
        )));
        #[cfg(unix)]
        assert!(is_lock_contended(&io::Error::from_raw_os_error(11)));
        // The message alone no longer counts: other failures can quote a path with "lock" in it.
        assert!(!is_lock_contended(&io::Error::other(
            "could not acquire lock on \"x/db\""
        )));
        assert!(!is_lock_contended(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
    }
}
