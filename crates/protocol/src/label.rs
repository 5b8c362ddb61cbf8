//! Device labels: the compact QR text, the manual-entry line and the DPP bootstrapping URI.
//!
//! # Compact label (what the QR code holds)
//!
//! ```text
//! VOUCH1:<MODEL>:<SERIAL>:<KEY>:<C>
//! ```
//!
//! * `VOUCH1`: the format name and version (decimal). Other versions are refused with
//!   [`Error::UnknownVersion`].
//! * `MODEL`: 1 to 24 characters from `0-9 A-Z - .`.
//! * `SERIAL`: 1 to 32 characters from `0-9 A-Z - .`.
//! * `KEY`: the compressed SEC1 P-256 public key (33 bytes) in RFC 4648 base32 without padding:
//!   exactly 53 characters from `A-Z 2-7`, the unused low bit of the last character zero.
//! * `C`: one check character (see [`crate::check::label_check`]) over every character before
//!   it, `VOUCH1:` and all separators included.
//!
//! Every character is in the QR alphanumeric set, so the code stays small.
//!
//! # Manual-entry line (printed under the code)
//!
//! ```text
//! VOUCH1 <MODEL> <SERIAL> <G1> <G2> ... <G14> <C>
//! ```
//!
//! The key's 53 characters are cut into groups of four (the last group has one), and each group
//! is followed by its own check character ([`crate::check::group_check`]), so a typo is located
//! to its group as it is typed. `C` is the same check character as in the compact label. The
//! parser accepts lower case; tokens are separated by exactly one space (a run of spaces is
//! refused, not collapsed, so that a character mistyped as a space is always caught).
//!
//! # DPP bootstrapping URI
//!
//! `DPP:` followed by `TAG:value;` fields and a final `;`, e.g. `DPP:I:SN-1;K:<base64 SPKI>;;`.
//! `K` (base64 DER SubjectPublicKeyInfo of a P-256 key) and `I` (the serial) are required here;
//! other tags are accepted and ignored. Such a label has no model.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::check::{group_check, group_check_ok, label_check, label_check_ok};
use crate::key::{PublicKey, COMPRESSED_KEY_LEN};
use crate::Error;

/// The prefix of a version-1 compact label.
pub const COMPACT_PREFIX: &str = "VOUCH1";
/// Length of the base32 key field.
pub const KEY_BASE32_LEN: usize = 53;
/// Key characters per manual-entry group (before its check character).
pub const MANUAL_GROUP_LEN: usize = 4;
/// The longest text [`Label::parse`] looks at.
pub const MAX_LABEL_TEXT: usize = 512;
const MAX_MODEL: usize = 24;
const MAX_SERIAL: usize = 32;

fn is_label_field_char(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase() || c == '-' || c == '.'
}

fn validate_field(
    text: &str,
    field: &'static str,
    max: usize,
    allowed: fn(char) -> bool,
) -> Result<(), Error> {
    let len = text.chars().count();
    if len == 0 || len > max {
        return Err(Error::BadLength {
            field,
            min: 1,
            max,
            found: len,
        });
    }
    if let Some((position, ch)) = text.chars().enumerate().find(|&(_, c)| !allowed(c)) {
        return Err(Error::BadCharacter {
            what: field,
            position,
            ch,
        });
    }
    Ok(())
}

/// A device model name: 1 to 24 characters from `0-9 A-Z - .`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Model(String);

impl Model {
    /// Checks and wraps a model name.
    pub fn new(text: &str) -> Result<Self, Error> {
        validate_field(text, "model", MAX_MODEL, is_label_field_char)?;
        Ok(Self(text.to_string()))
    }

    /// The model name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A device serial number: 1 to 32 characters from `0-9 A-Z a-z - . _`, not made only of dots
/// (only the upper-case subset fits a compact label; DPP labels may carry the others).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(String);

fn is_serial_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'
}

impl Serial {
    /// Checks and wraps a serial number: the one serial rule, for every form and every caller.
    pub fn new(text: &str) -> Result<Self, Error> {
        validate_field(text, "serial", MAX_SERIAL, is_serial_char)?;
        // `.` and `..` are path segments: HTTP clients rewrite `/v1/devices/..` to another
        // path, and a SAN URI ending in one names another identity once normalised.
        if text.chars().all(|c| c == '.') {
            return Err(Error::OnlyDots { field: "serial" });
        }
        Ok(Self(text.to_string()))
    }

