//! Storage: the records the server keeps, and one trait per subsystem. Handlers and the
//! authority never see sled; [`sled_store::SledStore`] is the embedded default and a PostgreSQL
//! implementation can stand behind the same traits.
//!
//! Every method that changes state is atomic (all of its writes and its audit entry commit
//! together, or none do) and durable (on disk, fsync'd, before it returns), except the
//! `*_deferred` ones and [`EnrollmentStore::record_issuance`], which return a [`Commit`] that
//! the caller awaits with [`Durability::durable`] before telling anyone about the change: the
//! enrollment path waits for the disk without holding a thread.

mod group_commit;
pub mod sled_store;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use vouch_protocol::{ChainHead, SignedScanRecord};

use crate::domain::{Device, ScanOutcome};
use crate::error::ServerError;

/// A staff member's role: the wire contract's, defined once.
pub use vouch_protocol::wire::Role;

/// A gap in an install's record chain, shown to supervisors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainGap {
    /// The sequence number the server expected.
    pub expected: u64,
    /// The sequence number that arrived instead.
    pub found: u64,
    /// When the server saw it.
    pub seen_at_ms: u64,
    /// A reviewer's decision that the missing records are lost: the record with sequence
    /// `found` may then continue the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<GapAcceptance>,
}

/// Who accepted a chain gap, when, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapAcceptance {
    /// The reviewer (`staff:<key id>` or `operator`).
    pub by: String,
    /// When.
    pub at_ms: u64,
    /// Why (recorded in the audit log too).
    pub reason: String,
}

/// A registered app install (technician or supervisor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    /// Key id (hex) of the install's key: the staff member's identity.
    pub key_id: String,
    /// Display name from the invite.
    pub name: String,
    /// Role from the invite.
    pub role: Role,
    /// Whether policy may approve this member's scans at once.
    pub trusted: bool,
    /// The install's public key, compressed SEC1 (hex).
    pub public_key: String,
    /// When the invite was redeemed.
    pub registered_at_ms: u64,
    /// When the member was revoked, if they were.
    pub revoked_at_ms: Option<u64>,
    /// Why, if revoked.
    pub revoked_reason: Option<String>,
    /// Where the member's record chain stands.
    pub chain: ChainHead,
    /// Chain gaps seen (refused records whose predecessors never arrived).
    pub gaps: Vec<ChainGap>,
    /// Serial number (hex) of the staff certificate.
    pub certificate_serial: String,
    /// The certificate's notAfter.
    pub not_after_ms: u64,
}

/// A one-time staff invite, stored by the SHA-256 of its code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRecord {
    /// The role the redeemer gets.
    pub role: Role,
    /// The redeemer's display name.
    pub name: String,
    /// Whether the redeemer's scans count as trusted.
    pub trusted: bool,
    /// When the invite was made.
    pub created_at_ms: u64,
    /// After this, the invite is refused.
    pub expires_at_ms: u64,
    /// Set when redeemed.
    pub used_at_ms: Option<u64>,
}

/// A stored enrollment challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRecord {
    /// The serial the nonce was given to.
    pub serial: String,
    /// When it stops being accepted.
    pub expires_at_ms: u64,
}

/// What the server knows of a certificate it issued (for revocation and the CRL).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRecord {
    /// Serial number, hex.
    pub serial: String,
    /// The identity URI in its SAN.
    pub subject: String,
    /// notAfter.
    pub not_after_ms: u64,
    /// When revoked, if it was.
    pub revoked_at_ms: Option<u64>,
}

/// One entry of the append-only, hash-chained audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1.
    pub seq: u64,
    /// When.
    pub at_ms: u64,
    /// Who (`operator`, `staff:<key id>`, `device:<serial>`, `server`).
    pub actor: String,
    /// What happened (`device.approved`, `staff.registered`, ...).
    pub action: String,
    /// What it happened to (a serial, a key id, ...).
    pub subject: String,
    /// Details.
    pub detail: serde_json::Value,
    /// Hash (hex) of the previous entry; 64 zeros for the first.
    pub prev_hash: String,
    /// SHA-256 (hex) of `prev_hash || canonical JSON of this entry without hash`.
    pub hash: String,
}

