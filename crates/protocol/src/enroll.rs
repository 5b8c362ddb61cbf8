//! Enrollment messages: the challenge a device asks for, and the signed answer that binds a
//! nonce, its serial, its CSR and (where the TLS stack exposes it) the TLS channel.
//!
//! # The signed enrollment message
//!
//! The device signs, with its **label key** (the key the technician vouched for),
//! `"vouch enroll v1\0" || body` where `body` is:
//!
//! | field | bytes |
//! | --- | --- |
//! | mode | `u8`: 0 = the CSR carries the label key itself, 1 = re-key: the CSR carries a fresh operational key |
//! | nonce | 32 bytes, from the server's challenge |
//! | serial | string (`u16` big-endian length, UTF-8) |
//! | CSR hash | 32 bytes: SHA-256 of the CSR's DER |
//! | channel binding | `u8` length (0 or 32), then that many bytes: the TLS exporter value (RFC 9266: label `EXPORTER-Channel-Binding`, empty context, 32 bytes) |
//!
//! In re-key mode, the label key's signature over the CSR hash is what binds the new key; the
//! CSR's own self-signature proves possession of the new key.

use alloc::string::String;
use alloc::vec::Vec;

use p256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};

use crate::codec::Writer;
use crate::key::{sha256, sign, Domain, PublicKey, Signature};
use crate::label::Serial;
use crate::Error;

/// The RFC 9266 exporter label for TLS channel binding.
pub const CHANNEL_BINDING_LABEL: &[u8] = b"EXPORTER-Channel-Binding";
/// Bytes of exporter output used for channel binding.
pub const CHANNEL_BINDING_LEN: usize = 32;

crate::hex_id!(
    /// A challenge nonce: 32 random bytes from the server, single use, short-lived.
    Nonce, 32, "nonce"
);

/// Whether the CSR carries the label key or a fresh operational key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollMode {
    /// The certificate is for the label key itself.
    SameKey,
    /// The certificate is for a new key; the label key's signature binds it.
    Rekey,
}

impl EnrollMode {
    /// The mode byte in the signed message.
    pub fn byte(self) -> u8 {
        match self {
            EnrollMode::SameKey => 0,
            EnrollMode::Rekey => 1,
        }
    }
}

/// `POST /v1/enroll/challenge` body: a device asks for a nonce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The device's serial, as on its label.
    pub serial: String,
}

/// The answer to a challenge request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The nonce (64 hex characters).
    pub nonce: Nonce,
    /// When the nonce stops being accepted, milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}

/// The fields the label key signs when a device enrolls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrollmentMessage<'a> {
    /// Same key or re-key.
    pub mode: EnrollMode,
    /// The challenge nonce.
    pub nonce: Nonce,
    /// The device serial.
    pub serial: &'a Serial,
    /// The CSR's DER bytes (hashed into the message).
    pub csr_der: &'a [u8],
    /// The TLS exporter value, if the stack exposes one.
    pub channel_binding: Option<[u8; CHANNEL_BINDING_LEN]>,
}

impl EnrollmentMessage<'_> {
    /// The body after the domain prefix (see the module documentation).
    pub fn body(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(self.mode.byte());
        w.bytes(&self.nonce.0);
        w.str(self.serial.as_str());
        w.bytes(&sha256(self.csr_der));
        match &self.channel_binding {
            None => w.u8(0),
            Some(cb) => {
                w.u8(CHANNEL_BINDING_LEN as u8);
                w.bytes(cb);
            }
        }
        w.0
    }

    /// The exact bytes that are signed: the domain prefix and the body.
    pub fn signed_bytes(&self) -> Vec<u8> {
        Domain::Enrollment.prefixed(&self.body())
    }

    /// Signs with the device's label key.
    pub fn sign(&self, label_key: &SigningKey) -> Signature {
        sign(label_key, Domain::Enrollment, &self.body())
    }

    /// Verifies a signature by the vouched label key.
    pub fn verify(&self, label_key: &PublicKey, signature: &Signature) -> Result<(), Error> {
        label_key.verify(Domain::Enrollment, &self.body(), signature)
    }
}

/// Which channel binding the device used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelBinding {
    /// RFC 9266 `tls-exporter`.
    TlsExporter,
    /// None: the device's TLS stack exposes no exporter.
    None,
}

/// `POST /v1/enroll/complete` body: the device's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The device serial.
    pub serial: String,
    /// The nonce from the challenge (hex).
    pub nonce: String,
    /// Same key or re-key.
    pub mode: EnrollMode,
    /// The PKCS#10 CSR, DER, in standard base64 with padding.
    pub csr: String,
    /// Whether the signed message carries the TLS exporter value.
    pub channel_binding: ChannelBinding,
    /// The label key's signature, 64 bytes `r || s` in hex.
    pub signature: String,
}

/// The answer to a successful enrollment or renewal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateResponse {
    /// The issued client certificate, PEM.
    pub certificate_pem: String,
    /// The issuing CA chain, PEM (the CA certificate last).
    pub chain_pem: String,
    /// The certificate's notAfter, milliseconds since the Unix epoch.
    pub not_after_ms: u64,
}

/// Decodes standard base64 (with padding), naming the field on failure.
pub fn decode_base64(text: &str, what: &'static str) -> Result<Vec<u8>, Error> {
    data_encoding::BASE64
        .decode(text.as_bytes())
        .map_err(|_| Error::BadEncoding {
            what,
            encoding: "base64",
        })
}

/// Encodes standard base64 with padding.
pub fn encode_base64(bytes: &[u8]) -> String {
    data_encoding::BASE64.encode(bytes)
}
