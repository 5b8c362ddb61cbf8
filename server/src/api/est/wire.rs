//! EST's encodings (RFC 7030 section 4, RFC 8951): base64 bodies, certs-only CMS SignedData
//! and the CSR attributes, DER through the RustCrypto `cms`, `der` and `x509-cert` crates.

use cms::cert::x509::Certificate;
use cms::content_info::ContentInfo;
use der::asn1::{Any, ObjectIdentifier, SetOfVec};
use der::{Decode, Encode};
use x509_cert::attr::Attribute;

use crate::error::{Failure, ServerError};

/// id-ecPublicKey (RFC 5480).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp256r1, the P-256 curve (RFC 5480).
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// ecdsa-with-SHA256 (RFC 5758).
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// PKCS#9 challengePassword (RFC 2985), which carries the channel binding (RFC 7030 3.5).
const CHALLENGE_PASSWORD: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.7");

/// Why a request body is not a CSR (the message the caller gets with `400 bad_csr`).
#[derive(Debug, PartialEq, Eq)]
pub struct BadBody(pub &'static str);

/// The DER a base64 request body carries (RFC 8951: standard base64, line breaks and other
/// white space allowed anywhere, the `Content-Transfer-Encoding` header ignored).
pub fn decode_body(body: &[u8]) -> Result<Vec<u8>, BadBody> {
    let text: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if text.is_empty() {
        return Err(BadBody("the body is empty: send a base64 PKCS#10 request"));
    }
    data_encoding::BASE64
        .decode(&text)
        .map_err(|_| BadBody("the body is not base64 (RFC 4648, with padding)"))
}

/// Base64 without line breaks, as every EST answer is sent (strongSwan's client reads no
/// other).
pub fn encode_body(der: &[u8]) -> String {
    data_encoding::BASE64.encode(der)
}

fn der_err(e: der::Error) -> ServerError {
    // `der::Error` is a std error only with der's `std` feature, which this crate does not ask for.
    ServerError::Authority(Failure::new(format!("encoding an EST answer: {e}")))
}

/// A certs-only CMS SignedData (RFC 5652 section 5, RFC 7030 section 4.1.3): no signers, no
/// content, the certificates in its set (DER sorts a SET OF, so their order is not kept).
pub fn certs_only(certificates: &[&[u8]]) -> Result<Vec<u8>, ServerError> {
    let certificates = certificates
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(der_err)?;
    ContentInfo::try_from(certificates)
        .and_then(|info| info.to_der())
        .map_err(der_err)
}

/// The CSR attributes (RFC 7030 section 4.5.2, `CsrAttrs ::= SEQUENCE OF AttrOrOID`): a P-256
/// key (an id-ecPublicKey attribute whose value is secp256r1), signed with ecdsa-with-SHA256,
/// and, when the server requires a channel binding, a challengePassword.
pub fn csr_attributes(challenge_password: bool) -> Result<Vec<u8>, ServerError> {
    let curve = Any::encode_from(&SECP256R1).map_err(der_err)?;
    let mut values = SetOfVec::new();
    values.insert(curve).map_err(der_err)?;
    let key = Attribute {
        oid: EC_PUBLIC_KEY,
        values,
    };
    let mut items = vec![
        Any::encode_from(&key).map_err(der_err)?,
        Any::encode_from(&ECDSA_WITH_SHA256).map_err(der_err)?,
    ];
    if challenge_password {
        items.push(Any::encode_from(&CHALLENGE_PASSWORD).map_err(der_err)?);
    }
    items.to_der().map_err(der_err)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bodies_decode_with_or_without_line_breaks() {
        let der = (0u8..=200).collect::<Vec<_>>();
        let flat = encode_body(&der);
        assert!(!flat.contains('\n'));
        assert_eq!(decode_body(flat.as_bytes()).unwrap(), der);
        let broken: String = flat
            .as_bytes()
            .chunks(64)
            .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(decode_body(broken.as_bytes()).unwrap(), der);
        assert!(decode_body(b" \r\n").is_err());
        assert!(decode_body(b"not base64!").is_err());
        assert!(decode_body(b"QUJD").is_ok());
        assert!(decode_body(b"QUJ").is_err());
    }

    #[test]
    fn csr_attributes_name_the_key_the_signature_and_the_binding() {
        let plain = csr_attributes(false).unwrap();
        let bound = csr_attributes(true).unwrap();
        let items = Vec::<Any>::from_der(&plain).unwrap();
        assert_eq!(items.len(), 2);
        let key = items[0].decode_as::<Attribute>().unwrap();
        assert_eq!(key.oid, EC_PUBLIC_KEY);
        assert_eq!(
            key.values
                .get(0)
                .unwrap()
                .decode_as::<ObjectIdentifier>()
                .unwrap(),
            SECP256R1
        );
        assert_eq!(
            items[1].decode_as::<ObjectIdentifier>().unwrap(),
            ECDSA_WITH_SHA256
        );
        let items = Vec::<Any>::from_der(&bound).unwrap();
        assert_eq!(
            items[2].decode_as::<ObjectIdentifier>().unwrap(),
            CHALLENGE_PASSWORD
        );
    }

    #[test]
    fn garbage_is_no_certificate() {
        assert!(certs_only(&[b"\x30\x03\x02\x01\x01"]).is_err());
    }
}
