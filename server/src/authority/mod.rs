//! The certificate authority: creating or importing the CA, the server's TLS certificate, and
//! issuing client certificates from the server's own profile.
//!
//! Certificates are never built from what a CSR asks for: only the CSR's public key is used
//! (after its self-signature verifies); subject, SAN, validity and extensions come from the
//! [`Profile`]. (rcgen's `CertificateSigningRequestParams::signed_by` would copy requested
//! extensions, CA:TRUE included, so it is not used.)

pub mod checks;
pub mod files;
pub mod operator;
pub mod token;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rcgen::{
    CertificateParams, CertificateRevocationListParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
    RevokedCertParams, SanType, SerialNumber, SignatureAlgorithm, SigningKey, SubjectPublicKeyInfo,
};
use ring::rand::SecureRandom;
use time::OffsetDateTime;
use vouch_protocol::key::{hex, sha256};

use crate::clock::{Clock, SystemClock};
use crate::config::Pkcs11Config;
use crate::domain::{CertRecord, Role};
use crate::error::{Failure, ServerError};
use token::{KeyUri, TokenKey};
use vouch_protocol::wire::ErrorCode;

/// The identity namespace of client certificates. The `.invalid` top-level domain (RFC 2606)
/// never resolves: these URIs name an identity, they are not locations. (An `https` URI rather
/// than a URN keeps the SAN valid for linters that accept only URLs, pkilint among them.)
pub const IDENTITY_BASE: &str = "https://vouch.invalid";
/// SAN URI of the operator credential.
pub const OPERATOR_URI: &str = "https://vouch.invalid/operator";
/// SAN URI prefix of device certificates (followed by the serial).
pub const DEVICE_URI_PREFIX: &str = "https://vouch.invalid/device/";
/// SAN URI prefix of staff certificates (followed by `<role>/<key id hex>`).
pub const STAFF_URI_PREFIX: &str = "https://vouch.invalid/staff/";

/// What a certificate is for; decides its subject, SAN and key usage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Profile {
    /// A device: CN = serial, SAN URI `https://vouch.invalid/device/<serial>`.
    Device {
        /// The vouched serial.
        serial: String,
    },
    /// An app install: CN = name, SAN URI `https://vouch.invalid/staff/<role>/<key id>`.
    Staff {
        /// Display name.
        name: String,
        /// Role.
        role: Role,
        /// The install key's id (hex).
        key_id: String,
    },
    /// The operator credential for admin commands: SAN URI `https://vouch.invalid/operator`.
    Operator,
}

impl Profile {
    /// The identity URI placed in the SAN.
    pub fn identity_uri(&self) -> String {
        match self {
            Profile::Device { serial } => format!("{DEVICE_URI_PREFIX}{serial}"),
            Profile::Staff { role, key_id, .. } => {
                format!("{STAFF_URI_PREFIX}{}/{key_id}", role.as_str())
            }
            Profile::Operator => OPERATOR_URI.to_string(),
        }
    }

    fn common_name(&self) -> String {
        match self {
            Profile::Device { serial } => serial.clone(),
            Profile::Staff { name, .. } => name.clone(),
            Profile::Operator => "Vouch operator".to_string(),
        }
    }
}

/// A certificate the authority issued.
#[derive(Clone, Debug)]
pub struct Issued {
    /// DER.
    pub der: Vec<u8>,
    /// PEM.
    pub pem: String,
    /// Serial number, hex.
    pub serial: String,
    /// notAfter, ms since the epoch.
    pub not_after_ms: u64,
}

impl Issued {
    /// The record the store keeps for revocation.
    pub fn record(&self, profile: &Profile) -> CertRecord {
        CertRecord {
            serial: self.serial.clone(),
            subject: profile.identity_uri(),
            not_after_ms: self.not_after_ms,
            revoked_at_ms: None,
        }
    }
}

/// Validity of the server's TLS certificate: under the 366 days Mozilla's profile allows.
/// `serve` re-issues it when less than [`SERVER_CERT_RENEW_DAYS`] remain.
pub const SERVER_CERT_DAYS: u32 = 365;
/// Re-issue the server certificate when fewer days than this remain.
pub const SERVER_CERT_RENEW_DAYS: i64 = 30;

/// The CA's private key: a file in the data folder (the default) or a key in a PKCS#11 token.
#[derive(Debug)]
pub enum CaKey {
    /// `ca/ca.key.pem`, held in memory.
    File(KeyPair),
    /// A key that never leaves its token (`ca/ca.key.uri` names it).
    Token(TokenKey),
}

