//! Certificate records (revocation and the CRL) and enrollment challenges.

use serde::{Deserialize, Serialize};

use super::{AuditNote, WritePlan};

/// What the server knows of a certificate it issued (for revocation and the CRL).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRecord {
    /// Serial number, hex.
    pub serial: String,
    /// The identity URI in its SAN.
    pub subject: String,
    /// notAfter.
    pub not_after_ms: u64,
    /// When revoked, if it was.
    pub revoked_at_ms: Option<u64>,
}

impl CertRecord {
    /// This record revoked at `at_ms`; a certificate stays revoked from its first revocation,
    /// so the CRL keeps the time relying parties first saw.
    pub fn revoked_at(mut self, at_ms: u64) -> Self {
        self.revoked_at_ms.get_or_insert(at_ms);
        self
    }
}

/// A stored enrollment challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRecord {
    /// The serial the nonce was given to.
    pub serial: String,
    /// When it stops being accepted.
    pub expires_at_ms: u64,
}

/// A credential rotation: the new certificate's record and the old one revoked (the stored
/// record if there is one, so an earlier revocation time is kept), with the audit entry.
pub fn rotation(
    stored_old: Option<CertRecord>,
    old: &CertRecord,
    new: &CertRecord,
    audit: AuditNote,
    now_ms: u64,
) -> WritePlan {
    let revoked = stored_old.unwrap_or_else(|| old.clone()).revoked_at(now_ms);
    WritePlan {
        certs: vec![revoked, new.clone()],
        audit: vec![audit],
        ..WritePlan::at(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(serial: &str, revoked_at_ms: Option<u64>) -> CertRecord {
        CertRecord {
            serial: serial.into(),
            subject: "s".into(),
            not_after_ms: 9,
            revoked_at_ms,
        }
    }

    #[test]
    fn the_first_revocation_time_is_kept() {
        assert_eq!(record("a", None).revoked_at(5).revoked_at_ms, Some(5));
        assert_eq!(record("a", Some(3)).revoked_at(5).revoked_at_ms, Some(3));
    }

    #[test]
    fn a_rotation_revokes_the_old_record_and_stores_the_new() {
        let note = AuditNote {
            actor: "operator".into(),
            action: "operator.rotated",
            subject: "operator".into(),
            detail: serde_json::json!({}),
        };
        let plan = rotation(
            None,
            &record("old", None),
            &record("new", None),
            note.clone(),
            7,
        );
        assert_eq!(
            plan.certs,
            vec![record("old", Some(7)), record("new", None)]
        );
        assert_eq!(plan.audit, vec![note.clone()]);
        let kept = rotation(
            Some(record("old", Some(2))),
            &record("old", None),
            &record("new", None),
            note,
            7,
        );
        assert_eq!(kept.certs[0].revoked_at_ms, Some(2));
    }
}
