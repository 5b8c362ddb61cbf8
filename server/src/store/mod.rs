//! Storage: one trait per subsystem, the contract every backend meets. Handlers and the
//! authority never see a backend.
//!
//! The store knows no rule. A method that changes state reads what the rule needs inside one
//! transaction, hands it to the rule the caller passed in (a function of
//! [`crate::domain`]), and commits the [`WritePlan`] the rule returned, atomically: all of its
//! writes and its audit entries, or none. It keeps only the invariants that must hold whoever
//! writes: single-use nonces, a staff key registered once, the audit chain's order.
//!
//! The traits are implemented once, by [`KvStore`], over a small [`Backend`]: buckets of keyed
//! values with transactions, in the manner of step-ca's `nosql` drivers. Backends: sled
//! ([`sled_store::SledBackend`], the embedded default, with its group commit) and memory
//! ([`memory::MemoryBackend`], tests and single-process tools). [`open`] picks one from the
//! configuration; every backend passes the same conformance suite (`store/conformance.rs`).
//!
//! Every change returns once it is durable, except [`DeviceStore::update_device`], which
//! returns a [`Commit`] that the caller awaits ([`Durability::durable`]) or waits for
//! ([`Durability::wait`]) before telling anyone about the change: the enrollment path waits
//! for the disk without holding a thread.

mod backend;
mod challenges;
#[cfg(test)]
mod conformance;
mod engine;
mod group_commit;
pub mod memory;
pub mod postgres;
mod postgres_conn;
mod postgres_tls;
pub mod sled_store;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use vouch_protocol::SignedScanRecord;

pub use backend::{Backend, Bucket, BucketDump, Latency, TxError, TxResult, Txn};
pub use engine::KvStore;

pub use crate::domain::{
    AuditEntry, AuditNote, CertRecord, ChainGap, ChallengeRecord, GapAcceptance, ImportCounts,
    ImportRecord, IngestView, InviteRecord, Planned, Role, StaffMember, StoredScan, WritePlan,
};
use crate::domain::{Device, ScanOutcome};
use crate::error::ServerError;

/// At most this many outstanding challenges are kept (each is about 100 bytes); when full,
/// expired ones are dropped first, and then a new one is refused as busy.
pub const MAX_CHALLENGES: usize = 200_000;

/// Which backend to open, and its settings.
#[derive(Clone)]
pub enum StoreConfig {
    /// The embedded sled database in `dir`; under load each disk sync waits `commit_delay` to
    /// cover more commits (`storage.commit_delay_us`).
    Sled {
        /// The database folder.
        dir: PathBuf,
        /// The group-commit delay.
        commit_delay: Duration,
    },
    /// Everything in this process's memory, gone when it ends (tests, tools).
    Memory,
    /// A PostgreSQL database that several server instances may share; its schema is brought
    /// up to date when it is opened.
    Postgres {
        /// `postgres://...`
        url: String,
        /// Most connections this process opens.
        pool_size: usize,
        /// The CA certificates (PEM) a TLS connection's server must chain to; `None`: the
        /// system's trust store.
        ca_file: Option<PathBuf>,
    },
}

impl StoreConfig {
    /// The store a server configuration names: PostgreSQL when `store.url` is set, else sled
    /// in `database_dir`.
    pub fn from_config(config: &crate::Config, database_dir: PathBuf) -> Self {
        if config.store.url.is_empty() {
            return StoreConfig::Sled {
                dir: database_dir,
                commit_delay: Duration::from_micros(config.storage.commit_delay_us),
            };
        }
        StoreConfig::Postgres {
            url: config.store.url.clone(),
            pool_size: config.store.pool_size,
            ca_file: (!config.store.ca_file.as_os_str().is_empty())
                .then(|| config.store.ca_file.clone()),
        }
    }
}

/// Opens the store a configuration names: the one construction path for every backend.
pub fn open(config: &StoreConfig) -> Result<std::sync::Arc<dyn Store>, ServerError> {
    let backend: Box<dyn Backend> = match config {
        StoreConfig::Sled { dir, commit_delay } => {
            Box::new(sled_store::SledBackend::open_with(dir, *commit_delay)?)
        }
        StoreConfig::Memory => Box::new(memory::MemoryBackend::default()),
        StoreConfig::Postgres {
            url,
            pool_size,
            ca_file,
        } => Box::new(postgres::PgBackend::connect_with(
            url,
            *pool_size,
            ca_file.as_deref(),
        )?),
    };
    Ok(std::sync::Arc::new(KvStore::new(backend)))
}

