//! Behaviour that docs/PROTOCOL.md states and the vectors do not show: the order of a record
//! reader's refusals (5.1, 5.5), error messages (4.5), and the figures the document quotes from
//! the vector files (5.6, 10.1, 10.3), so that the text cannot drift from the files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::vectors;
use serde_json::{json, Value};
use vouch_protocol::key::{public_key_of, sha256};
use vouch_protocol::p256::ecdsa::SigningKey;
use vouch_protocol::record::RecordWire;
use vouch_protocol::{
    ChainHead, Error, Label, Model, NewScan, RecordId, ScanRecord, Serial, SignedScanRecord,
};

fn protocol_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/PROTOCOL.md");
    std::fs::read_to_string(path).expect("docs/PROTOCOL.md")
}

fn label() -> Label {
    let key = SigningKey::from_slice(&sha256(b"documented")).unwrap();
    Label::new(
        Model::new("ACME-T1").unwrap(),
        Serial::new("SN-0001").unwrap(),
        public_key_of(&key),
    )
}

// ---- 4.5: manual-entry key groups -----------------------------------------------------------

#[test]
fn a_non_ascii_letter_in_a_key_group_is_a_bad_character_at_its_position() {
    let manual = label().to_manual().unwrap();
    let mut tokens: Vec<String> = manual.split(' ').map(String::from).collect();
    // Group 2 (token 5), its second character: a look-alike from another script.
    let mut group: Vec<char> = tokens[4].chars().collect();
    group[1] = 'Ä';
    tokens[4] = group.into_iter().collect();
    let line = tokens.join(" ");
    let position = tokens[..4]
        .iter()
        .map(|t| t.chars().count() + 1)
        .sum::<usize>()
        + 1;
    assert_eq!(line.chars().nth(position), Some('Ä'));

    let err = Label::parse(&line).unwrap_err();
    assert_eq!(
        err,
        Error::BadCharacter {
            what: "manual-entry key group (base32: A-Z 2-7)",
            position,
            ch: 'Ä',
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("'Ä'") && message.contains(&format!("position {position}")),
        "{message}"
    );
}

#[test]
fn a_key_group_of_the_wrong_length_says_the_length_it_needs() {
    let manual = label().to_manual().unwrap();
    let mut tokens: Vec<String> = manual.split(' ').map(String::from).collect();
    tokens[4].pop();
    let err = Label::parse(&tokens.join(" ")).unwrap_err();
    assert_eq!(err.code(), "bad_length");
    assert_eq!(
        err.to_string(),
        "key group must be exactly 5 characters long, found 4"
    );
    // A range keeps its two ends.
    let err = Model::new("").unwrap_err();
    assert_eq!(
        err.to_string(),
        "model must be 1 to 24 characters long, found 0"
    );
}

// ---- 4: serials of dots only ----------------------------------------------------------------

#[test]
fn serials_made_only_of_dots_are_refused_by_the_one_serial_rule() {
    for text in [".", "..", "...", &".".repeat(32)] {
        let err = Serial::new(text).unwrap_err();
        assert_eq!(err.code(), "only_dots", "{text}");
    }
    for text in [".1", "A.", "._", "-.", "..A"] {
        assert!(Serial::new(text).is_ok(), "{text}");
    }
    // Length and characters come first: 33 dots is too long, ". ." has a bad character.
    assert_eq!(
        Serial::new(&".".repeat(33)).unwrap_err().code(),
        "bad_length"
    );
    assert_eq!(Serial::new(". .").unwrap_err().code(), "bad_character");
}

// ---- 5.1: the canonical reader --------------------------------------------------------------

fn canonical(site: &str, sequence: u64) -> Vec<u8> {
    let technician = SigningKey::from_slice(&sha256(b"technician")).unwrap();
    let text = label().to_compact().unwrap();
    let head = ChainHead {
        next_sequence: sequence,
        last_hash: ChainHead::GENESIS.last_hash,
    };
    let scan = NewScan {
        record_id: RecordId([7; 16]),
        chain: &head,
        scanned_at_ms: 1,
        label_text: &text,
        site,
        note: None,
    };
    ScanRecord::new(public_key_of(&technician).key_id(), &scan)
        .unwrap()
        .canonical_bytes()
}

/// The bytes with the site field (the last string before the absent note) replaced by `raw`.
fn with_site_field(bytes: &[u8], site_len: usize, raw: &[u8]) -> Vec<u8> {
    let site_start = bytes.len() - 1 - (2 + site_len);
    let mut out = bytes[..site_start].to_vec();
    out.extend_from_slice(raw);
    out
}

fn code_of(bytes: &[u8]) -> &'static str {
    ScanRecord::from_canonical(bytes).unwrap_err().code()
}

#[test]
fn a_length_prefix_past_the_end_is_truncated_and_one_over_the_limit_is_too_long() {
    let bytes = canonical("WO-1", 1);
    assert!(ScanRecord::from_canonical(&bytes).is_ok());
    // 0x00c8 = 200 bytes announced, 4 present: the reader runs out first.
    let raw = [&[0x00, 0xc8][..], b"WO-1", &[0x00]].concat();
    assert_eq!(code_of(&with_site_field(&bytes, 4, &raw)), "truncated");
    // 200 bytes announced and present, over the site's 128: too_long.
    let raw = [&[0x00, 0xc8][..], &[b'a'; 200][..], &[0x00]].concat();
    assert_eq!(code_of(&with_site_field(&bytes, 4, &raw)), "too_long");
    // Not UTF-8 is bad_text before its length is judged.
    let raw = [&[0x00, 0xc8][..], &[0xff; 200][..], &[0x00]].concat();
    assert_eq!(code_of(&with_site_field(&bytes, 4, &raw)), "bad_text");
}

