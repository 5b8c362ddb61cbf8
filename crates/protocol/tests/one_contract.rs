//! One contract (issue 14): no error code is spelt as a string literal outside the contract
//! module (`src/wire.rs`) and tests. A code matched or built as a literal elsewhere would drift
//! from the table the first time a code is renamed; the code there names the enum instead
//! (`ErrorCode::Busy`, `ProtocolCode::CheckMismatch`, `AppErrorCode::Offline`, ...).
//!
//! What is checked: every Rust file of `crates/`, `server/`, `src-tauri/` and `ui/` except the
//! contract module, `tests/` and `benches/` folders and the `#[cfg(test)]` part of a file (by
//! the workspace's habit, the unit tests close a file). Comment lines are skipped.
//!
//! - The HTTP codes ([`ErrorCode::TABLE`]) and the protocol codes ([`ProtocolCode::ALL`]) may
//!   not appear as a string literal at all, except as an object key (`"revoked": n` in a
//!   `json!`, `answer["revoked"]`), which names a field, not a code.
//! - The app's IPC codes ([`AppErrorCode::ALL`]) are common words (`camera` is also an icon,
//!   `key` a field), so only their use as a code is refused: `.is("offline")`,
//!   `== "no_camera"`, `code: "busy"`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};

use vouch_protocol::wire::{AppErrorCode, ErrorCode, ProtocolCode};

/// A literal that equals a code but is not one, with the reason.
const NOT_CODES: &[(&str, &str, &str)] = &[
    (
        "crates/scan/src/lib.rs",
        "truncated",
        "a word looked for in the image decoder's own error message",
    ),
    (
        "server/src/config.rs",
        "refused",
        "a value of `[scan] unlisted`, in the example configuration's comment",
    ),
];

/// The folders checked, from the workspace root.
const ROOTS: [&str; 4] = ["crates", "server", "src-tauri", "ui"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`, leaving out test and bench folders and build output.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if !matches!(
                name.to_str(),
                Some("tests" | "benches" | "target" | "fuzz" | "node_modules" | "gen" | "dist")
            ) {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Where a file's inline test module starts (`#[cfg(test)]` over `mod tests {`), else its end.
/// A `#[cfg(test)]` over anything else (`mod testing;`, one function) is not an end.
fn tests_start(text: &str) -> usize {
    let mut from = 0;
    while let Some(at) = text[from..].find("#[cfg(test)]") {
        let start = from + at;
        let next = text[start + "#[cfg(test)]".len()..]
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("#["))
            .unwrap_or("");
        if next.contains("mod ") && next.ends_with('{') {
            return start;
        }
        from = start + 1;
    }
    text.len()
}

/// The lines of a file that are code: before its inline test module, not comments.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text[..tests_start(text)]
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
}

/// The string literals of one line: (start, end after the closing quote, content).
fn literals(line: &str) -> Vec<(usize, usize, &str)> {
    let bytes = line.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            let start = i;
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            if i < bytes.len() {
                found.push((start, i + 1, &line[start + 1..i]));
            }
        }
        i += 1;
    }
    found
}

/// Whether the literal at `start..end` names an object field (`"x":`, `["x"]`).
fn is_key(line: &str, start: usize, end: usize) -> bool {
    let after = line[end..].trim_start();
    let before = line[..start].trim_end();
    after.starts_with(':') && !after.starts_with("::")
        || before.ends_with('[') && after.starts_with(']')
}

/// Whether the literal at `start..end` is used as a code: an argument of `.is(`, compared,
/// or a `code:` field.
fn used_as_code(line: &str, start: usize) -> bool {
    let before = line[..start].trim_end();
    before.ends_with(".is(")
        || before.ends_with("==")
        || before.ends_with("!=")
        || before.ends_with("code:")
}

/// Every spelling of a code in `text` (a file at `path`, relative to the root), as
/// "path:line: code".
fn findings(path: &str, text: &str) -> Vec<String> {
    let strict: Vec<&str> = ErrorCode::TABLE
        .iter()
        .map(ErrorCode::as_str)
        .chain(ProtocolCode::ALL.iter().map(|c| c.as_str()))
        .collect();
    let app: Vec<&str> = AppErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    let mut out = Vec::new();
    for (n, line) in code_lines(text) {
        for (start, end, content) in literals(line) {
            let allowed = NOT_CODES
                .iter()
                .any(|(p, word, _)| *p == path && *word == content);
            let strict_hit = strict.contains(&content) && !is_key(line, start, end);
            let app_hit = app.contains(&content) && used_as_code(line, start);
            if (strict_hit || app_hit) && !allowed {
                out.push(format!("{path}:{n}: \"{content}\" in `{}`", line.trim()));
            }
        }
    }
    out
}

#[test]
fn no_error_code_is_spelt_outside_the_contract() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ROOTS {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 50,
        "the walk found only {} files",
        files.len()
    );
    let contract = root.join("crates/protocol/src/wire.rs");
    let mut found = Vec::new();
    for file in files {
        if file.canonicalize().ok() == contract.canonicalize().ok() {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        let rel = file.strip_prefix(&root).unwrap_or(&file);
        found.extend(findings(&rel.to_string_lossy(), &text));
    }
    assert!(
        found.is_empty(),
        "error codes spelt as string literals outside vouch_protocol::wire (use the enum):\n{}",
        found.join("\n")
    );
}

/// The check itself catches what it is for, and lets through what it must.
#[test]
fn the_check_finds_a_spelt_code_and_passes_keys_and_comments() {
    let caught = findings(
        "x.rs",
        "match e.code() { \"pending_approval\" => 1, _ => 0 }\nif err.is(\"offline\") {}\n\
         let s = \"check_mismatch\";\n",
    );
    assert_eq!(caught.len(), 3, "{caught:?}");
    let gated = findings("x.rs", "#[cfg(test)]\nmod testing;\nlet c = \"busy\";\n");
    assert_eq!(
        gated.len(),
        1,
        "a gated module declaration is not the end: {gated:?}"
    );
    let passed = findings(
        "x.rs",
        "json!({ \"revoked\": n })\nlet r = answer[\"revoked\"];\n// says \"busy\"\n\
         <Icon name=\"camera\" />\n#[cfg(test)]\nmod tests {\nassert_eq!(e.code(), \"busy\");\n",
    );
    assert!(passed.is_empty(), "{passed:?}");
    let allowed = findings("crates/scan/src/lib.rs", "[\"truncated\", \"eof\"]\n");
    assert!(allowed.is_empty(), "{allowed:?}");
}
