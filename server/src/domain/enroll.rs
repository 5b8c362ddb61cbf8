//! The enrollment checks and what an enrollment or a renewal changes (docs/PROTOCOL.md 6 and
//! 11.6 to 11.8). Signature and CSR checks are cryptography, done by the API and the
//! authority; what follows from them is decided here.

use vouch_protocol::wire::DeviceEvent;

use super::{
    AuditNote, CertRecord, ChallengeRecord, DecisionRefused, Device, DeviceCertificate,
    DeviceState, Planned, WritePlan,
};

/// When a challenge made at `now_ms` stops being accepted.
pub fn challenge_expiry(now_ms: u64, ttl_secs: u64) -> u64 {
    now_ms.saturating_add(ttl_secs.saturating_mul(1000))
}

/// Checks a taken challenge against the serial that answers it; the error is the reason the
/// log gives (the caller only ever learns `refused`).
pub fn check_challenge(
    taken: Option<&ChallengeRecord>,
    serial: &str,
    now_ms: u64,
) -> Result<(), &'static str> {
    let challenge = taken.ok_or("nonce_unknown_or_used")?;
    if challenge.serial != serial {
        return Err("nonce_for_another_serial");
    }
    if challenge.expires_at_ms <= now_ms {
        return Err("nonce_expired");
    }
    Ok(())
}

/// What a device that has proven possession of its vouched key gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Approved: check the CSR and issue.
    Issue,
    /// Enrolled, and this is the CSR that enrolled it: its answer was lost, send it again.
    Redeliver(DeviceCertificate),
    /// Enrolled with another CSR: the label key enrolls once; refuse and flag it.
    Flag,
    /// Not approved yet.
    Pending,
    /// Only announced by a manifest, never scanned: answered as an unknown serial.
    Unvouched,
    /// In conflict (the serial seen with another key, or the key under another serial): a
    /// supervisor must resolve it first. The native protocol tells a proven device it is
    /// pending; EST, which can only say "wait" or "no", refuses it (PROTOCOL.md 12.3).
    Conflict,
    /// Rejected by a supervisor.
    Rejected,
    /// Revoked.
    Revoked,
}

/// The step for `device`, whose label key signed an enrollment for the CSR with this hash.
pub fn next_step(device: &Device, csr_sha256: &str) -> Step {
    match device.state {
        DeviceState::Approved => Step::Issue,
        DeviceState::Enrolled => device
            .certificate
            .as_ref()
            .filter(|c| c.csr_sha256 == csr_sha256)
            .map_or(Step::Flag, |c| Step::Redeliver(c.clone())),
        DeviceState::Expected => Step::Unvouched,
        DeviceState::Scanned => Step::Pending,
        DeviceState::Conflict => Step::Conflict,
        DeviceState::Rejected => Step::Rejected,
        DeviceState::Revoked => Step::Revoked,
    }
}

/// The device a CSR's key belongs to, for a front door that names no serial (EST): the one
/// serial the key was vouched under. A key seen under no serial, or under several (a cloned or
/// swapped label), names no device; the error is the logged reason.
pub fn device_for_key(serials: &[String]) -> Result<&str, &'static str> {
    match serials {
        [] => Err("key_not_vouched"),
        [serial] => Ok(serial),
        _ => Err("key_under_several_serials"),
    }
}

/// What a request says about binding itself to its TLS channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingClaim<'a> {
    /// Nothing: the request is not bound to the channel.
    None,
    /// The native protocol's claim: the signed message includes the channel's `tls-exporter`.
    Exporter,
    /// EST's claim (RFC 7030 section 3.5): the CSR's challengePassword is the channel binding,
    /// base64.
    ChallengePassword(&'a str),
}

/// Checks a request's channel-binding claim against the connection's binding (RFC 9266
/// `tls-exporter`, `None` where the connection has none) and whether binding is `required`.
/// Returns the binding the request's signature covers (the native message includes it); the
/// error is the logged reason.
pub fn channel_binding(
    claim: BindingClaim<'_>,
    connection: Option<[u8; 32]>,
    required: bool,
) -> Result<Option<[u8; 32]>, &'static str> {
    match claim {
        BindingClaim::None if required => Err("channel_binding_required"),
        BindingClaim::None => Ok(None),
        BindingClaim::Exporter => connection.map(Some).ok_or("no_exporter_on_this_connection"),
        BindingClaim::ChallengePassword(text) => {
            let binding = connection.ok_or("no_exporter_on_this_connection")?;
            let presented = data_encoding::BASE64
                .decode(text.trim().as_bytes())
                .map_err(|_| "challenge_password_not_the_channel_binding")?;
            if !same_bytes(&presented, &binding) {
                return Err("challenge_password_not_the_channel_binding");
            }
            Ok(Some(binding))
        }
    }
}

