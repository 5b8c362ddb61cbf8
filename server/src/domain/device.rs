//! The device state machine: `(expected →) scanned → approved → enrolled`, or `rejected`,
//! `conflict`, `revoked`; review decisions, and which certificates a change revokes.

use serde::{Deserialize, Serialize};

use super::manifest::Expectation;
use super::{AuditNote, Planned, WritePlan};

use vouch_protocol::wire::DeviceEvent;
/// Where a device stands: the wire contract's, defined once.
pub use vouch_protocol::wire::DeviceState;

/// One step in a device's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// When.
    pub at_ms: u64,
    /// What: a [`DeviceEvent`]'s string (kept as a string, so a record written by a newer
    /// server with an event this build does not know still reads).
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
    /// The manifest entry that announced this device, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expectation>,
}

impl Device {
    /// Adds a timeline event and bumps `updated_at_ms`.
    pub fn note(&mut self, at_ms: u64, event: DeviceEvent, actor: &str, detail: Option<String>) {
        self.timeline.push(TimelineEvent {
            at_ms,
            event: event.as_str().to_string(),
            actor: actor.to_string(),
            detail,
        });
        self.updated_at_ms = self.updated_at_ms.max(at_ms);
    }
}

/// Whether a technician has vouched for the device: an `expected` device has only been
/// announced by a manifest, so it is treated as unknown (no challenge, no enrollment).
pub fn vouched(device: &Device) -> bool {
    device.state != DeviceState::Expected
}

/// Puts a device into conflict (or, once enrolled or decided, flags it in its timeline).
pub(crate) fn enter_conflict(device: &mut Device, now_ms: u64, actor: &str, why: &str) {
    match device.state {
        DeviceState::Expected
        | DeviceState::Scanned
        | DeviceState::Approved
        | DeviceState::Conflict => {
            device.state = DeviceState::Conflict;
            device.note(now_ms, DeviceEvent::Conflict, actor, Some(why.to_string()));
        }
        DeviceState::Enrolled | DeviceState::Rejected | DeviceState::Revoked => {
            device.note(
                now_ms,
                DeviceEvent::ConflictFlagged,
                actor,
                Some(why.to_string()),
            );
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
        (Decision::Approve, Expected) => {
            return Err(DecisionRefused(
                "the device has not been scanned yet: approve it after a technician's scan",
            ))
        }
        (Decision::Approve, Approved) => {
            return Err(DecisionRefused("the device is already approved"))
        }
        (Decision::Approve, Enrolled) => {
            return Err(DecisionRefused("the device is already enrolled"))
        }
        (Decision::Approve, Revoked) => {
            return Err(DecisionRefused("a revoked device cannot be approved again"))
        }
        (Decision::Reject, Expected | Scanned | Conflict | Approved) => Rejected,
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
        Decision::Approve => DeviceEvent::Approved,
        Decision::Reject => DeviceEvent::Rejected,
        Decision::Revoke => DeviceEvent::Revoked,
        Decision::Reenroll => DeviceEvent::ReenrollmentAllowed,
    };
    device.note(now_ms, event, actor, Some(reason.to_string()));
    Ok(())
}

/// The audit log's action for a decision.
pub fn audit_action(decision: Decision) -> &'static str {
    match decision {
        Decision::Approve => "device.approved",
        Decision::Reject => "device.rejected",
        Decision::Revoke => "device.revoked",
        Decision::Reenroll => "device.reenrollment_allowed",
    }
}

/// The certificate a change from `before` to `after` revokes: the one the device held, if the
/// device is now revoked or no longer holds it (re-enrollment drops it, a renewal replaces it).
pub fn revoked_by(before: &Device, after: &Device) -> Option<String> {
    let old = before.certificate.as_ref()?;
    let kept = after
        .certificate
        .as_ref()
        .is_some_and(|c| c.serial == old.serial);
    (after.state == DeviceState::Revoked || !kept).then(|| old.serial.clone())
}

/// A change to a device as one commit: the device, the certificate it revokes
/// ([`revoked_by`]) and the audit entry, at the device's `updated_at_ms`.
pub fn change(before: &Device, after: Device, audit: AuditNote) -> Planned<Device> {
    let writes = WritePlan {
        devices: vec![after.clone()],
        revoke: revoked_by(before, &after).into_iter().collect(),
        audit: vec![audit],
        ..WritePlan::at(after.updated_at_ms)
    };
    Planned {
        value: after,
        writes,
    }
}

/// A review decision as a change to commit (see [`apply_decision`]).
pub fn decide(
    device: Device,
    decision: Decision,
    actor: &str,
    reason: &str,
    now_ms: u64,
) -> Result<Planned<Device>, DecisionRefused> {
    let mut after = device.clone();
    apply_decision(&mut after, decision, actor, reason, now_ms)?;
    let note = AuditNote {
        actor: actor.to_string(),
        action: audit_action(decision),
        subject: after.serial.clone(),
        detail: serde_json::json!({ "reason": reason }),
    };
    Ok(change(&device, after, note))
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
            expected: None,
        }
    }

    #[test]
    fn an_expected_device_is_not_vouched_and_cannot_be_approved_unscanned() {
        let mut d = device(DeviceState::Expected);
        assert!(!vouched(&d));
        assert!(apply_decision(&mut d, Decision::Approve, "sup", "ok", 1).is_err());
        apply_decision(&mut d, Decision::Reject, "sup", "not ours", 2).unwrap();
        assert_eq!(d.state, DeviceState::Rejected);
        assert!(vouched(&d));
        let mut e = device(DeviceState::Expected);
        enter_conflict(&mut e, 3, "x", "why");
        assert_eq!(e.state, DeviceState::Conflict);
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

    fn certified(state: DeviceState, serial: &str) -> Device {
        let mut d = device(state);
        d.certificate = Some(DeviceCertificate {
            serial: serial.into(),
            not_after_ms: 1,
            key: "02".into(),
            csr_sha256: String::new(),
            pem: String::new(),
            replaces: None,
        });
        d
    }

    #[test]
    fn a_revocation_or_a_dropped_certificate_revokes_it_in_the_same_change() {
        let enrolled = certified(DeviceState::Enrolled, "01");
        let revoked = decide(enrolled.clone(), Decision::Revoke, "sup", "stolen", 5).unwrap();
        assert_eq!(revoked.writes.revoke, vec!["01".to_string()]);
        assert_eq!(revoked.writes.devices, vec![revoked.value.clone()]);
        assert_eq!(revoked.writes.audit[0].action, "device.revoked");
        assert_eq!(revoked.writes.at_ms, 5);
        let again = decide(enrolled.clone(), Decision::Reenroll, "sup", "reset", 6).unwrap();
        assert_eq!(again.writes.revoke, vec!["01".to_string()]);
        let renewed = certified(DeviceState::Enrolled, "02");
        assert_eq!(revoked_by(&enrolled, &renewed), Some("01".into()));
        assert_eq!(revoked_by(&enrolled, &enrolled), None);
        let approved = decide(
            device(DeviceState::Scanned),
            Decision::Approve,
            "s",
            "ok",
            7,
        )
        .unwrap();
        assert!(approved.writes.revoke.is_empty());
    }

    #[test]
    fn a_refused_decision_plans_nothing() {
        let refused = decide(device(DeviceState::Revoked), Decision::Approve, "s", "x", 1);
        assert!(refused.is_err());
    }
}
