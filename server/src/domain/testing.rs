//! Test data for the rules and the store's conformance suite: members, devices and signed,
//! chained scan records made with fixed keys (no clock, no randomness).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use vouch_protocol::key::{hex, public_key_of};
use vouch_protocol::p256::ecdsa::SigningKey;
use vouch_protocol::{
    ChainHead, Label, Model, NewScan, RecordHash, RecordId, ScanRecord, Serial, SignedScanRecord,
};

use super::{Device, DeviceState, Role, StaffMember};

/// A fixed P-256 key, different for each `n` (1 to 255).
pub fn key(n: u8) -> SigningKey {
    SigningKey::from_slice(&[n; 32]).unwrap()
}

/// The compact label text of `serial` with the public key of `key(n)`.
pub fn label(serial: &str, n: u8) -> String {
    Label::new(
        Model::new("ACME-T1").unwrap(),
        Serial::new(serial).unwrap(),
        public_key_of(&key(n)),
    )
    .to_compact()
    .unwrap()
}

/// A technician install that signs records with `key(n)`, its chain at the start.
pub struct Scanner {
    key: SigningKey,
    /// Where its chain stands.
    pub chain: ChainHead,
    counter: u64,
}

impl Scanner {
    /// An install with `key(n)`.
    pub fn new(n: u8) -> Self {
        Self {
            key: key(n),
            chain: ChainHead::GENESIS,
            counter: 0,
        }
    }

    /// The member record the server holds for this install.
    pub fn member(&self, trusted: bool) -> StaffMember {
        let public = public_key_of(&self.key);
        StaffMember {
            key_id: public.key_id().to_hex(),
            name: "Tess".into(),
            role: Role::Technician,
            trusted,
            public_key: hex(&public.to_sec1_compressed()),
            registered_at_ms: 0,
            revoked_at_ms: None,
            revoked_reason: None,
            chain: ChainHead::GENESIS,
            gaps: vec![],
            certificate_serial: format!("c{}", public.key_id().to_hex()),
            not_after_ms: u64::MAX,
        }
    }

    /// The next record of the chain, for `label_text`.
    pub fn record(&mut self, label_text: &str) -> SignedScanRecord {
        self.counter += 1;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.counter.to_be_bytes());
        let scan = NewScan {
            record_id: RecordId(id),
            chain: &self.chain,
            scanned_at_ms: 1_800_000_000_000,
            label_text,
            site: "WO-7",
            note: None,
        };
        let record = ScanRecord::new(public_key_of(&self.key).key_id(), &scan).unwrap();
        self.chain = ChainHead::after(&record);
        record.sign(&self.key).unwrap()
    }

    /// Skips `n` records, as if they were lost on the way.
    pub fn lose(&mut self, n: u64) {
        self.chain = ChainHead {
            next_sequence: self.chain.next_sequence + n,
            last_hash: RecordHash([9; 32]),
        };
        self.counter += n;
    }
}

/// A device in `state`, without history.
pub fn device(serial: &str, state: DeviceState) -> Device {
    Device {
        serial: serial.into(),
        model: None,
        key: "02".into(),
        key_fingerprint: String::new(),
        state,
        other_keys: vec![],
        other_serials: vec![],
        scans: vec![],
        label_key_used: false,
        certificate: None,
        timeline: vec![],
        created_at_ms: 0,
        updated_at_ms: 0,
        expected: None,
    }
}
