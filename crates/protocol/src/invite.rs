//! Staff invites: the one-time string (shown as a QR code) that lets an app install join a
//! server.
//!
//! ```text
//! VOUCH-INVITE:1:<CA>:<CODE>:<URL>
//! ```
//!
//! * `1`: the format version.
//! * `CA`: SHA-256 of the server CA certificate's DER, 64 lower-case hex characters. The app
//!   pins this CA for every later connection.
//! * `CODE`: the one-time code, 16 to 64 characters from `A-Z 2-7` (the server makes 26:
//!   128 random bits in base32).
//! * `URL`: the server's base URL, `https://...`, last so that it may contain `:`.

use alloc::string::{String, ToString};
use core::fmt;

use crate::key::{hex, parse_hex_array};
use crate::Error;

const PREFIX: &str = "VOUCH-INVITE:";
const MAX_URL: usize = 512;

/// A parsed staff invite.
#[derive(Clone, PartialEq, Eq)]
pub struct Invite {
    server_url: String,
    ca_sha256: [u8; 32],
    code: String,
}

impl Invite {
    /// Builds an invite, checking each part.
    pub fn new(server_url: &str, ca_sha256: [u8; 32], code: &str) -> Result<Self, Error> {
        check_url(server_url)?;
        check_code(code)?;
        Ok(Self {
            server_url: server_url.to_string(),
            ca_sha256,
            code: code.to_string(),
        })
    }

    /// Parses the invite string. Surrounding whitespace is ignored; never panics.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let rest = text
            .strip_prefix(PREFIX)
            .ok_or(Error::InvalidInvite("it must start with \"VOUCH-INVITE:\""))?;
        let mut parts = rest.splitn(4, ':');
        let version = parts.next().unwrap_or("");
        if version != "1" {
            return Err(Error::UnknownVersion {
                what: "invite",
                found: version.parse().unwrap_or(u32::MAX),
            });
        }
        let (Some(ca), Some(code), Some(url)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::InvalidInvite(
                "it must have the CA fingerprint, the code and the server URL",
            ));
        };
        let ca_sha256 = parse_hex_array(ca, "CA fingerprint")?;
        Self::new(url, ca_sha256, code)
    }

    /// The server's base URL.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// SHA-256 of the server CA certificate (DER).
    pub fn ca_sha256(&self) -> &[u8; 32] {
        &self.ca_sha256
    }

    /// The one-time code.
    pub fn code(&self) -> &str {
        &self.code
    }
}

impl fmt::Display for Invite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}1:{}:{}:{}",
            hex(&self.ca_sha256),
            self.code,
            self.server_url
        )
    }
}

impl fmt::Debug for Invite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The code is a secret until redeemed: never print it.
        f.debug_struct("Invite")
            .field("server_url", &self.server_url)
            .field("ca_sha256", &hex(&self.ca_sha256))
            .field("code", &"<redacted>")
            .finish()
    }
}

fn check_url(url: &str) -> Result<(), Error> {
    if !url.starts_with("https://") || url.len() <= "https://".len() {
        return Err(Error::InvalidInvite(
            "the server URL must start with https://",
        ));
    }
    if url.len() > MAX_URL {
        return Err(Error::InvalidInvite("the server URL is too long"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidInvite(
            "the server URL contains spaces or control characters",
        ));
    }
    Ok(())
}

fn check_code(code: &str) -> Result<(), Error> {
    if !(16..=64).contains(&code.len()) {
        return Err(Error::InvalidInvite("the code must be 16 to 64 characters"));
    }
    if !code
        .bytes()
        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    {
        return Err(Error::InvalidInvite("the code must use only A-Z and 2-7"));
    }
    Ok(())
}
