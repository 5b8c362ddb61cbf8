//! Writes the test vectors to `crates/protocol/tests/vectors/`.
//!
//! Run: `cargo run -p vouch-protocol --example gen_vectors`. The test `tests/vectors.rs` fails
//! if the files differ from what this produces, so regenerate (and review the diff) whenever the
//! protocol changes on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/vectors.rs"]
mod vectors;

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    std::fs::create_dir_all(&dir)?;
    for (name, value) in vectors::all() {
        let path = dir.join(name);
        std::fs::write(&path, vectors::render(&value))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
