//! The device directory: keys, the device file, certificates, and how they are written.
//!
//! # Layout
//!
//! | file | written by | mode | what |
//! | --- | --- | --- | --- |
//! | `label.key.pem` | `keygen` | 0600 | the label key: P-256, PKCS#8 PEM; its public half is on the label |
//! | `device.json` | `keygen` | 0644 | `{"model": "...", "serial": "..."}` |
//! | `operational.key.pem` | `enroll --rekey`, `renew` | 0600 | the key the certificate is for, when it is not the label key |
//! | `cert.pem` | `enroll`, `renew` | 0644 | the device's client certificate |
//! | `chain.pem` | `enroll`, `renew` | 0644 | the issuing chain, the CA certificate last |
//! | `pending.json` | `enroll`, `renew` | 0600 | a request sent (or about to be) whose answer is not stored yet: the CSR and its new key |
//!
//! The mTLS key is whichever of `operational.key.pem` and `label.key.pem` matches `cert.pem`.
//!
//! # A request survives a lost answer
//!
//! The server gives a certificate once, and gives it again only for the identical CSR
//! (docs/PROTOCOL.md 11.7.4 and 11.8.3); a CSR signed again is a different CSR, because ECDSA
//! signatures are randomised. So before `enroll` or `renew` sends anything, it writes the CSR
//! and the new key durably to `pending.json` ([`Pending`]), and every later attempt sends that
//! same CSR until the answer is stored. The certificate update below removes `pending.json`
//! as part of its commit, so the two never disagree: either the request is still pending, or
//! its answer is installed.
//!
//! # Writing safely
//!
//! Every file is written to a temporary file in the same directory (created with its final
//! mode, so a key is never readable by others, not even for a moment), flushed to disk, and
//! renamed into place; the directory is then flushed too. `keygen` renames with "no replace", so
//! two runs racing on one directory cannot both win.
//!
//! A certificate update replaces up to three files (key, chain, certificate), which no single
//! rename can do. It is a small two-phase commit: each new file is first written complete as
//! `NAME.new`, `cert.pem.new` last; then they are renamed over the old ones, `cert.pem` last,
//! and just before that last rename `pending.json` (the request this identity answers) is
//! removed. So `cert.pem.new` exists exactly when every new file is complete and the switch has
//! not finished. [`load`] repairs an interrupted update: if `cert.pem.new` exists it finishes
//! the switch, otherwise it deletes any stray `*.new` (and the pending request stays, to be
//! sent again). A crash at any point leaves either the old identity with its request still
//! pending, or the new one with none, never a certificate with the wrong key.

use std::fs;
use std::path::{Path, PathBuf};

use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::{Deserialize, Serialize};
use vouch_protocol::enroll::{decode_base64, encode_base64, EnrollMode};
use vouch_protocol::key::public_key_of;
use vouch_protocol::{Label, Model, PublicKey, Serial};

use crate::error::{Error, Result};

/// The label key's file name.
pub const LABEL_KEY_FILE: &str = "label.key.pem";
/// The operational key's file name (re-keyed enrollment, renewal).
pub const OPERATIONAL_KEY_FILE: &str = "operational.key.pem";
/// The device file's name.
pub const DEVICE_FILE: &str = "device.json";
/// The client certificate's file name.
pub const CERT_FILE: &str = "cert.pem";
/// The chain's file name.
pub const CHAIN_FILE: &str = "chain.pem";
/// The pending request's file name (see [`Pending`]).
pub const PENDING_FILE: &str = "pending.json";
const NEW_SUFFIX: &str = ".new";

const KEY_MODE: u32 = 0o600;
const PUBLIC_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o700;

/// The contents of `device.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceFile {
    /// The device model, as on the label.
    pub model: String,
    /// The device serial, as on the label.
    pub serial: String,
}

/// A device directory as loaded: model, serial and the label key.
#[derive(Clone)]
pub struct Device {
    dir: PathBuf,
    model: Model,
    serial: Serial,
    label_key: SigningKey,
    /// Whether loading it installed the device's first certificate, which an earlier run of
    /// `enroll` had committed but not moved into place (a crash or a kill between the two).
    finished_enrollment: bool,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("dir", &self.dir)
            .field("model", &self.model)
            .field("serial", &self.serial)
            .field("label_key", &self.public_key())
            .finish()
    }
}

impl Device {
    /// The directory the device lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The device model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The device serial.
    pub fn serial(&self) -> &Serial {
        &self.serial
    }

    /// The label key (the key the technician vouches for). Keep it on the device.
    pub fn label_key(&self) -> &SigningKey {
        &self.label_key
    }

