//! # vouch-device
//!
//! The device side of Vouch: the reference for firmware teams, the tool a production line runs
//! to make keys and labels, and the device simulator for tests and benchmarks.
//!
//! * [`keygen`] makes the device's P-256 label key (PKCS#8 PEM, mode 0600) and `device.json`;
//!   [`load`] reads them back ([`store`] describes the directory and how it is written).
//! * [`label_png`], [`label_svg`] and [`label_sheet_svg`] render printable labels: the QR code
//!   of the compact label text, the manual-entry line and the key fingerprint ([`render`]).
//! * [`enroll`] (and [`enroll_wait`]) proves possession of the label key over server-verified
//!   TLS, bound to that TLS connection, and stores the certificate; [`hello`] and [`renew`] use
//!   it over mTLS ([`client`]). Enrollment and renewal keep their CSR in the device directory
//!   until the answer is stored, so a lost answer is recovered by trying again.
//!
//! The protocol itself (label format, the signed enrollment message) lives in
//! [`vouch_protocol`], which builds without `std`; this crate adds files, TLS and HTTP.
//!
//! ```
//! use vouch_device::{keygen, load, label_svg_string};
//! use vouch_protocol::{Model, Serial};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let device = keygen(dir.path(), &Model::new("ACME-T1")?, &Serial::new("SN-0001")?)?;
//! let text = device.label().to_compact()?;
//! assert!(text.starts_with("VOUCH1:ACME-T1:SN-0001:"));
//!
//! // The same directory, loaded again, gives the same label.
//! assert_eq!(load(dir.path())?.label(), device.label());
//! let svg = label_svg_string(&device.label())?;
//! assert!(svg.contains(r#"class="qr""#));
//! # Ok(())
//! # }
//! ```
//!
//! Enrolling, then calling the server over mTLS (needs a running `vouch-server`):
//!
//! ```no_run
//! use std::path::Path;
//! use vouch_device::{enroll, hello, EnrollOptions, Server};
//!
//! # async fn run() -> Result<(), vouch_device::Error> {
//! let server = Server::new("https://127.0.0.1:8443", Path::new("ca.pem"))?;
//! let issued = enroll(Path::new("dev1"), &server, &EnrollOptions::default()).await?;
//! println!("certificate valid until {} ms", issued.cert.not_after_ms);
//! println!("{:?}", hello(Path::new("dev1"), &server).await?);
//! # Ok(())
//! # }
//! ```
//!
//! # Server answers and errors
//!
//! | answer | [`Error`] | CLI exit code |
//! | --- | --- | --- |
//! | 2xx | (success) | 0 |
//! | 409 `pending_approval` | [`Error::PendingApproval`] | 3 |
//! | 429 | [`Error::RateLimited`] | 3 |
//! | 401, 403, other 409 (`refused`, `rejected`, `revoked`, `already_enrolled`, ...) | [`Error::Refused`] | 4 |
//! | no connection, timeout, 502/503/504 | [`Error::Unreachable`] | 5 |
//! | bad CA file, TLS verification failure | [`Error::BadCa`], [`Error::Tls`] | 6 |
//! | anything else | [`Error::Server`], [`Error::Protocol`], ... | 1 |

pub mod cert;
pub mod client;
mod error;
pub mod net;
pub mod render;
pub mod store;

pub use client::{
    answer_challenge, enroll, enroll_wait, hello, renew, renewal_due, renewal_pending,
    request_challenge, submit_answer, Answer, EnrollOptions, Hello, Issued, WaitPolicy,
};
pub use error::{exit, Error, Result};
pub use net::{Server, Session};
pub use render::{
    label_png, label_png_bytes, label_sheet_svg, label_svg, label_svg_string, labels_from_csv,
    labels_from_dirs, write_label_sheet,
};
pub use store::{keygen, load, Device, Identity};
pub use vouch_protocol;
pub use vouch_protocol::enroll::{ChannelBinding, EnrollMode};
