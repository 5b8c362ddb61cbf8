//! `Invite::parse` on arbitrary text; an invite that parses must read back equal from its
//! `Display` form, and that form must be a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_protocol::Invite;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(invite) = Invite::parse(&text) else {
        return;
    };
    // `Invite`'s Debug form redacts the code, so the messages show the Display forms instead.
    let shown = invite.to_string();
    let back = Invite::parse(&shown)
        .unwrap_or_else(|e| panic!("Display output {shown:?} of {text:?} does not parse: {e}"));
    assert!(
        back == invite,
        "Display round trip of {text:?} via {shown:?} gave {back}"
    );
    assert_eq!(
        back.to_string(),
        shown,
        "Display of {text:?} is not a fixed point"
    );
});
