//! `ScanRecord::from_canonical` on arbitrary bytes; the canonical encoding is unique, so any
//! bytes it accepts must be exactly what `canonical_bytes()` writes back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_protocol::ScanRecord;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = ScanRecord::from_canonical(data) else {
        return;
    };
    let written = record.canonical_bytes();
    assert!(
        written == data,
        "canonical bytes differ from the accepted input\n input: {}\noutput: {}\nrecord: {record:?}",
        hex(data),
        hex(&written)
    );
    let again = ScanRecord::from_canonical(&written)
        .unwrap_or_else(|e| panic!("canonical_bytes() output does not decode: {e}"));
    assert_eq!(again, record);
});

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}