/// The rule a batch ingestion applies to each record (see [`crate::domain::scan::ingest`]).
pub type IngestFn<'a> = dyn Fn(&SignedScanRecord, &IngestView) -> Planned<ScanOutcome> + 'a;
/// The rule a manifest import applies to the devices stored under its serials (in order;
/// `None` for a serial with no device).
pub type ImportFn<'a> =
    dyn Fn(&[Option<Device>]) -> Result<Planned<ImportCounts>, ServerError> + 'a;
/// A rule that changes a stored device.
pub type DeviceFn<'a> = dyn Fn(Device) -> Result<Planned<Device>, ServerError> + 'a;
/// A rule that changes a stored staff member.
pub type StaffFn<'a> = dyn Fn(StaffMember) -> Result<Planned<StaffMember>, ServerError> + 'a;
/// The rule that redeems an invite (`None`: unknown, used or expired; nothing is written).
pub type RedeemFn<'a> =
    dyn Fn(Option<InviteRecord>) -> Result<Option<Planned<StaffMember>>, ServerError> + 'a;
/// A rule over a certificate record, which may be absent.
pub type CertFn<'a> = dyn Fn(Option<CertRecord>) -> Result<WritePlan, ServerError> + 'a;

/// The device subsystem: devices, their scans, review decisions.
pub trait DeviceStore: Send + Sync {
    /// One device by serial.
    fn device(&self, serial: &str) -> Result<Option<Device>, ServerError>;
    /// Every device.
    fn devices(&self) -> Result<Vec<Device>, ServerError>;
    /// The serials a device key (compressed SEC1, lowercase hex) was vouched under, in the
    /// order first seen; empty for a key never scanned. (EST names no serial: the CSR's key
    /// finds the device, `domain::enroll::device_for_key`.)
    fn serials_for_key(&self, key_hex: &str) -> Result<Vec<String>, ServerError>;
    /// A stored scan by record id.
    fn scan(&self, record_id: &str) -> Result<Option<StoredScan>, ServerError>;
    /// Applies verified scan records in order, atomically as a batch: each record's view
    /// (its install, a record with its id, the devices of its serial and key) is read after
    /// the writes of the records before it, `ingest` decides, and its plan is applied. Durable
    /// before this returns.
    fn ingest_scans(
        &self,
        records: &[SignedScanRecord],
        ingest: &IngestFn<'_>,
    ) -> Result<Vec<ScanOutcome>, ServerError>;
    /// Imports a manifest: reads the devices stored under `serials` (all in one transaction),
    /// hands them to `import`, and commits its plan (devices, the import record, the audit
    /// entry) atomically, or nothing if it fails. Durable before this returns.
    fn import_devices(
        &self,
        serials: &[String],
        import: &ImportFn<'_>,
    ) -> Result<ImportCounts, ServerError>;
    /// A manifest import by id.
    fn import(&self, id: &str) -> Result<Option<ImportRecord>, ServerError>;
    /// Applies `change` to the stored device (`NotFound` if there is none) and commits its
    /// plan; durable once the returned commit is.
    fn update_device(
        &self,
        serial: &str,
        change: &DeviceFn<'_>,
    ) -> Result<(Device, Commit), ServerError>;
}

