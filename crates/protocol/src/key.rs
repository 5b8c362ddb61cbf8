//! P-256 public keys, key ids, human fingerprints and domain-separated signatures.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature as EcdsaSignature, SigningKey, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use sha2::{Digest, Sha256};

use crate::Error;

/// Length of a compressed SEC1 P-256 public key.
pub const COMPRESSED_KEY_LEN: usize = 33;

/// A P-256 public key (a device's label key, an install's staff key, or an operational key).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(p256::PublicKey);

impl PublicKey {
    /// Parses a SEC1-encoded point: compressed (tag 0x02 or 0x03, 33 bytes) or uncompressed
    /// (tag 0x04, 65 bytes). Other SEC1 forms (the identity, "compact" 0x05 points) are
    /// refused, so that every key has exactly one compressed and one uncompressed encoding.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, Error> {
        match (bytes.first(), bytes.len()) {
            (Some(0x02 | 0x03), COMPRESSED_KEY_LEN) | (Some(0x04), 65) => {}
            _ => return Err(Error::InvalidKey),
        }
        p256::PublicKey::from_sec1_bytes(bytes)
            .map(Self)
            .map_err(|_| Error::InvalidKey)
    }

    /// Parses a DER SubjectPublicKeyInfo holding a P-256 key (named curve, compressed or
    /// uncompressed point; the point is checked as strictly as [`Self::from_sec1`]).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, Error> {
        use p256::pkcs8::DecodePublicKey;
        let key = p256::PublicKey::from_public_key_der(der).map_err(|_| Error::InvalidKey)?;
        // The point is the SPKI's last element: its bytes end the DER.
        let point_len = match der.len() {
            59 => COMPRESSED_KEY_LEN,
            91 => 65,
            _ => return Err(Error::InvalidKey),
        };
        let strict = Self::from_sec1(&der[der.len() - point_len..])?;
        if strict.0 != key {
            return Err(Error::InvalidKey);
        }
        Ok(strict)
    }

    /// The DER SubjectPublicKeyInfo of this key (uncompressed point, as X.509 uses).
    pub fn to_spki_der(&self) -> Result<Vec<u8>, Error> {
        use p256::pkcs8::EncodePublicKey;
        self.0
            .to_public_key_der()
            .map(|doc| doc.as_bytes().to_vec())
            .map_err(|_| Error::InvalidKey)
    }

    /// The compressed SEC1 encoding (33 bytes, first byte 0x02 or 0x03).
    pub fn to_sec1_compressed(&self) -> [u8; COMPRESSED_KEY_LEN] {
        let point = self.0.to_encoded_point(true);
        let mut out = [0u8; COMPRESSED_KEY_LEN];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// The key id: SHA-256 of the compressed SEC1 encoding.
    pub fn key_id(&self) -> KeyId {
        KeyId(Sha256::digest(self.to_sec1_compressed()).into())
    }

    /// The short fingerprint people compare by eye (see [`Fingerprint`]).
    pub fn fingerprint(&self) -> Fingerprint {
        self.key_id().fingerprint()
    }

    /// The key as the `p256` crate's public key.
    pub fn as_p256(&self) -> &p256::PublicKey {
        &self.0
    }

    /// Verifies a domain-separated signature: `signature` over `domain || message`.
    pub fn verify(
        &self,
        domain: Domain,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), Error> {
        let sig = EcdsaSignature::from_slice(&signature.0).map_err(|_| Error::BadSignature)?;
        let signed = domain.prefixed(message);
        VerifyingKey::from(&self.0)
            .verify(&signed, &sig)
            .map_err(|_| Error::BadSignature)
    }
}

impl From<p256::PublicKey> for PublicKey {
    fn from(key: p256::PublicKey) -> Self {
        Self(key)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex(&self.to_sec1_compressed()))
    }
}

/// SHA-256 of a compressed SEC1 public key: how records and the server name a key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 32]);

impl KeyId {
    /// The first 80 bits as 16 base32 characters in four groups, e.g. `ABCD-EFGH-IJKL-MNOP`.
    pub fn fingerprint(&self) -> Fingerprint {
        let encoded = data_encoding::BASE32_NOPAD.encode(&self.0[..10]);
        Fingerprint(encoded)
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        parse_hex_array(text, "key id").map(Self)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.to_hex())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A short, human-comparable key fingerprint: 80 bits of the key id in base32, shown in four
/// groups of four characters separated by `-`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, chunk) in self.0.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            f.write_str(core::str::from_utf8(chunk).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// The signing domains: each signed message starts with one of these prefixes, so that a
/// signature made for one purpose can never be replayed as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Domain {
    /// A technician's scan record: `"vouch scan record v1\0"`.
    ScanRecord,
    /// A device's enrollment answer: `"vouch enroll v1\0"`.
    Enrollment,
}

