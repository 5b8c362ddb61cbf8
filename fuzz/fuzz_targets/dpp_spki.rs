//! `PublicKey::from_spki_der` on arbitrary bytes (the `K:` field of a DPP URI, base64-decoded).
//! A key that parses must survive its own encoders, and the DPP label parser must agree with
//! the bare SPKI parser about the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_protocol::{Label, PublicKey};

fuzz_target!(|data: &[u8]| {
    let parsed = PublicKey::from_spki_der(data);
    if let Ok(key) = &parsed {
        let der = key
            .to_spki_der()
            .unwrap_or_else(|e| panic!("a parsed key has no SPKI form: {e}"));
        assert_eq!(
            PublicKey::from_spki_der(&der).ok().as_ref(),
            Some(key),
            "SPKI round trip"
        );
        let sec1 = key.to_sec1_compressed();
        assert_eq!(
            PublicKey::from_sec1(&sec1).ok().as_ref(),
            Some(key),
            "SEC1 round trip"
        );
    }
    // Through a DPP URI, while it stays under the label length limit.
    let uri = format!("DPP:I:SN-1;K:{};;", data_encoding::BASE64.encode(data));
    if uri.len() <= vouch_protocol::label::MAX_LABEL_TEXT {
        let label = Label::parse(&uri);
        assert_eq!(
            label.as_ref().ok().map(Label::key),
            parsed.as_ref().ok(),
            "DPP label {uri:?} and from_spki_der disagree (label: {label:?}, spki: {parsed:?})"
        );
    }
});
