//! The offline queue: this install's signed scan records in sled, on the tablet's disk.
//!
//! # Layout
//!
//! One sled database in `DATA/queue/` with three trees:
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `records` | sequence, `u64` big-endian | [`StoredRecord`] as JSON: the signed record in its wire form plus the fields a list shows; never changed once written |
//! | `states` | sequence | [`StateEntry`] as JSON: queued, syncing, accepted, duplicate or refused (code, message) |
//! | `meta` | `chain` | the install's [`ChainHead`] (next sequence, last record hash) as JSON |
//! | | `acked` | the resume point: the highest sequence up to which every record has the server's answer (`u64` big-endian) |
//!
//! A record, its state and the new chain head are written in **one sled transaction**, so a
//! crash leaves either all three or none. The chain head moves only by that transaction.
//!
//! # Durability
//!
//! sled 0.34.7's `flush()` writes its log and calls `sync_file_range`, which does not flush the
//! file's metadata or the disk's cache, so on its own it does not survive a power cut.
//! [`Queue::make_durable`] therefore calls `flush()` and then `fsync`s the `db` file (the log
//! sled writes everything to), as the server's store does. A scan is confirmed only after that
//! returns (`tests/durability.rs` proves the order with strace). Opening the queue also fsyncs
//! the folders, so the files sled creates are durable names.
//!
//! # What is deleted
//!
//! Unsynced records (queued, syncing) are never deleted, and neither are refused ones.
//! [`Queue::prune`] removes records the server answered `accepted` or `duplicate` once they are
//! older than the retention setting (`[queue] retention_days`).

mod entry;

use std::path::{Path, PathBuf};

use serde_json::Value;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use vouch_protocol::ChainHead;

pub use entry::{Counts, QueueEntry, RecordState, StateEntry, StoredRecord};

use crate::error::{Error, Result};

const CHAIN: &[u8] = b"chain";
const ACKED: &[u8] = b"acked";

/// The queue database.
pub struct Queue {
    db: sled::Db,
    records: sled::Tree,
    states: sled::Tree,
    meta: sled::Tree,
    dir: PathBuf,
    db_file: PathBuf,
}

/// A record to send: its sequence, id and wire form.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Sequence number.
    pub sequence: u64,
    /// Record id, hex.
    pub record_id: String,
    /// The signed record, JSON wire form.
    pub wire: Value,
    /// Uploads that already carried it.
    pub attempts: u32,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("dir", &self.dir).finish()
    }
}

/// sled's page cache for the queue. Its default (1 GiB) is sized for a database server; a
/// queue of scans waiting for sync reads a few pages at a time, and the app's whole memory
/// budget is 250 MB (docs/BENCHMARKS.md, "App").
const QUEUE_CACHE_BYTES: u64 = 8 * 1024 * 1024;

fn key(sequence: u64) -> [u8; 8] {
    sequence.to_be_bytes()
}

fn seq_of(key: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(key).ok().map(u64::from_be_bytes)
}

