//! Expected-device manifests: what a factory says it shipped, imported before the devices are
//! scanned (docs/PROTOCOL.md 11.10.5). A manifest is read whole ([`parse_manifest`]) and
//! imported whole ([`plan_import`]): one bad line refuses it with the line's number, and a
//! manifest imported twice changes nothing the second time.
//!
//! Formats: CSV whose first line names the columns, or JSON lines (one object a line). The
//! columns or keys are `serial`, `model`, `key` (the public key: compressed or uncompressed
//! SEC1 in hex, or a base64 DER SubjectPublicKeyInfo as DPP labels carry it) or `label` (the
//! label's text, any form the scanner reads), `batch` and `order`; `serial` and one of `key` and
//! `label` are required (with `label`, `serial` and `model` may be left out and are then the
//! label's).

use std::collections::HashMap;
use std::fmt;
use vouch_protocol::wire::DeviceEvent;

use serde::{Deserialize, Serialize};
use vouch_protocol::key::{hex, sha256, PublicKey};
use vouch_protocol::{Label, Model, Serial};

use super::device::enter_conflict;
use super::{AuditNote, Device, DeviceState, Planned, WritePlan};

/// Most device lines one manifest may hold.
pub const MAX_MANIFEST_LINES: usize = 1_000_000;
/// Longest batch or order reference.
pub const MAX_REFERENCE_CHARS: usize = 64;

/// One device a manifest announces, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    /// The line it was read from (1-based, counting the CSV header).
    pub line: usize,
    /// The serial.
    pub serial: String,
    /// The model, if given.
    pub model: Option<String>,
    /// The device's label key, compressed SEC1 hex.
    pub key: String,
    /// The key's fingerprint.
    pub key_fingerprint: String,
    /// The production batch, if given.
    pub batch: Option<String>,
    /// The order reference, if given.
    pub order: Option<String>,
}

/// What a device keeps of the manifest entry that announced it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// The import it came from ([`import_id`]).
    pub import_id: String,
    /// The manifest's key, compressed SEC1 hex.
    pub key: String,
    /// The manifest's model.
    pub model: Option<String>,
    /// The production batch.
    pub batch: Option<String>,
    /// The order reference.
    pub order: Option<String>,
    /// When it was imported.
    pub imported_at_ms: u64,
    /// Whether scanned labels carried the manifest's key: `None` until a scan, then `false`
    /// for good once one carried another key.
    #[serde(default)]
    pub matched: Option<bool>,
}

impl Expectation {
    /// Whether `entry` says what this expectation already says (a repeated import).
    fn same_as(&self, entry: &ManifestEntry) -> bool {
        self.key == entry.key
            && self.model == entry.model
            && self.batch == entry.batch
            && self.order == entry.order
    }

    /// Records a scan of `key`; says whether the key differs from the manifest's.
    pub fn record_scan(&mut self, key: &str) -> bool {
        let differs = self.key != key;
        self.matched = Some(!differs && self.matched != Some(false));
        differs
    }
}

/// One import, stored by its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    /// The import's id.
    pub id: String,
    /// The manifest's name as given (its file name).
    pub source: Option<String>,
    /// SHA-256 (hex) of the manifest's text.
    pub sha256: String,
    /// Who imported it.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at_ms: u64,
    /// Device lines read.
    pub lines: usize,
    /// Devices newly expected.
    pub added: usize,
    /// Scanned devices the manifest now lists.
    pub updated: usize,
}

/// What an import did, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Device lines read.
    pub lines: usize,
    /// Devices newly expected.
    pub added: usize,
    /// Scanned devices the manifest now lists.
    pub updated: usize,
    /// Devices listed exactly as stored.
    pub unchanged: usize,
}

/// Why a manifest is refused; nothing of it is imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// The line at fault (1-based), if one is.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl ManifestError {
    fn at(line: usize, message: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            message: message.into(),
        }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}; nothing was imported", self.message),
            None => write!(f, "{}; nothing was imported", self.message),
        }
    }
}

/// The id of an import of `text`: `m-` and 16 hex digits of its SHA-256.
pub fn import_id(text: &str) -> String {
    format!("m-{}", &hex(&sha256(text.as_bytes()))[..16])
}

/// One line's fields as written, before they are checked.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(default)]
    serial: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    batch: Option<String>,
    #[serde(default)]
    order: Option<String>,
}

