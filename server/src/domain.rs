//! The device state machine and the scan decision, as pure functions over plain data.
//!
//! `scanned → approved → enrolled`, or `rejected`, `conflict`, `revoked`. A second scan of the
//! same serial and key corroborates; the same serial with another key, or the same key under
//! another serial, is a `conflict` and is never approved automatically.

use serde::{Deserialize, Serialize};
use vouch_protocol::key::hex;
use vouch_protocol::SignedScanRecord;

use crate::store::{ChainGap, GapAcceptance, IngestView, StaffMember};

/// Where a device stands: the wire contract's, defined once.
pub use vouch_protocol::wire::DeviceState;

/// One step in a device's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// When.
    pub at_ms: u64,
    /// What (`scanned`, `corroborated`, `conflict`, `approved`, `challenged`, `enrolled`, ...).
    pub event: String,
    /// Who.
    pub actor: String,
    /// Why or details.
    pub detail: Option<String>,
}

/// The certificate a device holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCertificate {
    /// Serial number, hex.
    pub serial: String,
    /// notAfter.
    pub not_after_ms: u64,
    /// The certified key, compressed SEC1 hex (the label key, or an operational key).
    pub key: String,
    /// SHA-256 (hex) of the CSR it was issued for (a lost answer can be delivered again).
    pub csr_sha256: String,
    /// The certificate, PEM.
    pub pem: String,
    /// Serial number (hex) of the certificate this one superseded by a renewal; `None` for an
    /// enrollment. That certificate may still fetch this one again (docs/PROTOCOL.md 11.8.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// Everything the server knows of a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Serial (the device's identity).
    pub serial: String,
    /// Model, if the label carried one.
    pub model: Option<String>,
    /// The vouched label key, compressed SEC1 hex.
    pub key: String,
    /// The label key's fingerprint.
    pub key_fingerprint: String,
    /// Where it stands.
    pub state: DeviceState,
    /// Other keys seen under this serial (conflicts).
    pub other_keys: Vec<String>,
    /// Other serials seen with this key (conflicts).
    pub other_serials: Vec<String>,
    /// Record ids of every scan of this serial or key.
    pub scans: Vec<String>,
    /// Set once the label key has been used to enroll: it never enrolls again.
    pub label_key_used: bool,
    /// The current certificate.
    pub certificate: Option<DeviceCertificate>,
    /// History.
    pub timeline: Vec<TimelineEvent>,
    /// When first seen.
    pub created_at_ms: u64,
    /// Last change.
    pub updated_at_ms: u64,
}

impl Device {
    /// Adds a timeline event and bumps `updated_at_ms`.
    pub fn note(&mut self, at_ms: u64, event: &str, actor: &str, detail: Option<String>) {
        self.timeline.push(TimelineEvent {
            at_ms,
            event: event.to_string(),
            actor: actor.to_string(),
            detail,
        });
        self.updated_at_ms = self.updated_at_ms.max(at_ms);
    }
}

/// The outcome of ingesting one record, as the sync answer reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanOutcome {
    /// Stored; these devices changed.
    Accepted(Vec<Device>),
    /// The same record was already stored.
    Duplicate,
    /// Refused, with a stable code and a message.
    Refused {
        /// Machine-readable reason.
        code: &'static str,
        /// Human text.
        message: String,
    },
}

/// Server policy for scans.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScanPolicy {
    /// Approve at once when a trusted member scans a label without conflict.
    pub auto_approve_trusted: bool,
}