#[test]
fn the_canonical_reader_refuses_in_field_order_then_label_then_sequence() {
    let good = canonical("WO-1", 1);
    // Version first, even when the rest is cut short.
    assert_eq!(code_of(&[2]), "unknown_version");
    // Sequence 0 is judged last: trailing bytes and a label mismatch come before it.
    let mut zero = good.clone();
    zero[49..57].copy_from_slice(&0u64.to_be_bytes());
    assert_eq!(code_of(&zero), "out_of_range");
    let mut zero_trailing = zero.clone();
    zero_trailing.push(0);
    assert_eq!(code_of(&zero_trailing), "trailing_bytes");
    // The serial field (after the label text and the model) says SN-0002: label_mismatch.
    let text_len = usize::from(u16::from_be_bytes([zero[97], zero[98]]));
    let serial_at = 99 + text_len + 1 + 2 + "ACME-T1".len() + 2;
    let mut mismatch = zero.clone();
    assert_eq!(&mismatch[serial_at..serial_at + 7], b"SN-0001");
    mismatch[serial_at + 6] = b'2';
    assert_eq!(code_of(&mismatch), "label_mismatch");
    // An invalid device key is found while reading, before trailing bytes.
    let key_at = serial_at + 7;
    let mut bad_key = mismatch.clone();
    bad_key[key_at] = 0x05;
    bad_key.push(0);
    assert_eq!(code_of(&bad_key), "invalid_key");
}

// ---- 5.5: the JSON wire form ----------------------------------------------------------------

fn wire_json() -> Value {
    let chain = vectors::chain();
    serde_json::to_value(&chain.records[0]).unwrap()
}

fn wire_code(value: Value) -> Result<&'static str, String> {
    // A shape error (serde) has no protocol code; a refused value has one.
    let wire: RecordWire = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(SignedScanRecord::try_from(wire).map_or_else(|e| e.code(), |_| "ok"))
}

#[test]
fn json_version_and_number_rules() {
    assert_eq!(wire_code(wire_json()), Ok("ok"));
    let mut v2 = wire_json();
    v2["v"] = json!(2);
    assert_eq!(wire_code(v2), Ok("unknown_version"));
    // Outside a byte, a float, a string or a boolean: a shape error, no protocol code.
    for (field, value) in [
        ("v", json!(256)),
        ("v", json!(1.0)),
        ("v", json!(true)),
        ("sequence", json!(1.0)),
        ("sequence", json!(-1)),
        ("sequence", json!("1")),
        ("scanned_at_ms", json!(false)),
        ("model", json!(7)),
    ] {
        let mut record = wire_json();
        record[field] = value.clone();
        assert!(
            wire_code(record).is_err(),
            "{field} = {value} must be a shape error"
        );
    }
    // 1e0 is a float in JSON, not an integer.
    let text = wire_json()
        .to_string()
        .replace("\"sequence\":1,", "\"sequence\":1e0,");
    assert!(text.contains("1e0"));
    assert!(serde_json::from_str::<RecordWire>(&text).is_err());
}

#[test]
fn json_duplicate_keys_and_a_missing_model_or_note() {
    let text = wire_json().to_string();
    let twice = text.replacen("{", "{\"v\":1,", 1);
    let err = serde_json::from_str::<RecordWire>(&twice).err().unwrap();
    assert!(err.to_string().contains("duplicate field"), "{err}");
    // `note` left out reads as absent (null), as 5.5 says.
    let mut record = wire_json();
    record.as_object_mut().unwrap().remove("note");
    let signed: SignedScanRecord = serde_json::from_value(record).unwrap();
    assert_eq!(signed.record().note(), None);
}

// ---- the figures PROTOCOL.md quotes from the vector files -----------------------------------

fn count_after(text: &str, before: &str) -> usize {
    let start = text
        .find(before)
        .unwrap_or_else(|| panic!("{before:?} not in PROTOCOL.md"))
        + before.len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {before:?}"))
}

#[test]
fn label_counts_in_the_text_are_the_files() {
    let doc = protocol_md();
    let labels = vectors::labels();
    let (valid, invalid) = (
        labels["valid"].as_array().unwrap().len(),
        labels["invalid"].as_array().unwrap().len(),
    );
    assert_eq!(
        count_after(&doc, "| `labels.json` | `valid`: "),
        valid,
        "10.1 valid"
    );
    assert_eq!(count_after(&doc, "`invalid`: "), invalid, "10.1 invalid");
    let result = "Result on the vectors of this version: ";
    assert_eq!(count_after(&doc, result), valid, "10.3 valid");
    let rest = &doc[doc.find(result).unwrap()..];
    assert_eq!(count_after(rest, "valid and "), invalid, "10.3 invalid");
}

#[test]
fn the_worked_example_site_is_counted_in_bytes() {
    let doc = protocol_md();
    let chain = vectors::chain();
    let site = chain.records[1].record().site();
    let sentence = format!(
        "`{site}`, is {} characters but {} UTF-8 bytes; its length prefix is `{:04x}`",
        site.chars().count(),
        site.len(),
        site.len()
    );
    assert!(
        doc.replace('\n', " ").contains(&sentence),
        "5.6 must say: {sentence}"
    );
    let canonical = vouch_protocol::key::hex(&chain.records[1].record().canonical_bytes());
    let prefix = format!(
        "{:04x}{}",
        site.len(),
        vouch_protocol::key::hex(site.as_bytes())
    );
    assert!(canonical.contains(&prefix));
}
