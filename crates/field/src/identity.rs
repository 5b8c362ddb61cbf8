//! This install's staff identity: its own P-256 key, the staff certificate the server issued
//! for it, and the pinned server CA.
//!
//! # Files (`DATA/identity/`)
//!
//! | file | content |
//! | --- | --- |
//! | `staff-key.pem` | the install's P-256 private key, PKCS#8 PEM, mode 0600 |
//! | `ca.pem` | the pinned server CA: the certificate whose SHA-256 the invite carried |
//! | `cert.pem`, `chain.pem` | the staff certificate and the issuing chain |
//! | `identity.json` | server URL, name, role, key id, certificate expiry; written last, so its presence means "registered" |
//!
//! Every file is written atomically (temporary file, fsync, rename, fsync of the folder). The
//! key is made (or reused, after an interrupted registration) before the invite is redeemed, so
//! a crash after the server issued the certificate never loses the key the certificate is for.
//! The key lives in this file on every platform today; an OS keystore is not used yet.
//!
//! # Registration
//!
//! 1. Parse the invite (`VOUCH-INVITE:1:<CA SHA-256>:<code>:<URL>`).
//! 2. `GET /v1/ca` without trusting the server yet, and keep the certificate whose SHA-256 is
//!    the invite's hash; none matches: [`Error::CaMismatch`], and nothing else is sent.
//! 3. From then on the server is verified against that CA only. `POST /v1/staff/register` with
//!    the code and a CSR (rcgen) for the install key.
//! 4. Check that the issued certificate is for this key id; store everything.

use std::path::{Path, PathBuf};
use vouch_protocol::wire::{ErrorCode, RegisterRequest, RenewRequest, StaffCertificate};

use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use vouch_protocol::enroll::encode_base64;
use vouch_protocol::key::{hex, public_key_of, sha256};
use vouch_protocol::{Invite, KeyId};

use crate::config::SyncConfig;
use crate::error::{Error, Result};
use crate::net::{Api, ClientIdentity};

/// A staff member's role: the wire contract's, defined once.
pub use vouch_protocol::wire::Role;

/// What `identity.json` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityInfo {
    /// The server's base URL (from the invite).
    pub server_url: String,
    /// The staff member's name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// The install key's id (SHA-256 of the compressed public key), hex.
    pub key_id: String,
    /// When the staff certificate expires, milliseconds since the Unix epoch.
    pub not_after_ms: u64,
    /// When the install registered.
    pub registered_at_ms: u64,
    /// SHA-256 of the pinned CA certificate, hex.
    pub ca_sha256: String,
}

/// What `whoami` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whoami {
    /// The staff member's name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// The install key's id, hex.
    pub key_id: String,
    /// The install key's fingerprint (`XXXX-XXXX-XXXX-XXXX`), for comparing by eye.
    pub fingerprint: String,
    /// The server's base URL.
    pub server_url: String,
    /// When the staff certificate expires, milliseconds since the Unix epoch.
    pub not_after_ms: u64,
    /// SHA-256 of the pinned CA certificate, hex.
    pub ca_sha256: String,
}

