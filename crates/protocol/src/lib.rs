//! # vouch-protocol
//!
//! The protocol core of Vouch: device labels, technician scan records and their hash chain,
//! enrollment messages and staff invites. It does no I/O: the clock (milliseconds since the Unix
//! epoch) and randomness (record ids, nonces) are passed in by the caller, so the same code runs
//! in the server, the app, the device agent and `no_std` firmware (with `alloc`).
//!
//! Every signature is ECDSA P-256 with SHA-256 over a domain-separated message (see
//! [`key::Domain`]); every parser returns [`Error`] and never panics. `docs/PROTOCOL.md`
//! describes every format byte for byte, and `tests/vectors/*.json` hold test vectors.
//!
//! ```
//! use vouch_protocol::{Label, Model, Serial, key::public_key_of};
//! use p256::ecdsa::SigningKey;
//!
//! let device_key = SigningKey::from_slice(&[7u8; 32]).unwrap();
//! let label = Label::new(
//!     Model::new("ACME-T1").unwrap(),
//!     Serial::new("SN-0001").unwrap(),
//!     public_key_of(&device_key),
//! );
//! let text = label.to_compact().unwrap();
//! assert!(text.starts_with("VOUCH1:ACME-T1:SN-0001:"));
//! assert_eq!(Label::parse(&text).unwrap().serial().as_str(), "SN-0001");
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

/// Defines a fixed-size byte id shown as lower-case hex (also its serde form).
#[macro_export]
#[doc(hidden)]
macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $len:expr, $what:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Lower-case hex.
            pub fn to_hex(&self) -> alloc::string::String {
                $crate::key::hex(&self.0)
            }

            /// Parses hex of exactly the right length.
            pub fn from_hex(text: &str) -> Result<Self, $crate::Error> {
                $crate::key::parse_hex_array(text, $what).map(Self)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <alloc::string::String as serde::Deserialize>::deserialize(deserializer)?;
                Self::from_hex(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub mod check;
mod codec;
pub mod enroll;
mod error;
pub mod invite;
pub mod key;
pub mod label;
pub mod record;
pub mod wire;

pub use error::Error;
pub use invite::Invite;
pub use key::{Domain, Fingerprint, KeyId, PublicKey, Signature};
pub use label::{Label, LabelFormat, Model, Serial};
pub use record::{ChainHead, NewScan, RecordHash, RecordId, ScanRecord, SignedScanRecord};

/// `p256` as this crate uses it, so callers need not match its version.
pub use p256;
