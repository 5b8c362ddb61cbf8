//! Printable labels: PNG decoded back with rqrr, SVG and sheets parsed as XML.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fs;
use std::path::Path;

use vouch_device::render::{qr_alphanumeric, QUIET_ZONE};
use vouch_device::{keygen, label_png_bytes, label_svg_string, labels_from_csv, Error};
use vouch_protocol::{Label, Model, Serial};

fn make(dir: &Path, model: &str, serial: &str) -> Label {
    keygen(
        dir,
        &Model::new(model).unwrap(),
        &Serial::new(serial).unwrap(),
    )
    .unwrap()
    .label()
}

/// Decodes every QR code in a greyscale image.
fn decode(
    width: usize,
    height: usize,
    pixel: impl FnMut(usize, usize) -> u8,
) -> Vec<(rqrr::MetaData, String)> {
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, pixel);
    image
        .detect_grids()
        .into_iter()
        .map(|grid| grid.decode().expect("the code decodes"))
        .collect()
}

fn read_png(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, buf)
}

#[test]
fn png_label_decodes_to_the_exact_compact_string() {
    let tmp = tempfile::tempdir().unwrap();
    let label = make(tmp.path(), "ACME-T1", "SN-0001");
    let compact = label.to_compact().unwrap();

    let path = tmp.path().join("label.png");
    vouch_device::label_png(&label, &path).unwrap();
    let (w, h, pixels) = read_png(&fs::read(&path).unwrap());
    assert!(h > w, "text is drawn under the code");

    let found = decode(w, h, |x, y| pixels[y * w + x]);
    assert_eq!(found.len(), 1, "exactly one code on the label");
    let (meta, text) = &found[0];
    assert_eq!(text, &compact);
    assert_eq!(meta.ecc_level, 0b11, "error correction level Q");
    assert_eq!(meta.version.0, 5, "a typical label is version 5");

    // Also decodable back to the same label.
    assert_eq!(Label::parse(text).unwrap(), label);
}

#[test]
fn longest_label_still_fits_and_decodes() {
    let tmp = tempfile::tempdir().unwrap();
    let label = make(
        tmp.path(),
        "MODEL-ABCDEFGHIJKLMNOPQR",
        "SERIAL-0123456789ABCDEFGHIJKLMNO",
    );
    let (w, h, pixels) = read_png(&label_png_bytes(&label).unwrap());
    let found = decode(w, h, |x, y| pixels[y * w + x]);
    assert_eq!(found[0].1, label.to_compact().unwrap());
}

#[test]
fn qr_uses_one_alphanumeric_segment() {
    // 78 characters in alphanumeric mode: 4 + 9 + 39 * 11 bits = 442 bits, which fits version 5
    // at level Q (62 data bytes) but not version 4 (48). Byte mode would need version 6.
    let text = "VOUCH1:ACME-T1:SN-0001:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:A";
    assert_eq!(text.len(), 78);
    let grid = qr_alphanumeric(text).unwrap();
    assert_eq!(grid.version(), 5);
    assert_eq!(grid.width(), 37);
}

#[test]
fn svg_label_is_xml_with_one_code_and_the_manual_line() {
    let tmp = tempfile::tempdir().unwrap();
    let label = make(tmp.path(), "ACME-T1", "SN-0001");
    let svg = label_svg_string(&label).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert!(root.attribute("width").unwrap().ends_with("mm"));
    let codes: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("path") && n.attribute("class") == Some("qr"))
        .collect();
    assert_eq!(codes.len(), 1);

    let text: String = doc
        .descendants()
        .filter(|n| n.has_tag_name("tspan"))
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        text.split_once("VOUCH1")
            .map(|(_, rest)| format!("VOUCH1{rest}")),
        Some(label.to_manual().unwrap()),
        "the wrapped lines, joined by spaces, are the manual-entry line"
    );
    assert!(text.contains(&format!("FP {}", label.key().fingerprint())));

    // The drawn code is the label's code.
    let found = rasterise_and_decode(&codes[0]);
    assert_eq!(found, vec![label.to_compact().unwrap()]);
}

