//! The embedded default store, on sled 0.34.
//!
//! Each multi-key change runs in one sled transaction across the trees it touches, and every
//! change the caller is told about is made durable first: sled's own `flush()` only issues
//! `sync_file_range` (measured with strace), which does not survive a power cut, so
//! [`SledStore::sync`] follows it with an `fsync` of the database file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Transactional, Tree};
use vouch_protocol::key::{hex, sha256};
use vouch_protocol::{ChainHead, SignedScanRecord};

use super::group_commit::GroupCommit;
use super::*;
use crate::domain::{Device, DeviceState, ScanOutcome};

/// At most this many outstanding challenges are kept (each is about 100 bytes).
const MAX_CHALLENGES: usize = 200_000;

const DEVICES: usize = 0;
const SCANS: usize = 1;
const KEY_INDEX: usize = 2;
const STAFF: usize = 3;
const INVITES: usize = 4;
const CERTS: usize = 5;
const AUDIT: usize = 6;
const META: usize = 7;
/// The trees, by index. (Databases made before 2026-11-29 also hold a `challenges` tree,
/// unused since challenges moved to memory.)
const TREE_NAMES: [&str; 8] = [
    "devices",
    "scans",
    "key_index",
    "staff",
    "invites",
    "certs",
    "audit",
    "meta",
];
const AUDIT_HEAD: &[u8] = b"audit_head";

type TxResult<T> = Result<T, ConflictableTransactionError<ServerError>>;

/// The trees one transaction works on, reached by their store-wide index. A transaction
/// covers only the trees its change touches (each one costs sled work at commit).
struct Tx<'a> {
    trees: &'a [TransactionalTree],
    /// Which of `trees` each store-wide index is, if it is in this transaction.
    slots: [Option<usize>; TREE_NAMES.len()],
}

impl<'a> Tx<'a> {
    fn new(trees: &'a [TransactionalTree], names: &[usize]) -> Self {
        let mut slots = [None; TREE_NAMES.len()];
        for (slot, &which) in names.iter().enumerate() {
            slots[which] = Some(slot);
        }
        Self { trees, slots }
    }

    /// One tree of the transaction; asking for a tree left out is a bug, reported as an error.
    fn tree(&self, which: usize) -> TxResult<&'a TransactionalTree> {
        match self.slots[which].and_then(|slot| self.trees.get(slot)) {
            Some(tree) => Ok(tree),
            None => abort(storage(format!(
                "the transaction does not cover the {} tree",
                TREE_NAMES[which]
            ))),
        }
    }
}

/// The trees a batch of scan records may touch.
const INGEST_TREES: [usize; 6] = [DEVICES, SCANS, KEY_INDEX, STAFF, AUDIT, META];

/// The sled-backed store.
pub struct SledStore {
    trees: Vec<Tree>,
    /// The thread that makes commits durable (shared fsyncs).
    group: GroupCommit,
    /// Outstanding challenges, by nonce (hex). They live in memory only: a restart forgets
    /// them, which only makes devices ask again, and can never let a nonce be used twice.
    challenges: Mutex<HashMap<String, ChallengeRecord>>,
}

fn storage(e: impl std::fmt::Display) -> ServerError {
    ServerError::Storage(e.to_string())
}

fn tx_err(e: TransactionError<ServerError>) -> ServerError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => storage(e),
    }
}

fn abort<T>(e: ServerError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

fn get<T: DeserializeOwned>(tree: &TransactionalTree, key: &[u8]) -> TxResult<Option<T>> {
    match tree.get(key)? {
        None => Ok(None),
        Some(bytes) => match serde_json::from_slice(&bytes) {
            Ok(v) => Ok(Some(v)),
            Err(e) => abort(storage(format!("corrupt record: {e}"))),
        },
    }
}

fn put<T: Serialize>(tree: &TransactionalTree, key: &[u8], value: &T) -> TxResult<()> {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            tree.insert(key, bytes)?;
            Ok(())
        }
        Err(e) => abort(storage(e)),
    }
}

