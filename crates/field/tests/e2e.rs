//! End to end against the real `vouch-server` binary and real sled on disk: register, scan,
//! sync, review, the device enrolls; the CLI; a CA that does not match the invite; records
//! tampered with on disk; sync with the server down, then up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::Path;
use std::sync::Mutex;

use common::{cli, cli_ok, fast_retries, label_text, Server};
use serde_json::Value;
use vouch_field::queue::StoredRecord;
use vouch_field::{Decision, Error, Field, RecordState, ScanOptions, SyncEvent, SyncProgress};
use vouch_protocol::p256::ecdsa::SigningKey;
use vouch_protocol::p256::pkcs8::DecodePrivateKey;
use vouch_protocol::{ChainHead, NewScan, RecordHash, RecordId, ScanRecord};
use vouch_protocol::{Model, Serial};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn open(dir: &Path) -> Field {
    fast_retries(dir, 3);
    Field::open(dir).unwrap()
}

fn site(s: &str) -> ScanOptions<'_> {
    ScanOptions {
        site: s,
        ..Default::default()
    }
}

fn no_progress(_: &SyncProgress) {}

#[test]
fn register_scan_sync_review_then_the_device_enrolls() {
    let server = Server::start();
    let rt = rt();
    let tech_dir = tempfile::tempdir().unwrap();
    let sup_dir = tempfile::tempdir().unwrap();
    let tech = open(tech_dir.path());
    let sup = open(sup_dir.path());

    // Not registered yet: scanning says what to do.
    let e = tech
        .scan_text(&label_text("X", 1), &site("WO-1"))
        .unwrap_err();
    assert_eq!(e.code(), "not_registered");
    assert!(e.to_string().contains("vouch-field register"), "{e}");

    let who = rt
        .block_on(tech.register(&server.invite("technician", "Tina Tech")))
        .unwrap();
    assert_eq!(who.name, "Tina Tech");
    assert_eq!(who.role.as_str(), "technician");
    assert_eq!(who.fingerprint.len(), 19);
    assert_eq!(tech.whoami().unwrap(), who);
    let again = rt
        .block_on(tech.register(&server.invite("technician", "Tina Tech")))
        .unwrap_err();
    assert_eq!(again.code(), "already_registered");
    let me = rt.block_on(tech.whoami_online()).unwrap();
    assert_eq!(me["key_id"], who.key_id.as_str());
    rt.block_on(sup.register(&server.invite("supervisor", "Sam Super")))
        .unwrap();

    // The key file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = tech_dir.path().join("identity/staff-key.pem");
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A device made by the agent, as at the factory.
    let device_dir = tempfile::tempdir().unwrap();
    let device = vouch_device::keygen(
        device_dir.path(),
        &Model::new("ACME-T1").unwrap(),
        &Serial::new("SN-E2E-1").unwrap(),
    )
    .unwrap();
    let text = device.label().to_compact().unwrap();

    // A mistyped label is refused with the reason; nothing is queued.
    let mut bad = text.clone().into_bytes();
    let i = bad.len() - 10;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let e = tech
        .scan_text(std::str::from_utf8(&bad).unwrap(), &site("WO-1"))
        .unwrap_err();
    assert_eq!(e.code(), "bad_label");
    assert!(e.to_string().contains("nothing was queued"), "{e}");
    assert_eq!(tech.counts().unwrap().total(), 0);

    // Scan, then the same label again: a warning, nothing queued, unless asked.
    let first = tech
        .scan_text(
            &text,
            &ScanOptions {
                site: "WO-1",
                note: Some("left of the door"),
                allow_repeat: false,
            },
        )
        .unwrap();
    assert_eq!(first.sequence, 1);
    assert_eq!(first.state, RecordState::Queued);
    assert_eq!(first.serial, "SN-E2E-1");
    let e = tech.scan_text(&text, &site("WO-1")).unwrap_err();
    assert!(matches!(e, Error::RepeatScan { sequence: 1, .. }), "{e}");
    assert_eq!(tech.counts().unwrap().total(), 1);
    let manual = device.label().to_manual().unwrap();
    let second = tech
        .scan_text(
            &manual,
            &ScanOptions {
                site: "WO-1",
                note: None,
                allow_repeat: true,
            },
        )
        .unwrap();
    assert_eq!(second.sequence, 2);

    // Sync, with progress.
    let events = Mutex::new(Vec::new());
    let report = rt
        .block_on(tech.sync(&|p: &SyncProgress| events.lock().unwrap().push(p.clone())))
        .unwrap();
    assert_eq!((report.accepted, report.duplicate), (2, 0), "{report:?}");
    assert!(report.refused.is_empty());
    assert_eq!(report.remaining, 0);
    let events = events.into_inner().unwrap();
    assert_eq!(events.first().unwrap().event, SyncEvent::Started);
    let last = events.last().unwrap();
    assert_eq!(
        (last.event.clone(), last.done, last.total),
        (SyncEvent::Finished, 2, 2)
    );
    assert!(tech
        .queue()
        .unwrap()
        .iter()
        .all(|e| e.state == RecordState::Accepted && e.attempts == 1));
    let nothing = rt.block_on(tech.sync(&no_progress)).unwrap();
    assert_eq!(nothing.sent, 0);

    // Review: refused for the technician, done by the supervisor.
    let e = rt.block_on(tech.review_list(None)).unwrap_err();
    assert_eq!(e.code(), "not_supervisor");
    assert!(e.to_string().contains("technician"), "{e}");
    let listed = rt.block_on(sup.review_list(Some("scanned"))).unwrap();
    let d = listed.iter().find(|d| d.serial == "SN-E2E-1").unwrap();
    assert_eq!(d.scans, 2);
    assert_eq!(
        d.key_fingerprint,
        device.public_key().fingerprint().to_string()
    );
    let shown = rt.block_on(sup.review_show("SN-E2E-1")).unwrap();
    assert_eq!(shown["scans"].as_array().unwrap().len(), 2);
    assert_eq!(shown["scans"][0]["technician"], "Tina Tech");
    let e = rt.block_on(sup.review_show("NO-SUCH")).unwrap_err();
    assert_eq!(e.code(), "not_found");

    // The device cannot enroll before approval...
    let remote = vouch_device::Server::new(&server.url(), &server.ca_pem_path()).unwrap();
    let options = vouch_device::EnrollOptions::default();
    let pending = rt
        .block_on(vouch_device::enroll(device_dir.path(), &remote, &options))
        .unwrap_err();
    assert!(
        matches!(pending, vouch_device::Error::PendingApproval),
        "{pending}"
    );
    // ...and can after it.
    let approved = rt
        .block_on(sup.review_decide("SN-E2E-1", Decision::Approve, "label checked on site"))
        .unwrap();
    assert_eq!(approved["state"], "approved", "{approved}");
    rt.block_on(vouch_device::enroll(device_dir.path(), &remote, &options))
        .unwrap();
    let hello = rt
        .block_on(vouch_device::hello(device_dir.path(), &remote))
        .unwrap();
    assert_eq!(hello.serial, "SN-E2E-1");
    let enrolled = rt.block_on(sup.review_list(Some("enrolled"))).unwrap();
    assert!(enrolled.iter().any(|d| d.serial == "SN-E2E-1"));

    // Export: one JSON line per record, with the signed record.
    let mut out = Vec::new();
    assert_eq!(tech.export(&mut out).unwrap(), 2);
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["state"], "accepted");
    assert_eq!(lines[0]["record"]["signature"].as_str().unwrap().len(), 128);
    assert_eq!(lines[1]["record"]["label_text"], manual.as_str());
}