impl Queue {
    /// Opens (or creates) the queue in `dir`. Fails with [`Error::Busy`] when another process
    /// still has it open after sled's lock wait (3 s, `vendor/sled/VOUCH-PATCH.md`, patch 5).
    pub fn open(dir: &Path) -> Result<Self> {
        vouch_support::fs::create_dir(dir, crate::DIR_MODE)?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(QUEUE_CACHE_BYTES)
            .open()
            .map_err(|e| Error::queue_open(dir, e))?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| Error::storage(dir, e));
        let queue = Self {
            records: tree("records")?,
            states: tree("states")?,
            meta: tree("meta")?,
            db_file: dir.join("db"),
            dir: dir.to_path_buf(),
            db,
        };
        // Make the names of the files sled created durable before anything is confirmed.
        queue.make_durable()?;
        vouch_support::fs::sync_dir(dir)?;
        if let Some(parent) = dir.parent() {
            vouch_support::fs::sync_dir(parent)?;
        }
        queue.check_consistency()?;
        Ok(queue)
    }

    /// The queue folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::storage(&self.dir, e)
    }

    fn tx_err(&self, e: TransactionError<Error>) -> Error {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.err(e),
        }
    }

    fn check_consistency(&self) -> Result<()> {
        let head = self.chain()?;
        if let Some((k, _)) = self.records.last().map_err(|e| self.err(e))? {
            match seq_of(&k) {
                Some(last) if last < head.next_sequence => {}
                _ => {
                    return Err(Error::Corrupt {
                        what: format!(
                            "a record lies beyond the chain head (next sequence {})",
                            head.next_sequence
                        ),
                    })
                }
            }
        }
        Ok(())
    }

    /// Makes every write so far durable: sled's `flush()` (which only issues
    /// `sync_file_range`), then `fsync` of sled's `db` file.
    pub fn make_durable(&self) -> Result<()> {
        self.db.flush().map_err(|e| self.err(e))?;
        vouch_support::fs::sync_file(&self.db_file).map_err(|e| self.err(e))
    }

    /// The install's chain head: the next sequence and the last record's hash.
    pub fn chain(&self) -> Result<ChainHead> {
        match self.meta.get(CHAIN).map_err(|e| self.err(e))? {
            None => Ok(ChainHead::GENESIS),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                what: format!("the chain head: {e}"),
            }),
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str, seq: u64) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
            what: format!("{what} of record #{seq}: {e}"),
        })
    }

    /// The stored record with this sequence, if the queue still holds it.
    pub fn record(&self, sequence: u64) -> Result<Option<StoredRecord>> {
        match self.records.get(key(sequence)).map_err(|e| self.err(e))? {
            None => Ok(None),
            Some(bytes) => Self::decode(&bytes, "the record", sequence).map(Some),
        }
    }

    fn state(&self, sequence: u64) -> Result<StateEntry> {
        match self.states.get(key(sequence)).map_err(|e| self.err(e))? {
            None => Err(Error::Corrupt {
                what: format!("record #{sequence} has no state"),
            }),
            Some(bytes) => Self::decode(&bytes, "the state", sequence),
        }
    }

    /// The record and state with this sequence.
    pub fn entry(&self, sequence: u64) -> Result<Option<QueueEntry>> {
        match self.record(sequence)? {
            None => Ok(None),
            Some(r) => Ok(Some(QueueEntry::join(r, self.state(sequence)?))),
        }
    }

    /// Appends a record if the chain head is still `expected`, in one transaction with its
    /// state (queued) and the new head. Returns `false` (and writes nothing) if the head moved,
    /// so the caller rebuilds the record on the new head. Not durable until
    /// [`Self::make_durable`].
    pub fn append(
        &self,
        expected: &ChainHead,
        record: &StoredRecord,
        new_head: &ChainHead,
    ) -> Result<bool> {
        let k = key(record.sequence);
        let record_bytes = serde_json::to_vec(record).map_err(|e| self.err(e))?;
        let state_bytes = serde_json::to_vec(&StateEntry {
            state: RecordState::Queued,
            updated_at_ms: record.queued_at_ms,
            attempts: 0,
        })
        .map_err(|e| self.err(e))?;
        let head_bytes = serde_json::to_vec(new_head).map_err(|e| self.err(e))?;
        let expected_bytes = serde_json::to_vec(expected).map_err(|e| self.err(e))?;
        let genesis = *expected == ChainHead::GENESIS;
        (&self.records, &self.states, &self.meta)
            .transaction(|(records, states, meta)| {
                let current = meta.get(CHAIN)?;
                let unchanged = match &current {
                    None => genesis,
                    Some(bytes) => bytes.as_ref() == expected_bytes.as_slice(),
                };
                if !unchanged || records.get(k)?.is_some() {
                    return Ok(false);
                }
                records.insert(&k, record_bytes.as_slice())?;
                states.insert(&k, state_bytes.as_slice())?;
                meta.insert(CHAIN, head_bytes.as_slice())?;
                Ok::<_, ConflictableTransactionError<Error>>(true)
            })
            .map_err(|e| self.tx_err(e))
    }

    /// The records from sequence `from` on, oldest first, each with its state, and the chain
    /// head they end at.
    pub fn tail(&self, from: u64) -> Result<(Vec<(StoredRecord, StateEntry)>, ChainHead)> {
        let head = self.chain()?;
        let mut out = Vec::new();
        for item in self.records.range(key(from)..) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let seq = seq_of(&k).unwrap_or(0);
            let record: StoredRecord = Self::decode(&v, "the record", seq)?;
            out.push((record, self.state(seq)?));
        }
        Ok((out, head))
    }

    /// Replaces every record from `from` on with `rebuilt` (queued, never sent) and sets the
    /// chain head to `new_head`, in one transaction, if the head is still `expected`. Returns
    /// `false` (and writes nothing) if the head moved. Durable when it returns `true`.
    ///
    /// This is how a record is taken back before it is sent: the records after it are signed
    /// again on the shortened chain, so the server sees no gap.
    pub fn replace_tail(
        &self,
        from: u64,
        expected: &ChainHead,
        rebuilt: &[StoredRecord],
        new_head: &ChainHead,
    ) -> Result<bool> {
        let expected_bytes = serde_json::to_vec(expected).map_err(|e| self.err(e))?;
        let head_bytes = serde_json::to_vec(new_head).map_err(|e| self.err(e))?;
        let mut writes = Vec::with_capacity(rebuilt.len());
        for record in rebuilt {
            let state = StateEntry {
                state: RecordState::Queued,
                updated_at_ms: record.queued_at_ms,
                attempts: 0,
            };
            writes.push((
                key(record.sequence),
                serde_json::to_vec(record).map_err(|e| self.err(e))?,
                serde_json::to_vec(&state).map_err(|e| self.err(e))?,
            ));
        }
        let doomed: Vec<[u8; 8]> = (from..expected.next_sequence).map(key).collect();
        let done = (&self.records, &self.states, &self.meta)
            .transaction(|(records, states, meta)| {
                if meta.get(CHAIN)?.as_deref() != Some(expected_bytes.as_slice()) {
                    return Ok(false);
                }
                for k in &doomed {
                    records.remove(k)?;
                    states.remove(k)?;
                }
                for (k, record, state) in &writes {
                    records.insert(k, record.as_slice())?;
                    states.insert(k, state.as_slice())?;
                }
                meta.insert(CHAIN, head_bytes.as_slice())?;
                Ok::<_, ConflictableTransactionError<Error>>(true)
            })
            .map_err(|e| self.tx_err(e))?;
        if done {
            self.make_durable()?;
        }
        Ok(done)
    }

    /// Every record still in the queue, oldest first, with its state.
    pub fn entries(&self) -> Result<Vec<QueueEntry>> {
        let mut out = Vec::new();
        for item in self.records.iter() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let seq = seq_of(&k).unwrap_or(0);
            let record: StoredRecord = Self::decode(&v, "the record", seq)?;
            out.push(QueueEntry::join(record, self.state(seq)?));
        }
        Ok(out)
    }

    /// How many records are in each state.
    pub fn counts(&self) -> Result<Counts> {
        let mut counts = Counts::default();
        for item in self.states.iter() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let state: StateEntry = Self::decode(&v, "the state", seq_of(&k).unwrap_or(0))?;
            counts.add(&state.state);
        }
        Ok(counts)
    }

    /// The resume point: every record up to this sequence has the server's answer.
    pub fn acked(&self) -> Result<u64> {
        Ok(self
            .meta
            .get(ACKED)
            .map_err(|e| self.err(e))?
            .and_then(|b| seq_of(&b))
            .unwrap_or(0))
    }

    /// Up to `limit` unsynced records after the resume point, in sequence order.
    pub fn pending(&self, limit: usize) -> Result<Vec<Pending>> {
        self.pending_from(self.acked()?.saturating_add(1), limit)
    }

    /// Up to `limit` unsynced records from sequence `from` on, in sequence order (a sync moves
    /// `from` past each batch, so a record held back by the server is sent once per sync).
    pub fn pending_from(&self, from: u64, limit: usize) -> Result<Vec<Pending>> {
        let mut out = Vec::new();
        for item in self.records.range(key(from)..) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item.map_err(|e| self.err(e))?;
            let seq = seq_of(&k).unwrap_or(0);
            let state = self.state(seq)?;
            if !state.state.is_unsynced() {
                continue;
            }
            let record: StoredRecord = Self::decode(&v, "the record", seq)?;
            out.push(Pending {
                sequence: seq,
                record_id: record.record_id,
                wire: record.wire,
                attempts: state.attempts,
            });
        }
        Ok(out)
    }

    /// Marks records as in an upload (`syncing`) or, after an upload without an answer, back
    /// to `queued`; either way with the upload counted in `attempts` (`batch` holds the counts
    /// from before it), since the server may hold what it carried: a record with attempts can
    /// no longer be undone ([`crate::Field::undo_scan`]). Not fsynced: after a crash a
    /// `syncing` record is simply sent again.
    pub fn mark(&self, batch: &[Pending], syncing: bool, now_ms: u64) -> Result<()> {
        let mut writes = sled::Batch::default();
        for p in batch {
            let entry = StateEntry {
                state: if syncing {
                    RecordState::Syncing
                } else {
                    RecordState::Queued
                },
                updated_at_ms: now_ms,
                attempts: p.attempts.saturating_add(1),
            };
            let bytes = serde_json::to_vec(&entry).map_err(|e| self.err(e))?;
            writes.insert(&key(p.sequence), bytes);
        }
        self.states.apply_batch(writes).map_err(|e| self.err(e))
    }

    /// Stores the server's answers for a batch and moves the resume point past it, in one
    /// transaction, and makes it durable.
    pub fn store_outcomes(&self, answers: &[(Pending, RecordState)], now_ms: u64) -> Result<()> {
        let mut encoded = Vec::with_capacity(answers.len());
        for (p, state) in answers {
            let entry = StateEntry {
                state: state.clone(),
                updated_at_ms: now_ms,
                attempts: p.attempts.saturating_add(1),
            };
            encoded.push((
                key(p.sequence),
                serde_json::to_vec(&entry).map_err(|e| self.err(e))?,
            ));
        }
        let acked = self.acked()?;
        let answered = |seq: u64| {
            answers
                .iter()
                .find(|(p, _)| p.sequence == seq)
                .map(|(_, state)| !state.is_unsynced())
        };
        let resume = self.answered_through(acked, &answered)?;
        (&self.states, &self.meta)
            .transaction(|(states, meta)| {
                for (k, v) in &encoded {
                    states.insert(k, v.as_slice())?;
                }
                if resume > acked {
                    meta.insert(ACKED, &key(resume))?;
                }
                Ok::<_, ConflictableTransactionError<Error>>(())
            })
            .map_err(|e| self.tx_err(e))?;
        self.make_durable()
    }

    /// The last sequence up to which, from `acked` on, every record has a final answer, taking
    /// `answered` (this batch's answers: `Some(final?)`) over the stored states. A held or
    /// unsynced record stops the resume point before it.
    fn answered_through(&self, acked: u64, answered: &dyn Fn(u64) -> Option<bool>) -> Result<u64> {
        let mut through = acked;
        for item in self.records.range(key(acked.saturating_add(1))..) {
            let (k, _) = item.map_err(|e| self.err(e))?;
            let seq = seq_of(&k).unwrap_or(0);
            let done = match answered(seq) {
                Some(done) => done,
                None => !self.state(seq)?.state.is_unsynced(),
            };
            if !done {
                break;
            }
            through = seq;
        }
        Ok(through)
    }

    /// Removes records the server holds (accepted, duplicate) whose state is older than
    /// `cutoff_ms`. Unsynced and refused records are never removed. Returns how many went.
    pub fn prune(&self, cutoff_ms: u64) -> Result<usize> {
        let mut doomed = Vec::new();
        for item in self.states.iter() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let state: StateEntry = Self::decode(&v, "the state", seq_of(&k).unwrap_or(0))?;
            if state.state.is_synced() && state.updated_at_ms < cutoff_ms {
                doomed.push(k);
            }
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        (&self.records, &self.states)
            .transaction(|(records, states)| {
                for k in &doomed {
                    records.remove(k)?;
                    states.remove(k)?;
                }
                Ok::<_, ConflictableTransactionError<Error>>(())
            })
            .map_err(|e| self.tx_err(e))?;
        self.make_durable()?;
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use p256::ecdsa::SigningKey;
    use std::collections::BTreeSet;
    use vouch_protocol::key::public_key_of;
    use vouch_protocol::{Label, Model, NewScan, RecordId, ScanRecord, Serial};

    #[test]
    fn a_damaged_queue_folder_says_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("conf"), b"not sled\n").unwrap();
        std::fs::write(dir.path().join("db"), [0x5a; 4096]).unwrap();
        let err = Queue::open(dir.path()).err().unwrap();
        assert_eq!(err.code(), "queue_damaged", "{err}");
        let text = err.to_string();
        assert!(
            text.contains("is damaged or is not a vouch-field queue")
                && !text.contains("free space"),
            "{text}"
        );
    }

    struct Maker {
        staff: SigningKey,
    }

    impl Maker {
        fn new() -> Self {
            Self {
                staff: SigningKey::random(&mut rand_core::OsRng),
            }
        }

        /// Appends record `i` on the current head.
        fn append(&self, q: &Queue, i: u8) -> StoredRecord {
            let head = q.chain().unwrap();
            let device = SigningKey::from_slice(&[i.max(1); 32]).unwrap();
            let label = Label::new(
                Model::new("M").unwrap(),
                Serial::new(&format!("S-{i}")).unwrap(),
                public_key_of(&device),
            );
            let text = label.to_compact().unwrap();
            let record = ScanRecord::new(
                public_key_of(&self.staff).key_id(),
                &NewScan {
                    record_id: RecordId([i; 16]),
                    chain: &head,
                    scanned_at_ms: 1000 + u64::from(i),
                    label_text: &text,
                    site: "W",
                    note: None,
                },
            )
            .unwrap();
            let new_head = ChainHead::after(&record);
            let stored = StoredRecord::new(&record.sign(&self.staff).unwrap(), 5000).unwrap();
            assert!(q.append(&head, &stored, &new_head).unwrap());
            q.make_durable().unwrap();
            stored
        }
    }

    fn states(q: &Queue) -> Vec<(u64, &'static str)> {
        q.entries()
            .unwrap()
            .iter()
            .map(|e| (e.sequence, e.state.name()))
            .collect()
    }

    #[test]
    fn records_and_the_chain_head_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let m = Maker::new();
        let last = {
            let q = Queue::open(dir.path()).unwrap();
            m.append(&q, 1);
            m.append(&q, 2);
            m.append(&q, 3)
        };
        let q = Queue::open(dir.path()).unwrap();
        let head = q.chain().unwrap();
        assert_eq!(head.next_sequence, 4);
        let wire: vouch_protocol::SignedScanRecord =
            serde_json::from_value(last.wire.clone()).unwrap();
        assert_eq!(head.last_hash, wire.record().hash());
        assert_eq!(
            states(&q),
            vec![(1, "queued"), (2, "queued"), (3, "queued")]
        );
        assert_eq!(q.record(3).unwrap().unwrap(), last);
    }

    /// sled writes a snapshot to `snap.<lsn>.generating` and renames it when it is complete; a
    /// kill in between (sled writes one while opening) left a torn file that every later open
    /// read and refused as corrupt (`vendor/sled/VOUCH-PATCH.md`, patch 4).
    #[test]
    fn a_snapshot_torn_by_a_kill_does_not_stop_the_queue_opening() {
        let dir = tempfile::tempdir().unwrap();
        let m = Maker::new();
        let last = {
            let q = Queue::open(dir.path()).unwrap();
            m.append(&q, 1);
            m.append(&q, 2)
        };
        for torn in ["snap.7FFFFFFFFFFFFFFF.generating", "snap.0.generating"] {
            std::fs::write(dir.path().join(torn), b"torn by a kill").unwrap();
        }
        let q = Queue::open(dir.path()).unwrap();
        assert_eq!(q.chain().unwrap().next_sequence, 3);
        assert_eq!(q.record(2).unwrap().unwrap(), last);
        m.append(&q, 3);
        drop(q);
        let q = Queue::open(dir.path()).unwrap();
        assert_eq!(states(&q).len(), 3);
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    fn snapshot_names(dir: &Path) -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("snap."))
            .collect()
    }

    /// A killed writer can leave `snap.<lsn>.generating` at exactly the name the next open
    /// writes; when the leftover was longer, its tail used to stay behind the new snapshot and
    /// break its checksum once renamed (`vendor/sled/VOUCH-PATCH.md`, patch 4).
    #[test]
    fn a_longer_leftover_of_the_next_snapshot_is_overwritten_whole() {
        let dir = tempfile::tempdir().unwrap();
        let m = Maker::new();
        {
            let q = Queue::open(dir.path()).unwrap();
            m.append(&q, 1);
            m.append(&q, 2);
        }
        // The log grew since the last snapshot, so the next open writes one: learn its name by
        // opening a copy (recovery is deterministic).
        let probe = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), probe.path());
        drop(Queue::open(probe.path()).unwrap());
        let before = snapshot_names(dir.path());
        let next: Vec<String> = snapshot_names(probe.path())
            .difference(&before)
            .cloned()
            .collect();
        assert_eq!(next.len(), 1, "{before:?} then {next:?}");
        std::fs::write(
            dir.path().join(format!("{}.generating", next[0])),
            vec![0xA5; 64 * 1024],
        )
        .unwrap();
        drop(Queue::open(dir.path()).unwrap()); // writes that snapshot over the leftover
        let q = Queue::open(dir.path()).unwrap(); // and reads it
        assert_eq!(states(&q), vec![(1, "queued"), (2, "queued")]);
    }

    #[test]
    fn an_append_on_a_stale_head_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path()).unwrap();
        let m = Maker::new();
        let first = m.append(&q, 1);
        // Pretend to build on the genesis head again.
        let again = StoredRecord {
            sequence: 1,
            ..first
        };
        assert!(!q
            .append(&ChainHead::GENESIS, &again, &ChainHead::GENESIS)
            .unwrap());
        assert_eq!(q.counts().unwrap().total(), 1);
        assert_eq!(q.chain().unwrap().next_sequence, 2);
    }

    #[test]
    fn sync_resumes_after_the_last_answered_batch() {
        let dir = tempfile::tempdir().unwrap();
        let m = Maker::new();
        {
            let q = Queue::open(dir.path()).unwrap();
            for i in 1..=5 {
                m.append(&q, i);
            }
            let batch = q.pending(2).unwrap();
            assert_eq!(batch.iter().map(|p| p.sequence).collect::<Vec<_>>(), [1, 2]);
            q.mark(&batch, true, 6000).unwrap();
            let answers: Vec<_> = batch
                .into_iter()
                .map(|p| (p, RecordState::Accepted))
                .collect();
            q.store_outcomes(&answers, 6001).unwrap();
            assert_eq!(q.acked().unwrap(), 2);
            // The next batch goes out and the process dies before the answer.
            let batch = q.pending(2).unwrap();
            assert_eq!(batch.iter().map(|p| p.sequence).collect::<Vec<_>>(), [3, 4]);
            q.mark(&batch, true, 6002).unwrap();
        }
        let q = Queue::open(dir.path()).unwrap();
        assert_eq!(
            states(&q),
            vec![
                (1, "accepted"),
                (2, "accepted"),
                (3, "syncing"),
                (4, "syncing"),
                (5, "queued")
            ]
        );
        let batch = q.pending(10).unwrap();
        assert_eq!(
            batch.iter().map(|p| p.sequence).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(batch[0].attempts, 1);
        let answers = vec![
            (batch[0].clone(), RecordState::Duplicate),
            (
                batch[1].clone(),
                RecordState::Refused {
                    code: "bad_signature".into(),
                    message: "no".into(),
                },
            ),
            (batch[2].clone(), RecordState::Accepted),
        ];
        q.store_outcomes(&answers, 7000).unwrap();
        assert!(q.pending(10).unwrap().is_empty());
        let c = q.counts().unwrap();
        assert_eq!(
            (c.accepted, c.duplicate, c.refused, c.unsynced()),
            (3, 1, 1, 0)
        );
        assert_eq!(q.entry(3).unwrap().unwrap().attempts, 2);
    }

    #[test]
    fn a_held_record_keeps_the_resume_point_before_it_and_is_sent_once_per_sync() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path()).unwrap();
        let m = Maker::new();
        for i in 1..=4 {
            m.append(&q, i);
        }
        let held = || RecordState::Held {
            code: "sequence_gap".into(),
            message: "record 2 is missing".into(),
        };
        let batch = q.pending(2).unwrap();
        q.store_outcomes(
            &[
                (batch[0].clone(), RecordState::Accepted),
                (batch[1].clone(), held()),
            ],
            100,
        )
        .unwrap();
        assert_eq!(
            q.acked().unwrap(),
            1,
            "the resume point stops before a held record"
        );
        // Within one sync the next batch starts after the last one sent...
        let next = q.pending_from(3, 10).unwrap();
        assert_eq!(next.iter().map(|p| p.sequence).collect::<Vec<_>>(), [3, 4]);
        q.store_outcomes(
            &[
                (next[0].clone(), RecordState::Accepted),
                (next[1].clone(), RecordState::Accepted),
            ],
            101,
        )
        .unwrap();
        assert_eq!(
            q.acked().unwrap(),
            1,
            "answers after a held record do not pass it"
        );
        // ...and the next sync starts with the held record again.
        let again = q.pending(10).unwrap();
        assert_eq!(again.iter().map(|p| p.sequence).collect::<Vec<_>>(), [2]);
        let c = q.counts().unwrap();
        assert_eq!((c.held, c.unsynced(), c.refused), (1, 1, 0));
        q.store_outcomes(&[(again[0].clone(), RecordState::Accepted)], 102)
            .unwrap();
        assert_eq!(
            q.acked().unwrap(),
            4,
            "once answered, the resume point jumps past all"
        );
        assert!(q.pending(10).unwrap().is_empty());
    }

    #[test]
    fn prune_removes_only_old_synced_records() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path()).unwrap();
        let m = Maker::new();
        for i in 1..=4 {
            m.append(&q, i);
        }
        let batch = q.pending(3).unwrap();
        let answers = vec![
            (batch[0].clone(), RecordState::Accepted),
            (batch[1].clone(), RecordState::Duplicate),
            (
                batch[2].clone(),
                RecordState::Refused {
                    code: "x".into(),
                    message: "y".into(),
                },
            ),
        ];
        q.store_outcomes(&answers, 10_000).unwrap();
        assert_eq!(q.prune(10_000).unwrap(), 0, "not older than the cutoff");
        assert_eq!(q.prune(10_001).unwrap(), 2);
        assert_eq!(states(&q), vec![(3, "refused"), (4, "queued")]);
        // A queued record is never pruned, however old.
        assert_eq!(q.prune(u64::MAX).unwrap(), 0);
        assert_eq!(q.chain().unwrap().next_sequence, 5);
    }

    /// sled's lock outlives a dropped handle for as long as one of its threads holds the file;
    /// an open waits for it instead of failing, and says "busy" only once the wait is over.
    #[test]
    fn an_open_waits_for_the_lock_and_then_says_busy() {
        use std::time::{Duration, Instant};
        let dir = tempfile::tempdir().unwrap();
        let held = sled::open(dir.path()).unwrap();
        let e = Queue::open(dir.path()).err().unwrap();
        assert_eq!(e.code(), "busy", "{e}");
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(held);
        });
        let started = Instant::now();
        let q = Queue::open(dir.path()).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(150));
        release.join().unwrap();
        drop(q);
    }

    #[test]
    fn a_second_process_is_told_the_folder_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let _q = Queue::open(dir.path()).unwrap();
        // What sled says when another process holds the lock (a second open in this process
        // is refused the same way, as the test above shows; this checks the mapping).
        let e = Error::queue_open(
            dir.path(),
            sled::Error::Io(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "could not acquire lock on \"x/db\": Os { code: 11 }",
            )),
        );
        assert_eq!(e.code(), "busy");
    }
}