/// A loaded identity: key, certificate, pinned CA.
#[derive(Clone)]
pub struct Identity {
    info: IdentityInfo,
    key: SigningKey,
    cert_pem: String,
    ca_der: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The identity files of a data folder.
#[derive(Clone, Debug)]
pub struct Paths {
    /// `DATA/identity`.
    pub dir: PathBuf,
    /// The private key.
    pub key: PathBuf,
    /// The staff certificate.
    pub cert: PathBuf,
    /// The issuing chain.
    pub chain: PathBuf,
    /// The pinned CA.
    pub ca: PathBuf,
    /// `identity.json`.
    pub info: PathBuf,
}

impl Paths {
    /// The identity files under `data`.
    pub fn of(data: &Path) -> Self {
        let dir = data.join("identity");
        Self {
            key: dir.join("staff-key.pem"),
            cert: dir.join("cert.pem"),
            chain: dir.join("chain.pem"),
            ca: dir.join("ca.pem"),
            info: dir.join("identity.json"),
            dir,
        }
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn pem_certs(text: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(text.as_bytes())
        .filter_map(|c| c.ok())
        .collect()
}

/// PEM of one certificate.
pub fn cert_pem(der: &[u8]) -> String {
    let b64 = encode_base64(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

impl Identity {
    /// Loads the identity of a data folder; `None` when it is not registered.
    pub fn load(data: &Path) -> Result<Option<Self>> {
        let paths = Paths::of(data);
        let info_text = match std::fs::read_to_string(&paths.info) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&paths.info, e)),
        };
        let info: IdentityInfo = serde_json::from_str(&info_text).map_err(|e| Error::Corrupt {
            what: format!("{}: {e}", paths.info.display()),
        })?;
        let key = load_key(&paths.key)?.ok_or_else(|| Error::Key {
            path: paths.key.clone(),
            detail: "the file is missing".into(),
        })?;
        if public_key_of(&key).key_id().to_hex() != info.key_id {
            return Err(Error::Key {
                path: paths.key.clone(),
                detail: "it is not the key the certificate was issued for".into(),
            });
        }
        let cert_pem = read(&paths.cert)?;
        let ca_der = pem_certs(&read(&paths.ca)?)
            .into_iter()
            .next()
            .ok_or_else(|| Error::Corrupt {
                what: format!("{} holds no certificate", paths.ca.display()),
            })?
            .to_vec();
        Ok(Some(Self {
            info,
            key,
            cert_pem,
            ca_der,
        }))
    }

    /// What `identity.json` says.
    pub fn info(&self) -> &IdentityInfo {
        &self.info
    }

    /// The install's signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The install key's id.
    pub fn key_id(&self) -> KeyId {
        public_key_of(&self.key).key_id()
    }

    /// Name, role, key fingerprint, server and certificate expiry.
    pub fn whoami(&self) -> Whoami {
        Whoami {
            name: self.info.name.clone(),
            role: self.info.role,
            key_id: self.info.key_id.clone(),
            fingerprint: public_key_of(&self.key).fingerprint().to_string(),
            server_url: self.info.server_url.clone(),
            not_after_ms: self.info.not_after_ms,
            ca_sha256: self.info.ca_sha256.clone(),
        }
    }

    /// An mTLS client for the server: pinned CA, staff certificate.
    pub(crate) fn api(&self, sync: &SyncConfig) -> Result<Api> {
        let pkcs8 = self.key.to_pkcs8_der().map_err(|e| Error::Key {
            path: PathBuf::from("staff-key.pem"),
            detail: e.to_string(),
        })?;
        let cert_chain = pem_certs(&self.cert_pem);
        if cert_chain.is_empty() {
            return Err(Error::Corrupt {
                what: "the staff certificate file holds no certificate".into(),
            });
        }
        Api::pinned(
            &self.info.server_url,
            &self.ca_der,
            Some(ClientIdentity {
                cert_chain,
                key_pkcs8: pkcs8.as_bytes().to_vec(),
            }),
            sync,
        )
    }
}

fn load_key(path: &Path) -> Result<Option<SigningKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) => SigningKey::from_pkcs8_pem(&text)
            .map(Some)
            .map_err(|e| Error::Key {
                path: path.to_path_buf(),
                detail: match vouch_protocol::key::private_key_kind(&text) {
                    Some(kind) => {
                        format!("it is {kind}; the install key must be P-256, in PKCS#8 PEM")
                    }
                    None => e.to_string(),
                },
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The install key: the one already in the folder (an interrupted registration), or a new one
/// from the OS CSPRNG, written 0600 and atomically before it is used.
fn load_or_create_key(path: &Path) -> Result<SigningKey> {
    if let Some(key) = load_key(path)? {
        return Ok(key);
    }
    let key = SigningKey::random(&mut rand_core::OsRng);
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| Error::Key {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    vouch_support::fs::write_atomic(path, pem.as_bytes(), 0o600)?;
    Ok(key)
}

/// A PKCS#10 CSR (DER) for the install key, made with rcgen.
pub fn csr_der(key: &SigningKey) -> Result<Vec<u8>> {
    let bad = |e: &dyn std::fmt::Display| Error::Key {
        path: PathBuf::from("staff-key.pem"),
        detail: format!("cannot make a CSR: {e}"),
    };
    let pkcs8 = key.to_pkcs8_der().map_err(|e| bad(&e))?;
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes());
    let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| bad(&e))?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "vouch-field install");
    let csr = params.serialize_request(&pair).map_err(|e| bad(&e))?;
    Ok(csr.der().to_vec())
}

/// Redeems an invite: see the module documentation for the steps.
pub(crate) async fn register(
    data: &Path,
    invite_text: &str,
    sync: &SyncConfig,
    now_ms: u64,
) -> Result<Identity> {
    if let Some(existing) = Identity::load(data)? {
        return Err(Error::AlreadyRegistered {
            name: existing.info.name,
            role: existing.info.role.to_string(),
            server: existing.info.server_url,
        });
    }
    let invite = Invite::parse(invite_text).map_err(Error::BadInvite)?;
    let url = invite.server_url().trim_end_matches('/').to_string();
    let expected = hex(invite.ca_sha256());

    // 2. The CA, trusted only if its hash is the invite's.
    let served = Api::bootstrap(&url, sync)?
        .get_text("/v1/ca")
        .await
        .map_err(|f| f.error)?;
    let certs = pem_certs(&served);
    let Some(ca) = certs
        .iter()
        .find(|c| sha256(c.as_ref()) == *invite.ca_sha256())
    else {
        return Err(Error::CaMismatch {
            url,
            expected,
            found: certs
                .first()
                .map(|c| hex(&sha256(c.as_ref())))
                .unwrap_or_else(|| "(no certificate)".into()),
        });
    };
    let ca_der = ca.to_vec();

    // 3. Register over a connection verified against the pinned CA.
    let paths = Paths::of(data);
    vouch_support::fs::create_dir(&paths.dir, crate::DIR_MODE)?;
    let key = load_or_create_key(&paths.key)?;
    let key_id = public_key_of(&key).key_id().to_hex();
    let api = Api::pinned(&url, &ca_der, None, sync)?;
    let body = RegisterRequest {
        code: invite.code().to_string(),
        csr: encode_base64(&csr_der(&key)?),
    };
    let answer: StaffCertificate = match api.post_json("/v1/staff/register", &body).await {
        Ok(a) => a,
        Err(f) => {
            return Err(match f.error {
                Error::Refused {
                    code: ErrorCode::InviteInvalid,
                    ..
                } => Error::InviteRefused,
                e => e,
            })
        }
    };

    // 4. Check and store.
    if answer.key_id != key_id {
        return Err(Error::Protocol(
            "the server issued a certificate for another key".into(),
        ));
    }
    let info = IdentityInfo {
        server_url: url,
        name: answer.name.clone(),
        role: answer.role,
        key_id,
        not_after_ms: answer.not_after_ms,
        registered_at_ms: now_ms,
        ca_sha256: expected,
    };
    store_registration(&paths, &answer, &info, &ca_der)?;
    Ok(Identity {
        info,
        key,
        cert_pem: answer.certificate_pem,
        ca_der,
    })
}

/// Checks that the first certificate of `certificate_pem` is signed by the pinned CA and valid
/// now for client authentication: the check the server's TLS makes on every later connection,
/// made before anything is stored, so that a server whose CA key and certificate disagree is
/// caught at registration instead of at the first sync.
fn check_issued_by(certificate_pem: &str, ca_der: &[u8]) -> Result<()> {
    let untrusted = |detail: String| Error::UntrustedCertificate { detail };
    let Some(cert) = pem_certs(certificate_pem).into_iter().next() else {
        return Err(Error::Protocol(
            "the server's answer holds no certificate".into(),
        ));
    };
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .map_err(|e| untrusted(format!("the pinned CA certificate is unusable: {e}")))?;
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        crate::net::provider(),
    )
    .build()
    .map_err(|e| untrusted(e.to_string()))?;
    verifier
        .verify_client_cert(&cert, &[], rustls::pki_types::UnixTime::now())
        .map_err(|e| untrusted(e.to_string()))?;
    Ok(())
}

