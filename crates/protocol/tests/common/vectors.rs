//! The test-vector generator, shared by `examples/gen_vectors.rs` (which writes the files) and
//! `tests/vectors.rs` (which checks that the files are what this code produces).
//!
//! Every key is derived from a fixed string (`SHA-256("vouch test key: <name>")` as the P-256
//! scalar), and ECDSA is deterministic (RFC 6979), so the output never changes unless the
//! protocol does.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::{json, Value};
use vouch_protocol::enroll::{EnrollMode, EnrollmentMessage, Nonce};
use vouch_protocol::key::{hex, public_key_of, sha256, sign, Domain};
use vouch_protocol::label::to_dpp_uri;
use vouch_protocol::p256::ecdsa::SigningKey;
use vouch_protocol::{ChainHead, Invite, Label, Model, NewScan, RecordId, ScanRecord, Serial};

pub fn test_key(name: &str) -> SigningKey {
    let seed = sha256(format!("vouch test key: {name}").as_bytes());
    SigningKey::from_slice(&seed).unwrap()
}

fn label_for(model: &str, serial: &str, key: &str) -> Label {
    Label::new(
        Model::new(model).unwrap(),
        Serial::new(serial).unwrap(),
        public_key_of(&test_key(key)),
    )
}

fn expect_label(text: &str, label: &Label, format: &str) -> Value {
    json!({
        "text": text,
        "format": format,
        "model": label.model().map(|m| m.as_str()),
        "serial": label.serial().as_str(),
        "public_key": hex(&label.key().to_sec1_compressed()),
        "fingerprint": label.key().fingerprint().to_string(),
    })
}

fn invalid(text: &str, error: &str, why: &str) -> Value {
    json!({ "text": text, "error": error, "why": why })
}

/// Replaces the character at `index` of `text`.
fn replace_at(text: &str, index: usize, with: char) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| if i == index { with } else { c })
        .collect()
}

/// Recomputes a compact label's check character after editing its body.
fn with_fresh_check(body_with_colon: &str) -> String {
    let check = vouch_protocol::check::label_check(body_with_colon.as_bytes()).unwrap();
    format!("{body_with_colon}{}", check as char)
}