/// The audit head: last sequence number and hash.
#[derive(Serialize, serde::Deserialize)]
struct AuditHead {
    seq: u64,
    hash: String,
}

/// `value` with every object's keys in byte order (the audit hash's canonical form), whether
/// or not serde_json's `preserve_order` feature is on in this build.
fn sorted_json(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            serde_json::Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted_json(&map[k])))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(sorted_json).collect())
        }
        other => other.clone(),
    }
}

/// Computes an audit entry's hash from its other fields.
pub fn audit_hash(entry: &AuditEntry) -> String {
    let body = serde_json::json!({
        "seq": entry.seq, "at_ms": entry.at_ms, "actor": entry.actor, "action": entry.action,
        "subject": entry.subject, "detail": entry.detail,
    });
    let mut bytes = entry.prev_hash.as_bytes().to_vec();
    bytes.extend_from_slice(sorted_json(&body).to_string().as_bytes());
    hex(&sha256(&bytes))
}

fn append_audit_tx(trees: &Tx<'_>, note: &AuditNote, now_ms: u64) -> TxResult<AuditEntry> {
    let head: Option<AuditHead> = get(trees.tree(META)?, AUDIT_HEAD)?;
    let (seq, prev_hash) = head.map_or((1, "0".repeat(64)), |h| (h.seq + 1, h.hash));
    let mut entry = AuditEntry {
        seq,
        at_ms: now_ms,
        actor: note.actor.clone(),
        action: note.action.to_string(),
        subject: note.subject.clone(),
        detail: note.detail.clone(),
        prev_hash,
        hash: String::new(),
    };
    entry.hash = audit_hash(&entry);
    put(trees.tree(AUDIT)?, &seq.to_be_bytes(), &entry)?;
    put(
        trees.tree(META)?,
        AUDIT_HEAD,
        &AuditHead {
            seq,
            hash: entry.hash.clone(),
        },
    )?;
    Ok(entry)
}

/// The stored value under `key`, inside a transaction; `NotFound` with `missing()` if there is
/// none.
fn existing<T: DeserializeOwned>(
    tree: &TransactionalTree,
    key: &str,
    missing: &dyn Fn() -> String,
) -> TxResult<T> {
    match get::<T>(tree, key.as_bytes())? {
        Some(current) => Ok(current),
        None => abort(ServerError::NotFound(missing())),
    }
}

/// Marks a certificate revoked (keeping the first revocation time), inside a transaction.
fn revoke_certificate_tx(t: &Tx<'_>, serial: &str, now_ms: u64) -> TxResult<()> {
    if let Some(mut cert) = get::<CertRecord>(t.tree(CERTS)?, serial.as_bytes())? {
        cert.revoked_at_ms.get_or_insert(now_ms);
        put(t.tree(CERTS)?, serial.as_bytes(), &cert)?;
    }
    Ok(())
}

