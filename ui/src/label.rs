//! Label parsing for the page: the card shown before a scan is queued, and the as-you-type
//! checks of the manual-entry line. Parsing only, through `vouch_protocol` (no keys, no
//! signing: the shell signs).

use crate::i18n::{t, tf};
use vouch_protocol::label::{manual_group_ok, KEY_BASE32_LEN, MANUAL_GROUP_LEN};
use vouch_protocol::wire::ProtocolCode;
use vouch_protocol::{Label, LabelFormat};

/// A label's fields, for the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelView {
    /// The form it was read in, in words: a QR code, a typed line or a DPP code.
    pub format: String,
    /// Model, if the label has one.
    pub model: Option<String>,
    /// Serial.
    pub serial: String,
    /// The device key's fingerprint.
    pub fingerprint: String,
}

/// Parses any accepted label form; the error is a sentence for the person scanning.
pub fn parse(text: &str) -> Result<LabelView, String> {
    match Label::parse(text) {
        Ok(label) => Ok(LabelView {
            format: match label.format() {
                LabelFormat::Compact => t("label-format-qr"),
                LabelFormat::Manual => t("label-format-manual"),
                LabelFormat::Dpp => t("label-format-dpp"),
            },
            model: label.model().map(|m| m.as_str().to_string()),
            serial: label.serial().as_str().to_string(),
            fingerprint: label.key().fingerprint().to_string(),
        }),
        Err(e) => Err(explain(e.code(), &e.to_string())),
    }
}

/// A refused label's reason in plain words, with the protocol's own message in brackets.
pub fn explain(code: &str, message: &str) -> String {
    format!("{} ({message})", reason(code))
}

/// A refused label's reason in plain words, from the protocol's code.
pub fn reason(code: &str) -> String {
    match ProtocolCode::parse(code) {
        Some(ProtocolCode::Empty) => t("label-empty"),
        Some(ProtocolCode::NotALabel) => t("label-not-vouch"),
        Some(ProtocolCode::CheckMismatch) => t("label-check-mismatch"),
        Some(ProtocolCode::GroupCheckMismatch) => t("label-group-check-mismatch"),
        Some(ProtocolCode::WrongFieldCount) => t("label-wrong-field-count"),
        Some(ProtocolCode::BadLength) => t("label-bad-length"),
        Some(ProtocolCode::BadCharacter) => t("label-bad-character"),
        Some(ProtocolCode::InvalidKey) => t("label-invalid-key"),
        Some(ProtocolCode::UnknownVersion) => t("label-unknown-version"),
        Some(ProtocolCode::TooLong) => t("label-too-long"),
        Some(ProtocolCode::OnlyDots) => t("label-only-dots"),
        _ => t("label-unreadable"),
    }
}

/// How far one manual-entry key group is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    /// Still being typed.
    Typing,
    /// Complete and its check character matches.
    Ok,
    /// Complete (or too long) and its check character does not match.
    Bad,
}

/// The as-you-type view of a manual-entry line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManualFeedback {
    /// One entry per key group typed so far.
    pub groups: Vec<GroupState>,
    /// A sentence for the person typing.
    pub message: String,
    /// Whether the message is a problem.
    pub problem: bool,
}

/// Key groups of a manual-entry line (the last one is shorter).
pub const GROUPS: usize = KEY_BASE32_LEN.div_ceil(MANUAL_GROUP_LEN);

fn group_len(index: usize) -> usize {
    (KEY_BASE32_LEN - index * MANUAL_GROUP_LEN).min(MANUAL_GROUP_LEN) + 1
}