/// Decides what a verified, chain-checked record does to the devices it names.
pub fn decide_scan(
    record: &SignedScanRecord,
    scanner: &StaffMember,
    view: &IngestView,
    policy: ScanPolicy,
    now_ms: u64,
) -> Vec<Device> {
    let r = record.record();
    let label = r.label();
    let key = hex(&label.key().to_sec1_compressed());
    let serial = label.serial().as_str().to_string();
    let record_id = r.record_id().to_hex();
    let actor = format!("staff:{}", scanner.key_id);
    let site = format!("site {:?}", r.site());
    let mut changed = Vec::new();

    let mut device = view.by_serial.clone().unwrap_or_else(|| Device {
        serial: serial.clone(),
        model: label.model().map(|m| m.as_str().to_string()),
        key: key.clone(),
        key_fingerprint: label.key().fingerprint().to_string(),
        state: DeviceState::Scanned,
        other_keys: vec![],
        other_serials: vec![],
        scans: vec![],
        label_key_used: false,
        certificate: None,
        timeline: vec![],
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    });
    let is_new = view.by_serial.is_none();
    device.scans.push(record_id.clone());
    let key_conflict = device.key != key;
    let serial_conflict = !view.by_key.is_empty();
    if key_conflict && !device.other_keys.contains(&key) {
        device.other_keys.push(key.clone());
    }
    for other in &view.by_key {
        if !device.other_serials.contains(&other.serial) {
            device.other_serials.push(other.serial.clone());
        }
    }
    if key_conflict || serial_conflict {
        let why = if key_conflict {
            "same serial scanned with another key"
        } else {
            "this key was already scanned under another serial"
        };
        enter_conflict(&mut device, now_ms, &actor, why);
    } else if is_new {
        device.note(now_ms, "scanned", &actor, Some(site));
        if policy.auto_approve_trusted && scanner.trusted {
            device.state = DeviceState::Approved;
            device.note(now_ms, "approved", "policy", Some("trusted scanner".into()));
        }
    } else {
        device.note(now_ms, "corroborated", &actor, Some(site));
    }
    changed.push(device);

    for other in &view.by_key {
        let mut other = other.clone();
        other.scans.push(record_id.clone());
        if !other.other_serials.contains(&serial) {
            other.other_serials.push(serial.clone());
        }
        enter_conflict(
            &mut other,
            now_ms,
            &actor,
            "its key was scanned under another serial",
        );
        changed.push(other);
    }
    changed
}

/// Puts a device into conflict (or, once enrolled or decided, flags it in its timeline).
fn enter_conflict(device: &mut Device, now_ms: u64, actor: &str, why: &str) {
    match device.state {
        DeviceState::Scanned | DeviceState::Approved | DeviceState::Conflict => {
            device.state = DeviceState::Conflict;
            device.note(now_ms, "conflict", actor, Some(why.to_string()));
        }
        DeviceState::Enrolled | DeviceState::Rejected | DeviceState::Revoked => {
            device.note(now_ms, "conflict_flagged", actor, Some(why.to_string()));
        }
    }
}

/// A supervisor's decision on a device: the wire contract's, defined once.
pub use vouch_protocol::wire::Decision;

/// Why a decision cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionRefused(pub &'static str);

/// Applies a review decision to a device, or says why it cannot.
pub fn apply_decision(
    device: &mut Device,
    decision: Decision,
    actor: &str,
    reason: &str,
    now_ms: u64,
) -> Result<(), DecisionRefused> {
    use DeviceState::*;
    let next = match (decision, device.state) {
        (Decision::Approve, Scanned | Conflict | Rejected) => Approved,
        (Decision::Approve, Approved) => {
            return Err(DecisionRefused("the device is already approved"))
        }
        (Decision::Approve, Enrolled) => {
            return Err(DecisionRefused("the device is already enrolled"))
        }
        (Decision::Approve, Revoked) => {
            return Err(DecisionRefused("a revoked device cannot be approved again"))
        }
        (Decision::Reject, Scanned | Conflict | Approved) => Rejected,
        (Decision::Reject, Rejected) => {
            return Err(DecisionRefused("the device is already rejected"))
        }
        (Decision::Reject, Enrolled | Revoked) => {
            return Err(DecisionRefused(
                "an enrolled device is revoked, not rejected",
            ))
        }
        (Decision::Revoke, Revoked) => {
            return Err(DecisionRefused("the device is already revoked"))
        }
        (Decision::Revoke, _) => Revoked,
        (Decision::Reenroll, Enrolled) => {
            // The store revokes the certificate that is dropped here, in the same commit.
            device.certificate = None;
            device.label_key_used = false;
            Approved
        }
        (Decision::Reenroll, _) => {
            return Err(DecisionRefused(
                "only an enrolled device can be let enroll again",
            ))
        }
    };
    device.state = next;
    let event = match decision {
        Decision::Approve => "approved",
        Decision::Reject => "rejected",
        Decision::Revoke => "revoked",
        Decision::Reenroll => "reenrollment_allowed",
    };
    device.note(now_ms, event, actor, Some(reason.to_string()));
    Ok(())
}