/// What an action adds to the audit log; the store fills in seq, time and hashes.
#[derive(Clone, Debug)]
pub struct AuditNote {
    /// Who.
    pub actor: String,
    /// What happened.
    pub action: &'static str,
    /// To what.
    pub subject: String,
    /// Details.
    pub detail: serde_json::Value,
}

/// A stored scan record with what the server made of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredScan {
    /// The record as received (signature verified).
    pub record: SignedScanRecord,
    /// When the server accepted it.
    pub received_at_ms: u64,
    /// The scanner's display name at the time.
    pub installer_name: String,
}

/// The device subsystem: devices, their scans, review decisions.
pub trait DeviceStore: Send + Sync {
    /// One device by serial.
    fn device(&self, serial: &str) -> Result<Option<Device>, ServerError>;
    /// Every device (optionally only those in `state`).
    fn devices(&self) -> Result<Vec<Device>, ServerError>;
    /// Stored scans by record id.
    fn scan(&self, record_id: &str) -> Result<Option<StoredScan>, ServerError>;
    /// Applies verified scan records in order, atomically as a batch (chain checks, the devices
    /// each decision names, the records and the chain head), made durable before this returns.
    fn ingest_scans(
        &self,
        records: &[SignedScanRecord],
        now_ms: u64,
        decide: &dyn Fn(
            &SignedScanRecord,
            &StaffMember,
            &IngestView,
        ) -> Result<ScanOutcome, ServerError>,
    ) -> Result<Vec<ScanOutcome>, ServerError>;
    /// Replaces a device (a review decision or an enrollment) with its audit entry, atomically;
    /// a certificate the change drops, or the certificate of a device now revoked, is revoked in
    /// the same commit.
    fn update_device(
        &self,
        serial: &str,
        change: &dyn Fn(Device) -> Result<(Device, AuditNote), ServerError>,
    ) -> Result<Device, ServerError>;
    /// [`DeviceStore::update_device`] without waiting for the disk: durable once the returned
    /// commit is.
    fn update_device_deferred(
        &self,
        serial: &str,
        change: &dyn Fn(Device) -> Result<(Device, AuditNote), ServerError>,
    ) -> Result<(Device, Commit), ServerError>;
}

/// What the ingest decision may look at, read inside the store's transaction.
#[derive(Clone, Debug, Default)]
pub struct IngestView {
    /// The device with the record's serial, if any.
    pub by_serial: Option<Device>,
    /// Devices (other serials) already holding the record's key.
    pub by_key: Vec<Device>,
    /// A stored record with the same id, if any.
    pub same_id: Option<StoredScan>,
}

/// Builds the member and certificate record for a redeemed invite.
pub type RegisterFn<'a> =
    dyn Fn(&InviteRecord) -> Result<(StaffMember, CertRecord), ServerError> + 'a;

/// The staff subsystem: invites and registered installs.
pub trait StaffStore: Send + Sync {
    /// Stores a new invite under the SHA-256 (hex) of its code.
    fn put_invite(
        &self,
        code_sha256: &str,
        invite: &InviteRecord,
        audit: AuditNote,
    ) -> Result<(), ServerError>;
    /// An invite by the SHA-256 (hex) of its code.
    fn invite(&self, code_sha256: &str) -> Result<Option<InviteRecord>, ServerError>;
    /// Redeems an invite and registers the member, atomically; `None` if the invite is
    /// unknown, used or expired (nothing is written then).
    fn redeem_invite(
        &self,
        code_sha256: &str,
        now_ms: u64,
        register: &RegisterFn<'_>,
    ) -> Result<Option<StaffMember>, ServerError>;
    /// One member by key id.
    fn staff(&self, key_id: &str) -> Result<Option<StaffMember>, ServerError>;
    /// Every member.
    fn all_staff(&self) -> Result<Vec<StaffMember>, ServerError>;
    /// Replaces a member with its audit entry, atomically (`NotFound` if there is none).
    fn update_staff(
        &self,
        key_id: &str,
        now_ms: u64,
        change: &dyn Fn(StaffMember) -> Result<(StaffMember, AuditNote), ServerError>,
    ) -> Result<StaffMember, ServerError>;
    /// Renews a member's certificate (same key): the member's new certificate serial and
    /// expiry, the new certificate record and the revocation of the old one, with the audit
    /// entry, atomically; `Conflict` if the member is revoked or no longer holds `old_serial`.
    fn renew_staff(
        &self,
        key_id: &str,
        old_serial: &str,
        new: &CertRecord,
        audit: AuditNote,
        now_ms: u64,
    ) -> Result<StaffMember, ServerError>;
    /// Marks a member revoked (and their certificate), atomically.
    fn revoke_staff(
        &self,
        key_id: &str,
        now_ms: u64,
        reason: &str,
        actor: &str,
    ) -> Result<Option<StaffMember>, ServerError>;
}