/// Stores a registration, once its certificate checks out against the pinned CA: the CA, then
/// the certificate, and `identity.json` last (its presence means "registered").
fn store_registration(
    paths: &Paths,
    answer: &StaffCertificate,
    info: &IdentityInfo,
    ca_der: &[u8],
) -> Result<()> {
    check_issued_by(&answer.certificate_pem, ca_der)?;
    vouch_support::fs::write_atomic(&paths.ca, cert_pem(ca_der).as_bytes(), 0o644)?;
    store_issued(paths, answer, info)
}

/// Stores an issued staff certificate, its chain (when the server sent one) and the identity
/// record, each atomically. The certificate first: until the new record is written too, the
/// next start reads the new certificate with the old expiry, which only makes it renew early.
fn store_issued(paths: &Paths, answer: &StaffCertificate, info: &IdentityInfo) -> Result<()> {
    vouch_support::fs::write_atomic(&paths.cert, answer.certificate_pem.as_bytes(), 0o644)?;
    if !answer.chain_pem.is_empty() {
        vouch_support::fs::write_atomic(&paths.chain, answer.chain_pem.as_bytes(), 0o644)?;
    }
    let info_json = serde_json::to_vec_pretty(info).map_err(|e| Error::Protocol(e.to_string()))?;
    vouch_support::fs::write_atomic(&paths.info, &info_json, 0o644)?;
    Ok(())
}

/// Renew the staff certificate when it expires within this long (a sync does it first).
pub const RENEW_WITHIN_MS: u64 = 30 * 86_400_000;

impl Identity {
    /// Whether the staff certificate expires within [`RENEW_WITHIN_MS`] of `now_ms`.
    pub fn renewal_due(&self, now_ms: u64) -> bool {
        self.info.not_after_ms.saturating_sub(now_ms) < RENEW_WITHIN_MS
    }
}