/// Reads a whole manifest (CSV with a header, or JSON lines: the first non-blank line decides)
/// and checks every line; a serial listed twice must say the same both times, and a key may
/// belong to one serial only.
pub fn parse_manifest(text: &str) -> Result<Vec<ManifestEntry>, ManifestError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_start_matches('\u{feff}').trim()))
        .filter(|(_, l)| !l.is_empty());
    let Some((first_no, first)) = lines.next() else {
        return Err(ManifestError {
            line: None,
            message: "the manifest lists no device".into(),
        });
    };
    let raw: Vec<(usize, RawEntry)> = if first.starts_with('{') {
        std::iter::once((first_no, first))
            .chain(lines)
            .map(|(no, l)| json_line(no, l).map(|r| (no, r)))
            .collect::<Result<_, _>>()?
    } else {
        let columns = csv_header(first_no, first)?;
        lines
            .map(|(no, l)| csv_line(no, l, &columns).map(|r| (no, r)))
            .collect::<Result<_, _>>()?
    };
    if raw.is_empty() {
        return Err(ManifestError::at(first_no, "the manifest lists no device"));
    }
    if raw.len() > MAX_MANIFEST_LINES {
        return Err(ManifestError {
            line: None,
            message: format!("more than {MAX_MANIFEST_LINES} devices: split the manifest"),
        });
    }
    let entries = check_all(raw)?;
    dedup(entries)
}

/// Checks every line's fields, on every core (the key checks dominate a large import).
fn check_all(raw: Vec<(usize, RawEntry)>) -> Result<Vec<ManifestEntry>, ManifestError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = raw.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = raw
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(no, r)| check_entry(*no, r))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(raw.len());
        for handle in handles {
            let part = handle.join().map_err(|_| ManifestError {
                line: None,
                message: "the manifest check failed unexpectedly".into(),
            })?;
            all.extend(part?);
        }
        Ok(all)
    })
}

/// Drops repeats of a line; refuses a serial listed twice with different data, and a key
/// listed under two serials (a cloned key in the factory's own records).
fn dedup(entries: Vec<ManifestEntry>) -> Result<Vec<ManifestEntry>, ManifestError> {
    let mut by_serial: HashMap<String, usize> = HashMap::with_capacity(entries.len());
    let mut by_key: HashMap<String, usize> = HashMap::with_capacity(entries.len());
    let mut out: Vec<ManifestEntry> = Vec::with_capacity(entries.len());
    for entry in entries {
        if let Some(&i) = by_serial.get(&entry.serial) {
            let first = &out[i];
            let same = ManifestEntry {
                line: first.line,
                ..entry.clone()
            };
            if same != *first {
                return Err(ManifestError::at(
                    entry.line,
                    format!(
                        "serial {} is listed again with other data (first on line {})",
                        entry.serial, first.line
                    ),
                ));
            }
            continue;
        }
        if let Some(&i) = by_key.get(&entry.key) {
            return Err(ManifestError::at(
                entry.line,
                format!(
                    "this key is also listed for serial {} (line {})",
                    out[i].serial, out[i].line
                ),
            ));
        }
        by_serial.insert(entry.serial.clone(), out.len());
        by_key.insert(entry.key.clone(), out.len());
        out.push(entry);
    }
    Ok(out)
}

fn json_line(no: usize, line: &str) -> Result<RawEntry, ManifestError> {
    serde_json::from_str(line).map_err(|e| {
        ManifestError::at(
            no,
            format!("not a manifest object ({e}); keys: serial, model, key or label, batch, order"),
        )
    })
}

/// The columns a CSV header names, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Serial,
    Model,
    Key,
    Label,
    Batch,
    Order,
}

fn csv_header(no: usize, line: &str) -> Result<Vec<Column>, ManifestError> {
    let names = csv_fields(no, line)?;
    let mut columns = Vec::with_capacity(names.len());
    for name in names {
        let column = match name.to_ascii_lowercase().as_str() {
            "serial" => Column::Serial,
            "model" => Column::Model,
            "key" => Column::Key,
            "label" => Column::Label,
            "batch" => Column::Batch,
            "order" => Column::Order,
            other => {
                return Err(ManifestError::at(
                    no,
                    format!(
                        "unknown column {other:?} in the header (columns: serial, model, key or \
                         label, batch, order)"
                    ),
                ))
            }
        };
        if columns.contains(&column) {
            return Err(ManifestError::at(
                no,
                format!("column {name:?} named twice"),
            ));
        }
        columns.push(column);
    }
    if !columns.contains(&Column::Key) && !columns.contains(&Column::Label) {
        return Err(ManifestError::at(
            no,
            "the header names neither a key nor a label column (the first line names the columns)",
        ));
    }
    Ok(columns)
}

