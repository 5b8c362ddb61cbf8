//! Small, separately tested issuance checks (after step-ca's sign options): the CSR parses and
//! its self-signature verifies, its key is P-256, and it is the key the device may certify.

use vouch_protocol::PublicKey;
use x509_parser::prelude::FromDer;

/// A CSR whose possession was proven (its self-signature, or for a same-key enrollment the
/// enrollment signature): its public key.
#[derive(Clone, Debug)]
pub struct VerifiedCsr {
    /// The key's DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// The key.
    pub key: PublicKey,
    /// The CSR's challengePassword attribute (PKCS#9), if it has one. EST carries the TLS
    /// channel binding in it (RFC 7030 section 3.5).
    pub challenge_password: Option<String>,
    /// What the CSR's subject names.
    pub subject: CsrSubject,
}

/// What a CSR's subject names (the certificate's subject comes from the profile, never from
/// here; EST's re-enrollment checks that it is the current one, RFC 7030 section 4.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CsrSubject {
    /// An empty subject.
    Empty,
    /// Exactly one attribute, a commonName.
    CommonName(String),
    /// Anything else.
    Other,
}

impl CsrSubject {
    /// Whether this subject is empty or names the certificate subject `CN=<common_name>`.
    pub fn is_empty_or(&self, common_name: &str) -> bool {
        match self {
            CsrSubject::Empty => true,
            CsrSubject::CommonName(cn) => cn == common_name,
            CsrSubject::Other => false,
        }
    }
}

/// Why a CSR is not acceptable (logged; never shown to an unproven caller).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsrProblem(pub &'static str);

/// Parses a DER PKCS#10 request, verifies its self-signature and that its key is P-256.
pub fn verify_csr(der: &[u8]) -> Result<VerifiedCsr, CsrProblem> {
    read_csr(der, true)
}

/// Parses a DER PKCS#10 request and checks that its key is P-256, without verifying the CSR's
/// self-signature. Only for a same-key enrollment, where a signature by the CSR's own key over
/// the CSR's hash (and the nonce, and the channel) has already verified: that is a stronger
/// proof of possession than the CSR's signature, by the same key, over part of the same bytes.
/// The caller must still check that the CSR's key is that signing key ([`check_csr_key`]).
pub fn parse_csr_signed_by_its_key(der: &[u8]) -> Result<VerifiedCsr, CsrProblem> {
    read_csr(der, false)
}

