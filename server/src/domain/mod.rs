//! The server's rules, as pure functions over plain data.
//!
//! Every rule the server applies lives here: scan ingestion and its conflicts ([`scan`]), the
//! device state machine and which certificates a change revokes ([`device`]), expected-device
//! manifests ([`manifest`]), staff invites,
//! chain gaps and their acceptance ([`staff`]), the enrollment checks ([`enroll`]), and the
//! audit entry with its chain hash ([`audit`]). A rule reads what it is given and returns a
//! decision or a [`WritePlan`]; the time comes in as an argument (`now_ms`, from
//! [`crate::clock`]) and so does anything random. Nothing here does I/O or reads the clock, and
//! nothing here imports the store: the store ([`crate::store`]) reads the data a rule needs,
//! calls the rule the caller handed it inside its transaction, and applies the plan atomically.

pub mod audit;
pub mod cert;
pub mod device;
pub mod enroll;
pub mod manifest;
pub mod scan;
pub mod staff;
#[cfg(test)]
pub(crate) mod testing;

pub use audit::{AuditEntry, AuditNote};
pub use cert::{CertRecord, ChallengeRecord};
pub use device::{
    apply_decision, Decision, DecisionRefused, Device, DeviceCertificate, DeviceState,
    TimelineEvent,
};
pub use manifest::{Expectation, ImportCounts, ImportRecord};
pub use scan::{IngestView, ScanOutcome, ScanPolicy, StoredScan, UnlistedPolicy};
pub use staff::{ChainGap, GapAcceptance, InviteRecord, Role, StaffMember};

/// What a change writes, all of it in one atomic commit.
///
/// The store applies a plan without looking into it: records are stored as given,
/// certificates named in `revoke` are marked revoked at `at_ms` (an unknown serial is
/// skipped; an earlier revocation time is kept, [`CertRecord::revoked_at`]), each note in
/// `audit` becomes the next entry of the audit chain ([`audit::next_entry`]), and a member in
/// `new_staff` is only inserted if no member holds that key (a uniqueness constraint, so two
/// server instances cannot register one key twice).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WritePlan {
    /// Devices to store, by serial.
    pub devices: Vec<Device>,
    /// The serials a device key has been seen under (`(key hex, serials)`).
    pub key_index: Vec<(String, Vec<String>)>,
    /// Staff members to store, by key id.
    pub staff: Vec<StaffMember>,
    /// A member to register; the commit fails with a conflict if the key is registered.
    pub new_staff: Option<StaffMember>,
    /// Scan records to store, by record id.
    pub scans: Vec<StoredScan>,
    /// Invites to store, by the SHA-256 (hex) of their code.
    pub invites: Vec<(String, InviteRecord)>,
    /// Certificate records to store, by serial.
    pub certs: Vec<CertRecord>,
    /// Manifest imports to store, by id.
    pub imports: Vec<ImportRecord>,
    /// Serials of certificates the change revokes.
    pub revoke: Vec<String>,
    /// What the change adds to the audit log, in order.
    pub audit: Vec<AuditNote>,
    /// When the change happens (revocation and audit times).
    pub at_ms: u64,
}

impl WritePlan {
    /// An empty plan at `at_ms`.
    pub fn at(at_ms: u64) -> Self {
        Self {
            at_ms,
            ..Self::default()
        }
    }

    /// Whether the plan writes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::at(self.at_ms)
    }
}

/// A rule's result: the value the caller gets back, and what to write for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned<T> {
    /// What the change produced (the device or member after it, a scan outcome).
    pub value: T,
    /// What to commit.
    pub writes: WritePlan,
}
