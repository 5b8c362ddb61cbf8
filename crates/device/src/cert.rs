//! Reading certificates and making certificate signing requests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey;
use rcgen::{CertificateParams, DnType, KeyPair, SanType};
use vouch_protocol::{PublicKey, Serial};
use x509_cert::der::{DecodePem, Encode};
use x509_cert::Certificate;

use crate::error::{Error, Result};

/// What the device agent reads from a certificate: its key and validity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// The certified public key.
    pub public_key: PublicKey,
    /// The start of validity, milliseconds since the Unix epoch.
    pub not_before_ms: u64,
    /// The end of validity, milliseconds since the Unix epoch.
    pub not_after_ms: u64,
    /// The certificate's serial number, lower-case hex.
    pub serial_hex: String,
}

impl CertInfo {
    /// Reads the first certificate of a PEM text. The key must be P-256.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let start = pem
            .find("-----BEGIN CERTIFICATE-----")
            .ok_or_else(|| Error::Crypto("no PEM certificate found".into()))?;
        let rest = &pem[start..];
        let end_marker = "-----END CERTIFICATE-----";
        let end = rest
            .find(end_marker)
            .ok_or_else(|| Error::Crypto("unterminated PEM certificate".into()))?;
        let first = &rest[..end + end_marker.len()];
        let cert = Certificate::from_pem(first)
            .map_err(|e| Error::Crypto(format!("not an X.509 certificate: {e}")))?;
        let tbs = &cert.tbs_certificate;
        let spki = tbs
            .subject_public_key_info
            .to_der()
            .map_err(|e| Error::Crypto(format!("bad public key in certificate: {e}")))?;
        let public_key = PublicKey::from_spki_der(&spki)
            .map_err(|_| Error::Crypto("the certificate's key is not a P-256 key".into()))?;
        Ok(Self {
            public_key,
            not_before_ms: millis(tbs.validity.not_before.to_unix_duration()),
            not_after_ms: millis(tbs.validity.not_after.to_unix_duration()),
            serial_hex: vouch_protocol::key::hex(tbs.serial_number.as_bytes()),
        })
    }

    /// Time left until `not_after` (zero if already expired).
    pub fn remaining(&self, now: SystemTime) -> Duration {
        let now_ms = now.duration_since(UNIX_EPOCH).map(millis).unwrap_or(0);
        Duration::from_millis(self.not_after_ms.saturating_sub(now_ms))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A PKCS#10 CSR (DER) for `key`, subject CN = serial and SAN URI `https://vouch.invalid/device/<serial>`
/// (what the server puts in the certificate anyway), signed by `key` itself.
pub fn make_csr(key: &SigningKey, serial: &Serial) -> Result<Vec<u8>> {
    let pkcs8 = key
        .to_pkcs8_der()
        .map_err(|e| Error::Crypto(format!("cannot encode the key: {e}")))?;
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes());
    let key_pair = KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| Error::Crypto(format!("cannot use the key for a CSR: {e}")))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, serial.as_str());
    let uri = format!("https://vouch.invalid/device/{}", serial.as_str());
    let uri = uri
        .try_into()
        .map_err(|e| Error::Crypto(format!("bad SAN URI: {e}")))?;
    params.subject_alt_names = vec![SanType::URI(uri)];
    let csr = params
        .serialize_request(&key_pair)
        .map_err(|e| Error::Crypto(format!("cannot make the CSR: {e}")))?;
    Ok(csr.der().to_vec())
}

/// Checks that an issued certificate is for `key`, so a wrong answer never replaces a working
/// identity.
pub(crate) fn check_issued(certificate_pem: &str, key: &SigningKey) -> Result<CertInfo> {
    let info = CertInfo::from_pem(certificate_pem)
        .map_err(|e| Error::Protocol(format!("the issued certificate: {e}")))?;
    if info.public_key != vouch_protocol::key::public_key_of(key) {
        return Err(Error::Protocol(
            "the issued certificate is for another key".into(),
        ));
    }
    Ok(info)
}