impl PublicKeyData for CaKey {
    fn der_bytes(&self) -> &[u8] {
        match self {
            CaKey::File(k) => k.der_bytes(),
            CaKey::Token(k) => k.der_bytes(),
        }
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self {
            CaKey::File(k) => PublicKeyData::algorithm(k),
            CaKey::Token(k) => k.algorithm(),
        }
    }
}

impl SigningKey for CaKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        match self {
            CaKey::File(k) => k.sign(msg),
            CaKey::Token(k) => k.sign(msg),
        }
    }
}

/// How long a signed CRL is served again while it lists exactly the certificates revoked at
/// the moment of the request. `GET /v1/crl` is public: signing on every request would let
/// anyone spend the CA key's signatures (a token's are slow, and some are metered) as fast as
/// they can ask. The list is read on every request, so a revocation is never hidden behind a
/// reused CRL: a different list is signed at once. Within the hour a CRL still has at least 23
/// of its 24 hours of validity left.
pub const CRL_REUSE: time::Duration = time::Duration::HOUR;

/// The last CRL signed: served again while it lists the same certificates, for up to
/// [`CRL_REUSE`], and after that while the key cannot sign and it is still valid.
struct CachedCrl {
    revoked: Vec<CertRecord>,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    der: Vec<u8>,
}

impl CachedCrl {
    /// Whether this CRL lists exactly `revoked` and is still valid at `now`.
    fn tells_the_truth(&self, revoked: &[CertRecord], now: OffsetDateTime) -> bool {
        self.revoked == revoked && self.next_update > now
    }
}

/// The loaded CA.
pub struct Authority {
    issuer: Issuer<'static, CaKey>,
    ca_der: Vec<u8>,
    ca_key_id: Vec<u8>,
    chain_pem: String,
    last_crl: Mutex<Option<CachedCrl>>,
    /// Validity periods and CRL times start from this clock's time.
    clock: Arc<dyn Clock>,
}

/// Random 16-byte positive serial number (first byte 0x01..=0x7f, so DER needs no padding).
pub fn random_serial() -> Result<[u8; 16], ServerError> {
    let mut serial = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| ServerError::Authority(Failure::new("the system random generator failed")))?;
    serial[0] = (serial[0] & 0x7f).max(1);
    Ok(serial)
}

fn time_ms(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// A lock that survives a panic elsewhere (the cached CRL is replaced whole, never half-set).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `now_ms` as a certificate time, in whole seconds (X.509 times carry no fraction).
fn cert_time(now_ms: u64) -> Result<OffsetDateTime, ServerError> {
    let secs = i64::try_from(now_ms / 1000).map_err(ca_err)?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(ca_err)
}

fn ca_err(e: impl std::error::Error + Send + Sync + 'static) -> ServerError {
    ServerError::Authority(Failure::of(e))
}

/// The key identifier of RFC 7093 section 2 method 1: the leftmost 160 bits of the SHA-256 of
/// the subjectPublicKey BIT STRING's value.
pub fn key_identifier(spki_der: &[u8]) -> Result<Vec<u8>, ServerError> {
    use x509_parser::prelude::FromDer;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der).map_err(ca_err)?;
    Ok(sha256(&spki.subject_public_key.data)[..20].to_vec())
}

/// DER OCTET STRING of `bytes` (short form lengths; key ids are 20 bytes).
fn der_octet_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04, bytes.len() as u8];
    out.extend_from_slice(bytes);
    out
}

/// basicConstraints with cA FALSE, DER-encoded as the empty SEQUENCE (DEFAULT values are
/// omitted in DER), marked critical.
fn basic_constraints_not_ca() -> CustomExtension {
    let mut ext = CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x00]);
    ext.set_criticality(true);
    ext
}

/// Checks that the CA key is the private half of the CA certificate's public key.
fn check_key_matches(cert_pem: &str, key: &impl PublicKeyData) -> Result<(), ServerError> {
    let der = files::pem_to_der(cert_pem, "CERTIFICATE")?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| ServerError::Authority(Failure::caused("CA certificate", e)))?;
    if cert.public_key().raw != rcgen::PublicKeyData::subject_public_key_info(key).as_slice() {
        return Err(ServerError::Authority(Failure::new(
            "the CA key does not belong to the CA certificate: certificates it signed would \
             not verify (restore the matching key, or import the pair again)",
        )));
    }
    Ok(())
}