/// Compares in time that depends only on the lengths (the binding is a secret of the channel).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why an issuance cannot be committed: the device changed while its certificate was made.
pub const CHANGED_DURING_ISSUANCE: DecisionRefused =
    DecisionRefused("the device changed state during issuance");

/// An enrollment to commit: the device (as stored now, which must still be approved) becomes
/// enrolled with `cert`; its certificate record and the audit entry go with it.
pub fn enrolled(
    mut device: Device,
    cert: DeviceCertificate,
    record: CertRecord,
    rekey: bool,
    now_ms: u64,
) -> Result<Planned<Device>, DecisionRefused> {
    if device.state != DeviceState::Approved {
        return Err(CHANGED_DURING_ISSUANCE);
    }
    let actor = format!("device:{}", device.serial);
    let mode = if rekey { "rekey" } else { "same_key" };
    let detail = Some(format!("certificate {} ({mode})", cert.serial));
    let note = AuditNote {
        actor: actor.clone(),
        action: "device.enrolled",
        subject: device.serial.clone(),
        detail: serde_json::json!({"certificate": cert.serial, "mode": mode, "not_after_ms": cert.not_after_ms}),
    };
    device.state = DeviceState::Enrolled;
    device.label_key_used = true;
    device.certificate = Some(cert);
    device.note(now_ms, DeviceEvent::Enrolled, &actor, detail);
    Ok(issuance(device, record, None, note))
}

/// A renewal to commit: the device (as stored now, which must still be enrolled with
/// `old_serial`) holds `cert`, which replaces the old certificate; the old one is revoked in
/// the same commit, so relying parties refuse it too.
pub fn renewed(
    mut device: Device,
    old_serial: &str,
    mut cert: DeviceCertificate,
    record: CertRecord,
    now_ms: u64,
) -> Result<Planned<Device>, DecisionRefused> {
    let current = device
        .certificate
        .as_ref()
        .is_some_and(|c| c.serial == old_serial);
    if device.state != DeviceState::Enrolled || !current {
        return Err(CHANGED_DURING_ISSUANCE);
    }
    let actor = format!("device:{}", device.serial);
    let detail = Some(format!("certificate {} replaces {old_serial}", cert.serial));
    let note = AuditNote {
        actor: actor.clone(),
        action: "device.renewed",
        subject: device.serial.clone(),
        detail: serde_json::json!({"certificate": cert.serial, "replaces": old_serial}),
    };
    cert.replaces = Some(old_serial.to_string());
    device.certificate = Some(cert);
    device.note(now_ms, DeviceEvent::Renewed, &actor, detail);
    Ok(issuance(device, record, Some(old_serial), note))
}

fn issuance(
    device: Device,
    record: CertRecord,
    supersedes: Option<&str>,
    note: AuditNote,
) -> Planned<Device> {
    let writes = WritePlan {
        devices: vec![device.clone()],
        certs: vec![record],
        revoke: supersedes.map(str::to_string).into_iter().collect(),
        audit: vec![note],
        ..WritePlan::at(device.updated_at_ms)
    };
    Planned {
        value: device,
        writes,
    }
}

