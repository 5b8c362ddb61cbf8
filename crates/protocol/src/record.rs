//! Scan records: what a technician's install signs for each label it reads, and the per-install
//! hash chain that lets the server see a record dropped, altered or reordered.
//!
//! # Canonical encoding (version 1)
//!
//! | field | bytes |
//! | --- | --- |
//! | version | `u8` = 1 |
//! | record id | 16 random bytes |
//! | installer | 32 bytes: [`KeyId`] of the technician install's key |
//! | sequence | `u64` big-endian, 1 for an install's first record |
//! | previous hash | 32 bytes: [`RecordHash`] of the previous record, all zero for sequence 1 |
//! | scanned at | `u64` big-endian, milliseconds since the Unix epoch (UTC) |
//! | label text | string: the label exactly as read (at most 512 bytes) |
//! | model | optional string (absent for DPP labels) |
//! | serial | string |
//! | device key | 33 bytes: compressed SEC1 P-256 key from the label |
//! | site | string (site or work order, at most 128 bytes) |
//! | note | optional string (at most 1024 bytes) |
//!
//! A string is a `u16` big-endian byte length and UTF-8 bytes (no control characters); an
//! optional string is `0x00`, or `0x01` then the string. The model, serial and key must be what
//! parsing the label text gives.
//!
//! The signature is ECDSA P-256 with SHA-256 over `"vouch scan record v1\0" || canonical`,
//! carried as 64 bytes `r || s`. The record hash is
//! `SHA-256("vouch record chain v1\0" || canonical)`; the signature is not part of it.

use alloc::string::String;
use alloc::vec::Vec;

use p256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};

use crate::codec::{check_text, Reader, Writer};
use crate::key::{
    hex, parse_hex_array, public_key_of, sha256, sign, Domain, KeyId, PublicKey, Signature,
};
use crate::label::{Label, MAX_LABEL_TEXT};
use crate::Error;

/// The record format version this build writes and reads.
pub const RECORD_VERSION: u8 = 1;
/// Longest site or work-order text, in bytes.
pub const MAX_SITE: usize = 128;
/// Longest note, in bytes.
pub const MAX_NOTE: usize = 1024;
const CHAIN_DOMAIN: &[u8] = b"vouch record chain v1\0";

crate::hex_id!(
    /// A record's unique id (16 random bytes chosen by the install): the idempotency key of sync.
    RecordId, 16, "record id"
);
crate::hex_id!(
    /// The chain hash of a record; the zero hash stands before an install's first record.
    RecordHash, 32, "record hash"
);

impl RecordHash {
    /// The hash that precedes sequence 1.
    pub const GENESIS: RecordHash = RecordHash([0; 32]);
}

/// What the caller supplies for a new record; the clock and the random id are passed in.
#[derive(Clone, Debug)]
pub struct NewScan<'a> {
    /// Random id (from the caller's CSPRNG).
    pub record_id: RecordId,
    /// The install's chain position: sequence and previous hash.
    pub chain: &'a ChainHead,
    /// Time of the scan, milliseconds since the Unix epoch.
    pub scanned_at_ms: u64,
    /// The label text exactly as read.
    pub label_text: &'a str,
    /// Site or work order.
    pub site: &'a str,
    /// Optional free text.
    pub note: Option<&'a str>,
}

/// An unsigned scan record whose fields have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanRecord {
    record_id: RecordId,
    installer: KeyId,
    sequence: u64,
    prev_hash: RecordHash,
    scanned_at_ms: u64,
    label_text: String,
    label: Label,
    site: String,
    note: Option<String>,
}

impl ScanRecord {
    /// Builds a record for `installer`'s next chain position, parsing the label text.
    pub fn new(installer: KeyId, scan: &NewScan<'_>) -> Result<Self, Error> {
        check_text(scan.site, "site", MAX_SITE)?;
        if let Some(note) = scan.note {
            check_text(note, "note", MAX_NOTE)?;
        }
        check_text(scan.label_text, "label text", MAX_LABEL_TEXT)?;
        Ok(Self {
            record_id: scan.record_id,
            installer,
            sequence: scan.chain.next_sequence,
            prev_hash: scan.chain.last_hash,
            scanned_at_ms: scan.scanned_at_ms,
            label_text: String::from(scan.label_text),
            label: Label::parse(scan.label_text)?,
            site: String::from(scan.site),
            note: scan.note.map(String::from),
        })
    }