fn csv_line(no: usize, line: &str, columns: &[Column]) -> Result<RawEntry, ManifestError> {
    let fields = csv_fields(no, line)?;
    if fields.len() != columns.len() {
        return Err(ManifestError::at(
            no,
            format!(
                "{} fields where the header names {} columns",
                fields.len(),
                columns.len()
            ),
        ));
    }
    let mut raw = RawEntry::default();
    for (column, value) in columns.iter().zip(fields) {
        let slot = match column {
            Column::Serial => &mut raw.serial,
            Column::Model => &mut raw.model,
            Column::Key => &mut raw.key,
            Column::Label => &mut raw.label,
            Column::Batch => &mut raw.batch,
            Column::Order => &mut raw.order,
        };
        *slot = Some(value);
    }
    Ok(raw)
}

/// Splits one CSV line (RFC 4180 quoting: `"a, b"`, `""` for a quote; a quoted field may not
/// span lines).
fn csv_fields(no: usize, line: &str) -> Result<Vec<String>, ManifestError> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err(ManifestError::at(no, "a quoted field is not closed")),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {}
                Some(_) => {
                    return Err(ManifestError::at(
                        no,
                        "text after a quoted field (a quote inside a field is written \"\")",
                    ))
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field.trim().to_string());
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
        }
        fields.push(field.trim().to_string());
    }
}

/// An optional field: absent or blank is `None`.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Checks one line's fields into an entry.
fn check_entry(no: usize, raw: &RawEntry) -> Result<ManifestEntry, ManifestError> {
    let err = |message: String| ManifestError::at(no, message);
    let label = match given(&raw.label) {
        Some(text) => Some(Label::parse(text).map_err(|e| err(format!("label: {e}")))?),
        None => None,
    };
    let key = match (given(&raw.key), &label) {
        (Some(_), Some(_)) => return Err(err("give a key or a label, not both".into())),
        (Some(text), None) => parse_key(text).map_err(err)?,
        (None, Some(label)) => *label.key(),
        (None, None) => return Err(err("no key and no label".into())),
    };
    let serial = match (given(&raw.serial), &label) {
        (Some(text), Some(label)) if text != label.serial().as_str() => {
            return Err(err(format!(
                "serial {text} differs from the label's serial {}",
                label.serial()
            )))
        }
        (Some(text), _) => Serial::new(text).map_err(|e| err(format!("serial: {e}")))?,
        (None, Some(label)) => label.serial().clone(),
        (None, None) => return Err(err("no serial".into())),
    };
    let label_model = label.as_ref().and_then(|l| l.model()).map(Model::as_str);
    let model = match (given(&raw.model), label_model) {
        (Some(text), Some(from_label)) if text != from_label => {
            return Err(err(format!(
                "model {text} differs from the label's model {from_label}"
            )))
        }
        (Some(text), _) => Some(
            Model::new(text)
                .map_err(|e| err(format!("model: {e}")))?
                .as_str()
                .to_string(),
        ),
        (None, from_label) => from_label.map(str::to_string),
    };
    Ok(ManifestEntry {
        line: no,
        serial: serial.as_str().to_string(),
        model,
        key: hex(&key.to_sec1_compressed()),
        key_fingerprint: key.fingerprint().to_string(),
        batch: reference(no, "batch", given(&raw.batch))?,
        order: reference(no, "order", given(&raw.order))?,
    })
}

/// A public key as a manifest writes it: SEC1 in hex, or a base64 DER SubjectPublicKeyInfo.
fn parse_key(text: &str) -> Result<PublicKey, String> {
    let from_hex = data_encoding::HEXLOWER_PERMISSIVE
        .decode(text.as_bytes())
        .ok()
        .and_then(|bytes| PublicKey::from_sec1(&bytes).ok());
    let from_spki = || {
        data_encoding::BASE64
            .decode(text.as_bytes())
            .ok()
            .and_then(|der| PublicKey::from_spki_der(&der).ok())
    };
    from_hex.or_else(from_spki).ok_or_else(|| {
        "key: not a P-256 public key (compressed or uncompressed SEC1 in hex, or a base64 \
         SubjectPublicKeyInfo)"
            .to_string()
    })
}

