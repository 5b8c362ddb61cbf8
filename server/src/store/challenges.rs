//! Outstanding enrollment challenges held in this process's memory, for a backend that only
//! one process can open (sled locks its folder; the in-memory store lives in one process):
//! there, this process's memory *is* the store, so a nonce is single-use for every server
//! that can reach the store. A backend that several processes share keeps them in the
//! database instead (a compare-and-swap from present to absent).
//!
//! Nothing here is written to disk: a challenge lives for `enrollment.nonce_ttl_secs`, and one
//! lost in a crash or a restart only makes its device ask for another (SECURITY.md 4.13).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Outstanding challenges by nonce: expiry (ms) and the stored record.
type ByNonce = HashMap<Vec<u8>, (u64, Vec<u8>)>;

/// The outstanding challenges of this process.
#[derive(Default)]
pub struct Challenges {
    map: Mutex<ByNonce>,
}

impl Challenges {
    fn lock(&self) -> MutexGuard<'_, ByNonce> {
        // Each operation is one map call, so a panic elsewhere cannot leave it half-changed.
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores a challenge unless `max` are outstanding (expired ones are dropped first);
    /// `false` when it was not stored.
    pub fn put(
        &self,
        nonce: &[u8],
        value: Vec<u8>,
        expires_at_ms: u64,
        now_ms: u64,
        max: usize,
    ) -> bool {
        let mut map = self.lock();
        if map.len() >= max {
            map.retain(|_, (expires, _)| *expires > now_ms);
        }
        if map.len() >= max {
            return false;
        }
        map.insert(nonce.to_vec(), (expires_at_ms, value));
        true
    }

    /// Removes and returns a challenge: two callers never both get it.
    pub fn take(&self, nonce: &[u8]) -> Option<Vec<u8>> {
        self.lock().remove(nonce).map(|(_, value)| value)
    }

    /// Drops challenges that expired at or before `now_ms`; returns how many.
    pub fn purge(&self, now_ms: u64) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, (expires, _)| *expires > now_ms);
        before - map.len()
    }
}