/// Says why the database folder would not open, in words that point at the fix.
fn open_error(dir: &Path, e: &sled::Error) -> ServerError {
    let detail = match e {
        // sled's own text for this names an offset and a backtrace, neither of use here.
        sled::Error::Corruption { .. } => "sled found data it cannot read".to_string(),
        other => other.to_string(),
    };
    if detail.contains("could not acquire lock") {
        return ServerError::Storage(format!(
            "the database in {} is in use by another process (is another vouch-server serving \
             this data folder?)",
            dir.display()
        ));
    }
    if matches!(
        e,
        sled::Error::Corruption { .. } | sled::Error::Unsupported(_)
    ) {
        return ServerError::Storage(format!(
            "cannot open the database in {}: it is damaged or not a Vouch store ({detail}); \
             nothing was changed: check that --data names the right folder, or restore the data \
             folder from a backup",
            dir.display()
        ));
    }
    ServerError::Storage(format!(
        "cannot open the database in {}: {detail}",
        dir.display()
    ))
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, syncing each commit at once.
    pub fn open(dir: &Path) -> Result<Self, ServerError> {
        Self::open_with(dir, Duration::ZERO)
    }

    /// Opens (or creates) the store in `dir`; under load each sync waits `commit_delay` to
    /// cover more commits (see `storage.commit_delay_us`).
    pub fn open_with(dir: &Path, commit_delay: Duration) -> Result<Self, ServerError> {
        // A held lock is waited for (3 s, `vendor/sled/VOUCH-PATCH.md`, patch 5) before this
        // error.
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| open_error(dir, &e))?;
        let trees = TREE_NAMES
            .iter()
            .map(|name| db.open_tree(name).map_err(storage))
            .collect::<Result<Vec<_>, _>>()?;
        let group = GroupCommit::start(db.clone(), dir.join("db"), commit_delay)?;
        Ok(Self {
            trees,
            group,
            challenges: Mutex::new(HashMap::new()),
        })
    }

    /// The outstanding challenges (a panic while holding the lock cannot leave the map
    /// inconsistent: every change to it is one call).
    fn challenges(&self) -> MutexGuard<'_, HashMap<String, ChallengeRecord>> {
        self.challenges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes every change committed so far durable (sled flush, then fsync of the database
    /// file, shared with concurrent writers); blocks until it is.
    pub fn sync(&self) -> Result<(), ServerError> {
        self.group.wait(self.group.committed())
    }

    /// Runs `f` in one transaction over the trees `names` and waits until the change is on
    /// disk.
    fn transact<T>(
        &self,
        names: &[usize],
        f: impl Fn(&Tx<'_>) -> TxResult<T>,
    ) -> Result<T, ServerError> {
        let (out, commit) = self.transact_deferred(names, f)?;
        self.group.wait(commit)?;
        Ok(out)
    }

    /// Runs `f` in one transaction; the change is on disk once its [`Commit`] is durable.
    fn transact_deferred<T>(
        &self,
        names: &[usize],
        f: impl Fn(&Tx<'_>) -> TxResult<T>,
    ) -> Result<(T, Commit), ServerError> {
        let trees: Vec<&Tree> = names.iter().map(|&which| &self.trees[which]).collect();
        let out = trees[..]
            .transaction(|t| f(&Tx::new(t, names)))
            .map_err(tx_err)?;
        Ok((out, self.group.committed()))
    }

    fn read<T: DeserializeOwned>(&self, tree: usize, key: &[u8]) -> Result<Option<T>, ServerError> {
        match self.trees[tree].get(key).map_err(storage)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(storage),
        }
    }

    fn read_all<T: DeserializeOwned>(&self, tree: usize) -> Result<Vec<T>, ServerError> {
        self.trees[tree]
            .iter()
            .values()
            .map(|v| {
                let bytes = v.map_err(storage)?;
                serde_json::from_slice(&bytes).map_err(storage)
            })
            .collect()
    }
}

fn ingest_tx(
    t: &Tx<'_>,
    record: &SignedScanRecord,
    now_ms: u64,
    decide: &dyn Fn(&StaffMember, &IngestView) -> Result<ScanOutcome, ServerError>,
) -> TxResult<ScanOutcome> {
    let r = record.record();
    let id = r.record_id().to_hex();
    let installer = r.installer().to_hex();
    let Some(mut staff) = get::<StaffMember>(t.tree(STAFF)?, installer.as_bytes())? else {
        return Ok(refused(
            "unknown_installer",
            "the record's install is not registered",
        ));
    };
    let same_id: Option<StoredScan> = get(t.tree(SCANS)?, id.as_bytes())?;
    if let Some(stored) = &same_id {
        if stored.record == *record {
            return Ok(ScanOutcome::Duplicate);
        }
        return Ok(refused(
            "record_id_reused",
            "another record with this id is already stored",
        ));
    }
    if let Err(e) = staff.chain.check_next(r) {
        if let vouch_protocol::Error::SequenceGap { expected, found } = e {
            if resumes_accepted_gap(&staff, expected, found) {
                return accept_scan(t, record, staff, now_ms, decide);
            }
            if !staff.gaps.iter().any(|g| g.expected == expected) {
                staff.gaps.push(ChainGap {
                    expected,
                    found,
                    seen_at_ms: now_ms,
                    accepted: None,
                });
                put(t.tree(STAFF)?, installer.as_bytes(), &staff)?;
                let note = AuditNote {
                    actor: "server".into(),
                    action: "staff.chain_gap",
                    subject: installer.clone(),
                    detail: serde_json::json!({"expected": expected, "found": found}),
                };
                append_audit_tx(t, &note, now_ms)?;
            }
        }
        return Ok(refused(e.code(), &gap_message(&e)));
    }
    accept_scan(t, record, staff, now_ms, decide)
}

/// Whether a reviewer accepted this very gap: the record with sequence `found` continues the
/// chain (the records before it are declared lost; its previous-hash cannot be checked).
fn resumes_accepted_gap(staff: &StaffMember, expected: u64, found: u64) -> bool {
    staff
        .gaps
        .iter()
        .any(|g| g.expected == expected && g.found == found && g.accepted.is_some())
}

/// The refusal message, telling the way out of a gap.
fn gap_message(e: &vouch_protocol::Error) -> String {
    match e {
        vouch_protocol::Error::SequenceGap { expected, .. } => format!(
            "{e}; the record is held until record {expected} arrives or a supervisor accepts the gap"
        ),
        _ => e.to_string(),
    }
}

/// Applies a record that continues its install's chain: the decision, the devices it changes,
/// the key index, the chain head, the stored scan and the audit entry.
fn accept_scan(
    t: &Tx<'_>,
    record: &SignedScanRecord,
    mut staff: StaffMember,
    now_ms: u64,
    decide: &dyn Fn(&StaffMember, &IngestView) -> Result<ScanOutcome, ServerError>,
) -> TxResult<ScanOutcome> {
    let r = record.record();
    let id = r.record_id().to_hex();
    let installer = r.installer().to_hex();
    let serial = r.label().serial().as_str();
    let key = hex(&r.label().key().to_sec1_compressed());
    let by_serial: Option<Device> = get(t.tree(DEVICES)?, serial.as_bytes())?;
    let key_serials: Vec<String> = get(t.tree(KEY_INDEX)?, key.as_bytes())?.unwrap_or_default();
    let mut by_key = Vec::new();
    for other in key_serials.iter().filter(|s| s.as_str() != serial) {
        if let Some(d) = get::<Device>(t.tree(DEVICES)?, other.as_bytes())? {
            by_key.push(d);
        }
    }
    let view = IngestView {
        by_serial,
        by_key,
        same_id: None,
    };
    let outcome = match decide(&staff, &view) {
        Ok(o) => o,
        Err(e) => return abort(e),
    };
    let ScanOutcome::Accepted(devices) = &outcome else {
        return Ok(outcome);
    };
    for device in devices {
        put(t.tree(DEVICES)?, device.serial.as_bytes(), device)?;
    }
    let mut serials = key_serials;
    if !serials.iter().any(|s| s == serial) {
        serials.push(serial.to_string());
        put(t.tree(KEY_INDEX)?, key.as_bytes(), &serials)?;
    }
    staff.chain = ChainHead::after(r);
    put(t.tree(STAFF)?, installer.as_bytes(), &staff)?;
    let stored = StoredScan {
        record: record.clone(),
        received_at_ms: now_ms,
        installer_name: staff.name.clone(),
    };
    put(t.tree(SCANS)?, id.as_bytes(), &stored)?;
    let states: Vec<_> = devices
        .iter()
        .map(|d| (d.serial.clone(), d.state.as_str()))
        .collect();
    let note = AuditNote {
        actor: format!("staff:{installer}"),
        action: "scan.accepted",
        subject: serial.to_string(),
        detail: serde_json::json!({"record_id": id, "sequence": r.sequence(), "devices": states}),
    };
    append_audit_tx(t, &note, now_ms)?;
    Ok(outcome)
}

fn refused(code: &'static str, message: &str) -> ScanOutcome {
    ScanOutcome::Refused {
        code,
        message: message.to_string(),
    }
}

impl DeviceStore for SledStore {
    fn device(&self, serial: &str) -> Result<Option<Device>, ServerError> {
        self.read(DEVICES, serial.as_bytes())
    }

    fn devices(&self) -> Result<Vec<Device>, ServerError> {
        self.read_all(DEVICES)
    }

    fn scan(&self, record_id: &str) -> Result<Option<StoredScan>, ServerError> {
        self.read(SCANS, record_id.as_bytes())
    }

    fn ingest_scans(
        &self,
        records: &[SignedScanRecord],
        now_ms: u64,
        decide: &dyn Fn(
            &SignedScanRecord,
            &StaffMember,
            &IngestView,
        ) -> Result<ScanOutcome, ServerError>,
    ) -> Result<Vec<ScanOutcome>, ServerError> {
        // One transaction for the batch: each record sees the writes of those before it
        // (sled transactions read their own writes), and the batch commits, or fails, as one;
        // a failed batch is resent by the client and deduplicated by record id.
        let (outcomes, commit) = self.transact_deferred(&INGEST_TREES, |t| {
            records
                .iter()
                .map(|record| {
                    let decide_one =
                        |staff: &StaffMember, view: &IngestView| decide(record, staff, view);
                    ingest_tx(t, record, now_ms, &decide_one)
                })
                .collect::<TxResult<Vec<_>>>()
        })?;
        self.group.wait(commit)?;
        Ok(outcomes)
    }

    fn update_device(
        &self,
        serial: &str,
        change: &dyn Fn(Device) -> Result<(Device, AuditNote), ServerError>,
    ) -> Result<Device, ServerError> {
        let (device, commit) = self.update_device_deferred(serial, change)?;
        self.group.wait(commit)?;
        Ok(device)
    }

    fn update_device_deferred(
        &self,
        serial: &str,
        change: &dyn Fn(Device) -> Result<(Device, AuditNote), ServerError>,
    ) -> Result<(Device, Commit), ServerError> {
        self.transact_deferred(&[DEVICES, CERTS, AUDIT, META], |t| {
            let missing = || format!("no device with serial {serial:?}");
            let current: Device = existing(t.tree(DEVICES)?, serial, &missing)?;
            let before = current.certificate.as_ref().map(|c| c.serial.clone());
            let (device, note) = change(current).or_else(abort)?;
            put(t.tree(DEVICES)?, serial.as_bytes(), &device)?;
            let current = device.certificate.as_ref().map(|c| c.serial.clone());
            let revoked = device.state == DeviceState::Revoked;
            // A certificate the change revokes or drops goes on the CRL in the same commit.
            if let Some(old) = before.filter(|old| revoked || current.as_ref() != Some(old)) {
                revoke_certificate_tx(t, &old, device.updated_at_ms)?;
            }
            append_audit_tx(t, &note, device.updated_at_ms)?;
            Ok(device)
        })
    }
}

impl StaffStore for SledStore {
    fn put_invite(
        &self,
        code_sha256: &str,
        invite: &InviteRecord,
        audit: AuditNote,
    ) -> Result<(), ServerError> {
        self.transact(&[INVITES, AUDIT, META], |t| {
            put(t.tree(INVITES)?, code_sha256.as_bytes(), invite)?;
            append_audit_tx(t, &audit, invite.created_at_ms)?;
            Ok(())
        })
    }

    fn invite(&self, code_sha256: &str) -> Result<Option<InviteRecord>, ServerError> {
        self.read(INVITES, code_sha256.as_bytes())
    }

    fn redeem_invite(
        &self,
        code_sha256: &str,
        now_ms: u64,
        register: &RegisterFn<'_>,
    ) -> Result<Option<StaffMember>, ServerError> {
        self.transact(&[INVITES, STAFF, CERTS, AUDIT, META], |t| {
            let Some(mut invite) = get::<InviteRecord>(t.tree(INVITES)?, code_sha256.as_bytes())? else {
                return Ok(None);
            };
            if invite.used_at_ms.is_some() || invite.expires_at_ms <= now_ms {
                return Ok(None);
            }
            let (member, cert) = match register(&invite) {
                Ok(v) => v,
                Err(e) => return abort(e),
            };
            if get::<StaffMember>(t.tree(STAFF)?, member.key_id.as_bytes())?.is_some() {
                return abort(ServerError::Conflict("this app install's key is already registered".into()));
            }
            invite.used_at_ms = Some(now_ms);
            put(t.tree(INVITES)?, code_sha256.as_bytes(), &invite)?;
            put(t.tree(STAFF)?, member.key_id.as_bytes(), &member)?;
            put(t.tree(CERTS)?, cert.serial.as_bytes(), &cert)?;
            let note = AuditNote {
                actor: format!("staff:{}", member.key_id),
                action: "staff.registered",
                subject: member.key_id.clone(),
                detail: serde_json::json!({"name": member.name, "role": member.role.as_str(), "certificate": cert.serial}),
            };
            append_audit_tx(t, &note, now_ms)?;
            Ok(Some(member))
        })
    }

    fn staff(&self, key_id: &str) -> Result<Option<StaffMember>, ServerError> {
        self.read(STAFF, key_id.as_bytes())
    }

    fn all_staff(&self) -> Result<Vec<StaffMember>, ServerError> {
        self.read_all(STAFF)
    }

    fn update_staff(
        &self,
        key_id: &str,
        now_ms: u64,
        change: &dyn Fn(StaffMember) -> Result<(StaffMember, AuditNote), ServerError>,
    ) -> Result<StaffMember, ServerError> {
        self.transact(&[STAFF, AUDIT, META], |t| {
            let missing = || format!("no staff member with key id {key_id}");
            let current: StaffMember = existing(t.tree(STAFF)?, key_id, &missing)?;
            let (member, note) = change(current).or_else(abort)?;
            put(t.tree(STAFF)?, key_id.as_bytes(), &member)?;
            append_audit_tx(t, &note, now_ms)?;
            Ok(member)
        })
    }

    fn renew_staff(
        &self,
        key_id: &str,
        old_serial: &str,
        new: &CertRecord,
        audit: AuditNote,
        now_ms: u64,
    ) -> Result<StaffMember, ServerError> {
        self.transact(&[STAFF, CERTS, AUDIT, META], |t| {
            let Some(mut member) = get::<StaffMember>(t.tree(STAFF)?, key_id.as_bytes())? else {
                return abort(ServerError::NotFound(format!(
                    "no staff member with key id {key_id}"
                )));
            };
            if member.revoked_at_ms.is_some() || member.certificate_serial != old_serial {
                return abort(ServerError::Conflict(
                    "the staff member changed during the renewal".into(),
                ));
            }
            member.certificate_serial = new.serial.clone();
            member.not_after_ms = new.not_after_ms;
            put(t.tree(STAFF)?, key_id.as_bytes(), &member)?;
            put(t.tree(CERTS)?, new.serial.as_bytes(), new)?;
            revoke_certificate_tx(t, old_serial, now_ms)?;
            append_audit_tx(t, &audit, now_ms)?;
            Ok(member)
        })
    }

    fn revoke_staff(
        &self,
        key_id: &str,
        now_ms: u64,
        reason: &str,
        actor: &str,
    ) -> Result<Option<StaffMember>, ServerError> {
        self.transact(&[STAFF, CERTS, AUDIT, META], |t| {
            let Some(mut member) = get::<StaffMember>(t.tree(STAFF)?, key_id.as_bytes())? else {
                return Ok(None);
            };
            if member.revoked_at_ms.is_some() {
                return abort(ServerError::Conflict(
                    "this staff member is already revoked".into(),
                ));
            }
            member.revoked_at_ms = Some(now_ms);
            member.revoked_reason = Some(reason.to_string());
            put(t.tree(STAFF)?, key_id.as_bytes(), &member)?;
            if let Some(mut cert) =
                get::<CertRecord>(t.tree(CERTS)?, member.certificate_serial.as_bytes())?
            {
                cert.revoked_at_ms = Some(now_ms);
                put(t.tree(CERTS)?, cert.serial.as_bytes(), &cert)?;
            }
            let note = AuditNote {
                actor: actor.to_string(),
                action: "staff.revoked",
                subject: key_id.to_string(),
                detail: serde_json::json!({"reason": reason, "name": member.name}),
            };
            append_audit_tx(t, &note, now_ms)?;
            Ok(Some(member))
        })
    }
}

impl EnrollmentStore for SledStore {
    fn put_challenge(&self, nonce: &str, challenge: &ChallengeRecord) -> Result<(), ServerError> {
        let mut challenges = self.challenges();
        if challenges.len() >= MAX_CHALLENGES {
            let now = crate::api::now_ms();
            challenges.retain(|_, c| c.expires_at_ms > now);
        }
        if challenges.len() >= MAX_CHALLENGES {
            return Err(ServerError::Busy(
                "too many outstanding enrollment challenges; try again later".into(),
            ));
        }
        challenges.insert(nonce.to_string(), challenge.clone());
        Ok(())
    }

    fn take_challenge(&self, nonce: &str) -> Result<Option<ChallengeRecord>, ServerError> {
        Ok(self.challenges().remove(nonce))
    }

    fn record_issuance(
        &self,
        device: &Device,
        cert: &CertRecord,
        supersedes: Option<&str>,
        audit: AuditNote,
        expect: &dyn Fn(&Device) -> bool,
    ) -> Result<Commit, ServerError> {
        let ((), commit) = self.transact_deferred(&[DEVICES, CERTS, AUDIT, META], |t| {
            let current: Option<Device> = get(t.tree(DEVICES)?, device.serial.as_bytes())?;
            if !current.as_ref().is_some_and(expect) {
                return abort(ServerError::Conflict(
                    "the device changed state during issuance".into(),
                ));
            }
            put(t.tree(DEVICES)?, device.serial.as_bytes(), device)?;
            put(t.tree(CERTS)?, cert.serial.as_bytes(), cert)?;
            if let Some(old) = supersedes {
                revoke_certificate_tx(t, old, device.updated_at_ms)?;
            }
            append_audit_tx(t, &audit, device.updated_at_ms)?;
            Ok(())
        })?;
        Ok(commit)
    }

    fn record_rotation(
        &self,
        new: &CertRecord,
        old: &CertRecord,
        audit: AuditNote,
        now_ms: u64,
    ) -> Result<(), ServerError> {
        self.transact(&[CERTS, AUDIT, META], |t| {
            let stored = get::<CertRecord>(t.tree(CERTS)?, old.serial.as_bytes())?;
            let mut revoked = stored.unwrap_or_else(|| old.clone());
            revoked.revoked_at_ms.get_or_insert(now_ms);
            put(t.tree(CERTS)?, old.serial.as_bytes(), &revoked)?;
            put(t.tree(CERTS)?, new.serial.as_bytes(), new)?;
            append_audit_tx(t, &audit, now_ms)?;
            Ok(())
        })
    }

    fn certificate(&self, serial: &str) -> Result<Option<CertRecord>, ServerError> {
        self.read(CERTS, serial.as_bytes())
    }

    fn revoked_certificates(&self) -> Result<Vec<CertRecord>, ServerError> {
        Ok(self
            .read_all::<CertRecord>(CERTS)?
            .into_iter()
            .filter(|c| c.revoked_at_ms.is_some())
            .collect())
    }

    fn revoke_certificate(&self, serial: &str, now_ms: u64) -> Result<(), ServerError> {
        self.transact(&[CERTS], |t| revoke_certificate_tx(t, serial, now_ms))
    }

    fn purge_challenges(&self, now_ms: u64) -> Result<usize, ServerError> {
        let mut challenges = self.challenges();
        let before = challenges.len();
        challenges.retain(|_, c| c.expires_at_ms > now_ms);
        Ok(before - challenges.len())
    }
}

impl Durability for SledStore {
    fn durable(&self, commit: Commit) -> DurableFuture {
        Box::pin(self.group.wait_async(commit))
    }

    fn latest_commit(&self) -> Commit {
        self.group.committed()
    }

    fn sync_stats(&self) -> SyncStats {
        self.group.stats()
    }
}

impl AuditStore for SledStore {
    fn append_audit(&self, note: AuditNote, now_ms: u64) -> Result<AuditEntry, ServerError> {
        self.transact(&[AUDIT, META], |t| append_audit_tx(t, &note, now_ms))
    }

    fn audit_entries(&self) -> Result<Vec<AuditEntry>, ServerError> {
        self.read_all(AUDIT)
    }
}

/// Checks an audit log's hash chain; returns the number of entries or the first bad one.
pub fn verify_audit(entries: &[AuditEntry]) -> Result<usize, String> {
    let mut prev = "0".repeat(64);
    for (i, entry) in entries.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        if entry.seq != expected_seq {
            return Err(format!(
                "entry {expected_seq}: sequence {} out of order",
                entry.seq
            ));
        }
        if entry.prev_hash != prev {
            return Err(format!(
                "entry {}: does not link to the previous entry",
                entry.seq
            ));
        }
        if audit_hash(entry) != entry.hash {
            return Err(format!(
                "entry {}: content does not match its hash (altered)",
                entry.seq
            ));
        }
        prev = entry.hash.clone();
    }
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(action: &'static str) -> AuditNote {
        AuditNote {
            actor: "operator".into(),
            action,
            subject: "x".into(),
            detail: serde_json::json!({}),
        }
    }

    #[test]
    fn audit_chain_verifies_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for (i, a) in ["a", "b", "c"].into_iter().enumerate() {
            store.append_audit(note(a), i as u64).unwrap();
        }
        let mut entries = store.audit_entries().unwrap();
        assert_eq!(verify_audit(&entries), Ok(3));
        entries[1].subject = "y".into();
        assert!(verify_audit(&entries).unwrap_err().contains("entry 2"));
        entries.remove(1);
        assert!(verify_audit(&entries).is_err());
    }

    /// A server killed while sled wrote its snapshot (sled writes one as it opens) left a torn
    /// `snap.<lsn>.generating` that made every later start fail (`vendor/sled/VOUCH-PATCH.md`,
    /// patch 4): the store opens and keeps what it had.
    #[test]
    fn a_snapshot_torn_by_a_kill_does_not_stop_the_store_opening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.append_audit(note("a"), 1).unwrap();
        }
        std::fs::write(
            dir.path().join("snap.7FFFFFFFFFFFFFFF.generating"),
            b"torn by a kill",
        )
        .unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(verify_audit(&store.audit_entries().unwrap()), Ok(1));
    }

    /// The worked example in docs/PROTOCOL.md (audit log hash).
    #[test]
    fn audit_hash_matches_the_documented_example() {
        let entry = AuditEntry {
            seq: 1,
            at_ms: 1_790_000_000_000,
            actor: "operator".into(),
            action: "staff.invited".into(),
            subject: "Tess".into(),
            detail: serde_json::json!({"role": "technician", "trusted": false, "expires_at_ms": 1_790_259_200_000u64}),
            prev_hash: "0".repeat(64),
            hash: String::new(),
        };
        assert_eq!(
            audit_hash(&entry),
            "f3e928196a93f16c6755d6510066510e5e639c0ccc32a875db0d0fa3add49a12"
        );
    }

    #[test]
    fn a_challenge_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let c = ChallengeRecord {
            serial: "S".into(),
            expires_at_ms: 10,
        };
        store.put_challenge("n", &c).unwrap();
        assert_eq!(store.take_challenge("n").unwrap(), Some(c));
        assert_eq!(store.take_challenge("n").unwrap(), None);
    }
}