    /// The record id.
    pub fn record_id(&self) -> RecordId {
        self.record_id
    }
    /// The key id of the install that made the record.
    pub fn installer(&self) -> KeyId {
        self.installer
    }
    /// The per-install sequence number (1 for the first record).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }
    /// The hash of the previous record of this install.
    pub fn prev_hash(&self) -> RecordHash {
        self.prev_hash
    }
    /// Scan time, milliseconds since the Unix epoch.
    pub fn scanned_at_ms(&self) -> u64 {
        self.scanned_at_ms
    }
    /// The label text as read.
    pub fn label_text(&self) -> &str {
        &self.label_text
    }
    /// The parsed label.
    pub fn label(&self) -> &Label {
        &self.label
    }
    /// Site or work order.
    pub fn site(&self) -> &str {
        &self.site
    }
    /// The note, if any.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// The canonical bytes (see the module documentation).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(RECORD_VERSION);
        w.bytes(&self.record_id.0);
        w.bytes(&self.installer.0);
        w.u64(self.sequence);
        w.bytes(&self.prev_hash.0);
        w.u64(self.scanned_at_ms);
        w.str(&self.label_text);
        w.opt_str(self.label.model().map(|m| m.as_str()));
        w.str(self.label.serial().as_str());
        w.bytes(&self.label.key().to_sec1_compressed());
        w.str(&self.site);
        w.opt_str(self.note.as_deref());
        w.0
    }

    /// Decodes canonical bytes, checking every field and the label's consistency.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, "scan record");
        let version = r.u8()?;
        if version != RECORD_VERSION {
            return Err(Error::UnknownVersion {
                what: "scan record",
                found: u32::from(version),
            });
        }
        let record_id = RecordId(r.array()?);
        let installer = KeyId(r.array()?);
        let sequence = r.u64()?;
        let prev_hash = RecordHash(r.array()?);
        let scanned_at_ms = r.u64()?;
        let label_text = r.str("label text", MAX_LABEL_TEXT)?;
        let model = r.opt_str("model", MAX_LABEL_TEXT)?;
        let serial = r.str("serial", MAX_LABEL_TEXT)?;
        let key = PublicKey::from_sec1(&r.array::<33>()?)?;
        let site = r.str("site", MAX_SITE)?;
        let note = r.opt_str("note", MAX_NOTE)?;
        r.finish()?;
        let label = Label::parse(&label_text)?;
        let parsed = LabelFields::of(&label);
        if parsed
            != (LabelFields {
                model: model.as_deref(),
                serial: &serial,
                key,
            })
        {
            return Err(Error::LabelMismatch);
        }
        let record = Self {
            record_id,
            installer,
            sequence,
            prev_hash,
            scanned_at_ms,
            label_text,
            label,
            site,
            note,
        };
        record.check_sequence()?;
        Ok(record)
    }

    fn check_sequence(&self) -> Result<(), Error> {
        if self.sequence == 0 {
            return Err(Error::OutOfRange("record sequence numbers start at 1"));
        }
        Ok(())
    }

    /// The chain hash of this record.
    pub fn hash(&self) -> RecordHash {
        let mut bytes = Vec::from(CHAIN_DOMAIN);
        bytes.extend_from_slice(&self.canonical_bytes());
        RecordHash(sha256(&bytes))
    }

    /// Signs the record with the install's key; the key must be the one the record names.
    pub fn sign(self, key: &SigningKey) -> Result<SignedScanRecord, Error> {
        if public_key_of(key).key_id() != self.installer {
            return Err(Error::InstallerMismatch);
        }
        let signature = sign(key, Domain::ScanRecord, &self.canonical_bytes());
        Ok(SignedScanRecord {
            record: self,
            signature,
        })
    }
}

#[derive(PartialEq)]
struct LabelFields<'a> {
    model: Option<&'a str>,
    serial: &'a str,
    key: PublicKey,
}

impl<'a> LabelFields<'a> {
    fn of(label: &'a Label) -> Self {
        Self {
            model: label.model().map(|m| m.as_str()),
            serial: label.serial().as_str(),
            key: *label.key(),
        }
    }
}

/// A scan record with its signature. Its signature is not checked until [`Self::verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RecordWire", into = "RecordWire")]
pub struct SignedScanRecord {
    record: ScanRecord,
    signature: Signature,
}

impl SignedScanRecord {
    /// The record.
    pub fn record(&self) -> &ScanRecord {
        &self.record
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Puts a record and a signature together (as read from storage); nothing is verified.
    pub fn from_parts(record: ScanRecord, signature: Signature) -> Self {
        Self { record, signature }
    }

    /// Checks that `key` is the install the record names and that the signature verifies.
    pub fn verify(&self, key: &PublicKey) -> Result<(), Error> {
        if key.key_id() != self.record.installer {
            return Err(Error::InstallerMismatch);
        }
        key.verify(
            Domain::ScanRecord,
            &self.record.canonical_bytes(),
            &self.signature,
        )
    }
}

/// Where an install's chain stands: the next sequence number and the last record's hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// The sequence number the next record must carry.
    pub next_sequence: u64,
    /// The hash the next record must name as its previous hash.
    pub last_hash: RecordHash,
}

