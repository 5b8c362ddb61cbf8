//! The server's layering, read from its sources (issue 14): no cycle between its top-level
//! modules, the rules (`domain`) import no other module, the store knows no front door, and
//! the time of day is read only in `clock.rs` (durations use `Instant`, a monotonic clock that
//! says nothing about the date; `clock.rs` says where).
//!
//! Only code is read: comment lines and the `#[cfg(test)]` part that closes a file (a test may
//! open a store or read the clock) are left out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's name for each name the crate root re-exports (`lib.rs`'s `pub use`).
const ROOT_REEXPORTS: [(&str, &str); 6] = [
    ("router", "api"),
    ("AppState", "api"),
    ("Config", "config"),
    ("ServerError", "error"),
    ("Failure", "error"),
    ("Cause", "error"),
];

/// Ways to read the time of day.
const WALL_CLOCK_READS: [&str; 5] = [
    "SystemTime",
    "UNIX_EPOCH",
    "now_utc",
    "Utc::now",
    "Local::now",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
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

/// The code of a file: before its inline test module, without comment lines.
fn code(text: &str) -> String {
    text[..tests_start(text)]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a piece of code names through `crate::` (also inside
/// `use crate::{a::X, b}`).
fn crate_references(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                found.insert(first_segment(item.trim()));
            }
        } else {
            found.insert(first_segment(rest));
        }
    }
    found.remove("");
    found
        .into_iter()
        .map(|name| {
            ROOT_REEXPORTS
                .iter()
                .find(|(item, _)| *item == name)
                .map_or(name, |(_, module)| module.to_string())
        })
        .collect()
}

fn first_segment(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level module a file belongs to (`store` for `store/engine.rs`).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap_or(file);
    let first = rel.components().next().map_or_else(String::new, |c| {
        c.as_os_str().to_string_lossy().into_owned()
    });
    first.trim_end_matches(".rs").to_string()
}

/// Which modules each module names, the crate root and the binary left out.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&file);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        let mut refs = crate_references(&code(&text));
        refs.remove(&module);
        graph.entry(module).or_default().extend(refs);
    }
    graph
}

/// A cycle in `graph`, as the path that closes it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_cycle_in_the_server() {
    let graph = module_graph();
    assert!(
        graph.contains_key("domain") && graph.contains_key("store"),
        "{graph:?}"
    );
    assert_eq!(find_cycle(&graph), None, "{graph:#?}");
}

#[test]
fn the_rules_import_no_other_module_and_the_store_no_front_door() {
    let graph = module_graph();
    let domain = &graph["domain"];
    assert!(domain.is_empty(), "domain/ imports {domain:?}");
    let store = &graph["store"];
    // `config` is plain data (its settings); `api`, `authority`, `conn`, `tls`, `client`
    // and `metrics` are what the store must never reach.
    let allowed: BTreeSet<String> = ["domain", "error", "config"].map(String::from).into();
    assert!(store.is_subset(&allowed), "store/ imports {store:?}");
}

#[test]
fn the_time_of_day_is_read_only_in_the_clock_module() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut found = Vec::new();
    for file in files {
        if file.ends_with("clock.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        for line in code(&text).lines() {
            if WALL_CLOCK_READS.iter().any(|read| line.contains(read)) {
                found.push(format!("{}: {}", file.display(), line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "clock reads outside clock.rs:\n{}",
        found.join("\n")
    );
}

/// The checks find what they are for.
#[test]
fn the_checks_see_a_cycle_a_reference_and_a_clock_read() {
    let refs = crate_references(
        "use crate::{store::Store, error::ServerError};\nlet c = crate::Config::default();",
    );
    let expected: BTreeSet<String> = ["store", "error", "config"].map(String::from).into();
    assert_eq!(refs, expected);
    assert!(crate_references(&code("// see crate::store\nfn f() {}")).is_empty());
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.insert("domain".into(), ["store".to_string()].into());
    graph.insert("store".into(), ["domain".to_string()].into());
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["domain".into(), "store".into(), "domain".into()])
    );
    let gated = "#[cfg(test)]\nmod testing;\nuse crate::store::X;\n#[cfg(test)]\nmod tests {\n    use crate::api::Y;\n}\n";
    let expected: BTreeSet<String> = ["store".to_string()].into();
    assert_eq!(crate_references(&code(gated)), expected);
    let read = "let t = std::time::SystemTime::now();";
    assert!(WALL_CLOCK_READS.iter().any(|r| code(read).contains(r)));
}
