//! Scan ingestion: what a verified record does, given what the store holds (duplicates and
//! reused record ids, the install's chain, gaps and their acceptance, the devices it names and
//! their conflicts).

use serde::{Deserialize, Serialize};
use vouch_protocol::key::hex;
use vouch_protocol::wire::ErrorCode;
use vouch_protocol::{ChainHead, SignedScanRecord};

use vouch_protocol::wire::DeviceEvent;

use super::device::enter_conflict;
use super::{AuditNote, ChainGap, Device, DeviceState, Planned, StaffMember, WritePlan};

/// A stored scan record with what the server made of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredScan {
    /// The record as received (signature verified).
    pub record: SignedScanRecord,
    /// When the server accepted it.
    pub received_at_ms: u64,
    /// The scanner's display name at the time.
    pub installer_name: String,
}

/// What [`ingest`] looks at for one record, read inside the store's transaction (after the
/// writes of the records before it in the batch).
#[derive(Clone, Debug, Default)]
pub struct IngestView {
    /// The member whose install signed the record, if registered.
    pub staff: Option<StaffMember>,
    /// A stored record with the same id, if any.
    pub same_id: Option<StoredScan>,
    /// The device with the record's serial, if any.
    pub by_serial: Option<Device>,
    /// The serials the record's key has been seen under (the key index), this one included if
    /// it was.
    pub key_serials: Vec<String>,
    /// Devices (other serials) already holding the record's key.
    pub by_key: Vec<Device>,
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
        /// Machine-readable reason (the wire contract's code).
        code: ErrorCode,
        /// Human text.
        message: String,
    },
}

/// What becomes of a scanned serial that no manifest lists (`policy.unlisted`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnlistedPolicy {
    /// As any scan: it waits for a supervisor (or is approved by `auto_approve_trusted`).
    #[default]
    Allowed,
    /// Marked `not_in_manifest` in its timeline and never approved by policy.
    Flagged,
    /// Rejected by policy at once (a supervisor may still approve it after checking).
    Refused,
}

