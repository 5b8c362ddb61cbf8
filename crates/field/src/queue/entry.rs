//! What the queue stores for each record, and the record's sync state.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vouch_protocol::key::hex;
use vouch_protocol::wire::{ErrorCode, QueueState};
use vouch_protocol::SignedScanRecord;

/// Where a record stands with the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RecordState {
    /// Durably queued; not sent yet (or sent without an answer: it will be sent again).
    Queued,
    /// Part of an upload in flight. After a crash it counts as queued and is sent again.
    Syncing,
    /// The server accepted it.
    Accepted,
    /// The server already had it (sent before, answer lost): as good as accepted.
    Duplicate,
    /// The server is missing an earlier record of this install (`sequence_gap`): it holds
    /// this one back. It is sent again at each sync until the missing record arrives or a
    /// supervisor accepts the gap; it never counts as refused.
    Held {
        /// The server's stable code (`sequence_gap`).
        code: ErrorCode,
        /// The server's message.
        message: String,
    },
    /// The server refused it, with its reason.
    Refused {
        /// The server's stable code (`bad_signature`, `sequence_gap`, ...).
        code: ErrorCode,
        /// The server's message.
        message: String,
    },
}

impl RecordState {
    /// The state's name: `queued`, `syncing`, `held`, `accepted`, `duplicate` or `refused`.
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The state without its details, as the contract names it for the app and the CLI.
    pub fn kind(&self) -> QueueState {
        match self {
            RecordState::Queued => QueueState::Queued,
            RecordState::Syncing => QueueState::Syncing,
            RecordState::Held { .. } => QueueState::Held,
            RecordState::Accepted => QueueState::Accepted,
            RecordState::Duplicate => QueueState::Duplicate,
            RecordState::Refused { .. } => QueueState::Refused,
        }
    }

    /// Still to be sent (queued, syncing when the last upload had no answer, or held).
    pub fn is_unsynced(&self) -> bool {
        matches!(
            self,
            RecordState::Queued | RecordState::Syncing | RecordState::Held { .. }
        )
    }

    /// Answered as held by the server (accepted or duplicate).
    pub fn is_synced(&self) -> bool {
        matches!(self, RecordState::Accepted | RecordState::Duplicate)
    }
}

/// The mutable part of a queued record (kept apart from the record so updates stay small).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateEntry {
    /// The state.
    #[serde(flatten)]
    pub state: RecordState,
    /// When the state last changed, milliseconds since the Unix epoch.
    pub updated_at_ms: u64,
    /// Uploads that carried this record.
    pub attempts: u32,
}

/// The immutable part of a queued record: the signed record in its wire form, and the fields
/// a list shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// Sequence number in this install's chain.
    pub sequence: u64,
    /// Record id, hex.
    pub record_id: String,
    /// The device serial.
    pub serial: String,
    /// The device model, absent for DPP labels.
    pub model: Option<String>,
    /// The label key, compressed SEC1, hex.
    pub device_key: String,
    /// The label key's fingerprint.
    pub key_fingerprint: String,
    /// The label exactly as read.
    pub label_text: String,
    /// Site or work order.
    pub site: String,
    /// Note.
    pub note: Option<String>,
    /// When scanned (install clock), milliseconds since the Unix epoch.
    pub scanned_at_ms: u64,
    /// When it became durable in the queue.
    pub queued_at_ms: u64,
    /// The signed record, JSON wire form (PROTOCOL.md 5.5): exactly what sync sends.
    pub wire: Value,
}

impl StoredRecord {
    /// Builds the stored form of a signed record.
    pub fn new(signed: &SignedScanRecord, queued_at_ms: u64) -> Result<Self, serde_json::Error> {
        let r = signed.record();
        let label = r.label();
        Ok(Self {
            sequence: r.sequence(),
            record_id: r.record_id().to_hex(),
            serial: label.serial().as_str().to_string(),
            model: label.model().map(|m| m.as_str().to_string()),
            device_key: hex(&label.key().to_sec1_compressed()),
            key_fingerprint: label.key().fingerprint().to_string(),
            label_text: r.label_text().to_string(),
            site: r.site().to_string(),
            note: r.note().map(str::to_string),
            scanned_at_ms: r.scanned_at_ms(),
            queued_at_ms,
            wire: serde_json::to_value(signed)?,
        })
    }
}

/// One record of the queue with its state: what `queue` lists and `export` writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Sequence number in this install's chain.
    pub sequence: u64,
    /// Record id, hex.
    pub record_id: String,
    /// The device serial.
    pub serial: String,
    /// The device model, absent for DPP labels.
    pub model: Option<String>,
    /// The label key's fingerprint.
    pub key_fingerprint: String,
    /// The label exactly as read.
    pub label_text: String,
    /// Site or work order.
    pub site: String,
    /// Note.
    pub note: Option<String>,
    /// When scanned (install clock), milliseconds since the Unix epoch.
    pub scanned_at_ms: u64,
    /// When it became durable in the queue.
    pub queued_at_ms: u64,
    /// Sync state (flattened: `state`, and `code` and `message` when refused).
    #[serde(flatten)]
    pub state: RecordState,
    /// When the state last changed.
    pub updated_at_ms: u64,
    /// Uploads that carried this record.
    pub attempts: u32,
    /// The signed record, JSON wire form.
    pub record: Value,
}

impl QueueEntry {
    pub(crate) fn join(record: StoredRecord, state: StateEntry) -> Self {
        Self {
            sequence: record.sequence,
            record_id: record.record_id,
            serial: record.serial,
            model: record.model,
            key_fingerprint: record.key_fingerprint,
            label_text: record.label_text,
            site: record.site,
            note: record.note,
            scanned_at_ms: record.scanned_at_ms,
            queued_at_ms: record.queued_at_ms,
            state: state.state,
            updated_at_ms: state.updated_at_ms,
            attempts: state.attempts,
            record: record.wire,
        }
    }
}

/// How many records are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Waiting to be sent.
    pub queued: usize,
    /// In an upload without an answer yet (sent again on the next sync).
    pub syncing: usize,
    /// Accepted by the server.
    pub accepted: usize,
    /// Already held by the server.
    pub duplicate: usize,
    /// Held back by the server until an earlier record arrives or a gap is accepted.
    pub held: usize,
    /// Refused by the server.
    pub refused: usize,
}

impl Counts {
    /// Records not yet answered by the server.
    pub fn unsynced(&self) -> usize {
        self.queued + self.syncing + self.held
    }

    /// Every record in the queue.
    pub fn total(&self) -> usize {
        self.queued + self.syncing + self.held + self.accepted + self.duplicate + self.refused
    }

    pub(crate) fn add(&mut self, state: &RecordState) {
        match state {
            RecordState::Queued => self.queued += 1,
            RecordState::Syncing => self.syncing += 1,
            RecordState::Accepted => self.accepted += 1,
            RecordState::Duplicate => self.duplicate += 1,
            RecordState::Held { .. } => self.held += 1,
            RecordState::Refused { .. } => self.refused += 1,
        }
    }
}
