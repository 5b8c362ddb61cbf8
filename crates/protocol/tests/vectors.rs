//! Checks the JSON test vectors: that they are what the documented generator makes, and (as
//! another implementation would) that each one verifies or is refused as it says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::vectors;
use serde_json::Value;
use vouch_protocol::key::hex;
use vouch_protocol::p256::ecdsa::signature::Verifier;
use vouch_protocol::p256::ecdsa::{Signature, VerifyingKey};
use vouch_protocol::{ChainHead, Invite, Label, SignedScanRecord};

fn load(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("vector file present");
    serde_json::from_str(&text).expect("vector file is JSON")
}

fn unhex(text: &Value) -> Vec<u8> {
    data_encoding::HEXLOWER
        .decode(text.as_str().unwrap().as_bytes())
        .unwrap()
}

#[test]
fn files_match_the_generator() {
    for (name, value) in vectors::all() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors")
            .join(name);
        let on_disk = std::fs::read_to_string(&path).expect("vector file present");
        assert_eq!(
            on_disk,
            vectors::render(&value),
            "{name} is stale: run `cargo run -p vouch-protocol --example gen_vectors`"
        );
    }
}

#[test]
fn valid_labels_parse_to_their_fields() {
    let labels = load("labels.json");
    let valid = labels["valid"].as_array().unwrap();
    assert!(valid.len() >= 8);
    for v in valid {
        let text = v["text"].as_str().unwrap();
        let label = Label::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(
            label.model().map(|m| m.as_str()),
            v["model"].as_str(),
            "{text}"
        );
        assert_eq!(label.serial().as_str(), v["serial"].as_str().unwrap());
        assert_eq!(
            hex(&label.key().to_sec1_compressed()),
            v["public_key"].as_str().unwrap()
        );
        assert_eq!(
            label.key().fingerprint().to_string(),
            v["fingerprint"].as_str().unwrap()
        );
        let format = format!("{:?}", label.format()).to_lowercase();
        assert_eq!(format, v["format"].as_str().unwrap(), "{text}");
    }
}

#[test]
fn invalid_labels_are_refused_with_their_error() {
    let labels = load("labels.json");
    let invalid = labels["invalid"].as_array().unwrap();
    assert!(invalid.len() >= 20, "at least 20 invalid labels");
    for v in invalid {
        let text = v["text"].as_str().unwrap();
        let err = Label::parse(text).expect_err(text);
        assert_eq!(
            err.code(),
            v["error"].as_str().unwrap(),
            "{text:?}: {err} ({})",
            v["why"]
        );
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn signature_vectors_verify_exactly_when_valid() {
    let sigs = load("signatures.json");
    assert_eq!(sigs["signature_format"], "raw-r-s-64");
    let vectors = sigs["vectors"].as_array().unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for v in vectors {
        let key = VerifyingKey::from_sec1_bytes(&unhex(&v["public_key"])).unwrap();
        let message = unhex(&v["message"]);
        let ok = Signature::from_slice(&unhex(&v["signature"]))
            .map(|sig| key.verify(&message, &sig).is_ok())
            .unwrap_or(false);
        assert_eq!(ok, v["valid"].as_bool().unwrap(), "{}", v["name"]);
        if ok {
            valid += 1
        } else {
            invalid += 1
        }
    }
    assert!(valid >= 6 && invalid >= 4);
}

#[test]
fn record_vectors_decode_hash_and_chain() {
    let file = load("records.json");
    let installer =
        vouch_protocol::PublicKey::from_sec1(&unhex(&file["installer_public_key"])).unwrap();
    let records: Vec<SignedScanRecord> = file["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let signed: SignedScanRecord = serde_json::from_value(r["json"].clone()).unwrap();
            assert_eq!(
                hex(&signed.record().canonical_bytes()),
                r["canonical"].as_str().unwrap()
            );
            assert_eq!(signed.record().hash().to_hex(), r["hash"].as_str().unwrap());
            let decoded =
                vouch_protocol::ScanRecord::from_canonical(&unhex(&r["canonical"])).unwrap();
            assert_eq!(&decoded, signed.record());
            signed.verify(&installer).unwrap();
            signed
        })
        .collect();
    for check in file["chain_checks"].as_array().unwrap() {
        let mut head = ChainHead::GENESIS;
        let mut outcome = None;
        for index in check["order"].as_array().unwrap() {
            let record = records[index.as_u64().unwrap() as usize].record();
            match head.check_next(record) {
                Ok(()) => head = ChainHead::after(record),
                Err(e) => {
                    outcome = Some(e.code());
                    break;
                }
            }
        }
        assert_eq!(outcome, check["error"].as_str(), "{check}");
    }
}

#[test]
fn enrollment_vector_is_consistent() {
    let e = load("enrollment.json");
    let body = unhex(&e["body"]);
    let signed = unhex(&e["signed_message"]);
    assert_eq!(&signed[..16], b"vouch enroll v1\0");
    assert_eq!(&signed[16..], &body[..]);
    assert_eq!(body[0], 1);
    assert_eq!(&body[1..33], &unhex(&e["nonce"])[..]);
    assert_eq!(&body[33..35], &[0, 7]);
    assert_eq!(&body[35..42], b"SN-0001");
    assert_eq!(&body[42..74], &unhex(&e["csr_sha256"])[..]);
    assert_eq!(body[74], 32);
    assert_eq!(&body[75..], &unhex(&e["channel_binding"])[..]);
    let key = VerifyingKey::from_sec1_bytes(&unhex(&e["public_key"])).unwrap();
    let sig = Signature::from_slice(&unhex(&e["signature"])).unwrap();
    key.verify(&signed, &sig).unwrap();
}

#[test]
fn invite_vectors() {
    let file = load("invites.json");
    for v in file["valid"].as_array().unwrap() {
        let invite = Invite::parse(v["text"].as_str().unwrap()).unwrap();
        assert_eq!(invite.server_url(), v["server_url"].as_str().unwrap());
        assert_eq!(hex(invite.ca_sha256()), v["ca_sha256"].as_str().unwrap());
        assert_eq!(invite.code(), v["code"].as_str().unwrap());
        assert_eq!(invite.to_string(), v["text"].as_str().unwrap());
    }
    for v in file["invalid"].as_array().unwrap() {
        let err = Invite::parse(v["text"].as_str().unwrap()).expect_err("must be refused");
        assert_eq!(err.code(), v["error"].as_str().unwrap(), "{}", v["text"]);
    }
}