/// Server policy for scans.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScanPolicy {
    /// Approve at once when a trusted member scans a label without conflict.
    pub auto_approve_trusted: bool,
    /// Approve at once the first scan of an expected device whose key is the manifest's.
    pub approve_on_manifest_match: bool,
    /// What becomes of a serial no manifest lists.
    pub unlisted: UnlistedPolicy,
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
    // An expected device was only announced: its first scan makes it as a new one would,
    // with the scanned key as the vouched key.
    let first_scan = view
        .by_serial
        .as_ref()
        .is_none_or(|d| d.state == DeviceState::Expected);
    let mut device = match &view.by_serial {
        Some(d) if d.state != DeviceState::Expected => d.clone(),
        announced => {
            let mut d = announced.clone().unwrap_or_else(|| Device {
                serial: serial.clone(),
                model: None,
                key: String::new(),
                key_fingerprint: String::new(),
                state: DeviceState::Scanned,
                other_keys: vec![],
                other_serials: vec![],
                scans: vec![],
                label_key_used: false,
                certificate: None,
                timeline: vec![],
                created_at_ms: now_ms,
                updated_at_ms: now_ms,
                expected: None,
            });
            d.state = DeviceState::Scanned;
            d.key.clone_from(&key);
            d.key_fingerprint = label.key().fingerprint().to_string();
            if let Some(model) = label.model() {
                d.model = Some(model.as_str().to_string());
            }
            d
        }
    };
    device.scans.push(record_id.clone());
    let key_conflict = device.key != key;
    let serial_conflict = !view.by_key.is_empty();
    let manifest_conflict = device
        .expected
        .as_mut()
        .and_then(|e| e.record_scan(&key).then(|| e.key.clone()));
    for other_key in [key_conflict.then(|| key.clone()), manifest_conflict.clone()]
        .into_iter()
        .flatten()
    {
        if other_key != device.key && !device.other_keys.contains(&other_key) {
            device.other_keys.push(other_key);
        }
    }
    for other in &view.by_key {
        if !device.other_serials.contains(&other.serial) {
            device.other_serials.push(other.serial.clone());
        }
    }
    if key_conflict || serial_conflict || manifest_conflict.is_some() {
        let why = if key_conflict {
            "same serial scanned with another key"
        } else if manifest_conflict.is_some() {
            "the label's key is not the one the manifest lists for this serial"
        } else {
            "this key was already scanned under another serial"
        };
        enter_conflict(&mut device, now_ms, &actor, why);
    } else if first_scan {
        device.note(now_ms, DeviceEvent::Scanned, &actor, Some(site));
        apply_first_scan_policy(&mut device, scanner, policy, now_ms);
    } else {
        device.note(now_ms, DeviceEvent::Corroborated, &actor, Some(site));
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

/// What policy makes of a device's first scan without conflict: a manifest match, a serial in
/// no manifest, a trusted scanner.
fn apply_first_scan_policy(
    device: &mut Device,
    scanner: &StaffMember,
    policy: ScanPolicy,
    now_ms: u64,
) {
    let by_policy = |d: &mut Device, state: DeviceState, event: DeviceEvent, why: &str| {
        d.state = state;
        d.note(now_ms, event, "policy", Some(why.into()));
    };
    if let Some(import) = device.expected.as_ref().map(|e| e.import_id.clone()) {
        device.note(
            now_ms,
            DeviceEvent::ManifestMatched,
            "server",
            Some(format!("import {import}")),
        );
        if policy.approve_on_manifest_match {
            return by_policy(
                device,
                DeviceState::Approved,
                DeviceEvent::Approved,
                "matches the manifest",
            );
        }
    } else {
        match policy.unlisted {
            UnlistedPolicy::Allowed => {}
            UnlistedPolicy::Flagged => {
                return device.note(
                    now_ms,
                    DeviceEvent::NotInManifest,
                    "policy",
                    Some("flagged: no manifest lists this serial".into()),
                );
            }
            UnlistedPolicy::Refused => {
                return by_policy(
                    device,
                    DeviceState::Rejected,
                    DeviceEvent::Rejected,
                    "no manifest lists this serial",
                );
            }
        }
    }
    if policy.auto_approve_trusted && scanner.trusted {
        by_policy(
            device,
            DeviceState::Approved,
            DeviceEvent::Approved,
            "trusted scanner",
        );
    }
}

/// What one verified record does: its outcome and what to write (nothing for a duplicate or
/// a plain refusal; the gap and its audit entry for a new chain gap; the devices, the key
/// index, the chain head, the stored record and the audit entry for an accepted record).
pub fn ingest(
    record: &SignedScanRecord,
    view: &IngestView,
    policy: ScanPolicy,
    now_ms: u64,
) -> Planned<ScanOutcome> {
    let r = record.record();
    let Some(staff) = view.staff.clone() else {
        return refused(
            now_ms,
            ErrorCode::UnknownInstaller,
            "the record's install is not registered",
        );
    };
    if let Some(stored) = &view.same_id {
        if stored.record == *record {
            return Planned {
                value: ScanOutcome::Duplicate,
                writes: WritePlan::at(now_ms),
            };
        }
        return refused(
            now_ms,
            ErrorCode::RecordIdReused,
            "another record with this id is already stored",
        );
    }
    match staff.chain.check_next(r) {
        Ok(()) => accept(record, staff, view, policy, now_ms),
        Err(vouch_protocol::Error::SequenceGap { expected, found })
            if resumes_accepted_gap(&staff, expected, found) =>
        {
            accept(record, staff, view, policy, now_ms)
        }
        Err(e) => refuse_out_of_chain(staff, &e, now_ms),
    }
}

/// A record that does not continue its install's chain: refused, and a gap not seen before is
/// recorded (with its audit entry) for a reviewer.
fn refuse_out_of_chain(
    mut staff: StaffMember,
    e: &vouch_protocol::Error,
    now_ms: u64,
) -> Planned<ScanOutcome> {
    let mut planned = refused(now_ms, ErrorCode::of(e), &gap_message(e));
    if let vouch_protocol::Error::SequenceGap { expected, found } = *e {
        if !staff.gaps.iter().any(|g| g.expected == expected) {
            staff.gaps.push(ChainGap {
                expected,
                found,
                seen_at_ms: now_ms,
                accepted: None,
            });
            planned.writes.audit.push(AuditNote {
                actor: "server".into(),
                action: "staff.chain_gap",
                subject: staff.key_id.clone(),
                detail: serde_json::json!({"expected": expected, "found": found}),
            });
            planned.writes.staff.push(staff);
        }
    }
    planned
}

/// Whether a reviewer accepted this very gap: the record with sequence `found` continues the
/// chain (the records before it are declared lost; its previous-hash cannot be checked).
fn resumes_accepted_gap(staff: &StaffMember, expected: u64, found: u64) -> bool {
    staff
        .gaps
        .iter()
        .any(|g| g.expected == expected && g.found == found && g.accepted.is_some())
}

/// The refusal message, telling the way out of a gap.
fn gap_message(e: &vouch_protocol::Error) -> String {
    match e {
        vouch_protocol::Error::SequenceGap { expected, .. } => format!(
            "{e}; the record is held until record {expected} arrives or a supervisor accepts the gap"
        ),
        _ => e.to_string(),
    }
}

/// Applies a record that continues its install's chain: the decision, the devices it changes,
/// the key index, the chain head, the stored scan and the audit entry.
fn accept(
    record: &SignedScanRecord,
    mut staff: StaffMember,
    view: &IngestView,
    policy: ScanPolicy,
    now_ms: u64,
) -> Planned<ScanOutcome> {
    let r = record.record();
    let id = r.record_id().to_hex();
    let serial = r.label().serial().as_str().to_string();
    let key = hex(&r.label().key().to_sec1_compressed());
    let devices = decide_scan(record, &staff, view, policy, now_ms);
    let mut writes = WritePlan::at(now_ms);
    if !view.key_serials.contains(&serial) {
        let mut serials = view.key_serials.clone();
        serials.push(serial.clone());
        writes.key_index.push((key, serials));
    }
    staff.chain = ChainHead::after(r);
    writes.scans.push(StoredScan {
        record: record.clone(),
        received_at_ms: now_ms,
        installer_name: staff.name.clone(),
    });
    let states: Vec<_> = devices
        .iter()
        .map(|d| (d.serial.clone(), d.state.as_str()))
        .collect();
    writes.audit.push(AuditNote {
        actor: format!("staff:{}", staff.key_id),
        action: "scan.accepted",
        subject: serial,
        detail: serde_json::json!({"record_id": id, "sequence": r.sequence(), "devices": states}),
    });
    writes.staff.push(staff);
    writes.devices.clone_from(&devices);
    Planned {
        value: ScanOutcome::Accepted(devices),
        writes,
    }
}

fn refused(now_ms: u64, code: ErrorCode, message: &str) -> Planned<ScanOutcome> {
    Planned {
        value: ScanOutcome::Refused {
            code,
            message: message.to_string(),
        },
        writes: WritePlan::at(now_ms),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::testing::{label, Scanner};
    use crate::domain::GapAcceptance;

    fn view(staff: &StaffMember) -> IngestView {
        IngestView {
            staff: Some(staff.clone()),
            ..IngestView::default()
        }
    }

    fn accepted(planned: &Planned<ScanOutcome>) -> Vec<Device> {
        match &planned.value {
            ScanOutcome::Accepted(devices) => devices.clone(),
            other => panic!("not accepted: {other:?}"),
        }
    }

    fn refusal(planned: &Planned<ScanOutcome>) -> ErrorCode {
        match &planned.value {
            ScanOutcome::Refused { code, .. } => code.clone(),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_first_scan_makes_a_device_and_moves_the_chain() {
        let mut tech = Scanner::new(1);
        let member = tech.member(false);
        let record = tech.record(&label("SN-1", 2));
        let planned = ingest(&record, &view(&member), ScanPolicy::default(), 5);
        let devices = accepted(&planned);
        assert_eq!(devices[0].state, DeviceState::Scanned);
        assert_eq!(devices[0].created_at_ms, 5);
        let w = &planned.writes;
        assert_eq!(w.devices, devices);
        assert_eq!(w.key_index[0].1, vec!["SN-1".to_string()]);
        assert_eq!(w.staff[0].chain, tech.chain);
        assert_eq!(w.scans[0].record, record);
        assert_eq!(w.audit[0].action, "scan.accepted");
    }

    #[test]
    fn a_trusted_scan_is_approved_only_under_the_policy() {
        let mut tech = Scanner::new(1);
        let member = tech.member(true);
        let record = tech.record(&label("SN-1", 2));
        let on = ScanPolicy {
            auto_approve_trusted: true,
            ..ScanPolicy::default()
        };
        let approved = accepted(&ingest(&record, &view(&member), on, 5));
        assert_eq!(approved[0].state, DeviceState::Approved);
        let scanned = accepted(&ingest(&record, &view(&member), ScanPolicy::default(), 5));
        assert_eq!(scanned[0].state, DeviceState::Scanned);
    }

    /// The device a manifest line for `serial` with `key(n)` makes.
    fn expected(serial: &str, n: u8) -> Device {
        use crate::domain::manifest::{parse_manifest, plan_import, ImportMeta};
        let key = hex(
            &vouch_protocol::key::public_key_of(&crate::domain::testing::key(n))
                .to_sec1_compressed(),
        );
        let entries = parse_manifest(&format!("serial,key\n{serial},{key}\n")).unwrap();
        let meta = ImportMeta {
            id: "m-1".into(),
            sha256: String::new(),
            source: None,
            actor: "operator".into(),
            reason: "r".into(),
        };
        plan_import(&entries, &[None], &meta, 1)
            .unwrap()
            .writes
            .devices[0]
            .clone()
    }

    fn scan_of(device: Option<Device>, label_seed: u8, policy: ScanPolicy) -> Planned<ScanOutcome> {
        let mut tech = Scanner::new(1);
        let member = tech.member(false);
        let mut v = view(&member);
        v.by_serial = device;
        ingest(&tech.record(&label("SN-1", label_seed)), &v, policy, 5)
    }

    #[test]
    fn a_matching_scan_of_an_expected_device_is_marked_and_approved_only_by_policy() {
        let planned = scan_of(Some(expected("SN-1", 2)), 2, ScanPolicy::default());
        let d = &accepted(&planned)[0];
        assert_eq!(d.state, DeviceState::Scanned);
        assert_eq!(d.expected.as_ref().unwrap().matched, Some(true));
        assert!(d.timeline.iter().any(|t| t.event == "manifest_matched"));
        assert!(d.other_keys.is_empty());
        let on = ScanPolicy {
            approve_on_manifest_match: true,
            ..ScanPolicy::default()
        };
        let d = &accepted(&scan_of(Some(expected("SN-1", 2)), 2, on))[0];
        assert_eq!(d.state, DeviceState::Approved);
        assert_eq!(d.timeline.last().unwrap().actor, "policy");
    }

    #[test]
    fn a_scan_with_another_key_than_the_manifest_is_a_conflict_never_approved() {
        let on = ScanPolicy {
            approve_on_manifest_match: true,
            auto_approve_trusted: true,
            ..ScanPolicy::default()
        };
        let manifest_key = expected("SN-1", 2).key;
        let d = &accepted(&scan_of(Some(expected("SN-1", 2)), 3, on))[0];
        assert_eq!(d.state, DeviceState::Conflict);
        assert_eq!(d.expected.as_ref().unwrap().matched, Some(false));
        assert_eq!(d.other_keys, vec![manifest_key]);
        assert_ne!(d.key, d.other_keys[0], "the vouched key is the scanned one");
    }

    #[test]
    fn a_serial_in_no_manifest_follows_the_unlisted_policy() {
        let with = |unlisted| ScanPolicy {
            unlisted,
            ..ScanPolicy::default()
        };
        let allowed = &accepted(&scan_of(None, 2, with(UnlistedPolicy::Allowed)))[0];
        assert_eq!(allowed.state, DeviceState::Scanned);
        assert!(allowed.expected.is_none());
        assert!(!allowed
            .timeline
            .iter()
            .any(|t| t.event == "not_in_manifest"));
        let flagged = &accepted(&scan_of(None, 2, with(UnlistedPolicy::Flagged)))[0];
        assert_eq!(flagged.state, DeviceState::Scanned);
        assert_eq!(flagged.timeline.last().unwrap().event, "not_in_manifest");
        let refused = &accepted(&scan_of(None, 2, with(UnlistedPolicy::Refused)))[0];
        assert_eq!(refused.state, DeviceState::Rejected);
        let mut trusted = with(UnlistedPolicy::Flagged);
        trusted.auto_approve_trusted = true;
        let mut tech = Scanner::new(1);
        let member = tech.member(true);
        let d = &accepted(&ingest(
            &tech.record(&label("SN-1", 2)),
            &view(&member),
            trusted,
            5,
        ))[0];
        assert_eq!(
            d.state,
            DeviceState::Scanned,
            "flagged is never approved by policy"
        );
        let expected_match = &accepted(&scan_of(
            Some(expected("SN-1", 2)),
            2,
            with(UnlistedPolicy::Refused),
        ))[0];
        assert_eq!(
            expected_match.state,
            DeviceState::Scanned,
            "a listed serial is not refused"
        );
    }

    #[test]
    fn unknown_installers_duplicates_and_reused_ids_write_nothing() {
        let mut tech = Scanner::new(1);
        let member = tech.member(false);
        let record = tech.record(&label("SN-1", 2));
        let unknown = ingest(&record, &IngestView::default(), ScanPolicy::default(), 5);
        assert_eq!(refusal(&unknown), ErrorCode::UnknownInstaller);
        assert!(unknown.writes.is_empty());
        let stored = StoredScan {
            record: record.clone(),
            received_at_ms: 1,
            installer_name: "Tess".into(),
        };
        let mut seen = view(&member);
        seen.same_id = Some(stored.clone());
        let again = ingest(&record, &seen, ScanPolicy::default(), 5);
        assert_eq!(again.value, ScanOutcome::Duplicate);
        assert!(again.writes.is_empty());
        let mut other = Scanner::new(1);
        let reused = other.record(&label("SN-9", 3));
        let clash = ingest(&reused, &seen, ScanPolicy::default(), 5);
        assert_eq!(refusal(&clash), ErrorCode::RecordIdReused);
        assert!(clash.writes.is_empty());
    }

    #[test]
    fn a_key_under_two_serials_puts_both_devices_in_conflict() {
        let mut tech = Scanner::new(1);
        let member = tech.member(false);
        let first = accepted(&ingest(
            &tech.record(&label("SN-1", 2)),
            &view(&member),
            ScanPolicy::default(),
            5,
        ));
        let mut v = view(&member);
        v.staff.as_mut().unwrap().chain = tech.chain;
        v.key_serials = vec!["SN-1".into()];
        v.by_key = first;
        let planned = ingest(
            &tech.record(&label("SN-2", 2)),
            &v,
            ScanPolicy::default(),
            6,
        );
        let devices = accepted(&planned);
        assert_eq!(devices.len(), 2);
        assert!(devices.iter().all(|d| d.state == DeviceState::Conflict));
        assert_eq!(devices[0].other_serials, vec!["SN-1".to_string()]);
        assert_eq!(planned.writes.key_index[0].1, vec!["SN-1", "SN-2"]);
    }

    #[test]
    fn a_second_scan_of_the_same_label_corroborates() {
        let mut tech = Scanner::new(1);
        let member = tech.member(false);
        let first = accepted(&ingest(
            &tech.record(&label("SN-1", 2)),
            &view(&member),
            ScanPolicy::default(),
            5,
        ));
        let mut v = view(&member);
        v.staff.as_mut().unwrap().chain = tech.chain;
        v.by_serial = first.into_iter().next();
        v.key_serials = vec!["SN-1".into()];
        let planned = ingest(
            &tech.record(&label("SN-1", 2)),
            &v,
            ScanPolicy::default(),
            6,
        );
        let device = &accepted(&planned)[0];
        assert_eq!(device.state, DeviceState::Scanned);
        assert_eq!(device.scans.len(), 2);
        assert_eq!(device.timeline.last().unwrap().event, "corroborated");
        assert!(
            planned.writes.key_index.is_empty(),
            "the key index is unchanged"
        );
    }

    #[test]
    fn a_gap_is_recorded_once_and_an_accepted_gap_resumes_the_chain() {
        let mut tech = Scanner::new(1);
        let mut member = tech.member(false);
        tech.lose(2);
        let record = tech.record(&label("SN-1", 2));
        let first = ingest(&record, &view(&member), ScanPolicy::default(), 5);
        assert!(refusal(&first).holds_record(), "{:?}", refusal(&first));
        let gap = &first.writes.staff[0].gaps[0];
        assert_eq!((gap.expected, gap.found), (1, 3));
        assert_eq!(first.writes.audit[0].action, "staff.chain_gap");
        member = first.writes.staff[0].clone();
        let second = ingest(&record, &view(&member), ScanPolicy::default(), 6);
        assert!(refusal(&second).holds_record(), "{:?}", refusal(&second));
        assert!(
            second.writes.is_empty(),
            "a known gap is not recorded again"
        );
        member.gaps[0].accepted = Some(GapAcceptance {
            by: "operator".into(),
            at_ms: 7,
            reason: "lost".into(),
        });
        let resumed = ingest(&record, &view(&member), ScanPolicy::default(), 8);
        accepted(&resumed);
        assert_eq!(resumed.writes.staff[0].chain, tech.chain);
    }
}