/// The staff subsystem: invites and registered installs.
pub trait StaffStore: Send + Sync {
    /// Stores a new invite under the SHA-256 (hex) of its code, with its audit entry.
    fn put_invite(
        &self,
        code_sha256: &str,
        invite: &InviteRecord,
        audit: AuditNote,
    ) -> Result<(), ServerError>;
    /// An invite by the SHA-256 (hex) of its code.
    fn invite(&self, code_sha256: &str) -> Result<Option<InviteRecord>, ServerError>;
    /// Redeems the invite with `redeem` and registers the member it plans, atomically;
    /// `Conflict` if that member's key is already registered.
    fn redeem_invite(
        &self,
        code_sha256: &str,
        redeem: &RedeemFn<'_>,
    ) -> Result<Option<StaffMember>, ServerError>;
    /// One member by key id.
    fn staff(&self, key_id: &str) -> Result<Option<StaffMember>, ServerError>;
    /// Every member.
    fn all_staff(&self) -> Result<Vec<StaffMember>, ServerError>;
    /// Applies `change` to the stored member (`NotFound` if there is none) and commits its
    /// plan, durably.
    fn update_staff(&self, key_id: &str, change: &StaffFn<'_>) -> Result<StaffMember, ServerError>;
}

/// The enrollment subsystem: nonces and issued certificates.
pub trait EnrollmentStore: Send + Sync {
    /// Stores a nonce (hex) for a vouched serial; a `busy` refusal when [`MAX_CHALLENGES`]
    /// unexpired ones are outstanding. Visible at once to every server sharing the store.
    fn put_challenge(
        &self,
        nonce: &str,
        challenge: &ChallengeRecord,
        now_ms: u64,
    ) -> Result<(), ServerError>;
    /// Stores a nonce (hex) for the challenge's serial if the device stored under it passes
    /// `vouched`, unless [`MAX_CHALLENGES`] unexpired ones are outstanding: what came of it.
    /// The read and the insert are one step where the backend can (one statement on
    /// PostgreSQL). An error is the store's (unreachable, say), never one of those outcomes.
    fn put_challenge_for_device(
        &self,
        nonce: &str,
        challenge: &ChallengeRecord,
        now_ms: u64,
        vouched: &dyn Fn(&Device) -> bool,
    ) -> Result<ChallengeStored, ServerError>;
    /// Removes and returns a nonce: each nonce is taken at most once, whatever happens next,
    /// by whichever server asks first.
    fn take_challenge(&self, nonce: &str) -> Result<Option<ChallengeRecord>, ServerError>;
    /// [`EnrollmentStore::take_challenge`], and the device stored under `serial` as it is
    /// after the take: what an enrollment's completion reads first, in one step where the
    /// backend can (one exchange with PostgreSQL).
    fn take_challenge_and_device(
        &self,
        nonce: &str,
        serial: &str,
    ) -> Result<(Option<ChallengeRecord>, Option<Device>), ServerError>;
    /// Drops expired challenges; returns how many.
    fn purge_challenges(&self, now_ms: u64) -> Result<usize, ServerError>;
    /// Applies `change` to the certificate record `serial` (absent or not) and commits its
    /// plan, durably (a credential rotation).
    fn update_certificate(&self, serial: &str, change: &CertFn<'_>) -> Result<(), ServerError>;
    /// One certificate record by serial (hex).
    fn certificate(&self, serial: &str) -> Result<Option<CertRecord>, ServerError>;
    /// Every revoked certificate (for the CRL).
    fn revoked_certificates(&self) -> Result<Vec<CertRecord>, ServerError>;
}

/// What came of [`EnrollmentStore::put_challenge_for_device`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeStored {
    /// Stored: its completion can take it.
    Stored,
    /// Nothing stored: no device under the serial, or one that did not pass the check.
    UnknownSerial,
    /// Nothing stored: too many challenges are outstanding.
    Full,
}

/// The audit subsystem.
pub trait AuditStore: Send + Sync {
    /// Appends one entry on its own, durably.
    fn append_audit(&self, note: AuditNote, now_ms: u64) -> Result<AuditEntry, ServerError>;
    /// Every entry in order.
    fn audit_entries(&self) -> Result<Vec<AuditEntry>, ServerError>;
}

/// A change committed, numbered in commit order; on disk once [`Durability::durable`] says so.
#[must_use = "await the commit's durability before telling anyone about the change"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Commit(pub u64);

/// Counts of commits and of the disk syncs that made them durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Changes committed.
    pub commits: u64,
    /// Syncs (sled flush and fsync) done.
    pub syncs: u64,
}

/// What [`Durability::durable`] returns.
pub type DurableFuture = Pin<Box<dyn Future<Output = Result<(), ServerError>> + Send + 'static>>;

/// Waiting for commits to be durable, and how long the store takes to answer.
pub trait Durability: Send + Sync {
    /// Resolves once `commit`, and every commit before it, is durable.
    fn durable(&self, commit: Commit) -> DurableFuture;
    /// Blocks until `commit`, and every commit before it, is durable.
    fn wait(&self, commit: Commit) -> Result<(), ServerError>;
    /// A commit that is durable once everything committed so far is, by any request of any
    /// instance (for answers that rest on state another request wrote): see
    /// [`Backend::fence`].
    fn fence(&self) -> Commit;
    /// Commits and disk syncs so far.
    fn sync_stats(&self) -> SyncStats;
    /// How long the store's calls take: a store that may wait on a network is called from
    /// the blocking pool, never from an async worker.
    fn latency(&self) -> Latency;
}

/// Backup and restore through the store contract (docs/SECURITY.md, "Backups").
pub trait BackupStore: Send + Sync {
    /// Every bucket as of one moment between transactions ([`Backend::snapshot`]): every
    /// change durable before the call is in it.
    fn snapshot(&self) -> Result<BucketDump, ServerError>;
    /// Loads `dump` into this store, which must be empty (`Conflict` otherwise), durably.
    fn load(&self, dump: &BucketDump) -> Result<(), ServerError>;
}

/// Everything the server needs from storage.
pub trait Store:
    DeviceStore + StaffStore + EnrollmentStore + AuditStore + Durability + BackupStore
{
}

impl<T: DeviceStore + StaffStore + EnrollmentStore + AuditStore + Durability + BackupStore> Store
    for T
{
}