/// Records a reviewer's acceptance of the chain gap that starts at `expected` (the records
/// from `expected` up to the one that arrived instead are declared lost), or says why not.
pub fn accept_gap(
    member: &mut StaffMember,
    expected: u64,
    acceptance: GapAcceptance,
) -> Result<ChainGap, DecisionRefused> {
    if member.revoked_at_ms.is_some() {
        return Err(DecisionRefused("the staff member is revoked"));
    }
    if member.chain.next_sequence != expected {
        return Err(DecisionRefused(
            "the install's chain does not stand at this gap (it has moved on, or the gap is not the current one)",
        ));
    }
    let gap = member
        .gaps
        .iter_mut()
        .find(|g| g.expected == expected)
        .ok_or(DecisionRefused("no gap was recorded at this sequence"))?;
    if gap.accepted.is_some() {
        return Err(DecisionRefused("the gap is already accepted"));
    }
    gap.accepted = Some(acceptance);
    Ok(gap.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(state: DeviceState) -> Device {
        Device {
            serial: "S".into(),
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
        }
    }

    #[test]
    fn decisions_follow_the_state_machine() {
        let mut d = device(DeviceState::Conflict);
        apply_decision(&mut d, Decision::Approve, "sup", "checked on site", 5).unwrap();
        assert_eq!(d.state, DeviceState::Approved);
        assert!(apply_decision(&mut d, Decision::Approve, "sup", "again", 6).is_err());
        let mut e = device(DeviceState::Enrolled);
        assert!(apply_decision(&mut e, Decision::Reject, "sup", "no", 6).is_err());
        apply_decision(&mut e, Decision::Revoke, "sup", "stolen", 7).unwrap();
        assert_eq!(e.state, DeviceState::Revoked);
        assert!(apply_decision(&mut e, Decision::Approve, "sup", "undo", 8).is_err());
        assert_eq!(e.timeline.last().map(|t| t.event.as_str()), Some("revoked"));
        assert!(apply_decision(&mut e, Decision::Reenroll, "sup", "again", 9).is_err());
        let mut f = device(DeviceState::Enrolled);
        f.label_key_used = true;
        f.certificate = Some(DeviceCertificate {
            serial: "01".into(),
            not_after_ms: 1,
            key: "02".into(),
            csr_sha256: String::new(),
            pem: String::new(),
            replaces: None,
        });
        apply_decision(&mut f, Decision::Reenroll, "sup", "expired", 10).unwrap();
        assert_eq!(f.state, DeviceState::Approved);
        assert!(!f.label_key_used && f.certificate.is_none());
        assert!(apply_decision(&mut d, Decision::Reenroll, "sup", "x", 11).is_err());
    }

    #[test]
    fn conflict_never_downgrades_an_enrolled_device() {
        let mut d = device(DeviceState::Enrolled);
        enter_conflict(&mut d, 1, "x", "why");
        assert_eq!(d.state, DeviceState::Enrolled);
        assert_eq!(d.timeline[0].event, "conflict_flagged");
    }

    fn member_at(next_sequence: u64, gaps: Vec<ChainGap>) -> StaffMember {
        StaffMember {
            key_id: "k".into(),
            name: "T".into(),
            role: crate::store::Role::Technician,
            trusted: false,
            public_key: "02".into(),
            registered_at_ms: 0,
            revoked_at_ms: None,
            revoked_reason: None,
            chain: vouch_protocol::ChainHead {
                next_sequence,
                last_hash: vouch_protocol::RecordHash([0; 32]),
            },
            gaps,
            certificate_serial: "01".into(),
            not_after_ms: 0,
        }
    }

    fn gap(expected: u64, found: u64) -> ChainGap {
        ChainGap {
            expected,
            found,
            seen_at_ms: 1,
            accepted: None,
        }
    }

    fn by_sup() -> GapAcceptance {
        GapAcceptance {
            by: "staff:s".into(),
            at_ms: 2,
            reason: "lost".into(),
        }
    }

    #[test]
    fn only_the_current_open_gap_of_an_active_member_is_accepted() {
        let mut m = member_at(2, vec![gap(2, 5)]);
        assert_eq!(
            accept_gap(&mut m, 3, by_sup()).unwrap_err(),
            DecisionRefused("the install's chain does not stand at this gap (it has moved on, or the gap is not the current one)")
        );
        let mut no_gap = member_at(2, vec![]);
        assert_eq!(
            accept_gap(&mut no_gap, 2, by_sup()).unwrap_err().0,
            "no gap was recorded at this sequence"
        );
        let mut revoked = member_at(2, vec![gap(2, 5)]);
        revoked.revoked_at_ms = Some(1);
        assert!(accept_gap(&mut revoked, 2, by_sup()).is_err());
        assert_eq!(revoked.gaps[0].accepted, None, "nothing changed on refusal");

        let accepted = accept_gap(&mut m, 2, by_sup()).unwrap();
        assert_eq!((accepted.expected, accepted.found), (2, 5));
        assert_eq!(m.gaps[0].accepted, Some(by_sup()));
        assert_eq!(
            accept_gap(&mut m, 2, by_sup()).unwrap_err().0,
            "the gap is already accepted"
        );
    }
}
