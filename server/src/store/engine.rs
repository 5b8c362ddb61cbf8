//! The store traits over any [`Backend`]: typed records as JSON values in buckets, the reads a
//! rule needs, and the application of its [`WritePlan`].

use std::cell::RefCell;

use serde::de::DeserializeOwned;
use serde::Serialize;
use vouch_protocol::key::hex;
use vouch_protocol::wire::ErrorCode;
use vouch_protocol::SignedScanRecord;

use super::*;
use crate::domain::audit::{next_entry, AuditHead};
use crate::error::Failure;

use super::backend::{NewChallenge, AUDIT_HEAD};

/// Every bucket a change to a device may touch (the device, revoked certificates, the audit).
const DEVICE_CHANGE: [Bucket; 4] = [Bucket::Devices, Bucket::Certs, Bucket::Audit, Bucket::Meta];
/// Every bucket a batch of scan records may touch.
const INGEST: [Bucket; 6] = [
    Bucket::Devices,
    Bucket::Scans,
    Bucket::KeyIndex,
    Bucket::Staff,
    Bucket::Audit,
    Bucket::Meta,
];
/// Every bucket a manifest import may touch.
const IMPORT: [Bucket; 4] = [
    Bucket::Devices,
    Bucket::Imports,
    Bucket::Audit,
    Bucket::Meta,
];
/// Every bucket a change to a staff member may touch.
const STAFF_CHANGE: [Bucket; 4] = [Bucket::Staff, Bucket::Certs, Bucket::Audit, Bucket::Meta];

/// The store: the traits of this module over one backend.
pub struct KvStore {
    backend: Box<dyn Backend>,
    challenge_limit: usize,
}

fn storage(e: impl std::error::Error + Send + Sync + 'static) -> ServerError {
    ServerError::Storage(Failure::of(e))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ServerError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ServerError::Storage(Failure::caused("corrupt record", e)))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, ServerError> {
    serde_json::to_vec(value).map_err(storage)
}

fn get<T: DeserializeOwned>(tx: &dyn Txn, bucket: Bucket, key: &[u8]) -> TxResult<Option<T>> {
    match tx.get(bucket, key)? {
        None => Ok(None),
        Some(bytes) => Ok(Some(decode(&bytes)?)),
    }
}

fn put<T: Serialize>(tx: &dyn Txn, bucket: Bucket, key: &[u8], value: &T) -> TxResult<()> {
    tx.put(bucket, key, encode(value)?)
}

/// The stored value under `key`; `NotFound` with `missing` if there is none.
fn existing<T: DeserializeOwned>(
    tx: &dyn Txn,
    bucket: Bucket,
    key: &str,
    missing: &dyn Fn() -> String,
) -> TxResult<T> {
    get(tx, bucket, key.as_bytes())?
        .ok_or_else(|| TxError::Abort(ServerError::refuse(ErrorCode::NotFound, missing())))
}

/// Appends `note` to the audit chain after its stored head.
fn append_audit(tx: &dyn Txn, note: &AuditNote, at_ms: u64) -> TxResult<AuditEntry> {
    let head: Option<AuditHead> = get(tx, Bucket::Meta, AUDIT_HEAD)?;
    let entry = next_entry(head.as_ref(), note, at_ms);
    put(tx, Bucket::Audit, &entry.seq.to_be_bytes(), &entry)?;
    put(tx, Bucket::Meta, AUDIT_HEAD, &entry.head())?;
    Ok(entry)
}

/// Writes a plan: records as given, revocations, then the audit entries in order.
fn apply(tx: &dyn Txn, plan: &WritePlan) -> TxResult<()> {
    for d in &plan.devices {
        put(tx, Bucket::Devices, d.serial.as_bytes(), d)?;
    }
    for (key, serials) in &plan.key_index {
        put(tx, Bucket::KeyIndex, key.as_bytes(), serials)?;
    }
    if let Some(member) = &plan.new_staff {
        if tx.get(Bucket::Staff, member.key_id.as_bytes())?.is_some() {
            return Err(TxError::Abort(ServerError::refuse(
                ErrorCode::Conflict,
                "this app install's key is already registered",
            )));
        }
        put(tx, Bucket::Staff, member.key_id.as_bytes(), member)?;
    }
    for m in &plan.staff {
        put(tx, Bucket::Staff, m.key_id.as_bytes(), m)?;
    }
    for s in &plan.scans {
        let id = s.record.record().record_id().to_hex();
        put(tx, Bucket::Scans, id.as_bytes(), s)?;
    }
    for (code, invite) in &plan.invites {
        put(tx, Bucket::Invites, code.as_bytes(), invite)?;
    }
    for c in &plan.certs {
        put(tx, Bucket::Certs, c.serial.as_bytes(), c)?;
    }
    for i in &plan.imports {
        put(tx, Bucket::Imports, i.id.as_bytes(), i)?;
    }
    for serial in &plan.revoke {
        if let Some(c) = get::<CertRecord>(tx, Bucket::Certs, serial.as_bytes())? {
            put(
                tx,
                Bucket::Certs,
                serial.as_bytes(),
                &c.revoked_at(plan.at_ms),
            )?;
        }
    }
    for note in &plan.audit {
        append_audit(tx, note, plan.at_ms)?;
    }
    Ok(())
}

