//! Infrastructure shared by Vouch's I/O crates: the field engine, the device agent and the
//! server (whose admin client is a TLS client like the others, and whose data folder is written
//! like theirs).
//!
//! Each piece used to be written once per crate, and the copies drifted (one did not fsync the
//! folder, one checked for an existing file and then renamed over it). Here each is written once:
//!
//! * [`tls`]: the rustls client configuration that trusts one pinned CA and nothing else (ring,
//!   TLS 1.3 or 1.2 with extended master secret), and finding the rustls error behind an I/O or
//!   HTTP error;
//! * [`retry`]: parsing `retry-after` and exponential backoff with full jitter;
//! * [`fs`]: atomic, durable file writes, with a create-new variant that never overwrites, even
//!   against a racing writer;
//! * [`lock`]: telling "another process holds the database's lock" apart from other failures.
//!
//! Nothing here knows the protocol or the HTTP client each crate uses; one error enum,
//! [`Error`].

mod error;
pub mod fs;
pub mod lock;
pub mod retry;
pub mod tls;

pub use error::{Error, Result};
