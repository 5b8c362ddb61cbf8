//! Property tests: every encoding round-trips, and no parser panics on arbitrary input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use proptest::prelude::*;
use vouch_protocol::enroll::{EnrollMode, EnrollmentMessage, Nonce};
use vouch_protocol::key::{public_key_of, sha256};
use vouch_protocol::label::to_dpp_uri;
use vouch_protocol::p256::ecdsa::SigningKey;
use vouch_protocol::{
    ChainHead, Invite, Label, Model, NewScan, RecordId, ScanRecord, Serial, SignedScanRecord,
};

fn key_from(seed: u64) -> SigningKey {
    SigningKey::from_slice(&sha256(&seed.to_be_bytes())).unwrap()
}

fn model() -> impl Strategy<Value = String> {
    "[0-9A-Z.-]{1,24}"
}

/// A serial of the compact alphabet; one made only of dots is refused (`only_dots`).
fn serial() -> impl Strategy<Value = String> {
    "[0-9A-Z.-]{1,32}".prop_filter("a serial is not only dots", |s| {
        !s.chars().all(|c| c == '.')
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn labels_round_trip_in_every_form(m in model(), s in serial(), seed in any::<u64>()) {
        let key = public_key_of(&key_from(seed));
        let label = Label::new(Model::new(&m).unwrap(), Serial::new(&s).unwrap(), key);
        prop_assert_eq!(Label::parse(&label.to_compact().unwrap()).unwrap(), label.clone());
        let manual = Label::parse(&label.to_manual().unwrap()).unwrap();
        prop_assert_eq!(manual.key(), label.key());
        prop_assert_eq!(manual.model(), label.model());
        let dpp = Label::parse(&to_dpp_uri(label.serial(), label.key())).unwrap();
        prop_assert_eq!(dpp.key(), label.key());
        prop_assert_eq!(dpp.serial(), label.serial());
    }

    #[test]
    fn records_round_trip_through_bytes_and_json(
        seed in any::<u64>(),
        sequence in 1u64..1_000_000,
        at in any::<u64>(),
        site in "\\PC{0,40}",
        note in proptest::option::of("\\PC{0,80}"),
        id in any::<[u8; 16]>(),
    ) {
        let technician = key_from(seed);
        let device = public_key_of(&key_from(seed ^ 1));
        let text = Label::new(Model::new("M").unwrap(), Serial::new("S-1").unwrap(), device)
            .to_compact().unwrap();
        let head = ChainHead { next_sequence: sequence, last_hash: vouch_protocol::RecordHash(sha256(&id)) };
        let scan = NewScan {
            record_id: RecordId(id), chain: &head, scanned_at_ms: at,
            label_text: &text, site: &site, note: note.as_deref(),
        };
        let record = ScanRecord::new(public_key_of(&technician).key_id(), &scan).unwrap();
        prop_assert_eq!(&ScanRecord::from_canonical(&record.canonical_bytes()).unwrap(), &record);
        let signed = record.sign(&technician).unwrap();
        let json = serde_json::to_string(&signed).unwrap();
        let back: SignedScanRecord = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &signed);
        back.verify(&public_key_of(&technician)).unwrap();
    }

    #[test]
    fn enrollment_signatures_verify_only_for_their_message(seed in any::<u64>(), nonce in any::<[u8; 32]>(), csr in proptest::collection::vec(any::<u8>(), 0..300)) {
        let device = key_from(seed);
        let serial = Serial::new("SN-1").unwrap();
        let msg = EnrollmentMessage { mode: EnrollMode::SameKey, nonce: Nonce(nonce), serial: &serial, csr_der: &csr, channel_binding: None };
        let sig = msg.sign(&device);
        prop_assert!(msg.verify(&public_key_of(&device), &sig).is_ok());
        let other = EnrollmentMessage { mode: EnrollMode::Rekey, ..msg.clone() };
        prop_assert!(other.verify(&public_key_of(&device), &sig).is_err());
        let bound = EnrollmentMessage { channel_binding: Some([0; 32]), ..msg };
        prop_assert!(bound.verify(&public_key_of(&device), &sig).is_err());
    }

    #[test]
    fn invites_round_trip(host in "[a-z0-9.-]{1,40}", port in 1u16.., ca in any::<[u8; 32]>(), code in "[A-Z2-7]{16,64}") {
        let url = format!("https://{host}:{port}");
        let invite = Invite::new(&url, ca, &code).unwrap();
        prop_assert_eq!(Invite::parse(&invite.to_string()).unwrap(), invite);
    }

    #[test]
    fn parsers_never_panic(text in "\\PC{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Label::parse(&text);
        let _ = Invite::parse(&text);
        let _ = ScanRecord::from_canonical(&bytes);
        let _ = serde_json::from_str::<SignedScanRecord>(&text);
        let _ = vouch_protocol::PublicKey::from_spki_der(&bytes);
    }

    #[test]
    fn near_labels_never_panic(m in model(), s in serial(), seed in any::<u64>(), cut in 0usize..120, junk in "[ -~]{0,5}") {
        let key = public_key_of(&key_from(seed));
        let label = Label::new(Model::new(&m).unwrap(), Serial::new(&s).unwrap(), key);
        for text in [label.to_compact().unwrap(), label.to_manual().unwrap(), to_dpp_uri(label.serial(), label.key())] {
            let cut = cut.min(text.len());
            let _ = Label::parse(&format!("{}{}", &text[..cut], junk));
        }
    }
}

/// Found by the `record_canonical` fuzz target: a device key with SEC1 tag 0x05 ("compact"
/// point) was accepted and re-encoded as 0x02/0x03, so one record had two encodings.
#[test]
fn a_compact_sec1_point_is_refused_everywhere() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/regression-sec1-tag05.bin"
    ))
    .unwrap();
    assert_eq!(
        ScanRecord::from_canonical(&bytes).unwrap_err().code(),
        "invalid_key"
    );
    let key = public_key_of(&key_from(3)).to_sec1_compressed();
    let mut compact = key;
    compact[0] = 0x05;
    assert!(vouch_protocol::PublicKey::from_sec1(&compact).is_err());
    let mut spki = hex_literal_spki_prefix();
    spki.extend_from_slice(&compact);
    assert!(vouch_protocol::PublicKey::from_spki_der(&spki).is_err());
    spki.truncate(26);
    spki.extend_from_slice(&key);
    assert!(vouch_protocol::PublicKey::from_spki_der(&spki).is_ok());
}

fn hex_literal_spki_prefix() -> Vec<u8> {
    data_encoding::HEXLOWER
        .decode(b"3039301306072a8648ce3d020106082a8648ce3d030107032200")
        .unwrap()
}
