//! The operator credential: which certificate is the current one, and its rotation.
//!
//! The admin commands authenticate with `operator/operator.pem` and `operator/operator.key.pem`
//! in the data folder. Only the certificate whose serial number is current is accepted; a
//! rotation issues a new key and certificate, revokes the old certificate (it goes on the CRL)
//! and makes the new one current, so a copied operator key stops working.
//!
//! A rotation is crash-safe: the new files are written beside the old ones (`*.new`), the store
//! commits the revocation and the new certificate record, then the files are renamed into
//! place. At start, [`recover`] finishes a rotation the store committed, or drops one it did
//! not.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use rcgen::KeyPair;

use super::files::{self, DataPaths};
use super::{Authority, Profile};
use crate::domain::{cert, AuditNote, CertRecord};
use crate::error::{Failure, ServerError};
use crate::store::Store;

/// Validity of operator certificates, in days (as `init` issues them).
pub const OPERATOR_CERT_DAYS: u32 = 825;

/// The current operator certificate's serial number, shared by the request handlers.
pub struct OperatorCredential {
    paths: DataPaths,
    current: RwLock<Option<String>>,
}

/// What a rotation did.
#[derive(Clone, Debug)]
pub struct Rotated {
    /// Serial number (hex) of the revoked certificate.
    pub revoked: String,
    /// Serial number (hex) of the new certificate.
    pub serial: String,
    /// The new certificate's notAfter.
    pub not_after_ms: u64,
    /// Where the new certificate is.
    pub cert_path: PathBuf,
}

fn pending(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// The serial number (hex) and notAfter (ms) of the certificate in a PEM file.
fn serial_and_expiry(pem: &str) -> Result<(String, u64), ServerError> {
    let der = files::pem_to_der(pem, "CERTIFICATE")?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| ServerError::Authority(Failure::caused("operator certificate", e)))?;
    let not_after = u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0);
    Ok((
        vouch_protocol::key::hex(cert.raw_serial()),
        not_after.saturating_mul(1000),
    ))
}

/// The serial number (hex) of the certificate in a PEM file.
fn serial_of_pem(pem: &str) -> Result<String, ServerError> {
    Ok(serial_and_expiry(pem)?.0)
}

impl OperatorCredential {
    /// Reads the current operator certificate of the data folder (none if the file is gone:
    /// then no operator is accepted).
    pub fn load(paths: DataPaths) -> Result<Self, ServerError> {
        let cert = paths.operator_cert();
        let current = if cert.exists() {
            Some(serial_of_pem(&files::read_text(&cert)?)?)
        } else {
            tracing::warn!(path = %cert.display(), "no operator certificate: admin commands are refused");
            None
        };
        Ok(Self {
            paths,
            current: RwLock::new(current),
        })
    }

    /// Whether `serial` (hex) is the current operator certificate.
    pub fn is_current(&self, serial: &str) -> bool {
        self.current
            .read()
            .map(|c| c.as_deref() == Some(serial))
            .unwrap_or(false)
    }

    /// Issues a new operator key and certificate, revokes the current certificate and makes
    /// the new one current, durably and in that order (see the module documentation).
    pub fn rotate(
        &self,
        authority: &Authority,
        store: &dyn Store,
        audit: AuditNote,
        now_ms: u64,
    ) -> Result<Rotated, ServerError> {
        let old_pem = files::read_text(&self.paths.operator_cert())?;
        let old = certificate_record(&old_pem, now_ms)?;
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| ServerError::Authority(Failure::of(e)))?;
        let issued = authority.issue_client(
            &rcgen::PublicKeyData::subject_public_key_info(&key),
            &Profile::Operator,
            OPERATOR_CERT_DAYS,
            300,
        )?;
        let (cert_path, key_path) = (self.paths.operator_cert(), self.paths.operator_key());
        files::write_file(
            &pending(&key_path),
            key.serialize_pem().as_bytes(),
            0o600,
            true,
        )?;
        files::write_file(&pending(&cert_path), issued.pem.as_bytes(), 0o644, true)?;
        record_rotation(
            store,
            &issued.record(&Profile::Operator),
            &old,
            audit,
            now_ms,
        )?;
        move_into_place(&key_path)?;
        move_into_place(&cert_path)?;
        if let Ok(mut current) = self.current.write() {
            *current = Some(issued.serial.clone());
        }
        Ok(Rotated {
            revoked: old.serial,
            serial: issued.serial,
            not_after_ms: issued.not_after_ms,
            cert_path,
        })
    }
}

/// Commits a rotation: the new certificate's record and the old one revoked, with the audit
/// entry, atomically and durably ([`cert::rotation`]).
fn record_rotation(
    store: &dyn Store,
    new: &CertRecord,
    old: &CertRecord,
    audit: AuditNote,
    now_ms: u64,
) -> Result<(), ServerError> {
    store.update_certificate(&old.serial, &|stored| {
        Ok(cert::rotation(stored, old, new, audit.clone(), now_ms))
    })
}

/// The store record of an operator certificate, revoked at `now_ms`.
fn certificate_record(pem: &str, now_ms: u64) -> Result<CertRecord, ServerError> {
    let (serial, not_after_ms) = serial_and_expiry(pem)?;
    Ok(CertRecord {
        serial,
        subject: super::OPERATOR_URI.to_string(),
        not_after_ms,
        revoked_at_ms: Some(now_ms),
    })
}