pub fn labels() -> Value {
    let a = label_for("ACME-T1", "SN-0001", "device 1");
    let b = label_for("X", "9", "device 2");
    let c = label_for("THERMO.2-B", "A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6", "device 3");
    let compact_a = a.to_compact().unwrap();
    let manual_a = a.to_manual().unwrap();
    let dpp_a = to_dpp_uri(a.serial(), a.key());
    let key_a_b32 = compact_a.split(':').nth(3).unwrap().to_string();
    let spki_uncompressed = data_encoding::BASE64.encode(&a.key().to_spki_der().unwrap());
    let mut valid = vec![];
    for label in [&a, &b, &c] {
        let text = label.to_compact().unwrap();
        valid.push(expect_label(&text, label, "compact"));
        let manual = label.to_manual().unwrap();
        valid.push(expect_label(&manual, label, "manual"));
    }
    let mut dpp_label_json = expect_label(&dpp_a, &a, "dpp");
    dpp_label_json["model"] = Value::Null;
    valid.push(dpp_label_json.clone());
    let dpp_full =
        format!("DPP:V:2;C:81/1,115/36;M:5254005828e5;I:SN-0001;K:{spki_uncompressed};;");
    dpp_label_json["text"] = json!(dpp_full);
    valid.push(dpp_label_json);
    valid.push(expect_label(
        &format!("  {}\n", manual_a.to_lowercase()),
        &a,
        "manual",
    ));

    let last = compact_a.chars().count() - 1;
    let wrong_check = replace_at(
        &compact_a,
        last,
        if compact_a.ends_with('0') { '1' } else { '0' },
    );
    let serial_typo = replace_at(
        &compact_a,
        15,
        if compact_a.chars().nth(15) == Some('1') {
            '2'
        } else {
            '1'
        },
    );
    let swapped = {
        let mut chars: Vec<char> = compact_a.chars().collect();
        let i = (24..chars.len() - 3)
            .find(|&i| chars[i] != chars[i + 1])
            .unwrap();
        chars.swap(i, i + 1);
        chars.into_iter().collect::<String>()
    };
    let off_curve = {
        // The smallest x that is not the x-coordinate of any P-256 point.
        let mut bytes = [0u8; 33];
        bytes[0] = 0x02;
        bytes[32] = (1..=255u8)
            .find(|&x| {
                bytes[32] = x;
                vouch_protocol::PublicKey::from_sec1(&bytes).is_err()
            })
            .unwrap();
        let key = data_encoding::BASE32_NOPAD.encode(&bytes);
        with_fresh_check(&format!("VOUCH1:ACME-T1:SN-0001:{key}:"))
    };
    let bad_prefix_byte = {
        let mut bytes = a.key().to_sec1_compressed();
        bytes[0] = 0x04;
        let key = data_encoding::BASE32_NOPAD.encode(&bytes);
        with_fresh_check(&format!("VOUCH1:ACME-T1:SN-0001:{key}:"))
    };
    let compact_tag05 = {
        let mut bytes = a.key().to_sec1_compressed();
        bytes[0] = 0x05;
        let key = data_encoding::BASE32_NOPAD.encode(&bytes);
        with_fresh_check(&format!("VOUCH1:ACME-T1:SN-0001:{key}:"))
    };
    let version2 = with_fresh_check(&format!("VOUCH2:ACME-T1:SN-0001:{key_a_b32}:"));
    let short_key = with_fresh_check(&format!("VOUCH1:ACME-T1:SN-0001:{}:", &key_a_b32[..52]));
    let long_model = with_fresh_check(&format!("VOUCH1:{}:SN-0001:{key_a_b32}:", "M".repeat(25)));
    let empty_serial = with_fresh_check(&format!("VOUCH1:ACME-T1::{key_a_b32}:"));
    let extra_field = with_fresh_check(&format!("VOUCH1:ACME-T1:SN:0001:{key_a_b32}:"));
    let trailing_bits = {
        let mut key = key_a_b32.clone();
        let last_char = key.pop().unwrap();
        let value = vouch_protocol::check::GROUP_CHECK_ALPHABET
            .iter()
            .position(|&s| s as char == last_char)
            .unwrap();
        let flipped = vouch_protocol::check::GROUP_CHECK_ALPHABET[value ^ 1] as char;
        key.push(flipped);
        with_fresh_check(&format!("VOUCH1:ACME-T1:SN-0001:{key}:"))
    };
    let manual_group_typo = {
        let mut tokens: Vec<String> = manual_a.split(' ').map(String::from).collect();
        let t = &mut tokens[5];
        let first = t.chars().next().unwrap();
        *t = replace_at(t, 0, if first == 'A' { 'B' } else { 'A' });
        tokens.join(" ")
    };
    let manual_missing_group = {
        let mut tokens: Vec<&str> = manual_a.split(' ').collect();
        tokens.remove(4);
        tokens.join(" ")
    };
    let version01 = with_fresh_check(&format!("VOUCH01:ACME-T1:SN-0001:{key_a_b32}:"));
    let dots_serial = with_fresh_check(&format!("VOUCH1:ACME-T1:..:{key_a_b32}:"));
    let manual_dot_serial = {
        let check = with_fresh_check(&format!("VOUCH1:ACME-T1:.:{key_a_b32}:"));
        let mut tokens: Vec<String> = manual_a.split(' ').map(String::from).collect();
        tokens[2] = ".".into();
        tokens[17] = check.chars().last().unwrap().to_string();
        tokens.join(" ")
    };
    let manual_non_ascii_group = {
        let mut tokens: Vec<String> = manual_a.split(' ').map(String::from).collect();
        tokens[4] = replace_at(&tokens[4], 1, '\u{c4}');
        tokens.join(" ")
    };
    let spki_a = dpp_a["DPP:I:SN-0001;K:".len()..dpp_a.len() - 2].to_string();
    let spki_trailing_byte = {
        let mut der = data_encoding::BASE64.decode(spki_a.as_bytes()).unwrap();
        der.push(0);
        data_encoding::BASE64.encode(&der)
    };
    let invalid = vec![
        invalid("", "empty", "nothing to parse"),
        invalid("   ", "empty", "only whitespace"),
        invalid("HELLO WORLD", "not_a_label", "neither VOUCH nor DPP"),
        invalid("https://example.com/", "not_a_label", "a URL"),
        invalid(
            &wrong_check,
            "check_mismatch",
            "the last (check) character was changed",
        ),
        invalid(
            &serial_typo,
            "check_mismatch",
            "one character of the serial changed",
        ),
        invalid(
            &swapped,
            "check_mismatch",
            "two adjacent key characters swapped",
        ),
        invalid(
            &compact_a.to_lowercase(),
            "bad_character",
            "lower case is not in the QR alphanumeric set",
        ),
        invalid(
            &replace_at(&compact_a, 10, '_'),
            "bad_character",
            "underscore is not allowed",
        ),
        invalid(
            &replace_at(&compact_a, 30, '\u{e9}'),
            "bad_character",
            "non-ASCII character",
        ),
        invalid(&version2, "unknown_version", "version 2 is not defined"),
        invalid(
            &format!("VOUCHX:{}", &compact_a[7..]),
            "not_a_label",
            "version is not a number",
        ),
        invalid(
            &format!("VOUCH01:{}", &compact_a[7..]),
            "not_a_label",
            "version with a leading zero (one text per label)",
        ),
        invalid(
            &version01,
            "not_a_label",
            "version with a leading zero, even with a check character computed over it",
        ),
        invalid(
            &manual_a.replacen("VOUCH1", "VOUCH01", 1),
            "not_a_label",
            "manual line with a leading zero in the version",
        ),
        invalid(
            &dots_serial,
            "only_dots",
            "serial \"..\" (a path segment), correct check character",
        ),
        invalid(
            &manual_dot_serial,
            "only_dots",
            "manual line with serial \".\", correct check characters",
        ),
        invalid(
            &format!("DPP:I:..;K:{spki_a};;"),
            "only_dots",
            "DPP serial \"..\"",
        ),
        invalid(
            "DPP:I:..;K:not*base64;;",
            "bad_encoding",
            "the DPP key's base64 is checked before the serial",
        ),
        invalid(
            &format!("DPP:I:{} ;K:{spki_a};;", "S".repeat(32)),
            "bad_length",
            "DPP serial of 33 characters, one a space: the length is checked before the characters",
        ),
        invalid(
            &format!("DPP:I:;K:{spki_a};;"),
            "bad_length",
            "empty DPP serial",
        ),
        invalid(
            &format!("DPP:I:SN-0001;;K:{spki_a};;"),
            "invalid_dpp",
            "an empty DPP field (;; inside the URI)",
        ),
        invalid(
            &format!("DPP:I:SN-0001;K:{spki_trailing_byte};;"),
            "invalid_key",
            "a byte after the DPP key's SPKI",
        ),
        invalid(
            &manual_non_ascii_group,
            "bad_character",
            "non-ASCII letter in key group 2 of the manual line (right length in characters)",
        ),
        invalid(
            &compact_tag05,
            "invalid_key",
            "SEC1 compact point (tag 0x05): refused so each key has one encoding",
        ),
        invalid(&short_key, "bad_length", "key of 52 characters"),
        invalid(&long_model, "bad_length", "model of 25 characters"),
        invalid(&empty_serial, "bad_length", "empty serial"),
        invalid(&extra_field, "wrong_field_count", "six fields"),
        invalid(
            &compact_a[..compact_a.len() - 2],
            "wrong_field_count",
            "check character and its separator cut off",
        ),
        invalid(
            &compact_a[..40],
            "wrong_field_count",
            "truncated in the key",
        ),
        invalid(
            &off_curve,
            "invalid_key",
            "compressed point whose x is not on the curve",
        ),
        invalid(
            &bad_prefix_byte,
            "invalid_key",
            "SEC1 prefix byte 0x04 with 32 bytes",
        ),
        invalid(
            &trailing_bits,
            "bad_encoding",
            "non-zero unused bit at the end of the base32 key",
        ),
        invalid(
            &manual_group_typo,
            "group_check_mismatch",
            "a typo in key group 2 of the manual line",
        ),
        invalid(
            &manual_missing_group,
            "wrong_field_count",
            "manual line missing a key group",
        ),
        invalid(
            &manual_a.replacen(' ', "  ", 3),
            "bad_character",
            "two spaces in a row in the manual line",
        ),
        invalid(
            &dpp_a[..dpp_a.len() - 2],
            "invalid_dpp",
            "DPP URI truncated: no final ;;",
        ),
        invalid(
            &dpp_a[..30],
            "invalid_dpp",
            "DPP URI truncated inside the key",
        ),
        invalid(
            "DPP:K:MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgAC;;",
            "invalid_dpp",
            "DPP URI without I: serial",
        ),
        invalid("DPP:I:SN-1;;", "invalid_dpp", "DPP URI without K: key"),
        invalid(
            "DPP:I:SN-1;K:not*base64;;",
            "bad_encoding",
            "DPP key is not base64",
        ),
        invalid(
            "DPP:I:SN-1;K:MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgAC;;",
            "invalid_key",
            "DPP key is a truncated SPKI",
        ),
        invalid(
            "DPP:I:SN 1;K:MDkw;;",
            "bad_character",
            "space in the DPP serial",
        ),
        invalid(
            &format!("VOUCH1:{}", "A".repeat(600)),
            "too_long",
            "longer than any label",
        ),
    ];
    json!({
        "description": "Device labels. Each valid entry gives the text and the fields it parses to (public_key: compressed SEC1, hex; fingerprint: the first 80 bits of SHA-256 of that key, base32, grouped by 4). Each invalid entry gives the text and the error code it must be refused with.",
        "valid": valid,
        "invalid": invalid,
    })
}