    /// The serial number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which written form a label was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelFormat {
    /// `VOUCH1:...`, the QR code's text.
    Compact,
    /// `VOUCH1 ...`, the manual-entry line.
    Manual,
    /// `DPP:...`, a Wi-Fi Easy Connect bootstrapping URI.
    Dpp,
}

/// A parsed device label: model (absent on DPP labels), serial and the device's public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    model: Option<Model>,
    serial: Serial,
    key: PublicKey,
    format: LabelFormat,
}

impl Label {
    /// A label for a new device (as the factory prints it).
    pub fn new(model: Model, serial: Serial, key: PublicKey) -> Self {
        Self {
            model: Some(model),
            serial,
            key,
            format: LabelFormat::Compact,
        }
    }

    /// The model, if the label carries one.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    /// The serial number.
    pub fn serial(&self) -> &Serial {
        &self.serial
    }

    /// The device's public key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The form this label was read from.
    pub fn format(&self) -> LabelFormat {
        self.format
    }

    /// Parses any accepted form: compact, manual-entry line, or DPP URI. Leading and trailing
    /// whitespace is ignored. Never panics.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::Empty);
        }
        let length = text.chars().count();
        if length > MAX_LABEL_TEXT {
            return Err(Error::TooLong {
                what: "label",
                max: MAX_LABEL_TEXT,
                found: length,
            });
        }
        if text.starts_with("DPP:") {
            return parse_dpp(text);
        }
        let head: String = text
            .chars()
            .take(5)
            .collect::<String>()
            .to_ascii_uppercase();
        if head != "VOUCH" {
            return Err(Error::NotALabel);
        }
        if text.contains(char::is_whitespace) {
            parse_manual(text)
        } else {
            parse_compact(text)
        }
    }

    /// The compact text for the QR code. Fails if the label has no model or its serial uses
    /// characters outside `0-9 A-Z - .` (possible only for DPP-read labels).
    pub fn to_compact(&self) -> Result<String, Error> {
        let body = self.compact_body()?;
        let check = label_check(body.as_bytes()).ok_or(Error::OutOfRange(
            "label holds characters outside the check alphabet",
        ))?;
        let mut out = body;
        out.push(char::from(check));
        Ok(out)
    }

    /// The manual-entry line printed under the code.
    pub fn to_manual(&self) -> Result<String, Error> {
        let compact = self.to_compact()?;
        let (model, serial) = (self.model_for_compact()?, self.serial.as_str());
        let key = encode_key(&self.key);
        let mut out = String::new();
        out.push_str(COMPACT_PREFIX);
        for token in [model.as_str(), serial] {
            out.push(' ');
            out.push_str(token);
        }
        for chunk in key.as_bytes().chunks(MANUAL_GROUP_LEN) {
            out.push(' ');
            out.push_str(core::str::from_utf8(chunk).map_err(|_| Error::InvalidKey)?);
            let check = group_check(chunk).ok_or(Error::InvalidKey)?;
            out.push(char::from(check));
        }
        out.push(' ');
        out.push_str(&compact[compact.len() - 1..]);
        Ok(out)
    }

    fn model_for_compact(&self) -> Result<&Model, Error> {
        self.model.as_ref().ok_or(Error::OutOfRange(
            "a label without a model has no compact form",
        ))
    }

    fn compact_body(&self) -> Result<String, Error> {
        let model = self.model_for_compact()?;
        validate_field(
            self.serial.as_str(),
            "serial",
            MAX_SERIAL,
            is_label_field_char,
        )?;
        let mut body = String::with_capacity(96);
        for part in [COMPACT_PREFIX, model.as_str(), self.serial.as_str()] {
            body.push_str(part);
            body.push(':');
        }
        body.push_str(&encode_key(&self.key));
        body.push(':');
        Ok(body)
    }
}

fn encode_key(key: &PublicKey) -> String {
    data_encoding::BASE32_NOPAD.encode(&key.to_sec1_compressed())
}

