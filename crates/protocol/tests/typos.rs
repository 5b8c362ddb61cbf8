//! The label's check characters catch every single-character substitution and every swap of
//! two adjacent characters, in the compact label and in the manual-entry line, for a sample of
//! labels.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use vouch_protocol::key::{public_key_of, sha256};
use vouch_protocol::p256::ecdsa::SigningKey;
use vouch_protocol::{Label, Model, Serial};

const QR_ALPHANUMERIC: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

fn sample_labels() -> Vec<Label> {
    let models = ["ACME-T1", "X", "THERMO.2-B", "M9"];
    let serials = [
        "SN-0001",
        "9",
        "A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6",
        "00-00.1",
    ];
    (0..12u8)
        .map(|i| {
            let key = SigningKey::from_slice(&sha256(&[i; 3])).unwrap();
            Label::new(
                Model::new(models[usize::from(i) % 4]).unwrap(),
                Serial::new(serials[usize::from(i / 3) % 4]).unwrap(),
                public_key_of(&key),
            )
        })
        .collect()
}

fn assert_refused(original: &Label, mutated: &str, what: &str) {
    if let Ok(label) = Label::parse(mutated) {
        panic!("{what} not caught: {mutated:?} parsed as {label:?} (original {original:?})");
    }
}

fn check_every_typo(original: &Label, text: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let mut tried = 0;
    for i in 0..chars.len() {
        for sub in QR_ALPHANUMERIC.chars().filter(|&c| c != chars[i]) {
            let mut m = chars.clone();
            m[i] = sub;
            let mutated: String = m.into_iter().collect();
            if mutated.trim() == text.trim() && sub == ' ' {
                continue; // replacing an edge space by a space is no change
            }
            assert_refused(original, &mutated, "substitution");
            tried += 1;
        }
        if i + 1 < chars.len() && chars[i] != chars[i + 1] {
            let mut m = chars.clone();
            m.swap(i, i + 1);
            assert_refused(
                original,
                &m.into_iter().collect::<String>(),
                "adjacent swap",
            );
            tried += 1;
        }
    }
    tried
}

#[test]
fn compact_labels_catch_every_substitution_and_adjacent_swap() {
    let mut tried = 0;
    for label in sample_labels() {
        let text = label.to_compact().unwrap();
        assert_eq!(Label::parse(&text).unwrap(), label);
        tried += check_every_typo(&label, &text);
    }
    assert!(tried > 40_000, "tried {tried}");
}

#[test]
fn manual_lines_catch_every_substitution_and_adjacent_swap() {
    let mut tried = 0;
    for label in sample_labels() {
        let text = label.to_manual().unwrap();
        let parsed = Label::parse(&text).unwrap();
        assert_eq!(parsed.key(), label.key());
        assert_eq!(parsed.serial(), label.serial());
        tried += check_every_typo(&label, &text);
    }
    assert!(tried > 40_000, "tried {tried}");
}
