//! The audit log's entries and their hash chain (docs/PROTOCOL.md, audit log hash).

use serde::{Deserialize, Serialize};
use vouch_protocol::key::{hex, sha256};

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

/// What an action adds to the audit log; [`next_entry`] fills in seq, time and hashes.
#[derive(Clone, Debug, PartialEq)]
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

/// Where the log stands: the last entry's sequence number and hash (stored beside the log so
/// that an append reads one small record, not the log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// The last entry's `seq`.
    pub seq: u64,
    /// The last entry's `hash`.
    pub hash: String,
}

/// The `prev_hash` of the first entry.
fn genesis() -> String {
    "0".repeat(64)
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

/// The entry that `note` becomes after `head` (none: the log is empty), at `at_ms`.
pub fn next_entry(head: Option<&AuditHead>, note: &AuditNote, at_ms: u64) -> AuditEntry {
    let (seq, prev_hash) = head.map_or((1, genesis()), |h| (h.seq + 1, h.hash.clone()));
    let mut entry = AuditEntry {
        seq,
        at_ms,
        actor: note.actor.clone(),
        action: note.action.to_string(),
        subject: note.subject.clone(),
        detail: note.detail.clone(),
        prev_hash,
        hash: String::new(),
    };
    entry.hash = audit_hash(&entry);
    entry
}

impl AuditEntry {
    /// The head of a log that ends with this entry.
    pub fn head(&self) -> AuditHead {
        AuditHead {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
}

/// Checks an audit log's hash chain; returns the number of entries or the first bad one.
pub fn verify_audit(entries: &[AuditEntry]) -> Result<usize, String> {
    let mut prev = genesis();
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
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn note(action: &'static str) -> AuditNote {
        AuditNote {
            actor: "operator".into(),
            action,
            subject: "x".into(),
            detail: serde_json::json!({}),
        }
    }

    fn log(actions: &[&'static str]) -> Vec<AuditEntry> {
        let mut entries: Vec<AuditEntry> = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            let head = entries.last().map(AuditEntry::head);
            entries.push(next_entry(head.as_ref(), &note(a), i as u64));
        }
        entries
    }

    #[test]
    fn entries_chain_from_the_genesis_hash() {
        let entries = log(&["a", "b"]);
        assert_eq!((entries[0].seq, entries[1].seq), (1, 2));
        assert_eq!(entries[0].prev_hash, "0".repeat(64));
        assert_eq!(entries[1].prev_hash, entries[0].hash);
        assert_eq!(entries[1].at_ms, 1);
    }

    #[test]
    fn the_chain_verifies_and_detects_tampering() {
        let mut entries = log(&["a", "b", "c"]);
        assert_eq!(verify_audit(&entries), Ok(3));
        entries[1].subject = "y".into();
        assert!(verify_audit(&entries).unwrap_err().contains("entry 2"));
        entries.remove(1);
        assert!(verify_audit(&entries).is_err());
        let mut reordered = log(&["a", "b"]);
        reordered.swap(0, 1);
        assert!(verify_audit(&reordered)
            .unwrap_err()
            .contains("out of order"));
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
}