/// Renews the staff certificate for the same key over the current one (`POST
/// /v1/staff/renew`) and stores it; the server revokes the old certificate.
pub(crate) async fn renew(data: &Path, current: &Identity, sync: &SyncConfig) -> Result<Identity> {
    let api = current.api(sync)?;
    let body = RenewRequest {
        csr: encode_base64(&csr_der(&current.key)?),
    };
    let answer: StaffCertificate = api
        .post_json("/v1/staff/renew", &body)
        .await
        .map_err(|f| f.error)?;
    if answer.key_id != current.info.key_id || pem_certs(&answer.certificate_pem).is_empty() {
        return Err(Error::Protocol(
            "the server's renewal answer holds no certificate for this install's key".into(),
        ));
    }
    check_issued_by(&answer.certificate_pem, &current.ca_der)?;
    let info = IdentityInfo {
        not_after_ms: answer.not_after_ms,
        ..current.info.clone()
    };
    store_issued(&Paths::of(data), &answer, &info)?;
    Ok(Identity {
        info,
        key: current.key.clone(),
        cert_pem: answer.certificate_pem,
        ca_der: current.ca_der.clone(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        let a = load_or_create_key(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let b = load_or_create_key(&path).unwrap();
        assert_eq!(public_key_of(&a), public_key_of(&b));
    }

    #[test]
    fn a_key_of_another_algorithm_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staff-key.pem");
        for (alg, words) in [
            (&rcgen::PKCS_ECDSA_P384_SHA384, "an EC key on curve P-384"),
            (&rcgen::PKCS_ED25519, "an Ed25519 key"),
        ] {
            let pem = rcgen::KeyPair::generate_for(alg).unwrap().serialize_pem();
            std::fs::write(&path, pem).unwrap();
            let err = load_key(&path).err().unwrap().to_string();
            assert!(
                err.contains(words) && err.contains("must be P-256"),
                "{err}"
            );
        }
        let rsa = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n";
        std::fs::write(&path, rsa).unwrap();
        let err = load_key(&path).err().unwrap().to_string();
        assert!(err.contains("an RSA key"), "{err}");
    }

    #[test]
    fn csr_carries_the_key() {
        let key = SigningKey::random(&mut rand_core::OsRng);
        let der = csr_der(&key).unwrap();
        assert!(der.len() > 100);
    }

    /// A CA and a staff certificate it issued for a fresh key, as the server makes them.
    fn ca_and_staff_cert() -> (
        rcgen::Certificate,
        rcgen::Issuer<'static, rcgen::KeyPair>,
        String,
    ) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(params, ca_key);
        let staff = staff_cert(&issuer);
        (ca, issuer, staff)
    }

    fn staff_cert(issuer: &rcgen::Issuer<'static, rcgen::KeyPair>) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.signed_by(&key, issuer).unwrap().pem()
    }

    fn answer(certificate_pem: String) -> (StaffCertificate, IdentityInfo) {
        let answer = StaffCertificate {
            certificate_pem,
            chain_pem: String::new(),
            name: "T".into(),
            role: Role::Technician,
            key_id: "00".repeat(32),
            not_after_ms: 1,
        };
        let info = IdentityInfo {
            server_url: "https://localhost:1".into(),
            name: "T".into(),
            role: Role::Technician,
            key_id: answer.key_id.clone(),
            not_after_ms: 1,
            registered_at_ms: 0,
            ca_sha256: String::new(),
        };
        (answer, info)
    }

    #[test]
    fn a_certificate_from_another_ca_is_refused_and_nothing_is_stored() {
        let (pinned, _, _) = ca_and_staff_cert();
        let (_, other_issuer, _) = ca_and_staff_cert();
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::of(dir.path());
        vouch_support::fs::create_dir(&paths.dir, crate::DIR_MODE).unwrap();
        let (bad, info) = answer(staff_cert(&other_issuer));
        let err = store_registration(&paths, &bad, &info, pinned.der()).unwrap_err();
        assert_eq!(err.code(), "untrusted_certificate", "{err}");
        assert!(err.to_string().contains("nothing was stored"), "{err}");
        for file in [&paths.info, &paths.cert, &paths.ca, &paths.chain] {
            assert!(!file.exists(), "{} was written", file.display());
        }
        assert!(Identity::load(dir.path()).unwrap().is_none());
    }

    #[test]
    fn a_certificate_from_the_pinned_ca_is_stored() {
        let (pinned, _, good) = ca_and_staff_cert();
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::of(dir.path());
        vouch_support::fs::create_dir(&paths.dir, crate::DIR_MODE).unwrap();
        let (answer, info) = answer(good);
        store_registration(&paths, &answer, &info, pinned.der()).unwrap();
        assert!(paths.info.exists() && paths.cert.exists() && paths.ca.exists());
    }

    #[test]
    fn pem_round_trip() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x05];
        let pem = cert_pem(&der);
        assert_eq!(pem_certs(&pem)[0].as_ref(), der.as_slice());
    }
}
