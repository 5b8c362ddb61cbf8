//! The embedded default backend, on sled 0.34: one tree per bucket, one sled transaction per
//! change over only the trees it touches (each costs sled work at commit), and durability by
//! group commit (`group_commit.rs`): sled's own `flush()` only issues `sync_file_range`
//! (measured with strace), which does not survive a power cut, so every sync is followed by an
//! `fdatasync` of the database file, shared by the commits made meanwhile.
//!
//! Challenges stay in this process's memory (`challenges.rs`): sled lets one process open a
//! database, so that memory is the store every server reaching it shares, and writing them to
//! sled only cost log writes and bigger group syncs on the enrollment path for nothing kept (a
//! restart forgot them anyway). A lost challenge only makes a device ask again.

use std::path::Path;
use std::sync::RwLock;
use std::time::Duration;

use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::{Transactional, Tree};

use super::challenges::Challenges;
use super::group_commit::GroupCommit;
use super::{
    Backend, Bucket, BucketDump, Commit, DurableFuture, Latency, SyncStats, TxError, TxResult, Txn,
};
use crate::error::{Failure, ServerError};

/// The tree where challenges were kept from 2026-11-29 until they moved to memory: dropped at
/// open, so an older database does not keep them.
const OLD_CHALLENGES: &str = "challenges";

/// The sled backend.
pub struct SledBackend {
    /// The trees, in [`Bucket::ALL`] order.
    trees: Vec<Tree>,
    challenges: Challenges,
    /// The thread that makes commits durable (shared fsyncs).
    group: GroupCommit,
    /// Transactions hold it shared; a snapshot holds it alone, so that it sees no transaction
    /// half-committed across trees (sled has no snapshot reads across trees).
    gate: RwLock<()>,
}

fn storage(e: impl std::error::Error + Send + Sync + 'static) -> ServerError {
    ServerError::Storage(Failure::of(e))
}

fn tx_err(e: TransactionError<ServerError>) -> ServerError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => storage(e),
    }
}

fn unabortable(e: UnabortableTransactionError) -> TxError {
    match e {
        UnabortableTransactionError::Conflict => TxError::Retry,
        UnabortableTransactionError::Storage(e) => TxError::Abort(storage(e)),
    }
}

/// The trees one transaction works on, reached by bucket.
struct SledTxn<'a> {
    trees: &'a [TransactionalTree],
    /// Which of `trees` each bucket is, if it is in this transaction.
    slots: [Option<usize>; Bucket::ALL.len()],
}

impl<'a> SledTxn<'a> {
    fn new(trees: &'a [TransactionalTree], buckets: &[Bucket]) -> Self {
        let mut slots = [None; Bucket::ALL.len()];
        for (slot, bucket) in buckets.iter().enumerate() {
            slots[bucket.index()] = Some(slot);
        }
        Self { trees, slots }
    }

    /// One tree of the transaction; asking for a tree left out is a bug, reported as an error.
    fn tree(&self, bucket: Bucket) -> TxResult<&'a TransactionalTree> {
        self.slots[bucket.index()]
            .and_then(|slot| self.trees.get(slot))
            .ok_or_else(|| {
                TxError::Abort(ServerError::Storage(Failure::new(format!(
                    "the transaction does not cover the {} tree",
                    bucket.name()
                ))))
            })
    }
}

impl Txn for SledTxn<'_> {
    fn get(&self, bucket: Bucket, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        let value = self.tree(bucket)?.get(key).map_err(unabortable)?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn put(&self, bucket: Bucket, key: &[u8], value: Vec<u8>) -> TxResult<()> {
        self.tree(bucket)?.insert(key, value).map_err(unabortable)?;
        Ok(())
    }
}

/// Says why the database folder would not open, in words that point at the fix.
fn open_error(dir: &Path, e: &sled::Error) -> ServerError {
    let detail = match e {
        // sled's own text for this names an offset and a backtrace, neither of use here.
        sled::Error::Corruption { .. } => "sled found data it cannot read".to_string(),
        other => other.to_string(),
    };
    if matches!(e, sled::Error::Io(io) if vouch_support::lock::is_lock_contended(io)) {
        return ServerError::Storage(Failure::new(format!(
            "the database in {} is in use by another process (is another vouch-server serving \
             this data folder?)",
            dir.display()
        )));
    }
    if matches!(
        e,
        sled::Error::Corruption { .. } | sled::Error::Unsupported(_)
    ) {
        return ServerError::Storage(Failure::new(format!(
            "cannot open the database in {}: it is damaged or not a Vouch store ({detail}); \
             nothing was changed: check that --data names the right folder, or restore the data \
             folder from a backup",
            dir.display()
        )));
    }
    ServerError::Storage(Failure::new(format!(
        "cannot open the database in {}: {detail}",
        dir.display()
    )))
}