    /// The label key's public half.
    pub fn public_key(&self) -> PublicKey {
        public_key_of(&self.label_key)
    }

    /// The device's label.
    pub fn label(&self) -> Label {
        Label::new(self.model.clone(), self.serial.clone(), self.public_key())
    }

    /// Whether the device has a certificate.
    pub fn is_enrolled(&self) -> bool {
        self.dir.join(CERT_FILE).exists()
    }

    /// Whether loading this device installed its first certificate, which an earlier run of
    /// `enroll` had committed (staged, certificate last) but not yet moved into place: that
    /// run was cut off after the server's answer was safely stored.
    pub fn finished_an_interrupted_enrollment(&self) -> bool {
        self.finished_enrollment
    }

    /// The device's mTLS identity: its certificate, chain and the key the certificate is for.
    pub fn identity(&self) -> Result<Identity> {
        let cert_path = self.dir.join(CERT_FILE);
        let certificate_pem = match fs::read_to_string(&cert_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotEnrolled {
                    dir: self.dir.clone(),
                })
            }
            Err(e) => return Err(Error::io(cert_path, e)),
        };
        let chain_path = self.dir.join(CHAIN_FILE);
        let chain_pem = match fs::read_to_string(&chain_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(chain_path, e)),
        };
        let cert = crate::cert::CertInfo::from_pem(&certificate_pem)
            .map_err(|e| Error::bad_dir(&cert_path, e.to_string()))?;
        let operational_path = self.dir.join(OPERATIONAL_KEY_FILE);
        let mut candidates = Vec::new();
        if operational_path.exists() {
            candidates.push(read_key(&operational_path)?);
        }
        candidates.push(self.label_key.clone());
        let key = candidates
            .into_iter()
            .find(|key| public_key_of(key) == cert.public_key)
            .ok_or_else(|| {
                Error::bad_dir(
                    &cert_path,
                    "the certificate is for neither operational.key.pem nor label.key.pem",
                )
            })?;
        Ok(Identity {
            certificate_pem,
            chain_pem,
            key,
            cert,
        })
    }
}

/// A device's mTLS identity: the certificate, its chain and the private key it certifies.
#[derive(Clone)]
pub struct Identity {
    /// The client certificate, PEM.
    pub certificate_pem: String,
    /// The chain, PEM (may be empty).
    pub chain_pem: String,
    key: SigningKey,
    cert: crate::cert::CertInfo,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The private key the certificate is for.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// What this crate reads from the certificate (key, validity).
    pub fn cert(&self) -> &crate::cert::CertInfo {
        &self.cert
    }
}

/// Makes a new device: a fresh P-256 label key in `dir/label.key.pem` (mode 0600) and
/// `dir/device.json`. Creates `dir` (mode 0700) if needed. Refuses to overwrite an existing key
/// with [`Error::AlreadyExists`]. Checks first that model and serial fit a compact label, so
/// nothing is written for a device that could not get one.
pub fn keygen(dir: &Path, model: &Model, serial: &Serial) -> Result<Device> {
    let key = SigningKey::random(&mut rand_core::OsRng);
    let device = Device {
        dir: dir.to_path_buf(),
        model: model.clone(),
        serial: serial.clone(),
        label_key: key,
        finished_enrollment: false,
    };
    // A serial with lower case or `_` is a valid serial but cannot be on a compact label.
    device.label().to_compact()?;

    create_dir(dir)?;
    let key_path = dir.join(LABEL_KEY_FILE);
    if key_path.exists() {
        return Err(Error::AlreadyExists { path: key_path });
    }
    let device_file = DeviceFile {
        model: model.as_str().to_string(),
        serial: serial.as_str().to_string(),
    };
    let mut json = serde_json::to_vec_pretty(&device_file)
        .map_err(|e| Error::bad_dir(dir.join(DEVICE_FILE), e.to_string()))?;
    json.push(b'\n');
    // device.json first: while no key exists it may be replaced by the next keygen; once the
    // key is in place the directory is complete and keygen refuses to touch it.
    write_file(dir, DEVICE_FILE, &json, PUBLIC_MODE, Replace::Yes)?;
    let pem = key_pem(&device.label_key)?;
    write_file(dir, LABEL_KEY_FILE, pem.as_bytes(), KEY_MODE, Replace::No)?;
    Ok(device)
}