fn sig_vector(
    name: &str,
    key: &SigningKey,
    message: &[u8],
    signature: &[u8; 64],
    valid: bool,
) -> Value {
    json!({
        "name": name,
        "public_key": hex(&public_key_of(key).to_sec1_compressed()),
        "message": hex(message),
        "signature": hex(signature),
        "valid": valid,
    })
}

pub struct Chain {
    pub records: Vec<vouch_protocol::SignedScanRecord>,
}

pub fn chain() -> Chain {
    let technician = test_key("technician 1");
    let installer = public_key_of(&technician).key_id();
    let labels = [
        label_for("ACME-T1", "SN-0001", "device 1")
            .to_compact()
            .unwrap(),
        label_for("X", "9", "device 2").to_manual().unwrap(),
        to_dpp_uri(
            &Serial::new("sn_dpp.7").unwrap(),
            &public_key_of(&test_key("device 4")),
        ),
    ];
    let mut head = ChainHead::GENESIS;
    let mut records = vec![];
    for (i, text) in labels.iter().enumerate() {
        let scan = NewScan {
            record_id: RecordId(
                sha256(format!("record {i}").as_bytes())[..16]
                    .try_into()
                    .unwrap(),
            ),
            chain: &head,
            scanned_at_ms: 1_790_000_000_000 + i as u64 * 61_000,
            label_text: text,
            site: if i == 1 {
                "Depot 7 / WO-42 — Süd"
            } else {
                "WO-1001"
            },
            note: (i == 0).then_some("left of the door"),
        };
        let record = ScanRecord::new(installer, &scan).unwrap();
        head = ChainHead::after(&record);
        records.push(record.sign(&technician).unwrap());
    }
    Chain { records }
}