fn reference(no: usize, what: &str, value: Option<&str>) -> Result<Option<String>, ManifestError> {
    let Some(value) = value else { return Ok(None) };
    if value.chars().count() > MAX_REFERENCE_CHARS || value.chars().any(char::is_control) {
        return Err(ManifestError::at(
            no,
            format!("{what}: at most {MAX_REFERENCE_CHARS} characters, no control characters"),
        ));
    }
    Ok(Some(value.to_string()))
}

/// Who imports what, and why.
#[derive(Clone, Debug)]
pub struct ImportMeta {
    /// The import's id ([`import_id`]).
    pub id: String,
    /// SHA-256 (hex) of the manifest's text.
    pub sha256: String,
    /// The manifest's name as given.
    pub source: Option<String>,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
}

/// What importing `entries` does, given the devices stored under their serials (`stored[i]`
/// for `entries[i]`): an unknown serial becomes an `expected` device; a device the manifest
/// lists exactly as stored is left alone; a scanned device not yet in a manifest gets the
/// expectation, and goes into conflict if its key is not the manifest's; a device already
/// expected with other data refuses the whole import. Nothing new: an empty plan (no audit
/// entry either), so a repeated import changes nothing.
pub fn plan_import(
    entries: &[ManifestEntry],
    stored: &[Option<Device>],
    meta: &ImportMeta,
    now_ms: u64,
) -> Result<Planned<ImportCounts>, ManifestError> {
    let mut counts = ImportCounts {
        lines: entries.len(),
        ..ImportCounts::default()
    };
    let mut writes = WritePlan::at(now_ms);
    for (entry, current) in entries.iter().zip(stored) {
        let expectation = Expectation {
            import_id: meta.id.clone(),
            key: entry.key.clone(),
            model: entry.model.clone(),
            batch: entry.batch.clone(),
            order: entry.order.clone(),
            imported_at_ms: now_ms,
            matched: None,
        };
        match current {
            None => {
                counts.added += 1;
                writes
                    .devices
                    .push(expected_device(entry, expectation, &meta.actor, now_ms));
            }
            Some(device) => match &device.expected {
                Some(e) if e.same_as(entry) => counts.unchanged += 1,
                Some(e) => {
                    return Err(ManifestError::at(
                        entry.line,
                        format!(
                            "serial {} is already expected from import {} with other data \
                             (key, model, batch or order)",
                            entry.serial, e.import_id
                        ),
                    ))
                }
                None => {
                    counts.updated += 1;
                    writes.devices.push(listed_after_scan(
                        device,
                        expectation,
                        &meta.actor,
                        now_ms,
                    ));
                }
            },
        }
    }
    if writes.devices.is_empty() {
        return Ok(Planned {
            value: counts,
            writes: WritePlan::at(now_ms),
        });
    }
    writes.imports.push(ImportRecord {
        id: meta.id.clone(),
        source: meta.source.clone(),
        sha256: meta.sha256.clone(),
        actor: meta.actor.clone(),
        reason: meta.reason.clone(),
        at_ms: now_ms,
        lines: counts.lines,
        added: counts.added,
        updated: counts.updated,
    });
    writes.audit.push(AuditNote {
        actor: meta.actor.clone(),
        action: "device.manifest_imported",
        subject: meta.id.clone(),
        detail: serde_json::json!({
            "source": meta.source, "sha256": meta.sha256, "reason": meta.reason,
            "lines": counts.lines, "added": counts.added, "updated": counts.updated,
            "unchanged": counts.unchanged,
        }),
    });
    Ok(Planned {
        value: counts,
        writes,
    })
}

/// A device a manifest announces, never scanned.
fn expected_device(
    entry: &ManifestEntry,
    expectation: Expectation,
    actor: &str,
    now_ms: u64,
) -> Device {
    let detail = Some(format!("import {}", expectation.import_id));
    let mut device = Device {
        serial: entry.serial.clone(),
        model: entry.model.clone(),
        key: entry.key.clone(),
        key_fingerprint: entry.key_fingerprint.clone(),
        state: DeviceState::Expected,
        other_keys: vec![],
        other_serials: vec![],
        scans: vec![],
        label_key_used: false,
        certificate: None,
        timeline: vec![],
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
        expected: Some(expectation),
    };
    device.note(now_ms, DeviceEvent::Expected, actor, detail);
    device
}

