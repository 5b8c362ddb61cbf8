//! The EST front door's request decoder (`vouch_server::api::csr_from_body`, what
//! `simpleenroll` runs on a body before anything about a device is looked at) on arbitrary
//! bytes, twice: as the body itself, and as DER sent base64 with line breaks (so mutations reach
//! the PKCS#10 parser). It never panics; the base64 layer neither adds nor loses a byte; what it
//! accepts is a CSR whose key is the one its SubjectPublicKeyInfo encodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_protocol::PublicKey;
use vouch_server::api::csr_from_body;
use vouch_server::authority::checks::{verify_csr, VerifiedCsr};

/// The parts of two decodings that must agree.
fn same(a: &VerifiedCsr, b: &VerifiedCsr) -> bool {
    a.spki_der == b.spki_der
        && a.key == b.key
        && a.challenge_password == b.challenge_password
        && a.subject == b.subject
}

/// Standard base64 broken into 64-character lines, as many EST clients send it.
fn base64_lines(der: &[u8]) -> String {
    let flat = data_encoding::BASE64.encode(der);
    let mut out = String::with_capacity(flat.len() + flat.len() / 32 + 2);
    for line in flat.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    // As the body itself.
    if let Ok((der, csr)) = csr_from_body(data) {
        let again = csr_from_body(data_encoding::BASE64.encode(&der).as_bytes());
        assert!(
            again.as_ref().is_ok_and(|(d, c)| *d == der && same(c, &csr)),
            "an accepted CSR, re-encoded flat, decodes differently: {again:?}"
        );
    }

    // As the DER inside a line-broken base64 body: the base64 layer is transparent.
    let decoded = csr_from_body(base64_lines(data).as_bytes());
    let direct = verify_csr(data);
    match (&decoded, &direct) {
        (Ok((der, csr)), Ok(plain)) => {
            assert_eq!(der.as_slice(), data, "the base64 layer changed the DER");
            assert!(same(csr, plain), "{csr:?} != {plain:?}");
            assert_eq!(
                PublicKey::from_spki_der(&csr.spki_der).ok().as_ref(),
                Some(&csr.key),
                "the key is not the one its SubjectPublicKeyInfo encodes"
            );
        }
        (Err(_), Err(_)) => {}
        // An empty input is an empty body, refused before the DER is looked at.
        (Err(_), Ok(_)) | (Ok(_), Err(_)) => assert!(
            data.is_empty() && decoded.is_err(),
            "base64 body {decoded:?} and bare DER {direct:?} disagree"
        ),
    }
});