/// The enrollment subsystem: nonces and issued certificates.
pub trait EnrollmentStore: Send + Sync {
    /// Stores a nonce (hex) for a vouched serial.
    fn put_challenge(&self, nonce: &str, challenge: &ChallengeRecord) -> Result<(), ServerError>;
    /// Removes and returns a nonce: each nonce is taken at most once, whatever happens next.
    fn take_challenge(&self, nonce: &str) -> Result<Option<ChallengeRecord>, ServerError>;
    /// Commits an issuance: the device's new state, its certificate record and the revocation
    /// of the certificate it `supersedes` (a renewal), atomically, only if the stored device
    /// still passes `expect` (else [`ServerError::Conflict`]). The certificate may be handed
    /// out once the returned commit is durable.
    fn record_issuance(
        &self,
        device: &Device,
        cert: &CertRecord,
        supersedes: Option<&str>,
        audit: AuditNote,
        expect: &dyn Fn(&Device) -> bool,
    ) -> Result<Commit, ServerError>;
    /// Records a credential rotation: the new certificate's record and the old one revoked
    /// (kept revoked from its first revocation), with the audit entry, atomically and durably.
    fn record_rotation(
        &self,
        new: &CertRecord,
        old: &CertRecord,
        audit: AuditNote,
        now_ms: u64,
    ) -> Result<(), ServerError>;
    /// One certificate record by serial (hex).
    fn certificate(&self, serial: &str) -> Result<Option<CertRecord>, ServerError>;
    /// Every revoked certificate (for the CRL).
    fn revoked_certificates(&self) -> Result<Vec<CertRecord>, ServerError>;
    /// Marks a certificate revoked.
    fn revoke_certificate(&self, serial: &str, now_ms: u64) -> Result<(), ServerError>;
    /// Drops expired challenges; returns how many.
    fn purge_challenges(&self, now_ms: u64) -> Result<usize, ServerError>;
}

/// The audit subsystem.
pub trait AuditStore: Send + Sync {
    /// Appends one entry on its own.
    fn append_audit(&self, note: AuditNote, now_ms: u64) -> Result<AuditEntry, ServerError>;
    /// Every entry in order.
    fn audit_entries(&self) -> Result<Vec<AuditEntry>, ServerError>;
}

/// A change committed in memory, numbered in commit order; on disk once
/// [`Durability::durable`] says so.
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

/// Waiting for commits to reach the disk without holding a thread.
pub trait Durability: Send + Sync {
    /// Resolves once `commit`, and every commit before it, is on disk.
    fn durable(&self, commit: Commit) -> DurableFuture;
    /// A commit that is durable once everything committed so far is (for answers that rest
    /// on state another request wrote).
    fn latest_commit(&self) -> Commit;
    /// Commits and disk syncs so far.
    fn sync_stats(&self) -> SyncStats;
}

/// Everything the server needs from storage.
pub trait Store: DeviceStore + StaffStore + EnrollmentStore + AuditStore + Durability {}

impl<T: DeviceStore + StaffStore + EnrollmentStore + AuditStore + Durability> Store for T {}
