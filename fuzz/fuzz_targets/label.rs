//! `Label::parse` on arbitrary text; every label that parses must survive its own writers.
//!
//! Each input is parsed twice: as given, and "repaired" (check characters recomputed, see
//! [`repair`]) so that mutations of the model, serial and key reach the code behind the checks
//! instead of stopping at `CheckMismatch` / `GroupCheckMismatch` almost every time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_protocol::check::{group_check, label_check};
use vouch_protocol::label::{to_dpp_uri, KEY_BASE32_LEN, MANUAL_GROUP_LEN};
use vouch_protocol::{Label, LabelFormat};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    round_trip(&text);
    if let Some(repaired) = repair(&text) {
        if repaired != text {
            round_trip(&repaired);
        }
    }
});

/// Parses `text`; if it is a label, re-encodes it in every form it has and parses that again.
fn round_trip(text: &str) {
    let Ok(label) = Label::parse(text) else {
        return;
    };
    if label.model().is_none() {
        // A DPP label: it has no compact form, but its DPP URI must read back the same.
        assert_eq!(label.format(), LabelFormat::Dpp);
        let uri = to_dpp_uri(label.serial(), label.key());
        let back = Label::parse(&uri)
            .unwrap_or_else(|e| panic!("to_dpp_uri output {uri:?} does not parse: {e}"));
        assert_eq!(back, label, "DPP round trip of {text:?} via {uri:?}");
        return;
    }
    let compact = label
        .to_compact()
        .unwrap_or_else(|e| panic!("label {text:?} has a model but no compact form: {e}"));
    let back = Label::parse(&compact).unwrap_or_else(|e| {
        panic!("to_compact output {compact:?} of {text:?} does not parse: {e}")
    });
    assert_eq!(back.format(), LabelFormat::Compact);
    assert_eq!(
        (back.model(), back.serial(), back.key()),
        (label.model(), label.serial(), label.key()),
        "compact round trip of {text:?} via {compact:?}"
    );
    if label.format() == LabelFormat::Compact {
        assert_eq!(back, label, "compact round trip of {text:?}");
    }

    let manual = label
        .to_manual()
        .unwrap_or_else(|e| panic!("label {text:?} has a compact form but no manual line: {e}"));
    let back = Label::parse(&manual)
        .unwrap_or_else(|e| panic!("to_manual output {manual:?} of {text:?} does not parse: {e}"));
    assert_eq!(back.format(), LabelFormat::Manual);
    assert_eq!(
        (back.model(), back.serial(), back.key()),
        (label.model(), label.serial(), label.key()),
        "manual round trip of {text:?} via {manual:?}"
    );
}

/// Recomputes the check characters of something shaped like a compact label or a manual-entry
/// line; `None` if it is shaped like neither.
fn repair(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.contains(' ') {
        repair_manual(trimmed)
    } else {
        // Compact: everything up to and including the last ':' is the checked body.
        let body = &trimmed[..=trimmed.rfind(':')?];
        let check = label_check(body.as_bytes())?;
        Some(format!("{body}{}", char::from(check)))
    }
}

fn repair_manual(text: &str) -> Option<String> {
    let upper = text.to_ascii_uppercase();
    let mut tokens: Vec<String> = upper.split(' ').map(String::from).collect();
    let groups = KEY_BASE32_LEN.div_ceil(MANUAL_GROUP_LEN);
    if tokens.len() != 3 + groups + 1 {
        return None;
    }
    let mut key = String::new();
    for group in &mut tokens[3..3 + groups] {
        if group.len() < 2 || !group.is_ascii() {
            return None;
        }
        let data = &group[..group.len() - 1];
        let check = group_check(data.as_bytes())?;
        key.push_str(data);
        *group = format!("{data}{}", char::from(check));
    }
    let body = format!("{}:{}:{}:{}:", tokens[0], tokens[1], tokens[2], key);
    let check = label_check(body.as_bytes())?;
    let last = tokens.len() - 1;
    tokens[last] = char::from(check).to_string();
    Some(tokens.join(" "))
}
