//! Expected-device manifests against the real server: `vouch-server device import` of a CSV
//! file, then a technician's scans that match the manifest, carry another key, or name a serial
//! no manifest lists; a manifest with one bad line is refused whole, naming the line; a repeated
//! import changes nothing; the policy settings approve a matching scan and refuse an unlisted
//! serial.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::*;
use serde_json::Value;
use vouch_protocol::key::{hex, public_key_of};

fn key_hex(device: &Device) -> String {
    hex(&public_key_of(&device.key).to_sec1_compressed())
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn device_json(server: &Server, serial: &str) -> Value {
    let out = server.admin_ok(&["device", "show", serial, "--json"]);
    serde_json::from_str(&out).unwrap()
}

/// The summary `GET /v1/devices` gives for `serial` (in `state`).
fn summary(server: &Server, state: &str, serial: &str) -> Value {
    let out = server.admin_ok(&["device", "list", "--state", state, "--json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["serial"] == serial)
        .unwrap_or_else(|| panic!("{serial} is not {state}: {list}"))
        .clone()
}

fn audit_lines(server: &Server) -> usize {
    server.admin_ok(&["audit", "export"]).lines().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_manifest_marks_matching_conflicting_and_unlisted_scans() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let listed = Device::new("SN-LISTED");
    let swapped = Device::new("SN-SWAPPED");
    let factory_key = Device::new("SN-SWAPPED");
    let unlisted = Device::new("SN-UNLISTED");
    let manifest = format!(
        "serial,model,key,batch,order\nSN-LISTED,ACME-T1,{},B7,PO-1\nSN-SWAPPED,ACME-T1,{},B7,PO-1\n",
        key_hex(&listed),
        key_hex(&factory_key)
    );
    let file = write(dir.path(), "batch7.csv", &manifest);

    let out = server.admin_ok(&["device", "import", &file, "--reason", "factory batch 7"]);
    assert!(out.contains("2 newly expected"), "{out}");
    let import_id = out.split_whitespace().nth(1).unwrap().trim_end_matches(':');
    assert!(import_id.starts_with("m-"), "{out}");
    let expected = summary(&server, "expected", "SN-LISTED");
    assert_eq!(expected["expected_from"], import_id);
    assert!(expected["manifest_match"].is_null());
    let all = server.admin_ok(&["device", "list", "--json"]);
    assert!(
        !all.contains("SN-LISTED"),
        "expected devices are listed only when asked for: {all}"
    );

    // The same file again changes nothing: no device, no audit entry.
    let entries = audit_lines(&server);
    let again = server.admin_ok(&["device", "import", &file, "--reason", "again"]);
    assert!(again.contains("0 newly expected"), "{again}");
    assert!(again.contains("2 unchanged"), "{again}");
    assert_eq!(audit_lines(&server), entries);
    assert!(server
        .admin_ok(&["audit", "export"])
        .contains("device.manifest_imported"));

    // An expected device has not been vouched for: it may not enroll.
    let (status, body, _) = enroll(&server, &listed, &EnrollOptions::default()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("refused")),
        "{body}"
    );

    let mut tech = register(&server, "technician", "Tess").await;
    for device in [&listed, &swapped, &unlisted] {
        let (status, answer) = tech.scan_and_upload(&server, &device.text()).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["results"][0]["outcome"], "accepted", "{answer}");
    }
    let matching = summary(&server, "scanned", "SN-LISTED");
    assert_eq!(matching["expected_from"], import_id);
    assert_eq!(matching["manifest_match"], true);
    let conflict = summary(&server, "conflict", "SN-SWAPPED");
    assert_eq!(conflict["expected_from"], import_id);
    assert_eq!(conflict["manifest_match"], false);
    let shown = device_json(&server, "SN-SWAPPED");
    assert_eq!(
        shown["device"]["key"],
        key_hex(&swapped),
        "the scanned key is vouched"
    );
    assert_eq!(shown["device"]["other_keys"][0], key_hex(&factory_key));
    let stray = summary(&server, "scanned", "SN-UNLISTED");
    assert!(
        stray["expected_from"].is_null(),
        "not in any manifest: {stray}"
    );
    let listing = server.admin_ok(&["device", "list"]);
    assert!(listing.contains("not in any manifest"), "{listing}");
    assert!(listing.contains("KEY DIFFERS"), "{listing}");
}

#[test]
fn a_manifest_with_one_bad_line_is_refused_whole_naming_the_line() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let good = Device::new("SN-GOOD");
    let other = Device::new("SN-OTHER");
    let text = format!(
        "{{\"serial\":\"SN-GOOD\",\"key\":\"{}\"}}\n{{\"serial\":\"SN-OTHER\",\"key\":\"{}\"}}\n{{\"serial\":\"SN-BAD\",\"key\":\"0299\"}}\n",
        key_hex(&good),
        key_hex(&other)
    );
    let file = write(dir.path(), "bad.jsonl", &text);
    let entries = audit_lines(&server);
    let out = server.admin(&["device", "import", &file, "--reason", "batch 8"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("bad_manifest"), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    let expected = server.admin_ok(&["device", "list", "--state", "expected", "--json"]);
    assert!(!expected.contains("SN-GOOD"), "{expected}");
    assert_eq!(audit_lines(&server), entries);

    let missing = server.admin(&["device", "import", "/nonexistent.csv", "--reason", "x"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read the manifest"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_approves_a_matching_scan_and_refuses_an_unlisted_serial() {
    let server = Server::start_with_config(&[
        (
            "approve_on_manifest_match = false",
            "approve_on_manifest_match = true",
        ),
        ("unlisted = \"allowed\"", "unlisted = \"refused\""),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let listed = Device::new("SN-OK");
    let stray = Device::new("SN-STRAY");
    let file = write(dir.path(), "m.csv", &format!("label\n{}\n", listed.text()));
    server.admin_ok(&["device", "import", &file, "--reason", "batch 9"]);
    let mut tech = register(&server, "technician", "Tess").await;
    tech.scan_and_upload(&server, &listed.text()).await;
    tech.scan_and_upload(&server, &stray.text()).await;
    summary(&server, "approved", "SN-OK");
    summary(&server, "rejected", "SN-STRAY");
    let (status, body, _) = enroll(&server, &listed, &EnrollOptions::default()).await;
    assert_eq!(
        status, 200,
        "an approved-by-manifest device enrolls: {body}"
    );
}

#[test]
fn a_manifest_over_the_size_limit_is_refused() {
    let server = Server::start_with_config(&[(
        "max_manifest_bytes = 67108864",
        "max_manifest_bytes = 2000",
    )]);
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("serial,key\n");
    for i in 0..40 {
        text.push_str(&format!("SN-{i},{}\n", key_hex(&Device::new("X"))));
    }
    assert!(text.len() > 2000);
    let file = write(dir.path(), "big.csv", &text);
    let out = server.admin(&["device", "import", &file, "--reason", "too big"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("body_too_large"), "{stderr}");
    let expected = server.admin_ok(&["device", "list", "--state", "expected", "--json"]);
    assert!(!expected.contains("SN-0"), "{expected}");
}
