//! The small binary writer and reader behind every canonical encoding.
//!
//! Integers are big-endian; a string is a `u16` big-endian byte length followed by its UTF-8
//! bytes; an optional string is `0x00` (absent) or `0x01` followed by the string.

use alloc::string::String;
use alloc::vec::Vec;

use crate::Error;

/// Appends canonical fields to a byte vector.
#[derive(Default)]
pub(crate) struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.0.extend_from_slice(v);
    }

    /// Callers guarantee `v.len() <= u16::MAX` (every text field has a smaller limit).
    pub fn str(&mut self, v: &str) {
        let len = u16::try_from(v.len()).unwrap_or(u16::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(&v.as_bytes()[..usize::from(len)]);
    }

    pub fn opt_str(&mut self, v: Option<&str>) {
        match v {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
}

/// Reads canonical fields, failing with [`Error::Truncated`] instead of panicking.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { rest: bytes, what }
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.rest.len() < n {
            return Err(Error::Truncated { what: self.what });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub fn str(&mut self, field: &'static str, max: usize) -> Result<String, Error> {
        let len = usize::from(u16::from_be_bytes(self.array()?));
        let raw = self.take(len)?;
        let text = core::str::from_utf8(raw).map_err(|_| Error::BadText { field })?;
        check_text(text, field, max)?;
        Ok(String::from(text))
    }

    pub fn opt_str(&mut self, field: &'static str, max: usize) -> Result<Option<String>, Error> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.str(field, max).map(Some),
            _ => Err(Error::BadEncoding {
                what: field,
                encoding: "optional-field marker (0 or 1)",
            }),
        }
    }

    pub fn finish(self) -> Result<(), Error> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingBytes {
                what: self.what,
                count: self.rest.len(),
            })
        }
    }
}

/// Checks a text field: at most `max` bytes of UTF-8, no control characters.
pub(crate) fn check_text(text: &str, field: &'static str, max: usize) -> Result<(), Error> {
    if text.len() > max {
        return Err(Error::TooLong {
            what: field,
            max,
            found: text.len(),
        });
    }
    if text.chars().any(char::is_control) {
        return Err(Error::BadText { field });
    }
    Ok(())
}