pub fn records() -> Value {
    let technician = test_key("technician 1");
    let chain = chain();
    let entries: Vec<Value> = chain
        .records
        .iter()
        .map(|signed| {
            let r = signed.record();
            json!({
                "json": serde_json::to_value(signed).unwrap(),
                "canonical": hex(&r.canonical_bytes()),
                "hash": r.hash().to_hex(),
                "signed_message": hex(&Domain::ScanRecord.prefixed(&r.canonical_bytes())),
            })
        })
        .collect();
    json!({
        "description": "A chain of three scan records by one install. json is the sync wire form; canonical is the canonical encoding (hex); hash is SHA-256(\"vouch record chain v1\\0\" || canonical); signed_message is exactly what the signature (64-byte r||s, in json.signature) covers.",
        "installer_public_key": hex(&public_key_of(&technician).to_sec1_compressed()),
        "records": entries,
        "chain_checks": [
            {"order": [0, 1, 2], "error": null},
            {"order": [0, 2], "error": "sequence_gap"},
            {"order": [1], "error": "sequence_gap"},
            {"order": [0, 0], "error": "sequence_replay"},
            {"order": [0, 1, 1], "error": "sequence_replay"},
        ],
    })
}

pub fn enrollment_message(mode: EnrollMode, cb: Option<[u8; 32]>) -> (Vec<u8>, Vec<u8>) {
    let serial = Serial::new("SN-0001").unwrap();
    let csr = b"not a real CSR: only its SHA-256 is signed".to_vec();
    let msg = EnrollmentMessage {
        mode,
        nonce: Nonce(sha256(b"nonce 1")),
        serial: &serial,
        csr_der: &csr,
        channel_binding: cb,
    };
    (msg.body(), msg.signed_bytes())
}