/// What the ingestion rule needs to see for one record.
fn ingest_view(tx: &dyn Txn, record: &SignedScanRecord) -> TxResult<IngestView> {
    let r = record.record();
    let serial = r.label().serial().as_str();
    let key = hex(&r.label().key().to_sec1_compressed());
    let key_serials: Vec<String> = get(tx, Bucket::KeyIndex, key.as_bytes())?.unwrap_or_default();
    let mut by_key = Vec::new();
    for other in key_serials.iter().filter(|s| s.as_str() != serial) {
        if let Some(d) = get::<Device>(tx, Bucket::Devices, other.as_bytes())? {
            by_key.push(d);
        }
    }
    Ok(IngestView {
        staff: get(tx, Bucket::Staff, r.installer().to_hex().as_bytes())?,
        same_id: get(tx, Bucket::Scans, r.record_id().to_hex().as_bytes())?,
        by_serial: get(tx, Bucket::Devices, serial.as_bytes())?,
        key_serials,
        by_key,
    })
}

impl KvStore {
    /// The store over `backend`.
    pub fn new(backend: Box<dyn Backend>) -> Self {
        Self {
            backend,
            challenge_limit: MAX_CHALLENGES,
        }
    }

    /// The same with at most `limit` outstanding challenges (tests of the limit).
    pub fn with_challenge_limit(mut self, limit: usize) -> Self {
        self.challenge_limit = limit;
        self
    }

    /// Runs `work` in one transaction and returns its result with the commit.
    fn transact<T>(
        &self,
        buckets: &[Bucket],
        work: impl Fn(&dyn Txn) -> TxResult<T>,
    ) -> Result<(T, Commit), ServerError> {
        // The backend may run the work more than once; the last run is the one committed.
        let out = RefCell::new(None);
        let commit = self.backend.transact(buckets, &|tx| {
            let value = work(tx)?;
            *out.borrow_mut() = Some(value);
            Ok(())
        })?;
        let value = out.into_inner().ok_or_else(|| {
            ServerError::Storage(Failure::new("a transaction committed without running"))
        })?;
        Ok((value, commit))
    }

    /// [`KvStore::transact`], returning once the change is durable.
    fn transact_durably<T>(
        &self,
        buckets: &[Bucket],
        work: impl Fn(&dyn Txn) -> TxResult<T>,
    ) -> Result<T, ServerError> {
        let (value, commit) = self.transact(buckets, work)?;
        self.backend.wait(commit)?;
        Ok(value)
    }

    fn read<T: DeserializeOwned>(
        &self,
        bucket: Bucket,
        key: &str,
    ) -> Result<Option<T>, ServerError> {
        self.backend
            .get(bucket, key.as_bytes())?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    fn read_all<T: DeserializeOwned>(&self, bucket: Bucket) -> Result<Vec<T>, ServerError> {
        self.backend
            .values(bucket)?
            .iter()
            .map(|bytes| decode(bytes))
            .collect()
    }
}

impl DeviceStore for KvStore {
    fn device(&self, serial: &str) -> Result<Option<Device>, ServerError> {
        self.read(Bucket::Devices, serial)
    }

    fn devices(&self) -> Result<Vec<Device>, ServerError> {
        self.read_all(Bucket::Devices)
    }

    fn serials_for_key(&self, key_hex: &str) -> Result<Vec<String>, ServerError> {
        Ok(self.read(Bucket::KeyIndex, key_hex)?.unwrap_or_default())
    }

    fn scan(&self, record_id: &str) -> Result<Option<StoredScan>, ServerError> {
        self.read(Bucket::Scans, record_id)
    }