impl Authority {
    /// Loads the CA from the data folder, reaching a token as the folder's configuration says.
    pub fn load(data_dir: &Path) -> Result<Self, ServerError> {
        let paths = files::DataPaths::new(data_dir);
        // Only a token CA needs the configuration (and so a valid one).
        let config = if paths.ca_key_uri().exists() && !paths.ca_key().exists() {
            crate::Config::load(data_dir)?
        } else {
            crate::Config::defaults()?
        };
        Self::load_with(data_dir, &config.pkcs11)
    }

    /// Loads the CA from the data folder: the key file `ca/ca.key.pem`, or else the token key
    /// that `ca/ca.key.uri` names, reached through `pkcs11`.
    pub fn load_with(data_dir: &Path, pkcs11: &Pkcs11Config) -> Result<Self, ServerError> {
        let paths = files::DataPaths::new(data_dir);
        let cert_pem = files::read_text(&paths.ca_cert())?;
        if !paths.ca_key().exists() && paths.ca_key_uri().exists() {
            let uri = KeyUri::parse(files::read_text(&paths.ca_key_uri())?.trim())?;
            let key = TokenKey::open(pkcs11, uri, false).map_err(|e| {
                ServerError::Authority(Failure::caused(
                    format!("the CA key ({})", paths.ca_key_uri().display()),
                    e,
                ))
            })?;
            return Self::from_key(&cert_pem, CaKey::Token(key));
        }
        let key_pem = files::read_text(&paths.ca_key())?;
        Self::from_pem(&cert_pem, &key_pem).map_err(|e| match e {
            ServerError::Authority(why) => ServerError::Authority(Failure::caused(
                format!(
                    "CA certificate {}, CA key {}",
                    paths.ca_cert().display(),
                    paths.ca_key().display()
                ),
                why,
            )),
            other => other,
        })
    }

