//! The in-memory backend: every bucket a sorted map behind one lock, so a transaction is
//! serial and sees the latest data; a commit is durable at once (there is no disk), and
//! everything is gone when the process ends. For tests and for servers sharing one store in
//! one process.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::backend::{ensure_covered, BufferedWrites};
use super::challenges::Challenges;
use super::{
    Backend, Bucket, BucketDump, Commit, DurableFuture, Latency, SyncStats, TxError, TxResult, Txn,
};
use crate::error::{Failure, ServerError};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;
#[derive(Default)]
struct State {
    buckets: [Map; Bucket::ALL.len()],
    commits: u64,
}

/// The in-memory backend.
#[derive(Default)]
pub struct MemoryBackend {
    state: Mutex<State>,
    challenges: Challenges,
}

/// A transaction's writes, kept aside until its work succeeds.
struct MemoryTxn<'a> {
    base: &'a State,
    buckets: &'a [Bucket],
    writes: RefCell<BufferedWrites>,
}

impl Txn for MemoryTxn<'_> {
    fn get(&self, bucket: Bucket, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        ensure_covered(self.buckets, bucket)?;
        if let Some(written) = self.writes.borrow().get(&(bucket, key.to_vec())) {
            return Ok(Some(written.clone()));
        }
        Ok(self.base.buckets[bucket.index()].get(key).cloned())
    }

    fn put(&self, bucket: Bucket, key: &[u8], value: Vec<u8>) -> TxResult<()> {
        ensure_covered(self.buckets, bucket)?;
        self.writes
            .borrow_mut()
            .insert((bucket, key.to_vec()), value);
        Ok(())
    }
}

impl MemoryBackend {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change to the state is applied whole after its work succeeded, so a panic
        // elsewhere cannot leave it half-written.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Backend for MemoryBackend {
    fn get(&self, bucket: Bucket, key: &[u8]) -> Result<Option<Vec<u8>>, ServerError> {
        Ok(self.lock().buckets[bucket.index()].get(key).cloned())
    }

    fn values(&self, bucket: Bucket) -> Result<Vec<Vec<u8>>, ServerError> {
        Ok(self.lock().buckets[bucket.index()]
            .values()
            .cloned()
            .collect())
    }

    fn transact(
        &self,
        buckets: &[Bucket],
        work: &dyn Fn(&dyn Txn) -> TxResult<()>,
    ) -> Result<Commit, ServerError> {
        let mut state = self.lock();
        let writes = {
            let txn = MemoryTxn {
                base: &state,
                buckets,
                writes: RefCell::new(BTreeMap::new()),
            };
            match work(&txn) {
                Ok(()) => txn.writes.into_inner(),
                Err(TxError::Abort(e)) => return Err(e),
                // Nothing else writes while the lock is held, so there is nothing to retry.
                Err(TxError::Retry) => {
                    return Err(ServerError::Storage(Failure::new(
                        "a serial transaction asked to retry",
                    )))
                }
            }
        };
        for ((bucket, key), value) in writes {
            state.buckets[bucket.index()].insert(key, value);
        }
        state.commits += 1;
        Ok(Commit(state.commits))
    }

    fn put_challenge(
        &self,
        nonce: &[u8],
        value: Vec<u8>,
        expires_at_ms: u64,
        now_ms: u64,
        max: usize,
    ) -> Result<bool, ServerError> {
        Ok(self
            .challenges
            .put(nonce, value, expires_at_ms, now_ms, max))
    }

    fn take_challenge(&self, nonce: &[u8]) -> Result<Option<Vec<u8>>, ServerError> {
        Ok(self.challenges.take(nonce))
    }

    fn purge_challenges(&self, now_ms: u64) -> Result<usize, ServerError> {
        Ok(self.challenges.purge(now_ms))
    }

    fn durable(&self, _commit: Commit) -> DurableFuture {
        Box::pin(std::future::ready(Ok(())))
    }

    fn wait(&self, _commit: Commit) -> Result<(), ServerError> {
        Ok(())
    }

    fn fence(&self) -> Commit {
        Commit(self.lock().commits)
    }

    fn sync_stats(&self) -> SyncStats {
        SyncStats {
            commits: self.lock().commits,
            syncs: 0,
        }
    }

    fn latency(&self) -> Latency {
        Latency::InProcess
    }

    fn snapshot(&self) -> Result<BucketDump, ServerError> {
        let state = self.lock();
        Ok(Bucket::ALL
            .iter()
            .map(|&b| {
                let entries = state.buckets[b.index()]
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (b, entries)
            })
            .collect())
    }
}
