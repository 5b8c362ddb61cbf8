//! Turning a QR payload's bytes into text.
//!
//! rqrr writes numeric and alphanumeric segments as ASCII, byte segments as the raw bytes and
//! Kanji segments as Shift_JIS byte pairs; it reads the ECI designator but does not expose it.
//! So the character set is guessed the way ZXing does without an ECI (`StringUtils.guessEncoding`):
//! UTF-8 when the bytes are valid UTF-8 with multi-byte sequences, Shift_JIS when they look like
//! Japanese text, ISO-8859-1 otherwise. Vouch labels are ASCII and come through unchanged.

use encoding_rs::{SHIFT_JIS, UTF_8};

/// Which character set a payload was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Charset {
    /// Plain ASCII (also valid in every other set).
    Ascii,
    /// UTF-8.
    Utf8,
    /// Shift_JIS (Japanese; QR Kanji mode).
    ShiftJis,
    /// ISO-8859-1 (QR's default for byte segments).
    Latin1,
}

/// Decodes payload bytes to text, guessing the character set. Never fails: bytes that fit no set
/// become U+FFFD.
pub fn decode_payload(bytes: &[u8]) -> (String, Charset) {
    if bytes.is_ascii() {
        return (String::from_utf8_lossy(bytes).into_owned(), Charset::Ascii);
    }
    let charset = guess(bytes);
    let text = match charset {
        Charset::Ascii | Charset::Utf8 => UTF_8.decode_without_bom_handling(bytes).0,
        Charset::ShiftJis => SHIFT_JIS.decode_without_bom_handling(bytes).0,
        // ISO-8859-1 proper: every byte is the code point of the same value.
        Charset::Latin1 => return (bytes.iter().map(|&b| char::from(b)).collect(), charset),
    };
    (text.into_owned(), charset)
}

fn guess(bytes: &[u8]) -> Charset {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Charset::Utf8;
    }
    let length = bytes.len();
    let mut can_be_latin1 = true;
    let mut can_be_sjis = true;
    let mut can_be_utf8 = true;
    let mut utf8_bytes_left = 0;
    let mut utf2 = 0;
    let mut utf3 = 0;
    let mut utf4 = 0;
    let mut latin1_high_other = 0;
    let mut sjis_bytes_left = 0;
    let mut sjis_katakana = 0;
    let mut sjis_cur_katakana_word = 0;
    let mut sjis_cur_double_word = 0;
    let mut sjis_max_katakana_word = 0;
    let mut sjis_max_double_word = 0;

    for &value in bytes {
        if !(can_be_latin1 || can_be_sjis || can_be_utf8) {
            break;
        }
        let value = u32::from(value);
        if can_be_utf8 {
            if utf8_bytes_left > 0 {
                if value & 0x80 == 0 {
                    can_be_utf8 = false;
                } else {
                    utf8_bytes_left -= 1;
                }
            } else if value & 0x80 != 0 {
                if value & 0x40 == 0 {
                    can_be_utf8 = false;
                } else {
                    utf8_bytes_left += 1;
                    if value & 0x20 == 0 {
                        utf2 += 1;
                    } else {
                        utf8_bytes_left += 1;
                        if value & 0x10 == 0 {
                            utf3 += 1;
                        } else {
                            utf8_bytes_left += 1;
                            if value & 0x08 == 0 {
                                utf4 += 1;
                            } else {
                                can_be_utf8 = false;
                            }
                        }
                    }
                }
            }
        }
        if can_be_latin1 {
            if value > 0x7F && value < 0xA0 {
                can_be_latin1 = false;
            } else if value > 0x9F && (value < 0xC0 || value == 0xD7 || value == 0xF7) {
                latin1_high_other += 1;
            }
        }
        if can_be_sjis {
            if sjis_bytes_left > 0 {
                if value < 0x40 || value == 0x7F || value > 0xFC {
                    can_be_sjis = false;
                } else {
                    sjis_bytes_left -= 1;
                }
            } else if value == 0x80 || value == 0xA0 || value > 0xEF {
                can_be_sjis = false;
            } else if value > 0xA0 && value < 0xE0 {
                sjis_katakana += 1;
                sjis_cur_double_word = 0;
                sjis_cur_katakana_word += 1;
                sjis_max_katakana_word = sjis_max_katakana_word.max(sjis_cur_katakana_word);
            } else if value > 0x7F {
                sjis_bytes_left += 1;
                sjis_cur_katakana_word = 0;
                sjis_cur_double_word += 1;
                sjis_max_double_word = sjis_max_double_word.max(sjis_cur_double_word);
            } else {
                sjis_cur_katakana_word = 0;
                sjis_cur_double_word = 0;
            }
        }
    }
    if can_be_utf8 && utf8_bytes_left > 0 {
        can_be_utf8 = false;
    }
    if can_be_sjis && sjis_bytes_left > 0 {
        can_be_sjis = false;
    }
    if can_be_utf8 && utf2 + utf3 + utf4 > 0 {
        return Charset::Utf8;
    }
    if can_be_sjis && (sjis_max_katakana_word >= 3 || sjis_max_double_word >= 3) {
        return Charset::ShiftJis;
    }
    if can_be_latin1 && can_be_sjis {
        return if (sjis_max_katakana_word == 2 && sjis_katakana == 2)
            || latin1_high_other * 10 >= length
        {
            Charset::ShiftJis
        } else {
            Charset::Latin1
        };
    }
    if can_be_latin1 {
        return Charset::Latin1;
    }
    if can_be_sjis {
        return Charset::ShiftJis;
    }
    if can_be_utf8 {
        return Charset::Utf8;
    }
    Charset::Latin1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_passes_through() {
        assert_eq!(decode_payload(b"VOUCH1:A:B").0, "VOUCH1:A:B");
    }

    #[test]
    fn shift_jis_is_recognised() {
        let (bytes, _, _) = SHIFT_JIS.encode("こんにちは世界");
        let (text, cs) = decode_payload(&bytes);
        assert_eq!(cs, Charset::ShiftJis);
        assert_eq!(text, "こんにちは世界");
    }

    #[test]
    fn utf8_and_latin1() {
        assert_eq!(decode_payload("grüße".as_bytes()).1, Charset::Utf8);
        let (text, cs) = decode_payload(&[b'c', b'a', b'f', 0xE9]);
        assert_eq!((text.as_str(), cs), ("café", Charset::Latin1));
    }
}