#[test]
fn the_cli_registers_scans_lists_syncs_and_refuses_review_to_a_technician() {
    let server = Server::start();
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    fast_retries(d, 3);

    let out = cli(d, &["whoami"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not registered"));

    let invite = server.invite("technician", "Cli Tech");
    let text = cli_ok(d, &["register", "--invite", &invite]);
    assert!(
        text.contains("registered as Cli Tech (technician)"),
        "{text}"
    );
    let text = cli_ok(d, &["whoami"]);
    assert!(
        text.contains("Cli Tech") && text.contains("technician"),
        "{text}"
    );
    let json: Value = serde_json::from_str(&cli_ok(d, &["whoami", "--json"])).unwrap();
    assert_eq!(json["identity"]["role"], "technician");

    // A bad label: refused with the reason, exit 5, nothing queued.
    let label = label_text("CLI", 1);
    let bad = label.replacen("ACME", "ACNE", 1);
    let out = cli(d, &["scan", "--text", &bad, "--site", "WO-9"]);
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("check") && err.contains("nothing was queued"),
        "{err}"
    );

    // The global --data may come after the subcommand too.
    let out = std::process::Command::new(common::field_bin())
        .args(["scan", "--text", &label, "--site", "WO-9", "--data"])
        .arg(d)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("queued #1 CLI-00001"));
    let out = cli(d, &["scan", "--text", &label, "--site", "WO-9"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("warning:"));
    cli_ok(
        d,
        &["scan", "--text", &label_text("CLI", 2), "--note", "spare"],
    );

    // A photo of a printed label (the device agent's PNG) goes through the QR scanner.
    let (_, printed) = common::label("CLI", 3);
    let png = d.join("label.png");
    vouch_device::label_png(&printed, &png).unwrap();
    let decoded: Value =
        serde_json::from_str(&cli_ok(d, &["decode", png.to_str().unwrap()])).unwrap();
    assert_eq!(decoded["label"]["serial"], "CLI-00003", "{decoded}");
    let text = cli_ok(
        d,
        &["scan", "--image", png.to_str().unwrap(), "--site", "WO-9"],
    );
    assert!(text.starts_with("queued #3 CLI-00003"), "{text}");

    // While the app (here: this process) has the folder open, the CLI says so.
    let open_elsewhere = Field::open(d).unwrap();
    let out = cli(d, &["queue"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));
    drop(open_elsewhere);

    let list = cli_ok(d, &["queue"]);
    assert!(list.contains("3 records: 3 queued"), "{list}");
    let synced = cli_ok(d, &["sync"]);
    assert!(synced.contains("synced 3 records: 3 accepted"), "{synced}");
    let list = cli_ok(d, &["queue", "--json", "--state", "accepted"]);
    assert_eq!(list.lines().count(), 3);
    let export = d.join("backup.jsonl");
    cli_ok(d, &["export", "--out", export.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&export).unwrap().lines().count(), 3);

    let out = cli(d, &["review", "list"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("review is for supervisors"));

    let missing = d.join("no-such.png");
    let out = cli(d, &["decode", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(line["error"].is_string(), "{line}");

    // A supervisor reviews from the CLI.
    let sup = tempfile::tempdir().unwrap();
    let invite = server.invite("supervisor", "Cli Super");
    cli_ok(sup.path(), &["register", "--invite", &invite]);
    let list = cli_ok(sup.path(), &["review", "list", "--state", "scanned"]);
    assert!(
        list.contains("CLI-00001") && list.contains("3 devices"),
        "{list}"
    );
    let done = cli_ok(
        sup.path(),
        &["review", "reject", "CLI-00002", "--reason", "label damaged"],
    );
    assert!(done.contains("now rejected"), "{done}");
    let out = cli(sup.path(), &["review", "list", "--state", "bogus"]);
    assert_eq!(out.status.code(), Some(5));
}

#[test]
fn an_invite_whose_ca_hash_does_not_match_is_refused_before_the_code_is_sent() {
    let server = Server::start();
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let field = open(dir.path());
    let invite = server.invite("technician", "Pinned");
    // VOUCH-INVITE:1:<hash>:<code>:<url>; swap the hash for another.
    let mut parts: Vec<String> = invite.splitn(5, ':').map(str::to_string).collect();
    parts[2] = "00".repeat(32);
    let forged = parts.join(":");
    let e = rt.block_on(field.register(&forged)).unwrap_err();
    assert_eq!(e.code(), "ca_mismatch", "{e}");
    assert!(!field.is_registered());
    // The code was never sent, so the real invite still works.
    rt.block_on(field.register(&invite)).unwrap();
    // From then on the server is trusted only through the pinned CA: pointed at another Vouch
    // server (another CA), sync refuses the connection and keeps the record.
    field
        .scan_text(&label_text("PIN", 1), &site("WO-P"))
        .unwrap();
    drop(field);
    let other = Server::start();
    let info_path = dir.path().join("identity/identity.json");
    let mut info: Value =
        serde_json::from_str(&std::fs::read_to_string(&info_path).unwrap()).unwrap();
    info["server_url"] = Value::from(other.url());
    std::fs::write(&info_path, info.to_string()).unwrap();
    let field = Field::open(dir.path()).unwrap();
    let e = rt.block_on(field.sync(&no_progress)).unwrap_err();
    assert_eq!(e.code(), "tls", "{e}");
    assert!(e.to_string().contains("pinned"), "{e}");
    assert_eq!(field.counts().unwrap().queued, 1);

    // A garbled invite says so.
    let e = rt
        .block_on(
            Field::open(tempfile::tempdir().unwrap().path())
                .unwrap()
                .register("VOUCH-INVITE:2:x"),
        )
        .unwrap_err();
    assert_eq!(e.code(), "bad_invite");
}

/// Opens the queue's sled database directly, as someone with the tablet's disk could.
fn with_sled(data: &Path, f: impl FnOnce(&sled::Tree, &sled::Tree)) {
    let db = sled::open(data.join("queue")).unwrap();
    let records = db.open_tree("records").unwrap();
    let states = db.open_tree("states").unwrap();
    f(&records, &states);
    db.flush().unwrap();
}

fn stored(records: &sled::Tree, seq: u64) -> StoredRecord {
    serde_json::from_slice(&records.get(seq.to_be_bytes()).unwrap().unwrap()).unwrap()
}

fn outcomes(field: &Field) -> Vec<(u64, String)> {
    field
        .queue()
        .unwrap()
        .into_iter()
        .map(|e| {
            let s = match &e.state {
                RecordState::Refused { code, .. } => format!("refused:{code}"),
                s => s.name().to_string(),
            };
            (e.sequence, s)
        })
        .collect()
}

#[test]
fn records_tampered_with_on_disk_are_refused_by_the_server() {
    let server = Server::start();
    let rt = rt();
    let scan4 = |prefix: &str| {
        let dir = tempfile::tempdir().unwrap();
        let field = open(dir.path());
        rt.block_on(field.register(&server.invite("technician", prefix)))
            .unwrap();
        for i in 1..=4 {
            field
                .scan_text(&label_text(prefix, i), &site("WO-T"))
                .unwrap();
        }
        drop(field);
        dir
    };

    // 1. A field of record 2 altered: its signature no longer verifies; 3 and 4 then have
    //    no predecessor on the server.
    let altered = scan4("ALT");
    with_sled(altered.path(), |records, _| {
        let mut r = stored(records, 2);
        r.wire["site"] = Value::from("WO-ELSEWHERE");
        records
            .insert(2u64.to_be_bytes(), serde_json::to_vec(&r).unwrap())
            .unwrap();
    });
    let field = Field::open(altered.path()).unwrap();
    let report = rt.block_on(field.sync(&no_progress)).unwrap();
    assert_eq!(report.accepted, 1);
    assert_eq!(
        outcomes(&field),
        vec![
            (1, "accepted".into()),
            (2, "refused:bad_signature".into()),
            (3, "held".into()),
            (4, "held".into()),
        ]
    );
    drop(field);

    // 2. Record 2 deleted from the queue: the server sees the gap.
    let dropped = scan4("DEL");
    with_sled(dropped.path(), |records, states| {
        records.remove(2u64.to_be_bytes()).unwrap();
        states.remove(2u64.to_be_bytes()).unwrap();
    });
    let field = Field::open(dropped.path()).unwrap();
    let report = rt.block_on(field.sync(&no_progress)).unwrap();
    assert_eq!((report.accepted, report.held, report.remaining), (1, 2, 2));
    let held = vec![
        (1, "accepted".to_string()),
        (3, "held".into()),
        (4, "held".into()),
    ];
    assert_eq!(outcomes(&field), held);
    // Held records go again at the next sync (once per sync), and stay held...
    let report = rt.block_on(field.sync(&no_progress)).unwrap();
    assert_eq!((report.sent, report.held, report.batches), (2, 2, 1));
    assert_eq!(outcomes(&field), held);
    // ...until a supervisor accepts the gap: then the next sync gets them accepted.
    let me = field.whoami().unwrap();
    let e = rt
        .block_on(field.review_accept_gap(&me.key_id, 2, "my own gap"))
        .unwrap_err();
    assert_eq!(
        e.code(),
        "not_supervisor",
        "a technician cannot accept a gap"
    );
    let supervisor_dir = tempfile::tempdir().unwrap();
    let supervisor = open(supervisor_dir.path());
    rt.block_on(supervisor.register(&server.invite("supervisor", "SUP")))
        .unwrap();
    // The supervisor sees the gap on the devices the tablet scanned.
    let shown = rt.block_on(supervisor.review_show("DEL-00001")).unwrap();
    assert_eq!(
        shown["scanner_problems"][0]["gaps"][0]["expected"], 2,
        "{shown}"
    );
    let answer = rt
        .block_on(supervisor.review_accept_gap(&me.key_id, 2, "record deleted from the tablet"))
        .unwrap();
    assert_eq!(answer["gap"]["found"], 3, "{answer}");
    let report = rt.block_on(field.sync(&no_progress)).unwrap();
    assert_eq!((report.accepted, report.held, report.remaining), (2, 0, 0));
    assert_eq!(
        outcomes(&field),
        vec![
            (1, "accepted".into()),
            (3, "accepted".into()),
            (4, "accepted".into()),
        ]
    );
    drop(field);

    // 3. Record 3 rewritten and re-signed with the install's own key (taken from the disk) but
    //    on another branch of the chain: the signature verifies, the chain does not.
    let forked = scan4("FRK");
    let key_pem = std::fs::read_to_string(forked.path().join("identity/staff-key.pem")).unwrap();
    let key = SigningKey::from_pkcs8_pem(&key_pem).unwrap();
    let installer = vouch_protocol::key::public_key_of(&key).key_id();
    with_sled(forked.path(), |records, _| {
        let old = stored(records, 3);
        let head = ChainHead {
            next_sequence: 3,
            last_hash: RecordHash([7; 32]),
        };
        let record = ScanRecord::new(
            installer,
            &NewScan {
                record_id: RecordId([9; 16]),
                chain: &head,
                scanned_at_ms: old.scanned_at_ms,
                label_text: &label_text("FRK", 99),
                site: "WO-T",
                note: None,
            },
        )
        .unwrap();
        let signed = record.sign(&key).unwrap();
        let new = StoredRecord::new(&signed, old.queued_at_ms).unwrap();
        records
            .insert(3u64.to_be_bytes(), serde_json::to_vec(&new).unwrap())
            .unwrap();
    });
    let field = Field::open(forked.path()).unwrap();
    rt.block_on(field.sync(&no_progress)).unwrap();
    assert_eq!(
        outcomes(&field),
        vec![
            (1, "accepted".into()),
            (2, "accepted".into()),
            (3, "refused:chain_broken".into()),
            (4, "held".into()),
        ]
    );
    // The refusals are shown with the server's reason, and never deleted.
    drop(field);
    let list = cli_ok(forked.path(), &["queue", "--state", "refused"]);
    assert!(list.contains("chain_broken"), "{list}");
}

#[test]
fn sync_with_the_server_down_keeps_everything_then_sends_it_when_it_is_up() {
    let mut server = Server::start();
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let field = open(d);
    rt.block_on(field.register(&server.invite("technician", "Offline")))
        .unwrap();
    for i in 1..=3 {
        field
            .scan_text(&label_text("OFF", i), &site("WO-O"))
            .unwrap();
    }
    server.stop();

    let retries = Mutex::new(0);
    let e = rt
        .block_on(field.sync(&|p: &SyncProgress| {
            if matches!(p.event, SyncEvent::Retrying { .. }) {
                *retries.lock().unwrap() += 1;
            }
        }))
        .unwrap_err();
    assert_eq!(e.code(), "offline", "{e}");
    assert!(e.to_string().contains("Nothing was lost"), "{e}");
    assert_eq!(*retries.lock().unwrap(), 2, "3 attempts, 2 retries");
    let counts = field.counts().unwrap();
    assert_eq!((counts.queued, counts.syncing), (3, 0));
    drop(field);

    // The CLI says so too, with exit code 3.
    let out = cli(d, &["sync"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("offline") && err.contains("3 records are still queued"),
        "{err}"
    );
    // Scanning offline still works.
    cli_ok(d, &["scan", "--text", &label_text("OFF", 4)]);

    server.restart();
    let field = Field::open(d).unwrap();
    let report = rt.block_on(field.sync(&no_progress)).unwrap();
    assert_eq!((report.accepted, report.remaining), (4, 0), "{report:?}");
    let serials: Vec<String> = server
        .devices()
        .iter()
        .map(|d| d["serial"].as_str().unwrap().to_string())
        .filter(|s| s.starts_with("OFF-"))
        .collect();
    assert_eq!(serials.len(), 4, "{serials:?}");
}

#[test]
fn a_sync_renews_a_staff_certificate_near_its_expiry_and_the_old_one_stops_working() {
    // Staff certificates of 10 days: inside the 30-day renewal window from the start.
    let server =
        Server::start_with_config(&[("staff_validity_days = 365", "staff_validity_days = 10")]);
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let field = open(dir.path());
    rt.block_on(field.register(&server.invite("technician", "REN")))
        .unwrap();
    let cert_path = dir.path().join("identity/cert.pem");
    let first = std::fs::read_to_string(&cert_path).unwrap();
    field
        .scan_text(&label_text("REN", 1), &site("WO-R"))
        .unwrap();

    let report = rt.block_on(field.sync(&no_progress)).unwrap();
    assert!(report.certificate_renewed, "{report:?}");
    assert_eq!((report.accepted, report.renewal_error), (1, None));
    let second = std::fs::read_to_string(&cert_path).unwrap();
    assert_ne!(first, second, "the new certificate is stored");
    let audit = server.admin_ok(&["audit", "export"]);
    assert!(audit.contains("staff.renewed"), "{audit}");

    // A fresh start uses the stored certificate; the replaced one is refused by the server.
    drop(field);
    let field = Field::open(dir.path()).unwrap();
    rt.block_on(field.whoami_online()).unwrap();
    drop(field);
    std::fs::write(&cert_path, &first).unwrap();
    let field = Field::open(dir.path()).unwrap();
    let e = rt.block_on(field.whoami_online()).unwrap_err();
    assert_eq!(e.code(), "refused", "{e}");
    drop(field);
    std::fs::write(&cert_path, &second).unwrap();

    // The CLI renews on demand too.
    let out = cli_ok(dir.path(), &["renew"]);
    assert!(out.contains("renewed"), "{out}");
}

/// A supervisor imports a manifest through the engine (as the app's review screen does): the
/// devices are expected, a second import changes nothing, a bad line is refused by the server
/// naming it, and a technician may not import.
#[test]
fn a_supervisor_imports_a_manifest_whole_once() {
    let server = Server::start();
    let rt = rt();
    let sup_dir = tempfile::tempdir().unwrap();
    let sup = open(sup_dir.path());
    rt.block_on(sup.register(&server.invite("supervisor", "Sam Super")))
        .unwrap();
    let manifest = format!(
        "label,batch\n{},B1\n{},B2\n",
        label_text("MAN", 1),
        label_text("MAN", 2)
    );
    let first = rt
        .block_on(sup.review_import(&manifest, Some("m.csv"), "batch 1"))
        .unwrap();
    assert_eq!((first.added, first.unchanged), (2, 0), "{manifest}");
    let again = rt
        .block_on(sup.review_import(&manifest, Some("m.csv"), "again"))
        .unwrap();
    assert_eq!((again.added, again.unchanged), (0, 2));
    assert_eq!(again.import_id, first.import_id);
    let expected = rt.block_on(sup.review_list(Some("expected"))).unwrap();
    assert_eq!(expected.len(), 2);
    assert!(expected
        .iter()
        .all(|d| d.expected_from.as_deref() == Some(first.import_id.as_str())));

    let bad = format!("label\n{}\nnot a label\n", label_text("MAN", 3));
    let e = rt
        .block_on(sup.review_import(&bad, None, "batch 2"))
        .unwrap_err();
    assert!(e.to_string().contains("line 3"), "{e}");
    assert_eq!(
        rt.block_on(sup.review_list(Some("expected")))
            .unwrap()
            .len(),
        2
    );

    let tech_dir = tempfile::tempdir().unwrap();
    let tech = open(tech_dir.path());
    rt.block_on(tech.register(&server.invite("technician", "Tess")))
        .unwrap();
    let e = rt
        .block_on(tech.review_import(&manifest, None, "x"))
        .unwrap_err();
    assert_eq!(e.code(), "not_supervisor");
}