/// Renders a `<path class="qr">` (runs `Mx yhNv1h-Nz` in module units) and decodes it.
fn rasterise_and_decode(path: &roxmltree::Node) -> Vec<String> {
    let d = path.attribute("d").unwrap();
    let mut modules = Vec::new();
    let mut size = 0;
    for run in d.split('M').filter(|s| !s.trim().is_empty()) {
        let run = run.trim().trim_end_matches('z');
        let (xy, rest) = run.split_once('h').unwrap();
        let (x, y) = xy.split_once(' ').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let n: usize = rest.split_once('v').unwrap().0.parse().unwrap();
        for i in 0..n {
            modules.push((x + i, y));
        }
        size = size.max(x + n).max(y + 1);
    }
    let side = size + QUIET_ZONE;
    let scale = 4;
    let px = side * scale;
    let mut dark = vec![false; side * side];
    for (x, y) in modules {
        dark[y * side + x] = true;
    }
    decode(px, px, |x, y| {
        if dark[(y / scale) * side + x / scale] {
            0
        } else {
            255
        }
    })
    .into_iter()
    .map(|(_, text)| text)
    .collect()
}

#[test]
fn sheet_from_csv_has_one_code_per_device() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("batch.csv");
    fs::write(
        &csv,
        "model,serial,key_dir\nACME-T1,SN-0001,keys/1\n\n# a comment\nACME-T1,SN-0002,keys/2\nACME-T2, SN-0003 ,keys/3\n",
    )
    .unwrap();
    // Without --keygen the key directories must exist.
    assert!(labels_from_csv(&csv, false).is_err());
    let labels = labels_from_csv(&csv, true).unwrap();
    assert_eq!(labels.len(), 3);
    assert!(tmp.path().join("keys/3/label.key.pem").exists());
    // A second run reads the same keys.
    assert_eq!(labels_from_csv(&csv, true).unwrap(), labels);

    let out = tmp.path().join("sheet.svg");
    vouch_device::write_label_sheet(&labels, &out).unwrap();
    let svg = fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
    let groups: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("vouch-label"))
        .collect();
    assert_eq!(groups.len(), 3);
    let all_codes = doc
        .descendants()
        .filter(|n| n.has_tag_name("path") && n.attribute("class") == Some("qr"))
        .count();
    assert_eq!(all_codes, 3, "exactly one QR per device");
    for (group, label) in groups.iter().zip(&labels) {
        assert_eq!(
            group.attribute("data-serial"),
            Some(label.serial().as_str())
        );
        let codes: Vec<_> = group
            .descendants()
            .filter(|n| n.has_tag_name("path") && n.attribute("class") == Some("qr"))
            .collect();
        assert_eq!(codes.len(), 1);
        assert_eq!(
            rasterise_and_decode(&codes[0]),
            vec![label.to_compact().unwrap()]
        );
    }
    // Millimetre units, as printers expect.
    assert!(doc
        .root_element()
        .attribute("height")
        .unwrap()
        .ends_with("mm"));
}

#[test]
fn sheet_from_a_folder_of_key_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let a = make(&tmp.path().join("b"), "ACME-T1", "SN-B");
    let b = make(&tmp.path().join("a"), "ACME-T1", "SN-A");
    fs::create_dir(tmp.path().join("not-a-device")).unwrap();
    let labels = vouch_device::labels_from_dirs(tmp.path()).unwrap();
    assert_eq!(labels, vec![b, a], "name order, non-devices skipped");
}

#[test]
fn csv_errors_name_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("bad.csv");
    fs::write(&csv, "ACME-T1,SN-0001,keys/1\nACME-T1,SN-0002\n").unwrap();
    let err = labels_from_csv(&csv, true).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(err.to_string().contains("line 2"), "{err}");

    fs::write(&csv, "acme,SN-0001,keys/1\n").unwrap();
    assert!(labels_from_csv(&csv, true)
        .unwrap_err()
        .to_string()
        .contains("line 1"));

    // The CSV and the device directory disagree.
    make(&tmp.path().join("keys/9"), "ACME-T1", "SN-0009");
    fs::write(&csv, "ACME-T1,SN-0010,keys/9\n").unwrap();
    let err = labels_from_csv(&csv, true).unwrap_err();
    assert!(err.to_string().contains("SN-0009"), "{err}");

    assert!(vouch_device::label_sheet_svg(&[]).is_err());
}
