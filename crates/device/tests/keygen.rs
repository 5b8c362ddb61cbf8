//! Key generation and the device directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fs;
use std::os::unix::fs::PermissionsExt;

use vouch_device::store::{
    CERT_FILE, CHAIN_FILE, DEVICE_FILE, LABEL_KEY_FILE, OPERATIONAL_KEY_FILE, PENDING_FILE,
};
use vouch_device::{exit, keygen, load, Error};
use vouch_protocol::{Label, Model, Serial};

fn model() -> Model {
    Model::new("ACME-T1").unwrap()
}

fn serial() -> Serial {
    Serial::new("SN-0001").unwrap()
}

#[test]
fn keygen_writes_a_0600_key_and_device_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev1");
    let device = keygen(&dir, &model(), &serial()).unwrap();

    let key_mode = fs::metadata(dir.join(LABEL_KEY_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    let dir_mode = fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o077, 0, "the new directory is private");

    let pem = fs::read_to_string(dir.join(LABEL_KEY_FILE)).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join(DEVICE_FILE)).unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"model": "ACME-T1", "serial": "SN-0001"})
    );

    // No temporary files are left behind.
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec![DEVICE_FILE, LABEL_KEY_FILE]);

    // The label parses back to the same device.
    let loaded = load(&dir).unwrap();
    assert_eq!(loaded.label(), device.label());
    let parsed = Label::parse(&device.label().to_compact().unwrap()).unwrap();
    assert_eq!(parsed.key(), &device.public_key());
    assert!(!loaded.is_enrolled());
}

#[test]
fn keygen_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    keygen(tmp.path(), &model(), &serial()).unwrap();
    let before = fs::read(tmp.path().join(LABEL_KEY_FILE)).unwrap();

    let err = keygen(tmp.path(), &model(), &Serial::new("SN-0002").unwrap()).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    assert_eq!(err.exit_code(), exit::BAD_ARGUMENTS);
    assert!(err.to_string().contains("refusing to overwrite"), "{err}");

    assert_eq!(fs::read(tmp.path().join(LABEL_KEY_FILE)).unwrap(), before);
    assert_eq!(load(tmp.path()).unwrap().serial().as_str(), "SN-0001");
}

#[test]
fn keygen_refuses_a_serial_that_cannot_be_on_a_label_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev");
    // A valid serial (DPP labels may carry lower case) but not a compact-label one.
    let err = keygen(&dir, &model(), &Serial::new("sn_1").unwrap()).unwrap_err();
    assert_eq!(err.exit_code(), exit::BAD_ARGUMENTS, "{err}");
    assert!(!dir.exists());
}

#[test]
fn load_explains_what_is_missing_or_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let err = load(&tmp.path().join("nope")).unwrap_err();
    assert!(err.to_string().contains("keygen"), "{err}");

    keygen(tmp.path(), &model(), &serial()).unwrap();
    fs::write(tmp.path().join(LABEL_KEY_FILE), "garbage").unwrap();
    let err = load(tmp.path()).unwrap_err();
    assert!(matches!(err, Error::BadDeviceDir { .. }), "{err:?}");
    assert!(err.to_string().contains("PKCS#8"), "{err}");

    fs::write(tmp.path().join(DEVICE_FILE), "{\"model\": 1}").unwrap();
    assert!(matches!(
        load(tmp.path()).unwrap_err(),
        Error::BadDeviceDir { .. }
    ));
}

#[test]
fn load_finishes_a_staged_certificate_update() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    keygen(dir, &model(), &serial()).unwrap();
    fs::write(dir.join(CERT_FILE), "old cert").unwrap();
    fs::write(dir.join(CHAIN_FILE), "old chain").unwrap();
    // Crash after the key was switched, before chain and certificate.
    fs::write(dir.join(OPERATIONAL_KEY_FILE), "new key").unwrap();
    fs::write(dir.join(format!("{CHAIN_FILE}.new")), "new chain").unwrap();
    fs::write(dir.join(format!("{CERT_FILE}.new")), "new cert").unwrap();
    // The request this update answers.
    fs::write(dir.join(PENDING_FILE), "{}").unwrap();
    load(dir).unwrap();
    assert_eq!(fs::read_to_string(dir.join(CERT_FILE)).unwrap(), "new cert");
    assert!(
        !dir.join(PENDING_FILE).exists(),
        "answered: no longer pending"
    );
    assert_eq!(
        fs::read_to_string(dir.join(CHAIN_FILE)).unwrap(),
        "new chain"
    );
    assert!(!dir.join(format!("{CERT_FILE}.new")).exists());
}

#[test]
fn load_drops_an_incomplete_certificate_update() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    keygen(dir, &model(), &serial()).unwrap();
    fs::write(dir.join(CERT_FILE), "old cert").unwrap();
    // Crash while staging: the certificate (the commit marker) was never staged.
    fs::write(dir.join(format!("{OPERATIONAL_KEY_FILE}.new")), "new key").unwrap();
    fs::write(dir.join(format!("{CHAIN_FILE}.new")), "new chain").unwrap();
    fs::write(dir.join(PENDING_FILE), "{}").unwrap();
    load(dir).unwrap();
    assert_eq!(fs::read_to_string(dir.join(CERT_FILE)).unwrap(), "old cert");
    assert!(dir.join(PENDING_FILE).exists(), "still to be sent again");
    assert!(!dir.join(OPERATIONAL_KEY_FILE).exists());
    assert!(!dir.join(format!("{OPERATIONAL_KEY_FILE}.new")).exists());
    assert!(!dir.join(format!("{CHAIN_FILE}.new")).exists());
}