    /// Builds the authority from a CA certificate and key (PEM). Refuses a key that does not
    /// belong to the certificate: everything it signed would fail to verify against the CA.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, ServerError> {
        let key = KeyPair::from_pem(key_pem)
            .map_err(|e| ServerError::Authority(Failure::caused("CA key", e)))?;
        Self::from_key(cert_pem, CaKey::File(key))
    }

    /// Builds the authority from a CA certificate (PEM) and its key, wherever the key is.
    pub fn from_key(cert_pem: &str, key: CaKey) -> Result<Self, ServerError> {
        check_key_matches(cert_pem, &key)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)
            .map_err(|e| ServerError::Authority(Failure::caused("CA certificate", e)))?;
        let ca_der = files::pem_to_der(cert_pem, "CERTIFICATE")?;
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der)
            .map_err(|e| ServerError::Authority(Failure::caused("CA certificate", e)))?;
        // The CA's own subject key identifier if it has one (an imported CA may use another
        // method), else the RFC 7093 one our CAs use.
        let ca_key_id = match ca
            .get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
        {
            Ok(Some(ext)) => match ext.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => id.0.to_vec(),
                _ => key_identifier(ca.public_key().raw)?,
            },
            _ => key_identifier(ca.public_key().raw)?,
        };
        Ok(Self {
            issuer,
            ca_der,
            ca_key_id,
            chain_pem: cert_pem.to_string(),
            last_crl: Mutex::new(None),
            clock: Arc::new(SystemClock),
        })
    }

    /// The CA's key (signs through its token, for a token CA).
    pub fn ca_key(&self) -> &CaKey {
        self.issuer.key()
    }

    /// Whether the CA key is held by a PKCS#11 token.
    pub fn key_in_token(&self) -> bool {
        matches!(self.issuer.key(), CaKey::Token(_))
    }

    /// The same authority on `clock` (the application's clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The clock validity periods start from.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Makes a new self-signed P-256 CA, valid from `now_ms`; returns (certificate PEM, key PEM).
    pub fn generate_ca(common_name: &str, now_ms: u64) -> Result<(String, String), ServerError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(ca_err)?;
        Ok((
            Self::self_signed_ca(common_name, &key, now_ms)?,
            key.serialize_pem(),
        ))
    }

    /// A new self-signed CA certificate (PEM) for `key`, which signs it, valid from `now_ms`.
    pub fn self_signed_ca(
        common_name: &str,
        key: &impl SigningKey,
        now_ms: u64,
    ) -> Result<String, ServerError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Vouch");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
        params.key_identifier_method =
            rcgen::KeyIdMethod::PreSpecified(key_identifier(&key.subject_public_key_info())?);
        let now = cert_time(now_ms)?;
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(key).map_err(ca_err)?;
        Ok(cert.pem())
    }

    /// What a failed signature means: a token that cannot sign now is a 503 for the caller;
    /// anything else is the CA's own fault.
    fn sign_err(&self, e: rcgen::Error) -> ServerError {
        match (self.issuer.key(), e) {
            (CaKey::Token(key), rcgen::Error::RemoteKeyError) => ServerError::refuse(
                ErrorCode::CaUnavailable,
                format!(
                    "the CA key's token cannot sign now, try again later ({})",
                    key.last_error()
                ),
            ),
            (_, e) => ca_err(e),
        }
    }

    /// The CA certificate, DER.
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// SHA-256 of the CA certificate (what invites pin).
    pub fn ca_sha256(&self) -> [u8; 32] {
        sha256(&self.ca_der)
    }

    /// The chain sent with issued certificates (the CA certificate), PEM.
    pub fn chain_pem(&self) -> &str {
        &self.chain_pem
    }

    /// Issues a client certificate for `spki_der` (a verified CSR's key) under `profile`.
    pub fn issue_client(
        &self,
        spki_der: &[u8],
        profile: &Profile,
        validity_days: u32,
        backdate_secs: u32,
    ) -> Result<Issued, ServerError> {
        let spki = SubjectPublicKeyInfo::from_der(spki_der).map_err(ca_err)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, profile.common_name());
        let uri = profile.identity_uri().try_into().map_err(ca_err)?;
        params.subject_alt_names = vec![SanType::URI(uri)];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.is_ca = IsCa::NoCa;
        let key_id = key_identifier(spki_der)?;
        params.custom_extensions = vec![
            basic_constraints_not_ca(),
            CustomExtension::from_oid_content(&[2, 5, 29, 14], der_octet_string(&key_id)),
        ];
        params.use_authority_key_identifier_extension = true;
        self.sign(params, &spki, validity_days, backdate_secs)
    }

    /// Issues the server's TLS certificate for `hostnames` (plus localhost and loopback).
    pub fn issue_server(&self, key: &KeyPair, hostnames: &[String]) -> Result<Issued, ServerError> {
        let mut names: Vec<String> = hostnames.to_vec();
        for extra in ["localhost", "127.0.0.1", "::1"] {
            if !names.iter().any(|n| n == extra) {
                names.push(extra.to_string());
            }
        }
        let mut params = CertificateParams::new(names).map_err(ca_err)?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(
            DnType::CommonName,
            hostnames.first().map_or("localhost", |h| h.as_str()),
        );
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.is_ca = IsCa::NoCa;
        let key_id = key_identifier(&rcgen::PublicKeyData::subject_public_key_info(key))?;
        params.custom_extensions = vec![
            basic_constraints_not_ca(),
            CustomExtension::from_oid_content(&[2, 5, 29, 14], der_octet_string(&key_id)),
        ];
        params.use_authority_key_identifier_extension = true;
        let spki =
            SubjectPublicKeyInfo::from_der(&rcgen::PublicKeyData::subject_public_key_info(key))
                .map_err(ca_err)?;
        self.sign(params, &spki, SERVER_CERT_DAYS, 300)
    }

    fn sign(
        &self,
        mut params: CertificateParams,
        spki: &SubjectPublicKeyInfo,
        validity_days: u32,
        backdate_secs: u32,
    ) -> Result<Issued, ServerError> {
        let serial = random_serial()?;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let now = cert_time(self.clock.now_ms())?;
        params.not_before = now - time::Duration::seconds(i64::from(backdate_secs));
        params.not_after = now + time::Duration::days(i64::from(validity_days));
        let cert = params
            .signed_by(spki, &self.issuer)
            .map_err(|e| self.sign_err(e))?;
        Ok(Issued {
            der: cert.der().to_vec(),
            pem: cert.pem(),
            serial: hex(&serial),
            not_after_ms: time_ms(params.not_after),
        })
    }

    /// A CRL listing `revoked`, valid for a day, DER. The last one signed is served again
    /// while it lists the same certificates and is younger than [`CRL_REUSE`]; otherwise a new
    /// one is signed, numbered `crl_number`. When the key cannot sign (its token is away), the
    /// last CRL is served again if it lists the same certificates and is still valid: a
    /// revocation made since is never hidden behind an old CRL.
    pub fn crl(&self, revoked: &[CertRecord], crl_number: u64) -> Result<Vec<u8>, ServerError> {
        let now = cert_time(self.clock.now_ms())?;
        if let Some(c) = lock(&self.last_crl).as_ref() {
            if c.tells_the_truth(revoked, now) && now - c.this_update < CRL_REUSE {
                return Ok(c.der.clone());
            }
        }
        match self.sign_crl(revoked, crl_number) {
            Ok(signed) => {
                let der = signed.der.clone();
                *lock(&self.last_crl) = Some(signed);
                Ok(der)
            }
            Err(
                e @ ServerError::Refusal {
                    code: ErrorCode::CaUnavailable,
                    ..
                },
            ) => {
                let cached = lock(&self.last_crl);
                match cached.as_ref() {
                    Some(c) if c.tells_the_truth(revoked, now) => {
                        tracing::warn!(error = %e, "serving the last CRL: the CA key cannot sign");
                        Ok(c.der.clone())
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    fn sign_crl(&self, revoked: &[CertRecord], crl_number: u64) -> Result<CachedCrl, ServerError> {
        let now = cert_time(self.clock.now_ms())?;
        let revoked_certs = revoked
            .iter()
            .filter_map(|c| {
                let serial = data_encoding::HEXLOWER.decode(c.serial.as_bytes()).ok()?;
                let at = OffsetDateTime::from_unix_timestamp(
                    i64::try_from(c.revoked_at_ms? / 1000).ok()?,
                )
                .ok()?;
                Some(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&serial),
                    revocation_time: at,
                    reason_code: None,
                    invalidity_date: None,
                })
            })
            .collect();
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + time::Duration::days(1),
            crl_number: SerialNumber::from_slice(&crl_number.max(1).to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::PreSpecified(self.ca_key_id.clone()),
        };
        let (this_update, next_update) = (params.this_update, params.next_update);
        let crl = params
            .signed_by(&self.issuer)
            .map_err(|e| self.sign_err(e))?;
        Ok(CachedCrl {
            revoked: revoked.to_vec(),
            this_update,
            next_update,
            der: crl.der().to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::clock::FixedClock;

    /// A CA on a clock the test moves.
    fn authority(clock: Arc<FixedClock>) -> Authority {
        let (cert, key) = Authority::generate_ca("Test CA", clock.now_ms()).unwrap();
        Authority::from_pem(&cert, &key).unwrap().with_clock(clock)
    }

    fn revoked(serial: &str) -> CertRecord {
        CertRecord {
            serial: serial.into(),
            subject: format!("urn:test:{serial}"),
            not_after_ms: 1_900_000_000_000,
            revoked_at_ms: Some(1_800_000_000_000),
        }
    }

    /// ECDSA signatures are randomised, so the same bytes twice mean the CRL was not signed
    /// again.
    #[test]
    fn a_crl_is_reused_for_an_hour_while_the_revocations_are_the_same() {
        let start = 1_800_000_000_000;
        let clock = Arc::new(FixedClock::at(start));
        let ca = authority(clock.clone());
        let one = [revoked("0a01")];
        let first = ca.crl(&one, start).unwrap();
        clock.set(start + 59 * 60 * 1000);
        assert_eq!(ca.crl(&one, clock.now_ms()).unwrap(), first);

        // A revocation since: signed at once, whatever the age of the last one.
        let two = [revoked("0a01"), revoked("0a02")];
        let second = ca.crl(&two, clock.now_ms()).unwrap();
        assert_ne!(second, first);
        let (_, parsed) = x509_parser::parse_x509_crl(&second).unwrap();
        assert_eq!(parsed.iter_revoked_certificates().count(), 2);
        assert_eq!(ca.crl(&two, clock.now_ms()).unwrap(), second);

        // An hour after it was signed, the same list is signed again.
        clock.set(start + 59 * 60 * 1000 + 60 * 60 * 1000);
        let third = ca.crl(&two, clock.now_ms()).unwrap();
        assert_ne!(third, second);
        let (_, parsed) = x509_parser::parse_x509_crl(&third).unwrap();
        assert_eq!(
            parsed.last_update().timestamp(),
            i64::try_from(clock.now_ms() / 1000).unwrap()
        );
    }
}