pub fn signatures() -> Value {
    let device = test_key("device 1");
    let technician = test_key("technician 1");
    let other = test_key("device 2");
    let mut out = vec![];
    for (name, mode, cb) in [
        (
            "enroll, same key, no channel binding",
            EnrollMode::SameKey,
            None,
        ),
        (
            "enroll, same key, tls-exporter binding",
            EnrollMode::SameKey,
            Some(sha256(b"exporter")),
        ),
        (
            "enroll, re-key, tls-exporter binding",
            EnrollMode::Rekey,
            Some(sha256(b"exporter")),
        ),
    ] {
        let (body, signed) = enrollment_message(mode, cb);
        let sig = sign(&device, Domain::Enrollment, &body);
        out.push(sig_vector(name, &device, &signed, &sig.0, true));
    }
    let (body, signed) = enrollment_message(EnrollMode::SameKey, None);
    let sig = sign(&device, Domain::Enrollment, &body);
    let mut tampered = signed.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    out.push(sig_vector(
        "enroll: message changed after signing",
        &device,
        &tampered,
        &sig.0,
        false,
    ));
    let mut v = sig_vector(
        "enroll: verified with another key",
        &device,
        &signed,
        &sig.0,
        false,
    );
    v["public_key"] = json!(hex(&public_key_of(&other).to_sec1_compressed()));
    out.push(v);
    let cross = Domain::ScanRecord.prefixed(&body);
    out.push(sig_vector(
        "enroll signature presented under the scan-record domain",
        &device,
        &cross,
        &sig.0,
        false,
    ));
    let mut flipped = sig.0;
    flipped[10] ^= 0x80;
    out.push(sig_vector(
        "enroll: signature r changed",
        &device,
        &signed,
        &flipped,
        false,
    ));
    out.push(sig_vector(
        "all-zero signature",
        &device,
        &signed,
        &[0u8; 64],
        false,
    ));
    for signed_record in chain().records {
        let canonical = signed_record.record().canonical_bytes();
        let message = Domain::ScanRecord.prefixed(&canonical);
        let name = format!("scan record sequence {}", signed_record.record().sequence());
        out.push(sig_vector(
            &name,
            &technician,
            &message,
            &signed_record.signature().0,
            true,
        ));
    }
    json!({
        "description": "ECDSA P-256 with SHA-256. public_key: compressed SEC1 (hex). message: the exact signed bytes, domain prefix included (hex). signature: 64 bytes r||s, big-endian (hex), not DER. valid: whether it must verify.",
        "signature_format": "raw-r-s-64",
        "vectors": out,
    })
}

pub fn enrollment() -> Value {
    let device = test_key("device 1");
    let (body, signed) = enrollment_message(EnrollMode::Rekey, Some(sha256(b"exporter")));
    json!({
        "description": "One enrollment message, field by field. csr_der is a stand-in byte string: only its SHA-256 enters the message.",
        "mode": "rekey",
        "mode_byte": 1,
        "nonce": hex(&sha256(b"nonce 1")),
        "serial": "SN-0001",
        "csr_der": hex(b"not a real CSR: only its SHA-256 is signed"),
        "csr_sha256": hex(&sha256(b"not a real CSR: only its SHA-256 is signed")),
        "channel_binding": hex(&sha256(b"exporter")),
        "body": hex(&body),
        "signed_message": hex(&signed),
        "public_key": hex(&public_key_of(&device).to_sec1_compressed()),
        "signature": hex(&sign(&device, Domain::Enrollment, &body).0),
    })
}

pub fn invites() -> Value {
    let ca = sha256(b"a CA certificate");
    let good = Invite::new(
        "https://vouch.example:8443",
        ca,
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    )
    .unwrap();
    let text = good.to_string();
    json!({
        "description": "Staff invites. valid: the text and its parts; invalid: the text and the error code.",
        "valid": [{
            "text": text,
            "server_url": "https://vouch.example:8443",
            "ca_sha256": hex(&ca),
            "code": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        }],
        "invalid": [
            {"text": "VOUCH-INVITE:2:00:ABC:https://x", "error": "unknown_version"},
            {"text": text.replace("https://", "http://"), "error": "invalid_invite"},
            {"text": text.replace("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abc"), "error": "invalid_invite"},
            {"text": text.replace(&hex(&ca)[..2], "zz"), "error": "bad_encoding"},
            {"text": &text[..20], "error": "invalid_invite"},
            {"text": "VOUCH1:ACME", "error": "invalid_invite"},
        ],
    })
}

/// Every vector file: (file name, content).
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("labels.json", labels()),
        ("signatures.json", signatures()),
        ("records.json", records()),
        ("enrollment.json", enrollment()),
        ("invites.json", invites()),
    ]
}

/// Rebuilds every object with its keys in byte order, so the output does not depend on whether
/// another crate in the build turned on serde_json's `preserve_order`.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

pub fn render(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(value)).unwrap();
    text.push('\n');
    text
}