impl Domain {
    /// The exact prefix bytes.
    pub const fn prefix(self) -> &'static [u8] {
        match self {
            Domain::ScanRecord => b"vouch scan record v1\0",
            Domain::Enrollment => b"vouch enroll v1\0",
        }
    }

    /// `prefix || message`: the exact bytes that are signed.
    pub fn prefixed(self, message: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.prefix().len() + message.len());
        out.extend_from_slice(self.prefix());
        out.extend_from_slice(message);
        out
    }
}

/// An ECDSA P-256 / SHA-256 signature as 64 bytes `r || s` (big-endian, fixed width).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Lower-case hex of the 64 bytes.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses 128 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        parse_hex_array(text, "signature").map(Self)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

/// Signs `domain || message` with `key` (RFC 6979 deterministic ECDSA, SHA-256).
pub fn sign(key: &SigningKey, domain: Domain, message: &[u8]) -> Signature {
    let sig: EcdsaSignature = key.sign(&domain.prefixed(message));
    let mut out = [0u8; 64];
    out.copy_from_slice(&sig.to_bytes());
    Signature(out)
}

/// The public key of a signing key.
pub fn public_key_of(key: &SigningKey) -> PublicKey {
    PublicKey(p256::PublicKey::from(key.verifying_key()))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Parses hex (either case) into exactly `N` bytes.
pub fn parse_hex_array<const N: usize>(text: &str, what: &'static str) -> Result<[u8; N], Error> {
    if text.len() != 2 * N {
        return Err(Error::BadLength {
            field: what,
            min: 2 * N,
            max: 2 * N,
            found: text.len(),
        });
    }
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(text.as_bytes())
        .map_err(|_| Error::BadEncoding {
            what,
            encoding: "hex",
        })?;
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes);
    Ok(out)
}

/// What a PEM private key that is not a PKCS#8 P-256 key is, in words, for an error message:
/// "an RSA key", "an EC key on curve P-384 (secp384r1)", ... `None` when it is a PKCS#8
/// P-256 key (its problem is elsewhere) or not a PEM key at all (the parser's own error says
/// more). Text only: no file is read.
pub fn private_key_kind(pem: &str) -> Option<String> {
    use p256::pkcs8::der::Decode;
    let begin = pem.find("-----BEGIN ")?;
    let rest = &pem[begin + 11..];
    let label = &rest[..rest.find("-----")?];
    let body: String = rest
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .flat_map(|l| l.trim().chars())
        .collect();
    match label {
        "RSA PRIVATE KEY" => return Some("an RSA key (PKCS#1)".into()),
        "EC PRIVATE KEY" => return Some("an EC key in SEC1 form, not PKCS#8".into()),
        "ENCRYPTED PRIVATE KEY" => return Some("an encrypted key".into()),
        "PRIVATE KEY" => {}
        other => return Some(alloc::format!("a \"{other}\" PEM block, not a private key")),
    }
    let der = data_encoding::BASE64.decode(body.as_bytes()).ok()?;
    let info = p256::pkcs8::PrivateKeyInfo::from_der(&der).ok()?;
    let curve = info
        .algorithm
        .parameters_oid()
        .ok()
        .map(|o| alloc::format!("{o}"));
    let kind = match (
        alloc::format!("{}", info.algorithm.oid).as_str(),
        curve.as_deref(),
    ) {
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => return None,
        ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => {
            "an EC key on curve P-384 (secp384r1)".into()
        }
        ("1.2.840.10045.2.1", Some("1.3.132.0.35")) => {
            "an EC key on curve P-521 (secp521r1)".into()
        }
        ("1.2.840.10045.2.1", Some("1.3.132.0.10")) => "an EC key on curve secp256k1".into(),
        ("1.2.840.10045.2.1", c) => alloc::format!("an EC key on curve {}", c.unwrap_or("(none)")),
        ("1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10", _) => "an RSA key".into(),
        ("1.3.101.112", _) => "an Ed25519 key".into(),
        (oid, _) => alloc::format!("a key of algorithm {oid}"),
    };
    Some(kind)
}

/// SHA-256.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}
