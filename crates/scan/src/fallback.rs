//! Optional second decoder (cargo feature `rxing`): rxing, a pure-Rust port of ZXing, tried
//! only after the rqrr pipeline found nothing. Off by default; the benchmark reports the
//! pipeline with and without it. Its calls are wrapped like rqrr's (panics contained).

use super::binarize::Gray;
use super::rq::guarded;

/// Corners: top-left, top-right, bottom-right, bottom-left.
pub type Corners = [(f32, f32); 4];

/// The text (UTF-8 bytes) and corners rxing read, if any.
pub fn read(img: Gray<'_>) -> Option<(Vec<u8>, Corners)> {
    if img.width == 0 || img.height == 0 {
        return None;
    }
    let result = guarded(|| {
        let mut hints = rxing::DecodeHints {
            TryHarder: Some(true),
            AlsoInverted: Some(true),
            ..Default::default()
        };
        rxing::helpers::detect_in_luma_slice_with_hints(
            img.data,
            img.width as u32,
            img.height as u32,
            Some(rxing::BarcodeFormat::QR_CODE),
            &mut hints,
        )
        .ok()
    })
    .flatten()?;
    let pts: Vec<(f32, f32)> = result.getPoints().iter().map(|p| (p.x, p.y)).collect();
    // rxing gives the finder centres (bottom-left, top-left, top-right) and maybe the alignment
    // pattern; extend them to the symbol's corners approximately for the overlay
    let corners = match pts.as_slice() {
        [bl, tl, tr, ..] => {
            let br = (tr.0 - tl.0 + bl.0, tr.1 - tl.1 + bl.1);
            [*tl, *tr, br, *bl]
        }
        _ => [(0.0, 0.0); 4],
    };
    Some((result.getText().as_bytes().to_vec(), corners))
}