fn read_csr(der: &[u8], verify_self_signature: bool) -> Result<VerifiedCsr, CsrProblem> {
    let (rest, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(der)
        .map_err(|_| CsrProblem("the CSR is not valid DER PKCS#10"))?;
    if !rest.is_empty() {
        return Err(CsrProblem("the CSR has trailing bytes"));
    }
    if verify_self_signature {
        csr.verify_signature()
            .map_err(|_| CsrProblem("the CSR's self-signature does not verify"))?;
    }
    let spki_der = csr.certification_request_info.subject_pki.raw.to_vec();
    let key = PublicKey::from_spki_der(&spki_der)
        .map_err(|_| CsrProblem("the CSR's key is not a P-256 key"))?;
    let info = &csr.certification_request_info;
    Ok(VerifiedCsr {
        spki_der,
        key,
        challenge_password: challenge_password(info.attributes()),
        subject: csr_subject(&info.subject),
    })
}

fn challenge_password(
    attributes: &[x509_parser::cri_attributes::X509CriAttribute<'_>],
) -> Option<String> {
    use x509_parser::cri_attributes::ParsedCriAttribute;
    attributes.iter().find_map(|a| match a.parsed_attribute() {
        ParsedCriAttribute::ChallengePassword(p) => Some(p.0.clone()),
        _ => None,
    })
}

fn csr_subject(name: &x509_parser::x509::X509Name<'_>) -> CsrSubject {
    let attributes: Vec<_> = name.iter_attributes().collect();
    match attributes.as_slice() {
        [] => CsrSubject::Empty,
        [only] if only.attr_type() == &x509_parser::oid_registry::OID_X509_COMMON_NAME => {
            only.as_str().map_or(CsrSubject::Other, |cn| {
                CsrSubject::CommonName(cn.to_string())
            })
        }
        _ => CsrSubject::Other,
    }
}

/// Checks the CSR's key against the enrollment mode: the vouched key itself (same key), or a
/// different key (re-key, bound by the vouched key's signature over the CSR hash).
pub fn check_csr_key(
    csr: &VerifiedCsr,
    vouched: &PublicKey,
    rekey: bool,
) -> Result<(), CsrProblem> {
    match (rekey, csr.key == *vouched) {
        (false, true) | (true, false) => Ok(()),
        (false, false) => Err(CsrProblem("the CSR's key is not the vouched key")),
        (true, true) => Err(CsrProblem(
            "a re-key CSR must carry a new key, not the label key",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr_for(key: &rcgen::KeyPair) -> Vec<u8> {
        let params = rcgen::CertificateParams::new(vec!["x".to_string()]).unwrap();
        params.serialize_request(key).unwrap().der().to_vec()
    }

    fn public(key: &rcgen::KeyPair) -> PublicKey {
        PublicKey::from_spki_der(&rcgen::PublicKeyData::subject_public_key_info(key)).unwrap()
    }

    #[test]
    fn a_good_csr_verifies_and_its_key_is_checked() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let csr = verify_csr(&csr_for(&key)).unwrap();
        assert!(check_csr_key(&csr, &public(&key), false).is_ok());
        assert!(check_csr_key(&csr, &public(&other), false).is_err());
        assert!(check_csr_key(&csr, &public(&other), true).is_ok());
        assert!(check_csr_key(&csr, &public(&key), true).is_err());
    }

    #[test]
    fn the_subject_and_challenge_password_are_read() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "SN-1");
        let csr = verify_csr(params.serialize_request(&key).unwrap().der()).unwrap();
        assert_eq!(csr.subject, CsrSubject::CommonName("SN-1".into()));
        assert!(csr.subject.is_empty_or("SN-1"));
        assert!(!csr.subject.is_empty_or("SN-2"));
        assert_eq!(csr.challenge_password, None);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "O");
        let csr = verify_csr(params.serialize_request(&key).unwrap().der()).unwrap();
        assert_eq!(csr.subject, CsrSubject::Other);
        let mut empty = rcgen::CertificateParams::default();
        empty.distinguished_name = rcgen::DistinguishedName::new();
        let csr = verify_csr(empty.serialize_request(&key).unwrap().der()).unwrap();
        assert!(csr.subject.is_empty_or("anything"));
        // A challengePassword (PKCS#9): a UTF8String in the attribute's SET.
        let attribute = rcgen::Attribute {
            oid: &[1, 2, 840, 113549, 1, 9, 7],
            values: vec![0x31, 0x05, 0x0c, 0x03, b'a', b'b', b'c'],
        };
        let request = empty
            .serialize_request_with_attributes(&key, vec![attribute])
            .unwrap();
        let csr = verify_csr(request.der()).unwrap();
        assert_eq!(csr.challenge_password.as_deref(), Some("abc"));
    }

    #[test]
    fn bad_csrs_are_refused() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut der = csr_for(&key);
        assert_eq!(
            verify_csr(&der[..10]).unwrap_err().0,
            "the CSR is not valid DER PKCS#10"
        );
        let n = der.len();
        der[n - 5] ^= 0x55; // inside the signature
        assert!(verify_csr(&der).is_err());
        assert!(verify_csr(b"").is_err());
        // Only the same-key parse skips the self-signature; structure and key are still checked.
        assert!(parse_csr_signed_by_its_key(&der).is_ok());
        assert!(parse_csr_signed_by_its_key(&der[..10]).is_err());
        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        for read in [verify_csr, parse_csr_signed_by_its_key] {
            assert_eq!(
                read(&csr_for(&ed)).unwrap_err().0,
                "the CSR's key is not a P-256 key"
            );
        }
    }
}