/// A second enrollment of an enrolled label key with another CSR: noted in the device's
/// history and the audit log for review.
pub fn flag_duplicate(mut device: Device, now_ms: u64) -> Planned<Device> {
    let actor = format!("device:{}", device.serial);
    let before = device.clone();
    device.note(
        now_ms,
        DeviceEvent::DuplicateEnrollment,
        &actor,
        Some("a second enrollment with the label key was refused".into()),
    );
    let note = AuditNote {
        actor,
        action: "device.duplicate_enrollment",
        subject: device.serial.clone(),
        detail: serde_json::json!({}),
    };
    super::device::change(&before, device, note)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::testing::device;

    fn cert(serial: &str, csr: &str) -> DeviceCertificate {
        DeviceCertificate {
            serial: serial.into(),
            not_after_ms: 50,
            key: "02".into(),
            csr_sha256: csr.into(),
            pem: "PEM".into(),
            replaces: None,
        }
    }

    fn record(serial: &str) -> CertRecord {
        CertRecord {
            serial: serial.into(),
            subject: "https://vouch.invalid/device/S".into(),
            not_after_ms: 50,
            revoked_at_ms: None,
        }
    }

    #[test]
    fn a_challenge_is_for_one_serial_until_it_expires() {
        let c = ChallengeRecord {
            serial: "S".into(),
            expires_at_ms: challenge_expiry(1_000, 120),
        };
        assert_eq!(c.expires_at_ms, 121_000);
        assert_eq!(check_challenge(Some(&c), "S", 120_999), Ok(()));
        assert_eq!(
            check_challenge(Some(&c), "S", 121_000),
            Err("nonce_expired")
        );
        assert_eq!(
            check_challenge(Some(&c), "T", 5),
            Err("nonce_for_another_serial")
        );
        assert_eq!(check_challenge(None, "S", 5), Err("nonce_unknown_or_used"));
    }

    #[test]
    fn the_step_follows_the_state_and_the_csr() {
        assert_eq!(
            next_step(&device("S", DeviceState::Approved), "h"),
            Step::Issue
        );
        assert_eq!(
            next_step(&device("S", DeviceState::Scanned), "h"),
            Step::Pending
        );
        assert_eq!(
            next_step(&device("S", DeviceState::Expected), "h"),
            Step::Unvouched
        );
        assert_eq!(
            next_step(&device("S", DeviceState::Conflict), "h"),
            Step::Conflict
        );
        assert_eq!(
            next_step(&device("S", DeviceState::Rejected), "h"),
            Step::Rejected
        );
        assert_eq!(
            next_step(&device("S", DeviceState::Revoked), "h"),
            Step::Revoked
        );
        let mut enrolled = device("S", DeviceState::Enrolled);
        enrolled.certificate = Some(cert("01", "h"));
        assert_eq!(next_step(&enrolled, "h"), Step::Redeliver(cert("01", "h")));
        assert_eq!(next_step(&enrolled, "other"), Step::Flag);
    }

    #[test]
    fn a_key_names_a_device_only_under_one_serial() {
        assert_eq!(device_for_key(&[]), Err("key_not_vouched"));
        assert_eq!(device_for_key(&["A".into()]), Ok("A"));
        assert_eq!(
            device_for_key(&["A".into(), "B".into()]),
            Err("key_under_several_serials")
        );
    }

    #[test]
    fn a_binding_claim_must_match_the_channel() {
        let b = [7u8; 32];
        let good = data_encoding::BASE64.encode(&b);
        assert_eq!(
            channel_binding(BindingClaim::None, Some(b), false),
            Ok(None)
        );
        assert_eq!(
            channel_binding(BindingClaim::None, Some(b), true),
            Err("channel_binding_required")
        );
        assert_eq!(
            channel_binding(BindingClaim::Exporter, Some(b), false),
            Ok(Some(b))
        );
        assert_eq!(
            channel_binding(BindingClaim::Exporter, None, false),
            Err("no_exporter_on_this_connection")
        );
        let claim = BindingClaim::ChallengePassword(&good);
        assert_eq!(channel_binding(claim, Some(b), true), Ok(Some(b)));
        assert_eq!(
            channel_binding(claim, Some([8u8; 32]), false),
            Err("challenge_password_not_the_channel_binding")
        );
        for wrong in ["secret", "", "Bw=="] {
            assert_eq!(
                channel_binding(BindingClaim::ChallengePassword(wrong), Some(b), false),
                Err("challenge_password_not_the_channel_binding")
            );
        }
    }

    #[test]
    fn an_enrollment_needs_a_device_still_approved() {
        let planned = enrolled(
            device("S", DeviceState::Approved),
            cert("01", "h"),
            record("01"),
            false,
            9,
        )
        .unwrap();
        let d = &planned.value;
        assert_eq!(d.state, DeviceState::Enrolled);
        assert!(d.label_key_used);
        assert_eq!(d.updated_at_ms, 9);
        assert_eq!(planned.writes.certs, vec![record("01")]);
        assert!(planned.writes.revoke.is_empty());
        assert_eq!(planned.writes.audit[0].detail["mode"], "same_key");
        let revoked = enrolled(
            device("S", DeviceState::Revoked),
            cert("01", "h"),
            record("01"),
            true,
            9,
        );
        assert_eq!(revoked.unwrap_err(), CHANGED_DURING_ISSUANCE);
    }

    #[test]
    fn a_renewal_replaces_and_revokes_the_current_certificate_only() {
        let mut d = device("S", DeviceState::Enrolled);
        d.certificate = Some(cert("01", "h"));
        let planned = renewed(d.clone(), "01", cert("02", "h2"), record("02"), 9).unwrap();
        let held = planned.value.certificate.clone().unwrap();
        assert_eq!(
            (held.serial.as_str(), held.replaces.as_deref()),
            ("02", Some("01"))
        );
        assert_eq!(planned.writes.revoke, vec!["01".to_string()]);
        assert!(renewed(d, "00", cert("02", "h2"), record("02"), 9).is_err());
    }

    #[test]
    fn a_duplicate_enrollment_is_flagged_without_revoking() {
        let mut d = device("S", DeviceState::Enrolled);
        d.certificate = Some(cert("01", "h"));
        let planned = flag_duplicate(d, 4);
        assert_eq!(planned.value.timeline[0].event, "duplicate_enrollment");
        assert!(planned.writes.revoke.is_empty());
        assert_eq!(
            planned.writes.audit[0].action,
            "device.duplicate_enrollment"
        );
    }
}
