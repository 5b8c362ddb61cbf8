//! The one error type of the protocol core.

use crate::wire::ProtocolCode;

/// Everything that can go wrong while parsing, encoding, signing or verifying protocol data.
///
/// Each variant says what was wrong in words a person can act on; none of them panics, and
/// none of them is produced for input that is valid. The enum is `#[non_exhaustive]`: new
/// reasons may be added in minor releases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was empty (or only whitespace).
    #[error("the input is empty")]
    Empty,
    /// The input is longer than any valid value of its kind.
    #[error("{what} is too long: {found} characters, at most {max}")]
    TooLong {
        /// What was being parsed.
        what: &'static str,
        /// The largest accepted length.
        max: usize,
        /// The length found.
        found: usize,
    },
    /// A character that is not allowed at that place.
    #[error("character {ch:?} at position {position} is not allowed in {what}")]
    BadCharacter {
        /// What was being parsed.
        what: &'static str,
        /// Zero-based character position in the input.
        position: usize,
        /// The offending character.
        ch: char,
    },
    /// The text is not a Vouch label, a manual-entry line or a DPP bootstrapping URI.
    #[error("not a Vouch label: expected \"VOUCH1:...\", a manual-entry line \"VOUCH1 ...\" or a \"DPP:\" URI")]
    NotALabel,
    /// A format version this build does not know.
    #[error("{what} version {found} is not supported (this build reads version 1)")]
    UnknownVersion {
        /// What carried the version.
        what: &'static str,
        /// The version found.
        found: u32,
    },
    /// The text has the wrong number of fields.
    #[error("{what} has {found} fields, expected {expected}")]
    WrongFieldCount {
        /// What was being parsed.
        what: &'static str,
        /// Fields expected.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// A field is empty or longer than allowed.
    #[error("{field} must be {} characters long, found {found}", length_range(*min, *max))]
    BadLength {
        /// The field.
        field: &'static str,
        /// Shortest accepted length.
        min: usize,
        /// Longest accepted length.
        max: usize,
        /// Length found.
        found: usize,
    },
    /// A field made only of dots (`.`, `..`, ...), which HTTP paths and URIs cannot carry.
    #[error("{field} must not be made only of dots (\".\" and \"..\" are path segments that HTTP clients rewrite)")]
    OnlyDots {
        /// The field.
        field: &'static str,
    },
    /// The label's check character does not match its content.
    #[error("the check character does not match: the label was mistyped or damaged")]
    CheckMismatch,
    /// One group of the manual-entry key has a wrong check character.
    #[error("key group {group} (counting from 1) does not match its check character: re-type that group")]
    GroupCheckMismatch {
        /// One-based group number.
        group: usize,
    },
    /// A key field is not valid base32, base64 or hex.
    #[error("{what} is not valid {encoding}")]
    BadEncoding {
        /// The field.
        what: &'static str,
        /// The encoding that was expected.
        encoding: &'static str,
    },
    /// The bytes do not encode a point on the P-256 curve.
    #[error("the public key is not a valid P-256 point")]
    InvalidKey,
    /// A Wi-Fi Easy Connect (DPP) bootstrapping URI is malformed.
    #[error("DPP URI: {0}")]
    InvalidDpp(&'static str),
    /// A staff invite string is malformed.
    #[error("invite: {0}")]
    InvalidInvite(&'static str),
    /// An encoded record or message ended early.
    #[error("{what} ends early")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
    },
    /// An encoded record or message has bytes after its end.
    #[error("{what} has {count} unexpected bytes at the end")]
    TrailingBytes {
        /// What was being decoded.
        what: &'static str,
        /// How many bytes were left.
        count: usize,
    },
    /// A text field is not valid UTF-8 or contains a control character.
    #[error("{field} is not valid text (UTF-8 without control characters)")]
    BadText {
        /// The field.
        field: &'static str,
    },
    /// The parsed fields of a scan record disagree with the label text it carries.
    #[error("the record's serial, model or key does not match its label text")]
    LabelMismatch,
    /// The scan record was signed by another key than the one it names.
    #[error("the record names another installation key than the one that verifies it")]
    InstallerMismatch,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The record's previous-hash does not match the hash of the last accepted record.
    #[error(
        "the record does not follow the previous record of this installation (hash chain broken)"
    )]
    ChainBroken,
    /// A sequence number was skipped.
    #[error("sequence gap: expected record {expected}, found {found}")]
    SequenceGap {
        /// The next sequence number expected.
        expected: u64,
        /// The sequence number found.
        found: u64,
    },
    /// A sequence number that is already behind the chain head.
    #[error("sequence {found} is already behind the chain (next expected {expected})")]
    SequenceReplay {
        /// The next sequence number expected.
        expected: u64,
        /// The sequence number found.
        found: u64,
    },
    /// A value outside its allowed range.
    #[error("{0}")]
    OutOfRange(&'static str),
}

/// "exactly 5" or "1 to 24": a range whose ends meet reads as one length.
fn length_range(min: usize, max: usize) -> alloc::string::String {
    if min == max {
        alloc::format!("exactly {min}")
    } else {
        alloc::format!("{min} to {max}")
    }
}

/// A short machine-readable code for each error, stable across releases.
impl Error {
    /// The stable, machine-readable code of this error (for HTTP and IPC answers).
    pub fn code(&self) -> &'static str {
        self.protocol_code().as_str()
    }

    /// The code's fieldless kind, to match on without spelling the code.
    pub fn protocol_code(&self) -> ProtocolCode {
        match self {
            Error::Empty => ProtocolCode::Empty,
            Error::TooLong { .. } => ProtocolCode::TooLong,
            Error::BadCharacter { .. } => ProtocolCode::BadCharacter,
            Error::NotALabel => ProtocolCode::NotALabel,
            Error::UnknownVersion { .. } => ProtocolCode::UnknownVersion,
            Error::WrongFieldCount { .. } => ProtocolCode::WrongFieldCount,
            Error::BadLength { .. } => ProtocolCode::BadLength,
            Error::OnlyDots { .. } => ProtocolCode::OnlyDots,
            Error::CheckMismatch => ProtocolCode::CheckMismatch,
            Error::GroupCheckMismatch { .. } => ProtocolCode::GroupCheckMismatch,
            Error::BadEncoding { .. } => ProtocolCode::BadEncoding,
            Error::InvalidKey => ProtocolCode::InvalidKey,
            Error::InvalidDpp(_) => ProtocolCode::InvalidDpp,
            Error::InvalidInvite(_) => ProtocolCode::InvalidInvite,
            Error::Truncated { .. } => ProtocolCode::Truncated,
            Error::TrailingBytes { .. } => ProtocolCode::TrailingBytes,
            Error::BadText { .. } => ProtocolCode::BadText,
            Error::LabelMismatch => ProtocolCode::LabelMismatch,
            Error::InstallerMismatch => ProtocolCode::InstallerMismatch,
            Error::BadSignature => ProtocolCode::BadSignature,
            Error::ChainBroken => ProtocolCode::ChainBroken,
            Error::SequenceGap { .. } => ProtocolCode::SequenceGap,
            Error::SequenceReplay { .. } => ProtocolCode::SequenceReplay,
            Error::OutOfRange(_) => ProtocolCode::OutOfRange,
        }
    }
}