/// Loads a device directory made by [`keygen`], first repairing an interrupted certificate
/// update (see the module documentation).
pub fn load(dir: &Path) -> Result<Device> {
    if !dir.is_dir() {
        return Err(Error::bad_dir(dir, "not a directory (run keygen first)"));
    }
    let finished_enrollment = recover(dir)?;
    let device_path = dir.join(DEVICE_FILE);
    let text = fs::read_to_string(&device_path).map_err(|e| Error::io(&device_path, e))?;
    let file: DeviceFile =
        serde_json::from_str(&text).map_err(|e| Error::bad_dir(&device_path, e.to_string()))?;
    let model = Model::new(&file.model).map_err(|e| Error::bad_dir(&device_path, e.to_string()))?;
    let serial =
        Serial::new(&file.serial).map_err(|e| Error::bad_dir(&device_path, e.to_string()))?;
    let label_key = read_key(&dir.join(LABEL_KEY_FILE))?;
    Ok(Device {
        dir: dir.to_path_buf(),
        model,
        serial,
        label_key,
        finished_enrollment,
    })
}

/// A new identity to install: the certificate, chain, and (if the certificate is not for a key
/// already in the directory) the new key.
pub(crate) struct NewIdentity<'a> {
    pub key: Option<&'a SigningKey>,
    pub certificate_pem: &'a str,
    pub chain_pem: &'a str,
}

/// Installs a new identity with the two-phase commit described in the module documentation.
pub(crate) fn commit(dir: &Path, new: &NewIdentity<'_>) -> Result<()> {
    recover(dir)?;
    if let Some(key) = new.key {
        let pem = key_pem(key)?;
        write_file(
            dir,
            &staged(OPERATIONAL_KEY_FILE),
            pem.as_bytes(),
            KEY_MODE,
            Replace::Yes,
        )?;
    }
    write_file(
        dir,
        &staged(CHAIN_FILE),
        new.chain_pem.as_bytes(),
        PUBLIC_MODE,
        Replace::Yes,
    )?;
    write_file(
        dir,
        &staged(CERT_FILE),
        new.certificate_pem.as_bytes(),
        PUBLIC_MODE,
        Replace::Yes,
    )?;
    recover(dir).map(|_first| ())
}

/// What a pending request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A first enrollment (or one a supervisor allowed again), in this mode.
    Enroll(EnrollMode),
    /// A renewal over mTLS.
    Renew,
}

/// A request whose answer is not stored yet: the CSR exactly as sent (or about to be sent) and
/// the new key it is for (`None`: the label key, a same-key enrollment). Kept in
/// `pending.json` so that a retry sends the identical CSR (see the module documentation).
#[derive(Clone)]
pub struct Pending {
    operation: Operation,
    csr_der: Vec<u8>,
    key: Option<SigningKey>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("operation", &self.operation)
            .field("csr_bytes", &self.csr_der.len())
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// A new request (not yet stored).
    pub(crate) fn new(operation: Operation, csr_der: Vec<u8>, key: Option<SigningKey>) -> Self {
        Self {
            operation,
            csr_der,
            key,
        }
    }

    /// What the request asks for.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The CSR's DER bytes, the same on every attempt.
    pub fn csr_der(&self) -> &[u8] {
        &self.csr_der
    }

    /// The new key the CSR is for, if it is not the label key.
    pub fn key(&self) -> Option<&SigningKey> {
        self.key.as_ref()
    }
}

/// `pending.json` as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingFile {
    operation: OperationName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<EnrollMode>,
    csr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OperationName {
    Enroll,
    Renew,
}