/// A device scanned before any manifest listed it, now listed: a key other than the
/// manifest's puts it in conflict.
fn listed_after_scan(
    device: &Device,
    mut expectation: Expectation,
    actor: &str,
    now_ms: u64,
) -> Device {
    let mut device = device.clone();
    let differs = expectation.record_scan(&device.key);
    let import = expectation.import_id.clone();
    if differs {
        if !device.other_keys.contains(&expectation.key) {
            device.other_keys.push(expectation.key.clone());
        }
        device.expected = Some(expectation);
        let why = format!("the manifest (import {import}) lists another key for this serial");
        enter_conflict(&mut device, now_ms, actor, &why);
    } else {
        device.expected = Some(expectation);
        device.note(
            now_ms,
            DeviceEvent::ManifestMatched,
            actor,
            Some(format!("import {import}")),
        );
    }
    device
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::testing::{device, key, label};
    use vouch_protocol::key::public_key_of;

    fn key_hex(seed: u8) -> String {
        hex(&public_key_of(&key(seed)).to_sec1_compressed())
    }

    fn meta() -> ImportMeta {
        ImportMeta {
            id: "m-1".into(),
            sha256: "00".into(),
            source: Some("f.csv".into()),
            actor: "operator".into(),
            reason: "batch 7".into(),
        }
    }

    #[test]
    fn csv_and_json_lines_read_the_same_devices() {
        let csv = format!(
            "serial,model,key,batch,order\nSN-1,M1,{},B7,\"PO-1, rev 2\"\n\nSN-2,,{},,\n",
            key_hex(1),
            key_hex(2)
        );
        let json = format!(
            "{{\"serial\":\"SN-1\",\"model\":\"M1\",\"key\":\"{}\",\"batch\":\"B7\",\"order\":\"PO-1, rev 2\"}}\n{{\"serial\":\"SN-2\",\"key\":\"{}\"}}\n",
            key_hex(1),
            key_hex(2)
        );
        let a = parse_manifest(&csv).unwrap();
        let b = parse_manifest(&json).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].order.as_deref(), Some("PO-1, rev 2"));
        assert_eq!(a[1].model, None);
        assert_eq!((a[0].line, a[1].line), (2, 4));
        let strip = |v: Vec<ManifestEntry>| {
            v.into_iter()
                .map(|e| ManifestEntry { line: 0, ..e })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(a), strip(b));
    }

    #[test]
    fn a_label_gives_serial_model_and_key() {
        let text = label("SN-9", 3);
        let m = parse_manifest(&format!("label,batch\n{text},B1\n")).unwrap();
        assert_eq!(m[0].serial, "SN-9");
        assert_eq!(m[0].key, key_hex(3));
        assert_eq!(m[0].model.as_deref(), Some("ACME-T1"));
        let clash = parse_manifest(&format!("serial,label\nSN-8,{text}\n")).unwrap_err();
        assert_eq!(clash.line, Some(2));
        assert!(clash.message.contains("differs from the label"), "{clash}");
    }

    #[test]
    fn a_base64_spki_key_is_read() {
        let spki = data_encoding::BASE64.encode(&public_key_of(&key(4)).to_spki_der().unwrap());
        let m = parse_manifest(&format!("serial,key\nSN-1,{spki}\n")).unwrap();
        assert_eq!(m[0].key, key_hex(4));
    }

    #[test]
    fn a_bad_line_is_named() {
        let good = format!("SN-1,{}", key_hex(1));
        let cases = [
            (
                format!("serial,key\n{good}\nSN-2,nothex\n"),
                3,
                "not a P-256",
            ),
            (
                format!("serial,key\n{good}\n../x,{}\n", key_hex(2)),
                3,
                "serial",
            ),
            (format!("serial,key\n{good}\nSN-2\n"), 3, "1 fields"),
            (
                format!("serial,key\n{good}\nSN-1,{}\n", key_hex(2)),
                3,
                "listed again",
            ),
            (
                format!("serial,key\n{good}\nSN-2,{}\n", key_hex(1)),
                3,
                "also listed",
            ),
            (
                format!("serial,key\n\"SN-1,{}\n", key_hex(1)),
                2,
                "not closed",
            ),
            ("serial,colour\n".to_string(), 1, "unknown column"),
            ("serial,model\nSN-1,M\n".to_string(), 1, "neither a key"),
            (
                "{\"serial\":\"SN-1\",\"keys\":\"x\"}\n".to_string(),
                1,
                "not a manifest object",
            ),
            (
                format!(
                    "{{\"serial\":\"SN-1\",\"key\":\"{}\"}}\n{{\"serial\":1}}\n",
                    key_hex(1)
                ),
                2,
                "not a manifest object",
            ),
            (
                format!("serial,key,batch\nSN-1,{},{}\n", key_hex(1), "b".repeat(65)),
                2,
                "batch",
            ),
        ];
        for (text, line, words) in cases {
            let e = parse_manifest(&text).unwrap_err();
            assert_eq!(e.line, Some(line), "{text}: {e}");
            assert!(e.to_string().contains(words), "{text}: {e}");
            assert!(e.to_string().contains("nothing was imported"));
        }
        assert_eq!(parse_manifest(" \n\n").unwrap_err().line, None);
        assert!(parse_manifest("serial,key\n").is_err());
    }

    #[test]
    fn a_repeated_line_is_read_once() {
        let text = format!("serial,key\nSN-1,{k}\nSN-1,{k}\n", k = key_hex(1));
        assert_eq!(parse_manifest(&text).unwrap().len(), 1);
    }

    #[test]
    fn an_import_adds_expected_devices_and_a_second_changes_nothing() {
        let text = format!("serial,key\nSN-1,{}\nSN-2,{}\n", key_hex(1), key_hex(2));
        let entries = parse_manifest(&text).unwrap();
        let first = plan_import(&entries, &[None, None], &meta(), 5).unwrap();
        assert_eq!(first.value.added, 2);
        let devices = &first.writes.devices;
        assert!(devices.iter().all(|d| d.state == DeviceState::Expected));
        assert_eq!(devices[0].expected.as_ref().unwrap().import_id, "m-1");
        assert_eq!(first.writes.imports[0].added, 2);
        assert_eq!(first.writes.audit[0].action, "device.manifest_imported");
        let stored: Vec<_> = devices.iter().cloned().map(Some).collect();
        let again = plan_import(&entries, &stored, &meta(), 6).unwrap();
        assert_eq!(again.value.unchanged, 2);
        assert!(again.writes.is_empty(), "a repeated import writes nothing");
    }

    #[test]
    fn another_import_with_other_data_for_an_expected_serial_is_refused() {
        let entries = parse_manifest(&format!("serial,key\nSN-1,{}\n", key_hex(1))).unwrap();
        let stored = plan_import(&entries, &[None], &meta(), 5)
            .unwrap()
            .writes
            .devices;
        let other = parse_manifest(&format!("serial,key\nSN-1,{}\n", key_hex(2))).unwrap();
        let e = plan_import(&other, &[stored.into_iter().next()], &meta(), 6).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("already expected from import m-1"));
    }

    #[test]
    fn a_scanned_device_listed_later_matches_or_conflicts() {
        let mut scanned = device("SN-1", DeviceState::Scanned);
        scanned.key = key_hex(1);
        let same = parse_manifest(&format!("serial,key\nSN-1,{}\n", key_hex(1))).unwrap();
        let planned = plan_import(&same, &[Some(scanned.clone())], &meta(), 5).unwrap();
        let d = &planned.writes.devices[0];
        assert_eq!(planned.value.updated, 1);
        assert_eq!(d.state, DeviceState::Scanned);
        assert_eq!(d.expected.as_ref().unwrap().matched, Some(true));
        let other = parse_manifest(&format!("serial,key\nSN-1,{}\n", key_hex(2))).unwrap();
        let planned = plan_import(&other, &[Some(scanned)], &meta(), 5).unwrap();
        let d = &planned.writes.devices[0];
        assert_eq!(d.state, DeviceState::Conflict);
        assert_eq!(d.expected.as_ref().unwrap().matched, Some(false));
        assert_eq!(d.other_keys, vec![key_hex(2)]);
    }

    #[test]
    fn a_mismatch_stays_recorded() {
        let mut e = Expectation {
            import_id: "m".into(),
            key: "a".into(),
            model: None,
            batch: None,
            order: None,
            imported_at_ms: 0,
            matched: None,
        };
        assert!(!e.record_scan("a"));
        assert_eq!(e.matched, Some(true));
        assert!(e.record_scan("b"));
        assert!(!e.record_scan("a"));
        assert_eq!(e.matched, Some(false));
    }
}