fn decode_key(text: &str) -> Result<PublicKey, Error> {
    if text.len() != KEY_BASE32_LEN {
        return Err(Error::BadLength {
            field: "key",
            min: KEY_BASE32_LEN,
            max: KEY_BASE32_LEN,
            found: text.chars().count(),
        });
    }
    let bytes = data_encoding::BASE32_NOPAD
        .decode(text.as_bytes())
        .map_err(|_| Error::BadEncoding {
            what: "key",
            encoding: "base32",
        })?;
    if bytes.len() != COMPRESSED_KEY_LEN {
        return Err(Error::InvalidKey);
    }
    PublicKey::from_sec1(&bytes)
}

/// Splits `VOUCH<digits>` off the start, checking the version.
fn check_version(first_token: &str) -> Result<(), Error> {
    let digits = first_token.get(5..).unwrap_or("");
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::NotALabel);
    }
    if digits.starts_with('0') {
        return Err(Error::NotALabel);
    }
    let found: u32 = digits.parse().unwrap_or(u32::MAX);
    if found != 1 {
        return Err(Error::UnknownVersion {
            what: "label",
            found,
        });
    }
    Ok(())
}

fn is_compact_char(c: char) -> bool {
    u8::try_from(c).is_ok_and(|b| crate::check::label_symbol_value(b).is_some())
}

fn parse_compact(text: &str) -> Result<Label, Error> {
    if let Some((position, ch)) = text.chars().enumerate().find(|&(_, c)| !is_compact_char(c)) {
        return Err(Error::BadCharacter {
            what: "label",
            position,
            ch,
        });
    }
    let version_token = text.split(':').next().unwrap_or("");
    check_version(version_token)?;
    let bytes = text.as_bytes();
    if bytes.len() < 3 || bytes[bytes.len() - 2] != b':' {
        return Err(Error::WrongFieldCount {
            what: "label",
            expected: 5,
            found: text.split(':').count(),
        });
    }
    let body = &text[..text.len() - 2];
    let fields: Vec<&str> = body.split(':').collect();
    if fields.len() != 4 {
        return Err(Error::WrongFieldCount {
            what: "label",
            expected: 5,
            found: fields.len() + 1,
        });
    }
    let model = Model::new(fields[1])?;
    validate_field(fields[2], "serial", MAX_SERIAL, is_label_field_char)?;
    let serial = Serial::new(fields[2])?;
    if fields[3].len() != KEY_BASE32_LEN {
        return Err(Error::BadLength {
            field: "key",
            min: KEY_BASE32_LEN,
            max: KEY_BASE32_LEN,
            found: fields[3].len(),
        });
    }
    if !label_check_ok(bytes) {
        return Err(Error::CheckMismatch);
    }
    let key = decode_key(fields[3])?;
    Ok(Label {
        model: Some(model),
        serial,
        key,
        format: LabelFormat::Compact,
    })
}

fn parse_manual(text: &str) -> Result<Label, Error> {
    let upper = text.to_ascii_uppercase();
    if let Some(position) = double_or_odd_space(&upper) {
        return Err(Error::BadCharacter {
            what: "manual-entry line (tokens are separated by single spaces)",
            position,
            ch: upper.chars().nth(position).unwrap_or(' '),
        });
    }
    let tokens: Vec<&str> = upper.split(' ').collect();
    check_version(tokens.first().copied().unwrap_or(""))?;
    let groups = KEY_BASE32_LEN.div_ceil(MANUAL_GROUP_LEN);
    let expected = 3 + groups + 1;
    if tokens.len() != expected {
        return Err(Error::WrongFieldCount {
            what: "manual-entry line",
            expected,
            found: tokens.len(),
        });
    }
    // Positions in errors count from the start of the (trimmed) line, as in the spacing check.
    let groups_start = tokens[..3].iter().map(|t| t.chars().count() + 1).sum();
    let key = manual_key_chars(&tokens[3..3 + groups], groups_start)?;
    let check = tokens[expected - 1];
    if check.len() != 1 {
        return Err(Error::BadLength {
            field: "check character",
            min: 1,
            max: 1,
            found: check.chars().count(),
        });
    }
    let compact = alloc::format!(
        "{}:{}:{}:{}:{}",
        tokens[0],
        tokens[1],
        tokens[2],
        key,
        check
    );
    let label = parse_compact(&compact)?;
    Ok(Label {
        format: LabelFormat::Manual,
        ..label
    })
}

