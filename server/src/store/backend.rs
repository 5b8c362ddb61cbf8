//! The backend contract: buckets of keyed byte values, transactions over some of them,
//! single-use challenges, and durability. A backend knows nothing of what the values mean.

use crate::error::{Failure, ServerError};

use super::{Commit, DurableFuture, SyncStats};

/// One keyspace (a sled tree, a SQL table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// Devices by serial.
    Devices,
    /// Stored scans by record id.
    Scans,
    /// Device key (hex) to the serials it was seen under.
    KeyIndex,
    /// Staff members by key id.
    Staff,
    /// Invites by the SHA-256 of their code.
    Invites,
    /// Certificate records by serial.
    Certs,
    /// Audit entries by sequence number (8 bytes, big-endian).
    Audit,
    /// The audit head (under `AUDIT_HEAD`).
    Meta,
    /// Manifest imports by id.
    Imports,
}

/// The key of the audit chain's head in [`Bucket::Meta`]. Every transaction that appends to
/// the chain reads it, so a backend may read it ahead with the transaction's first read (the
/// PostgreSQL backend does: one exchange fewer while the audit lock is held).
pub const AUDIT_HEAD: &[u8] = b"audit_head";

impl Bucket {
    /// Every bucket.
    pub const ALL: [Bucket; 9] = [
        Bucket::Devices,
        Bucket::Scans,
        Bucket::KeyIndex,
        Bucket::Staff,
        Bucket::Invites,
        Bucket::Certs,
        Bucket::Audit,
        Bucket::Meta,
        Bucket::Imports,
    ];

    /// Its name (sled's tree name).
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Devices => "devices",
            Bucket::Scans => "scans",
            Bucket::KeyIndex => "key_index",
            Bucket::Staff => "staff",
            Bucket::Invites => "invites",
            Bucket::Certs => "certs",
            Bucket::Audit => "audit",
            Bucket::Meta => "meta",
            Bucket::Imports => "imports",
        }
    }

    /// Its position in [`Bucket::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why a transaction's work stopped.
#[derive(Debug)]
pub enum TxError {
    /// Give up: nothing is written and the caller gets this error.
    Abort(ServerError),
    /// The backend saw a conflicting transaction: it runs the work again on fresh data.
    Retry,
}

impl From<ServerError> for TxError {
    fn from(e: ServerError) -> Self {
        TxError::Abort(e)
    }
}

/// What a transaction's work returns.
pub type TxResult<T> = Result<T, TxError>;

/// Reads and writes inside one transaction; reads see the transaction's own writes.
pub trait Txn {
    /// The value under `key`.
    fn get(&self, bucket: Bucket, key: &[u8]) -> TxResult<Option<Vec<u8>>>;
    /// Stores `value` under `key`.
    fn put(&self, bucket: Bucket, key: &[u8], value: Vec<u8>) -> TxResult<()>;
}

/// How long a backend's calls take, which decides where the server calls it from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Latency {
    /// Reads and commits are in this process's memory (microseconds; the wait for the disk is
    /// separate, through [`Backend::durable`]): fine to call from an async worker.
    InProcess,
    /// Calls may wait on a network or a disk: call from the blocking pool.
    Blocking,
}

/// A challenge to store: its nonce, its record and when it expires.
pub struct NewChallenge<'a> {
    /// The nonce it is stored and taken under.
    pub nonce: &'a [u8],
    /// The stored record.
    pub value: Vec<u8>,
    /// When it expires (ms since the epoch).
    pub expires_at_ms: u64,
}

/// [`Backend::put_challenge_if_present`] as two calls: the read, then, only if the key is
/// there, [`Backend::put_challenge`].
pub(crate) fn read_then_put_challenge(
    backend: &(impl Backend + ?Sized),
    challenge: NewChallenge<'_>,
    now_ms: u64,
    max: usize,
    bucket: Bucket,
    key: &[u8],
) -> Result<(Option<Vec<u8>>, bool), ServerError> {
    let Some(found) = backend.get(bucket, key)? else {
        return Ok((None, false));
    };
    let NewChallenge {
        nonce,
        value,
        expires_at_ms,
    } = challenge;
    let stored = backend.put_challenge(nonce, value, expires_at_ms, now_ms, max)?;
    Ok((Some(found), stored))
}

/// A challenge taken (if it was there) and a value read after it (if there was one).
pub type TakenAndRead = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Every bucket's entries (key, value), in key order, as of one moment.
pub type BucketDump = Vec<(Bucket, Vec<(Vec<u8>, Vec<u8>)>)>;

