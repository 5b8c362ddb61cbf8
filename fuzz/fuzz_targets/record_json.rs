//! `SignedScanRecord` from arbitrary JSON (the sync wire form); a record that parses must
//! serialize and parse back to an equal value, and its JSON must then be a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_protocol::SignedScanRecord;

fuzz_target!(|data: &[u8]| {
    let Ok(signed) = serde_json::from_slice::<SignedScanRecord>(data) else {
        return;
    };
    let json = serde_json::to_vec(&signed)
        .unwrap_or_else(|e| panic!("a parsed record does not serialize: {e}"));
    let back: SignedScanRecord = serde_json::from_slice(&json).unwrap_or_else(|e| {
        panic!(
            "serialized record does not parse again: {e}\njson: {}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(back, signed, "JSON round trip");
    let json_again = serde_json::to_vec(&back).unwrap_or_else(|e| panic!("{e}"));
    assert!(json_again == json, "JSON form is not a fixed point");
    // The wire form and the canonical form must describe the same record.
    let canonical = signed.record().canonical_bytes();
    let decoded = vouch_protocol::ScanRecord::from_canonical(&canonical)
        .unwrap_or_else(|e| panic!("canonical bytes of a JSON record do not decode: {e}"));
    assert_eq!(&decoded, signed.record());
});