/// The request in `dir/pending.json`, if there is one.
pub fn pending(dir: &Path) -> Result<Option<Pending>> {
    let path = dir.join(PENDING_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let bad = |reason: String| Error::bad_dir(&path, reason);
    let file: PendingFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let operation = match (file.operation, file.mode) {
        (OperationName::Enroll, Some(mode)) => Operation::Enroll(mode),
        (OperationName::Renew, None) => Operation::Renew,
        _ => return Err(bad("`mode` belongs to an enrollment, and only there".into())),
    };
    let csr_der = decode_base64(&file.csr, "csr").map_err(|e| bad(e.to_string()))?;
    let key = match &file.key {
        Some(pem) => Some(SigningKey::from_pkcs8_pem(pem).map_err(|e| bad(format!("key: {e}")))?),
        None => None,
    };
    Ok(Some(Pending::new(operation, csr_der, key)))
}

/// Stores `new` as the pending request, durably and with mode 0600, before anything is sent.
/// Never replaces one: a pending request is finished (or, rarely, discarded) first, so only one
/// CSR is ever in flight.
pub(crate) fn begin(dir: &Path, new: Pending) -> Result<Pending> {
    let (operation, mode) = match new.operation {
        Operation::Enroll(mode) => (OperationName::Enroll, Some(mode)),
        Operation::Renew => (OperationName::Renew, None),
    };
    let file = PendingFile {
        operation,
        mode,
        csr: encode_base64(&new.csr_der),
        key: new.key.as_ref().map(key_pem).transpose()?,
    };
    let json = serde_json::to_vec_pretty(&file)
        .map_err(|e| Error::bad_dir(dir.join(PENDING_FILE), e.to_string()))?;
    match write_file(dir, PENDING_FILE, &json, KEY_MODE, Replace::No) {
        Ok(()) => Ok(new),
        Err(Error::AlreadyExists { path }) => Err(Error::bad_dir(
            path,
            "another run stored a request at the same moment; run one at a time",
        )),
        Err(e) => Err(e),
    }
}

/// Drops the pending request unanswered: only for a request the server can no longer answer
/// (a renewal overtaken by a supervisor's `reenroll`).
pub(crate) fn discard_pending(dir: &Path) -> Result<()> {
    if remove_if_exists(&dir.join(PENDING_FILE))? {
        sync_dir(dir)?;
    }
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn staged(name: &str) -> String {
    format!("{name}{NEW_SUFFIX}")
}

/// Finishes or undoes an interrupted certificate update. Says whether the update it finished
/// gave the device its first certificate (an enrollment, not a renewal).
fn recover(dir: &Path) -> Result<bool> {
    let cert_new = dir.join(staged(CERT_FILE));
    let roll_forward = cert_new.exists();
    let first_certificate = roll_forward && !dir.join(CERT_FILE).exists();
    let mut changed = false;
    // The certificate last: its staged file is the commit marker.
    for name in [OPERATIONAL_KEY_FILE, CHAIN_FILE, CERT_FILE] {
        if roll_forward && name == CERT_FILE && remove_if_exists(&dir.join(PENDING_FILE))? {
            // The new identity answers the pending request: the request goes (durably) while
            // the marker still stands, so no finished switch leaves a request to send again.
            sync_dir(dir)?;
        }
        let from = dir.join(staged(name));
        if !from.exists() {
            continue;
        }
        if roll_forward {
            fs::rename(&from, dir.join(name)).map_err(|e| Error::io(&from, e))?;
        } else {
            fs::remove_file(&from).map_err(|e| Error::io(&from, e))?;
        }
        changed = true;
    }
    if changed {
        sync_dir(dir)?;
    }
    Ok(first_certificate)
}

/// Reads a PKCS#8 PEM P-256 private key.
pub fn read_key(path: &Path) -> Result<SigningKey> {
    let pem = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
        let why = match vouch_protocol::key::private_key_kind(&pem) {
            Some(kind) => format!("it is {kind}"),
            None => e.to_string(),
        };
        Error::bad_dir(path, format!("not a PKCS#8 PEM P-256 private key: {why}"))
    })
}

pub(crate) fn key_pem(key: &SigningKey) -> Result<String> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| Error::Crypto(format!("cannot encode the key: {e}")))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Replace {
    Yes,
    No,
}

fn create_dir(dir: &Path) -> Result<()> {
    vouch_support::fs::create_dir(dir, DIR_MODE).map_err(fs_error)
}

/// Writes `dir/name` atomically and durably (`vouch_support::fs`: a temporary file with the
/// final mode, flushed, renamed, the directory flushed). With `Replace::No` an existing file is
/// never overwritten, even by a racing writer: [`Error::AlreadyExists`].
fn write_file(dir: &Path, name: &str, bytes: &[u8], mode: u32, replace: Replace) -> Result<()> {
    let path = dir.join(name);
    match replace {
        Replace::Yes => vouch_support::fs::write_atomic(&path, bytes, mode),
        Replace::No => vouch_support::fs::write_new(&path, bytes, mode),
    }
    .map_err(fs_error)
}

fn sync_dir(dir: &Path) -> Result<()> {
    vouch_support::fs::sync_dir(dir).map_err(fs_error)
}

/// This crate's error for a failed file-system step.
fn fs_error(e: vouch_support::Error) -> Error {
    match e {
        vouch_support::Error::Io { path, source, .. } => Error::io(path, source),
        vouch_support::Error::AlreadyExists { path } => Error::AlreadyExists { path },
        // File-system calls return no other variant; one would be kept as its text.
        other => Error::io(PathBuf::new(), std::io::Error::other(other)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_key_of_another_algorithm_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("label.key.pem");
        let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        fs::write(&path, p384.serialize_pem()).unwrap();
        let err = read_key(&path).err().unwrap().to_string();
        assert!(
            err.contains("P-256") && err.contains("it is an EC key on curve P-384"),
            "{err}"
        );
    }
}