/// A storage backend.
pub trait Backend: Send + Sync {
    /// The value under `key`, outside any transaction.
    fn get(&self, bucket: Bucket, key: &[u8]) -> Result<Option<Vec<u8>>, ServerError>;
    /// Every value of a bucket, in key order.
    fn values(&self, bucket: Bucket) -> Result<Vec<Vec<u8>>, ServerError>;
    /// Runs `work` in one transaction over `buckets` (work touching another bucket is a bug,
    /// reported as an error) and commits its writes atomically, or none of them if it fails.
    /// `work` may run more than once (on [`TxError::Retry`]). Returns the commit to wait for.
    fn transact(
        &self,
        buckets: &[Bucket],
        work: &dyn Fn(&dyn Txn) -> TxResult<()>,
    ) -> Result<Commit, ServerError>;
    /// Stores a challenge under `nonce` unless `max` are outstanding (expired ones, by
    /// `expires_at_ms`, are dropped first when full); says whether it stored it.
    fn put_challenge(
        &self,
        nonce: &[u8],
        value: Vec<u8>,
        expires_at_ms: u64,
        now_ms: u64,
        max: usize,
    ) -> Result<bool, ServerError>;
    /// Removes and returns a challenge, atomically: two callers never both get it.
    fn take_challenge(&self, nonce: &[u8]) -> Result<Option<Vec<u8>>, ServerError>;
    /// Reads `key` in `bucket` and, only if it is there, stores `challenge` as
    /// [`Backend::put_challenge`] would (at most `max` outstanding): the value read and
    /// whether the challenge was stored, in one step where the backend can (PostgreSQL: one
    /// statement).
    fn put_challenge_if_present(
        &self,
        challenge: NewChallenge<'_>,
        now_ms: u64,
        max: usize,
        bucket: Bucket,
        key: &[u8],
    ) -> Result<(Option<Vec<u8>>, bool), ServerError> {
        read_then_put_challenge(self, challenge, now_ms, max, bucket, key)
    }
    /// [`Backend::take_challenge`], then the value under `key` in `bucket` as it is after the
    /// take, outside any transaction: what the two calls return, in one step where the backend
    /// can (PostgreSQL sends both statements in one exchange). An error in either is the
    /// call's; the nonce may be gone then, as after a take whose answer was lost.
    fn take_challenge_then_get(
        &self,
        nonce: &[u8],
        bucket: Bucket,
        key: &[u8],
    ) -> Result<TakenAndRead, ServerError> {
        let taken = self.take_challenge(nonce)?;
        Ok((taken, self.get(bucket, key)?))
    }
    /// Drops challenges that expired at or before `now_ms`; returns how many.
    fn purge_challenges(&self, now_ms: u64) -> Result<usize, ServerError>;
    /// Resolves once `commit` and those before it are durable.
    fn durable(&self, commit: Commit) -> DurableFuture;
    /// Blocks until `commit` and those before it are durable.
    fn wait(&self, commit: Commit) -> Result<(), ServerError>;
    /// A commit to wait for before answering with state read so far, whoever wrote it: where
    /// only this process writes (sled, memory), one that every commit so far is durable by
    /// (sled's group commit numbers one of its own); on a database that
    /// several instances share, a number of its own, taken now, so that the wait runs a flush
    /// barrier that starts after the read (another instance's commit that the read saw may not
    /// be on disk yet, and this instance's commits would not cover it).
    fn fence(&self) -> Commit;
    /// Commits and syncs so far.
    fn sync_stats(&self) -> SyncStats;
    /// How long calls take.
    fn latency(&self) -> Latency;
    /// A copy of every bucket as of one moment between transactions: each transaction is in
    /// it whole or not at all (challenges are not: they are short-lived). Transactions wait
    /// while it is taken, not while it is used. A backend whose operators back it up with the
    /// database's own tools (PostgreSQL: `pg_dump`) may refuse, which this default does.
    fn snapshot(&self) -> Result<BucketDump, ServerError> {
        Err(ServerError::Storage(Failure::new(
            "this store is backed up with its database's own tools, not `vouch-server backup`",
        )))
    }
}

/// A buffering transaction's writes (memory, PostgreSQL), kept aside until its work succeeds.
pub(crate) type BufferedWrites = std::collections::BTreeMap<(Bucket, Vec<u8>), Vec<u8>>;

/// Refuses a read or write of a bucket the transaction was not opened over: a rule that
/// strays outside what it declared is a programming error, aborted rather than retried.
pub(crate) fn ensure_covered(buckets: &[Bucket], bucket: Bucket) -> TxResult<()> {
    if buckets.contains(&bucket) {
        return Ok(());
    }
    Err(TxError::Abort(ServerError::Storage(Failure::new(format!(
        "the transaction does not cover the {} bucket",
        bucket.name()
    )))))
}