impl Default for ChainHead {
    fn default() -> Self {
        Self::GENESIS
    }
}

impl ChainHead {
    /// The head before an install's first record.
    pub const GENESIS: ChainHead = ChainHead {
        next_sequence: 1,
        last_hash: RecordHash::GENESIS,
    };

    /// Checks that `record` is the next link: its sequence is the next one and its previous
    /// hash is the last record's hash.
    pub fn check_next(&self, record: &ScanRecord) -> Result<(), Error> {
        let (expected, found) = (self.next_sequence, record.sequence);
        if found < expected {
            return Err(Error::SequenceReplay { expected, found });
        }
        if found > expected {
            return Err(Error::SequenceGap { expected, found });
        }
        if record.prev_hash != self.last_hash {
            return Err(Error::ChainBroken);
        }
        Ok(())
    }

    /// The head after `record`.
    pub fn after(record: &ScanRecord) -> ChainHead {
        ChainHead {
            next_sequence: record.sequence.saturating_add(1),
            last_hash: record.hash(),
        }
    }
}

/// The JSON form of a signed record (what sync sends), field for field, before its values are
/// checked. [`SignedScanRecord`] (de)serializes through it; a server that wants the protocol's
/// own error code for a record whose JSON has the right shape but a refused value parses this
/// first, then converts it with `SignedScanRecord::try_from`, whose error has a [`code`].
///
/// [`code`]: crate::Error::code
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordWire {
    v: u8,
    record_id: String,
    installer: String,
    sequence: u64,
    prev_hash: String,
    scanned_at_ms: u64,
    label_text: String,
    model: Option<String>,
    serial: String,
    device_key: String,
    site: String,
    note: Option<String>,
    signature: String,
}

impl From<SignedScanRecord> for RecordWire {
    fn from(signed: SignedScanRecord) -> Self {
        let r = signed.record;
        Self {
            v: RECORD_VERSION,
            record_id: r.record_id.to_hex(),
            installer: r.installer.to_hex(),
            sequence: r.sequence,
            prev_hash: r.prev_hash.to_hex(),
            scanned_at_ms: r.scanned_at_ms,
            model: r.label.model().map(|m| String::from(m.as_str())),
            serial: String::from(r.label.serial().as_str()),
            device_key: hex(&r.label.key().to_sec1_compressed()),
            label_text: r.label_text,
            site: r.site,
            note: r.note,
            signature: signed.signature.to_hex(),
        }
    }
}

impl TryFrom<RecordWire> for SignedScanRecord {
    type Error = Error;

    fn try_from(w: RecordWire) -> Result<Self, Error> {
        if w.v != RECORD_VERSION {
            return Err(Error::UnknownVersion {
                what: "scan record",
                found: u32::from(w.v),
            });
        }
        let mut bytes = Writer::default();
        bytes.u8(w.v);
        bytes.bytes(&RecordId::from_hex(&w.record_id)?.0);
        bytes.bytes(&KeyId::from_hex(&w.installer)?.0);
        bytes.u64(w.sequence);
        bytes.bytes(&RecordHash::from_hex(&w.prev_hash)?.0);
        bytes.u64(w.scanned_at_ms);
        check_text(&w.label_text, "label text", MAX_LABEL_TEXT)?;
        bytes.str(&w.label_text);
        check_wire_text(w.model.as_deref(), "model")?;
        bytes.opt_str(w.model.as_deref());
        check_text(&w.serial, "serial", MAX_LABEL_TEXT)?;
        bytes.str(&w.serial);
        bytes.bytes(&parse_hex_array::<33>(&w.device_key, "device key")?);
        check_text(&w.site, "site", MAX_SITE)?;
        bytes.str(&w.site);
        if let Some(note) = &w.note {
            check_text(note, "note", MAX_NOTE)?;
        }
        bytes.opt_str(w.note.as_deref());
        Ok(Self {
            record: ScanRecord::from_canonical(&bytes.0)?,
            signature: Signature::from_hex(&w.signature)?,
        })
    }
}

fn check_wire_text(text: Option<&str>, field: &'static str) -> Result<(), Error> {
    text.map_or(Ok(()), |t| check_text(t, field, MAX_LABEL_TEXT))
}