fn move_into_place(path: &Path) -> Result<(), ServerError> {
    let from = pending(path);
    if !from.exists() {
        return Ok(());
    }
    fs::rename(&from, path).map_err(|e| ServerError::io("renaming into place", path, e))?;
    match path.parent() {
        Some(dir) => files::sync_dir(dir),
        None => Ok(()),
    }
}

/// Finishes or drops a rotation interrupted by a crash: the new files are moved into place if
/// the store holds the new certificate's record (the rotation committed), deleted otherwise.
pub fn recover(paths: &DataPaths, store: &dyn Store) -> Result<(), ServerError> {
    let (cert_path, key_path) = (paths.operator_cert(), paths.operator_key());
    let (new_cert, new_key) = (pending(&cert_path), pending(&key_path));
    if !new_cert.exists() {
        if new_key.exists() {
            // The certificate was never written, so nothing was committed.
            fs::remove_file(&new_key).map_err(|e| ServerError::io("removing", &new_key, e))?;
        }
        return Ok(());
    }
    let serial = serial_of_pem(&files::read_text(&new_cert)?)?;
    if store.certificate(&serial)?.is_some() {
        move_into_place(&key_path)?;
        move_into_place(&cert_path)?;
        tracing::warn!(%serial, "finished an interrupted operator credential rotation");
    } else {
        for path in [&new_key, &new_cert] {
            if path.exists() {
                fs::remove_file(path).map_err(|e| ServerError::io("removing", path, e))?;
            }
        }
        tracing::warn!("dropped an operator credential rotation that never committed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::{open, StoreConfig};

    fn data_folder() -> (
        tempfile::TempDir,
        DataPaths,
        Authority,
        std::sync::Arc<dyn Store>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        crate::init(dir.path(), &["localhost".to_string()], None).unwrap();
        let paths = DataPaths::new(dir.path());
        let authority = Authority::load(dir.path()).unwrap();
        let store = open(&StoreConfig::Sled {
            dir: paths.database(),
            commit_delay: std::time::Duration::ZERO,
        })
        .unwrap();
        (dir, paths, authority, store)
    }

    fn note() -> AuditNote {
        AuditNote {
            actor: "operator".into(),
            action: "operator.rotated",
            subject: "operator".into(),
            detail: serde_json::json!({}),
        }
    }

    /// What a rotation leaves behind if it stops after writing the new files.
    fn half_rotation(paths: &DataPaths, authority: &Authority) -> (String, String) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let issued = authority
            .issue_client(
                &rcgen::PublicKeyData::subject_public_key_info(&key),
                &Profile::Operator,
                OPERATOR_CERT_DAYS,
                300,
            )
            .unwrap();
        fs::write(pending(&paths.operator_key()), key.serialize_pem()).unwrap();
        fs::write(pending(&paths.operator_cert()), &issued.pem).unwrap();
        (issued.serial, issued.pem)
    }

    #[test]
    fn a_rotation_makes_the_new_certificate_current_and_revokes_the_old_one() {
        let (_dir, paths, authority, store) = data_folder();
        let credential = OperatorCredential::load(paths.clone()).unwrap();
        let old = serial_of_pem(&files::read_text(&paths.operator_cert()).unwrap()).unwrap();
        assert!(credential.is_current(&old));
        let rotated = credential
            .rotate(&authority, store.as_ref(), note(), 7)
            .unwrap();
        assert_eq!(rotated.revoked, old);
        assert!(credential.is_current(&rotated.serial) && !credential.is_current(&old));
        let record = store.certificate(&old).unwrap().unwrap();
        assert_eq!(record.revoked_at_ms, Some(7));
        let on_disk = serial_of_pem(&files::read_text(&paths.operator_cert()).unwrap()).unwrap();
        assert_eq!(on_disk, rotated.serial);
    }

    #[test]
    fn recovery_finishes_a_committed_rotation_and_drops_an_uncommitted_one() {
        let (_dir, paths, authority, store) = data_folder();
        let before = files::read_text(&paths.operator_cert()).unwrap();

        // Stopped before the store commit: the new files go, the old credential stays.
        half_rotation(&paths, &authority);
        recover(&paths, store.as_ref()).unwrap();
        assert_eq!(files::read_text(&paths.operator_cert()).unwrap(), before);
        assert!(!pending(&paths.operator_cert()).exists());
        assert!(!pending(&paths.operator_key()).exists());

        // Stopped after the commit, with the key already renamed: rolled forward.
        let (serial, pem) = half_rotation(&paths, &authority);
        let old = certificate_record(&before, 9).unwrap();
        let new = CertRecord {
            serial: serial.clone(),
            subject: super::super::OPERATOR_URI.into(),
            not_after_ms: 0,
            revoked_at_ms: None,
        };
        record_rotation(store.as_ref(), &new, &old, note(), 9).unwrap();
        move_into_place(&paths.operator_key()).unwrap();
        recover(&paths, store.as_ref()).unwrap();
        assert_eq!(files::read_text(&paths.operator_cert()).unwrap(), pem);
        let credential = OperatorCredential::load(paths.clone()).unwrap();
        assert!(credential.is_current(&serial));
    }
}
