//! Staff: invites, registered app installs, their record chains' gaps, and what changes them
//! (registration, renewal, revocation, a reviewer's acceptance of a gap).

use serde::{Deserialize, Serialize};
use vouch_protocol::ChainHead;

use super::{AuditNote, CertRecord, DecisionRefused, Planned, WritePlan};

/// A staff member's role: the wire contract's, defined once.
pub use vouch_protocol::wire::Role;

/// A gap in an install's record chain, shown to supervisors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainGap {
    /// The sequence number the server expected.
    pub expected: u64,
    /// The sequence number that arrived instead.
    pub found: u64,
    /// When the server saw it.
    pub seen_at_ms: u64,
    /// A reviewer's decision that the missing records are lost: the record with sequence
    /// `found` may then continue the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<GapAcceptance>,
}

/// Who accepted a chain gap, when, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapAcceptance {
    /// The reviewer (`staff:<key id>` or `operator`).
    pub by: String,
    /// When.
    pub at_ms: u64,
    /// Why (recorded in the audit log too).
    pub reason: String,
}

/// A registered app install (technician or supervisor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    /// Key id (hex) of the install's key: the staff member's identity.
    pub key_id: String,
    /// Display name from the invite.
    pub name: String,
    /// Role from the invite.
    pub role: Role,
    /// Whether policy may approve this member's scans at once.
    pub trusted: bool,
    /// The install's public key, compressed SEC1 (hex).
    pub public_key: String,
    /// When the invite was redeemed.
    pub registered_at_ms: u64,
    /// When the member was revoked, if they were.
    pub revoked_at_ms: Option<u64>,
    /// Why, if revoked.
    pub revoked_reason: Option<String>,
    /// Where the member's record chain stands.
    pub chain: ChainHead,
    /// Chain gaps seen (refused records whose predecessors never arrived).
    pub gaps: Vec<ChainGap>,
    /// Serial number (hex) of the staff certificate.
    pub certificate_serial: String,
    /// The certificate's notAfter.
    pub not_after_ms: u64,
}

/// A one-time staff invite, stored by the SHA-256 of its code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRecord {
    /// The role the redeemer gets.
    pub role: Role,
    /// The redeemer's display name.
    pub name: String,
    /// Whether the redeemer's scans count as trusted.
    pub trusted: bool,
    /// When the invite was made.
    pub created_at_ms: u64,
    /// After this, the invite is refused.
    pub expires_at_ms: u64,
    /// Set when redeemed.
    pub used_at_ms: Option<u64>,
}

/// Registers a member with an invite: `None` if the invite is unknown, used or expired
/// (nothing is written then); else the invite marked used, the member (inserted only if the
/// key is not registered yet), the certificate record and the audit entry.
pub fn redeem(
    code_sha256: &str,
    invite: Option<InviteRecord>,
    member: &StaffMember,
    cert: &CertRecord,
    now_ms: u64,
) -> Option<Planned<StaffMember>> {
    let mut invite = invite.filter(|i| i.used_at_ms.is_none() && i.expires_at_ms > now_ms)?;
    invite.used_at_ms = Some(now_ms);
    let note = AuditNote {
        actor: format!("staff:{}", member.key_id),
        action: "staff.registered",
        subject: member.key_id.clone(),
        detail: serde_json::json!({"name": member.name, "role": member.role.as_str(), "certificate": cert.serial}),
    };
    let writes = WritePlan {
        invites: vec![(code_sha256.to_string(), invite)],
        new_staff: Some(member.clone()),
        certs: vec![cert.clone()],
        audit: vec![note],
        ..WritePlan::at(now_ms)
    };
    Some(Planned {
        value: member.clone(),
        writes,
    })
}

/// Renews a member's certificate (same key): the member's new certificate serial and expiry,
/// the new certificate record and the revocation of `old_serial`, with the audit entry;
/// refused if the member is revoked or no longer holds `old_serial`.
pub fn renew(
    mut member: StaffMember,
    old_serial: &str,
    new: &CertRecord,
    audit: AuditNote,
    now_ms: u64,
) -> Result<Planned<StaffMember>, DecisionRefused> {
    if member.revoked_at_ms.is_some() || member.certificate_serial != old_serial {
        return Err(DecisionRefused(
            "the staff member changed during the renewal",
        ));
    }
    member.certificate_serial = new.serial.clone();
    member.not_after_ms = new.not_after_ms;
    let writes = WritePlan {
        staff: vec![member.clone()],
        certs: vec![new.clone()],
        revoke: vec![old_serial.to_string()],
        audit: vec![audit],
        ..WritePlan::at(now_ms)
    };
    Ok(Planned {
        value: member,
        writes,
    })
}