/// Checks a manual-entry line while it is typed: each key group is checked as soon as it is
/// complete, so a typo is found in the group it is in, before the whole line is typed.
pub fn manual_feedback(text: &str) -> ManualFeedback {
    let trimmed = text.trim();
    if !trimmed.is_empty() && !trimmed.contains(' ') {
        // A compact label or a DPP URI (pasted): checked as a whole.
        let (message, problem) = match Label::parse(trimmed) {
            Ok(_) => (t("manual-reads-correctly"), false),
            // No separator yet: the first word of a line being typed.
            Err(_) if !trimmed.contains(':') => (t("manual-type-line"), false),
            Err(e) => (explain(e.code(), &e.to_string()), true),
        };
        return ManualFeedback {
            groups: Vec::new(),
            message,
            problem,
        };
    }
    let tokens: Vec<&str> = text.split(' ').collect();
    let mut groups = Vec::new();
    let mut first_bad = None;
    for (index, token) in tokens.iter().skip(3).take(GROUPS).enumerate() {
        let typed_past = 3 + index + 1 < tokens.len();
        let want = group_len(index);
        let state = if token.len() < want && !typed_past {
            GroupState::Typing
        } else if token.len() == want && manual_group_ok(token) {
            GroupState::Ok
        } else {
            GroupState::Bad
        };
        if state == GroupState::Bad && first_bad.is_none() {
            first_bad = Some((index + 1, *token));
        }
        groups.push(state);
    }
    let (message, problem) = if let Some((n, token)) = first_bad {
        (
            tf(
                "manual-group-bad",
                &[("n", n.into()), ("token", token.to_string().into())],
            ),
            true,
        )
    } else if text.trim().is_empty() {
        (t("manual-type-line"), false)
    } else {
        match Label::parse(text) {
            Ok(_) => (t("manual-reads-correctly"), false),
            Err(_) if groups.len() < GROUPS || tokens.len() < 3 + GROUPS + 1 => {
                let ok = groups.iter().filter(|g| **g == GroupState::Ok).count();
                let args = [("ok", ok.into()), ("groups", GROUPS.into())];
                (tf("manual-groups-typed", &args), false)
            }
            Err(e) => (explain(e.code(), &e.to_string()), true),
        }
    };
    ManualFeedback {
        groups,
        message,
        problem,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use vouch_protocol::key::public_key_of;
    use vouch_protocol::p256::ecdsa::SigningKey;
    use vouch_protocol::{Model, Serial};

    fn sample() -> Label {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        Label::new(
            Model::new("ACME-T1").unwrap(),
            Serial::new("SN-0001").unwrap(),
            public_key_of(&key),
        )
    }

    #[test]
    fn a_good_line_reads_and_every_group_is_ok() {
        let manual = sample().to_manual().unwrap();
        let f = manual_feedback(&manual);
        assert_eq!(f.groups.len(), GROUPS);
        assert!(f.groups.iter().all(|g| *g == GroupState::Ok), "{f:?}");
        assert!(!f.problem);
        assert_eq!(parse(&manual).unwrap().serial, "SN-0001");
        assert_eq!(parse(&manual).unwrap().format, "manual entry");
    }

    #[test]
    fn a_typo_is_found_in_its_group_while_typing() {
        let manual = sample().to_manual().unwrap();
        let tokens: Vec<&str> = manual.split(' ').collect();
        // Type up to the fourth group, with a typo in the second.
        let mut second = tokens[4].to_string().into_bytes();
        second[0] = if second[0] == b'A' { b'B' } else { b'A' };
        let typed = format!(
            "{} {} {} {} {} {}",
            tokens[0],
            tokens[1],
            tokens[2],
            tokens[3],
            String::from_utf8(second).unwrap(),
            &tokens[5][..2]
        );
        let f = manual_feedback(&typed);
        assert_eq!(
            f.groups,
            vec![GroupState::Ok, GroupState::Bad, GroupState::Typing]
        );
        assert!(f.problem);
        assert!(f.message.starts_with("Group 2"), "{}", f.message);
    }

    #[test]
    fn partial_lines_are_not_problems() {
        let manual = sample().to_manual().unwrap();
        let f = manual_feedback(&manual[..30]);
        assert!(!f.problem, "{f:?}");
        assert!(manual_feedback("").message.contains("Type the line"));
    }

    #[test]
    fn a_pasted_compact_label_is_checked_whole() {
        let compact = sample().to_compact().unwrap();
        assert!(!manual_feedback(&compact).problem);
        let mut typo = compact.clone();
        typo.insert(10, 'X');
        let f = manual_feedback(&typo);
        assert!(f.problem, "{f:?}");
        assert!(f.groups.is_empty());
    }

    #[test]
    fn bad_labels_are_explained() {
        let e = parse("hello").unwrap_err();
        assert!(e.contains("not a Vouch label"), "{e}");
        let mut compact = sample().to_compact().unwrap();
        compact.pop();
        compact.push('0');
        let e = parse(&compact).unwrap_err();
        assert!(!e.is_empty());
    }
}