impl SledBackend {
    /// Opens (or creates) the database in `dir`; under load each sync waits `commit_delay` to
    /// cover more commits (see `storage.commit_delay_us`).
    pub fn open_with(dir: &Path, commit_delay: Duration) -> Result<Self, ServerError> {
        // A held lock is waited for (3 s, `vendor/sled/VOUCH-PATCH.md`, patch 5) before this
        // error.
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| open_error(dir, &e))?;
        let trees = Bucket::ALL
            .iter()
            .map(|bucket| db.open_tree(bucket.name()).map_err(storage))
            .collect::<Result<Vec<_>, _>>()?;
        db.drop_tree(OLD_CHALLENGES).map_err(storage)?;
        let group = GroupCommit::start(db.clone(), dir.join("db"), commit_delay)?;
        Ok(Self {
            trees,
            challenges: Challenges::default(),
            group,
            gate: RwLock::new(()),
        })
    }

    fn tree(&self, bucket: Bucket) -> &Tree {
        &self.trees[bucket.index()]
    }
}

impl Backend for SledBackend {
    fn get(&self, bucket: Bucket, key: &[u8]) -> Result<Option<Vec<u8>>, ServerError> {
        let value = self.tree(bucket).get(key).map_err(storage)?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn values(&self, bucket: Bucket) -> Result<Vec<Vec<u8>>, ServerError> {
        self.tree(bucket)
            .iter()
            .values()
            .map(|v| v.map(|v| v.to_vec()).map_err(storage))
            .collect()
    }

    fn transact(
        &self,
        buckets: &[Bucket],
        work: &dyn Fn(&dyn Txn) -> TxResult<()>,
    ) -> Result<Commit, ServerError> {
        let trees: Vec<&Tree> = buckets.iter().map(|&b| self.tree(b)).collect();
        // A panic elsewhere cannot leave the gate's (empty) data half-written.
        let _shared = self.gate.read().unwrap_or_else(|p| p.into_inner());
        trees[..]
            .transaction(|t| match work(&SledTxn::new(t, buckets)) {
                Ok(()) => Ok(()),
                Err(TxError::Retry) => Err(ConflictableTransactionError::Conflict),
                Err(TxError::Abort(e)) => Err(ConflictableTransactionError::Abort(e)),
            })
            .map_err(tx_err)?;
        Ok(self.group.committed())
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

    fn durable(&self, commit: Commit) -> DurableFuture {
        Box::pin(self.group.wait_async(commit))
    }

    fn wait(&self, commit: Commit) -> Result<(), ServerError> {
        self.group.wait(commit)
    }

    fn fence(&self) -> Commit {
        self.group.committed()
    }

    fn sync_stats(&self) -> SyncStats {
        self.group.stats()
    }

    fn latency(&self) -> Latency {
        Latency::InProcess
    }

    fn snapshot(&self) -> Result<BucketDump, ServerError> {
        let _alone = self.gate.write().unwrap_or_else(|p| p.into_inner());
        Bucket::ALL
            .iter()
            .map(|&b| {
                let entries = self
                    .tree(b)
                    .iter()
                    .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(storage))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((b, entries))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::audit::verify_audit;
    use crate::store::{open, AuditNote, StoreConfig};

    fn note(action: &'static str) -> AuditNote {
        AuditNote {
            actor: "operator".into(),
            action,
            subject: "x".into(),
            detail: serde_json::json!({}),
        }
    }

    fn sled_at(dir: &Path) -> StoreConfig {
        StoreConfig::Sled {
            dir: dir.to_path_buf(),
            commit_delay: Duration::ZERO,
        }
    }

    /// A server killed while sled wrote its snapshot (sled writes one as it opens) left a torn
    /// `snap.<lsn>.generating` that made every later start fail (`vendor/sled/VOUCH-PATCH.md`,
    /// patch 4): the store opens and keeps what it had.
    #[test]
    fn a_snapshot_torn_by_a_kill_does_not_stop_the_store_opening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(&sled_at(dir.path())).unwrap();
            store.append_audit(note("a"), 1).unwrap();
        }
        std::fs::write(
            dir.path().join("snap.7FFFFFFFFFFFFFFF.generating"),
            b"torn by a kill",
        )
        .unwrap();
        let store = open(&sled_at(dir.path())).unwrap();
        assert_eq!(verify_audit(&store.audit_entries().unwrap()), Ok(1));
    }

    #[test]
    fn the_log_survives_a_restart_and_challenges_do_not() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(&sled_at(dir.path())).unwrap();
            store.append_audit(note("a"), 1).unwrap();
            let c = crate::store::ChallengeRecord {
                serial: "S".into(),
                expires_at_ms: u64::MAX,
            };
            store.put_challenge("n", &c, 0).unwrap();
        }
        let store = open(&sled_at(dir.path())).unwrap();
        assert_eq!(store.audit_entries().unwrap().len(), 1);
        assert_eq!(store.take_challenge("n").unwrap(), None);
    }

    /// A database from the weeks when challenges were written to sled loses that tree at open.
    #[test]
    fn the_old_challenges_tree_is_dropped_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            db.open_tree(OLD_CHALLENGES)
                .unwrap()
                .insert(b"n", b"old")
                .unwrap();
            db.flush().unwrap();
        }
        drop(open(&sled_at(dir.path())).unwrap());
        let db = sled::open(dir.path()).unwrap();
        assert!(!db
            .tree_names()
            .iter()
            .any(|n| n == OLD_CHALLENGES.as_bytes()));
    }
}