/// The position of a whitespace character other than a single space between tokens, if any.
/// A run of spaces is refused rather than collapsed: collapsing would turn a character typed
/// as a space into a deletion, which no check character can be sure to catch.
fn double_or_odd_space(text: &str) -> Option<usize> {
    let mut previous_space = false;
    for (position, c) in text.chars().enumerate() {
        if c.is_whitespace() && (c != ' ' || previous_space) {
            return Some(position);
        }
        previous_space = c == ' ';
    }
    None
}

/// Checks each manual-entry key group against its check character and joins the key characters.
/// `start` is the character position of the first group in the line.
fn manual_key_chars(groups: &[&str], start: usize) -> Result<String, Error> {
    let mut key = String::with_capacity(KEY_BASE32_LEN);
    let mut position = start;
    for (index, group) in groups.iter().enumerate() {
        let data_len = (KEY_BASE32_LEN - index * MANUAL_GROUP_LEN).min(MANUAL_GROUP_LEN);
        check_group_shape(group, data_len + 1, position)?;
        if !group_check_ok(group.as_bytes()) {
            return Err(Error::GroupCheckMismatch { group: index + 1 });
        }
        key.push_str(&group[..data_len]);
        position += group.len() + 1;
    }
    Ok(key)
}

/// A key group must be `len` characters (`bad_length`), all ASCII (`bad_character`, naming the
/// first other one by its position in the line): a look-alike letter from another script is a
/// wrong character, not a wrong length.
fn check_group_shape(group: &str, len: usize, start: usize) -> Result<(), Error> {
    let found = group.chars().count();
    if found != len {
        return Err(Error::BadLength {
            field: "key group",
            min: len,
            max: len,
            found,
        });
    }
    match group.chars().enumerate().find(|(_, c)| !c.is_ascii()) {
        Some((offset, ch)) => Err(Error::BadCharacter {
            what: "manual-entry key group (base32: A-Z 2-7)",
            position: start + offset,
            ch,
        }),
        None => Ok(()),
    }
}

/// Checks one manual-entry key group (its base32 characters followed by the check character),
/// for feedback while a person types. Case is ignored.
pub fn manual_group_ok(group: &str) -> bool {
    group.len() >= 2 && group_check_ok(group.to_ascii_uppercase().as_bytes())
}

fn parse_dpp(text: &str) -> Result<Label, Error> {
    let rest = &text["DPP:".len()..];
    let Some(fields) = rest.strip_suffix(";;") else {
        return Err(Error::InvalidDpp(
            "the URI must end with \";;\" (truncated?)",
        ));
    };
    let mut serial = None;
    let mut key = None;
    for field in fields.split(';') {
        let Some((tag, value)) = field.split_once(':') else {
            return Err(Error::InvalidDpp("each field must look like TAG:value"));
        };
        match tag {
            "I" => serial = Some(value),
            "K" => key = Some(value),
            t if t.is_empty() || !t.chars().all(|c| c.is_ascii_uppercase()) => {
                return Err(Error::InvalidDpp("a field tag must be upper-case letters"));
            }
            _ => {}
        }
    }
    let serial = serial.ok_or(Error::InvalidDpp("no I: field (the device serial)"))?;
    let key = key.ok_or(Error::InvalidDpp("no K: field (the public key)"))?;
    let der = data_encoding::BASE64
        .decode(key.as_bytes())
        .or_else(|_| data_encoding::BASE64_NOPAD.decode(key.as_bytes()))
        .map_err(|_| Error::BadEncoding {
            what: "DPP K: field",
            encoding: "base64",
        })?;
    Ok(Label {
        model: None,
        serial: Serial::new(serial)?,
        key: PublicKey::from_spki_der(&der)?,
        format: LabelFormat::Dpp,
    })
}

/// Builds a DPP bootstrapping URI for a key and serial (compressed SPKI, as DPP devices print).
pub fn to_dpp_uri(serial: &Serial, key: &PublicKey) -> String {
    let mut spki = Vec::from(DPP_SPKI_PREFIX);
    spki.extend_from_slice(&key.to_sec1_compressed());
    alloc::format!(
        "DPP:I:{};K:{};;",
        serial.as_str(),
        data_encoding::BASE64.encode(&spki)
    )
}

/// DER prefix of a SubjectPublicKeyInfo holding a compressed P-256 point (id-ecPublicKey,
/// prime256v1, BIT STRING of 34 bytes).
const DPP_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00,
];