/// Revokes a member and their certificate, or says why not (already revoked).
pub fn revoke(
    mut member: StaffMember,
    reason: &str,
    actor: &str,
    now_ms: u64,
) -> Result<Planned<StaffMember>, DecisionRefused> {
    if member.revoked_at_ms.is_some() {
        return Err(DecisionRefused("this staff member is already revoked"));
    }
    member.revoked_at_ms = Some(now_ms);
    member.revoked_reason = Some(reason.to_string());
    let note = AuditNote {
        actor: actor.to_string(),
        action: "staff.revoked",
        subject: member.key_id.clone(),
        detail: serde_json::json!({"reason": reason, "name": member.name}),
    };
    let writes = WritePlan {
        staff: vec![member.clone()],
        revoke: vec![member.certificate_serial.clone()],
        audit: vec![note],
        ..WritePlan::at(now_ms)
    };
    Ok(Planned {
        value: member,
        writes,
    })
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

/// [`accept_gap`] as a change to commit: the member and the audit entry.
pub fn accept_gap_planned(
    mut member: StaffMember,
    expected: u64,
    acceptance: GapAcceptance,
) -> Result<Planned<StaffMember>, DecisionRefused> {
    let (actor, at_ms, reason) = (
        acceptance.by.clone(),
        acceptance.at_ms,
        acceptance.reason.clone(),
    );
    let gap = accept_gap(&mut member, expected, acceptance)?;
    let note = AuditNote {
        actor,
        action: "staff.chain_gap_accepted",
        subject: member.key_id.clone(),
        detail: serde_json::json!({"expected": gap.expected, "found": gap.found, "reason": reason}),
    };
    let writes = WritePlan {
        staff: vec![member.clone()],
        audit: vec![note],
        ..WritePlan::at(at_ms)
    };
    Ok(Planned {
        value: member,
        writes,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn member_at(next_sequence: u64, gaps: Vec<ChainGap>) -> StaffMember {
        StaffMember {
            key_id: "k".into(),
            name: "T".into(),
            role: Role::Technician,
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

    fn invite(used: bool, expires_at_ms: u64) -> InviteRecord {
        InviteRecord {
            role: Role::Technician,
            name: "T".into(),
            trusted: false,
            created_at_ms: 0,
            expires_at_ms,
            used_at_ms: used.then_some(1),
        }
    }

    fn cert(serial: &str) -> CertRecord {
        CertRecord {
            serial: serial.into(),
            subject: "s".into(),
            not_after_ms: 99,
            revoked_at_ms: None,
        }
    }

    #[test]
    fn an_invite_registers_once_and_only_before_it_expires() {
        let m = member_at(1, vec![]);
        assert!(redeem("h", None, &m, &cert("01"), 5).is_none());
        assert!(redeem("h", Some(invite(true, 10)), &m, &cert("01"), 5).is_none());
        assert!(redeem("h", Some(invite(false, 5)), &m, &cert("01"), 5).is_none());
        let planned = redeem("h", Some(invite(false, 10)), &m, &cert("01"), 5).unwrap();
        assert_eq!(planned.writes.invites[0].1.used_at_ms, Some(5));
        assert_eq!(planned.writes.new_staff, Some(m.clone()));
        assert_eq!(planned.writes.certs, vec![cert("01")]);
        assert_eq!(planned.writes.audit[0].action, "staff.registered");
    }

    fn note() -> AuditNote {
        AuditNote {
            actor: "a".into(),
            action: "staff.renewed",
            subject: "k".into(),
            detail: serde_json::json!({}),
        }
    }

    #[test]
    fn a_renewal_replaces_and_revokes_only_the_certificate_held() {
        let m = member_at(1, vec![]);
        assert!(renew(m.clone(), "99", &cert("02"), note(), 3).is_err());
        let planned = renew(m, "01", &cert("02"), note(), 3).unwrap();
        assert_eq!(planned.value.certificate_serial, "02");
        assert_eq!(planned.value.not_after_ms, 99);
        assert_eq!(planned.writes.revoke, vec!["01".to_string()]);
        assert_eq!(planned.writes.certs, vec![cert("02")]);
    }

    #[test]
    fn a_revocation_revokes_the_certificate_and_happens_once() {
        let planned = revoke(member_at(1, vec![]), "lost", "operator", 4).unwrap();
        assert_eq!(planned.value.revoked_at_ms, Some(4));
        assert_eq!(planned.writes.revoke, vec!["01".to_string()]);
        assert_eq!(planned.writes.audit[0].action, "staff.revoked");
        assert_eq!(
            revoke(planned.value, "again", "operator", 5).unwrap_err().0,
            "this staff member is already revoked"
        );
    }

    #[test]
    fn an_accepted_gap_is_audited_with_the_member() {
        let planned = accept_gap_planned(member_at(2, vec![gap(2, 5)]), 2, by_sup()).unwrap();
        assert_eq!(planned.writes.staff, vec![planned.value.clone()]);
        assert_eq!(planned.writes.audit[0].action, "staff.chain_gap_accepted");
        assert_eq!(planned.writes.at_ms, 2);
    }
}