    fn ingest_scans(
        &self,
        records: &[SignedScanRecord],
        ingest: &IngestFn<'_>,
    ) -> Result<Vec<ScanOutcome>, ServerError> {
        // One transaction for the batch: each record sees the writes of those before it, and
        // the batch commits, or fails, as one; a failed batch is resent by the client and
        // deduplicated by record id.
        self.transact_durably(&INGEST, |tx| {
            records
                .iter()
                .map(|record| {
                    let planned = ingest(record, &ingest_view(tx, record)?);
                    apply(tx, &planned.writes)?;
                    Ok(planned.value)
                })
                .collect::<TxResult<Vec<_>>>()
        })
    }

    fn import_devices(
        &self,
        serials: &[String],
        import: &ImportFn<'_>,
    ) -> Result<ImportCounts, ServerError> {
        self.transact_durably(&IMPORT, |tx| {
            let stored = serials
                .iter()
                .map(|serial| get::<Device>(tx, Bucket::Devices, serial.as_bytes()))
                .collect::<TxResult<Vec<_>>>()?;
            let planned = import(&stored)?;
            apply(tx, &planned.writes)?;
            Ok(planned.value)
        })
    }

    fn import(&self, id: &str) -> Result<Option<ImportRecord>, ServerError> {
        self.read(Bucket::Imports, id)
    }

    fn update_device(
        &self,
        serial: &str,
        change: &DeviceFn<'_>,
    ) -> Result<(Device, Commit), ServerError> {
        self.transact(&DEVICE_CHANGE, |tx| {
            let missing = || format!("no device with serial {serial:?}");
            let current: Device = existing(tx, Bucket::Devices, serial, &missing)?;
            let planned = change(current)?;
            apply(tx, &planned.writes)?;
            Ok(planned.value)
        })
    }
}

impl StaffStore for KvStore {
    fn put_invite(
        &self,
        code_sha256: &str,
        invite: &InviteRecord,
        audit: AuditNote,
    ) -> Result<(), ServerError> {
        let plan = WritePlan {
            invites: vec![(code_sha256.to_string(), invite.clone())],
            audit: vec![audit],
            ..WritePlan::at(invite.created_at_ms)
        };
        self.transact_durably(&[Bucket::Invites, Bucket::Audit, Bucket::Meta], |tx| {
            apply(tx, &plan)
        })
    }

    fn invite(&self, code_sha256: &str) -> Result<Option<InviteRecord>, ServerError> {
        self.read(Bucket::Invites, code_sha256)
    }

    fn redeem_invite(
        &self,
        code_sha256: &str,
        redeem: &RedeemFn<'_>,
    ) -> Result<Option<StaffMember>, ServerError> {
        let buckets = [
            Bucket::Invites,
            Bucket::Staff,
            Bucket::Certs,
            Bucket::Audit,
            Bucket::Meta,
        ];
        self.transact_durably(&buckets, |tx| {
            let invite = get(tx, Bucket::Invites, code_sha256.as_bytes())?;
            let Some(planned) = redeem(invite)? else {
                return Ok(None);
            };
            apply(tx, &planned.writes)?;
            Ok(Some(planned.value))
        })
    }

    fn staff(&self, key_id: &str) -> Result<Option<StaffMember>, ServerError> {
        self.read(Bucket::Staff, key_id)
    }

    fn all_staff(&self) -> Result<Vec<StaffMember>, ServerError> {
        self.read_all(Bucket::Staff)
    }

    fn update_staff(&self, key_id: &str, change: &StaffFn<'_>) -> Result<StaffMember, ServerError> {
        self.transact_durably(&STAFF_CHANGE, |tx| {
            let missing = || format!("no staff member with key id {key_id}");
            let current: StaffMember = existing(tx, Bucket::Staff, key_id, &missing)?;
            let planned = change(current)?;
            apply(tx, &planned.writes)?;
            Ok(planned.value)
        })
    }
}

impl EnrollmentStore for KvStore {
    fn put_challenge(
        &self,
        nonce: &str,
        challenge: &ChallengeRecord,
        now_ms: u64,
    ) -> Result<(), ServerError> {
        let stored = self.backend.put_challenge(
            nonce.as_bytes(),
            encode(challenge)?,
            challenge.expires_at_ms,
            now_ms,
            self.challenge_limit,
        )?;
        if !stored {
            return Err(ServerError::refuse(
                ErrorCode::Busy,
                "too many outstanding enrollment challenges; try again later",
            ));
        }
        Ok(())
    }

    fn put_challenge_for_device(
        &self,
        nonce: &str,
        challenge: &ChallengeRecord,
        now_ms: u64,
        vouched: &dyn Fn(&Device) -> bool,
    ) -> Result<ChallengeStored, ServerError> {
        let new = NewChallenge {
            nonce: nonce.as_bytes(),
            value: encode(challenge)?,
            expires_at_ms: challenge.expires_at_ms,
        };
        let (found, stored) = self.backend.put_challenge_if_present(
            new,
            now_ms,
            self.challenge_limit,
            Bucket::Devices,
            challenge.serial.as_bytes(),
        )?;
        let Some(device) = found else {
            return Ok(ChallengeStored::UnknownSerial);
        };
        if !vouched(&decode(&device)?) {
            // Stored because the serial is known (a device only announced by a manifest, say);
            // removed before anyone learns the nonce.
            if stored {
                let _gone = self.backend.take_challenge(nonce.as_bytes())?;
            }
            return Ok(ChallengeStored::UnknownSerial);
        }
        if !stored {
            return Ok(ChallengeStored::Full);
        }
        Ok(ChallengeStored::Stored)
    }

    fn take_challenge(&self, nonce: &str) -> Result<Option<ChallengeRecord>, ServerError> {
        self.backend
            .take_challenge(nonce.as_bytes())?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    fn take_challenge_and_device(
        &self,
        nonce: &str,
        serial: &str,
    ) -> Result<(Option<ChallengeRecord>, Option<Device>), ServerError> {
        let (taken, device) = self.backend.take_challenge_then_get(
            nonce.as_bytes(),
            Bucket::Devices,
            serial.as_bytes(),
        )?;
        let taken = taken.map(|bytes| decode(&bytes)).transpose()?;
        Ok((taken, device.map(|bytes| decode(&bytes)).transpose()?))
    }

    fn purge_challenges(&self, now_ms: u64) -> Result<usize, ServerError> {
        self.backend.purge_challenges(now_ms)
    }

    fn update_certificate(&self, serial: &str, change: &CertFn<'_>) -> Result<(), ServerError> {
        self.transact_durably(&[Bucket::Certs, Bucket::Audit, Bucket::Meta], |tx| {
            let plan = change(get(tx, Bucket::Certs, serial.as_bytes())?)?;
            apply(tx, &plan)
        })
    }

    fn certificate(&self, serial: &str) -> Result<Option<CertRecord>, ServerError> {
        self.read(Bucket::Certs, serial)
    }

    fn revoked_certificates(&self) -> Result<Vec<CertRecord>, ServerError> {
        let mut all = self.read_all::<CertRecord>(Bucket::Certs)?;
        all.retain(|c| c.revoked_at_ms.is_some());
        Ok(all)
    }
}

impl AuditStore for KvStore {
    fn append_audit(&self, note: AuditNote, now_ms: u64) -> Result<AuditEntry, ServerError> {
        self.transact_durably(&[Bucket::Audit, Bucket::Meta], |tx| {
            append_audit(tx, &note, now_ms)
        })
    }

    fn audit_entries(&self) -> Result<Vec<AuditEntry>, ServerError> {
        self.read_all(Bucket::Audit)
    }
}

impl Durability for KvStore {
    fn durable(&self, commit: Commit) -> DurableFuture {
        self.backend.durable(commit)
    }

    fn wait(&self, commit: Commit) -> Result<(), ServerError> {
        self.backend.wait(commit)
    }

    fn fence(&self) -> Commit {
        self.backend.fence()
    }

    fn sync_stats(&self) -> SyncStats {
        self.backend.sync_stats()
    }

    fn latency(&self) -> Latency {
        self.backend.latency()
    }
}

/// Entries written per transaction when a dump is loaded (a sled transaction holds its writes
/// in memory until it commits).
const LOAD_CHUNK: usize = 10_000;

impl BackupStore for KvStore {
    fn snapshot(&self) -> Result<BucketDump, ServerError> {
        self.backend.snapshot()
    }

    fn load(&self, dump: &BucketDump) -> Result<(), ServerError> {
        for bucket in Bucket::ALL {
            if !self.backend.values(bucket)?.is_empty() {
                return Err(ServerError::refuse(
                    ErrorCode::Conflict,
                    format!(
                        "the store is not empty (its {} bucket holds data): a backup is loaded \
                     only into an empty store",
                        bucket.name()
                    ),
                ));
            }
        }
        let mut last = None;
        for (bucket, entries) in dump {
            for chunk in entries.chunks(LOAD_CHUNK) {
                let (_, commit) = self.transact(&[*bucket], |tx| {
                    for (key, value) in chunk {
                        tx.put(*bucket, key, value.clone())?;
                    }
                    Ok(())
                })?;
                last = Some(commit);
            }
        }
        if let Some(commit) = last {
            self.backend.wait(commit)?;
        }
        Ok(())
    }
}
