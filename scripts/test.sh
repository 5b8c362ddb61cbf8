#!/usr/bin/env bash
# Runs every check and test of the workspace, installing what is missing first.
# This is the README's test command, and what CI (.ci/run) calls.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }

# A full run from scratch builds about 7 GB into the target folder (7.0 GB measured); say so up
# front rather than fail later with "No space left on device".
warn_if_disk_is_short() {
  local target_dir="${CARGO_TARGET_DIR:-target}" free_kb
  mkdir -p "$target_dir"
  # Only a warning: if df cannot tell, say nothing and go on.
  free_kb="$(df -Pk "$target_dir" 2>/dev/null | awk 'NR == 2 { print $4 }')" || return 0
  [[ $free_kb =~ ^[0-9]+$ ]] || return 0
  if [ "$free_kb" -lt $((10 * 1024 * 1024)) ]; then
    printf 'warning: only %s GB free for %s; a full run from scratch needs about 7 GB, and more to spare\n' \
      "$((free_kb / 1024 / 1024))" "$target_dir" >&2
  fi
}
warn_if_disk_is_short

step "setup (installs only what is missing)"
scripts/setup.sh base

step "the install itself: setup.sh base from a bare Python installs the linters (scripts/check-setup.sh)"
scripts/check-setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (workspace, all targets, warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "protocol core builds for wasm32-unknown-unknown (no_std + alloc)"
cargo build --locked -p vouch-protocol --no-default-features --target wasm32-unknown-unknown

step "protocol core, scanner, device agent, field engine and app check for aarch64-linux-android (no NDK needed)"
# ring's C code is built freestanding with Debian's clang; RING_CORE_NOSTDLIBINC is ring's own
# switch for cross builds without a C library's headers.
android_check() {
  local resource_dir
  resource_dir="$(clang -print-resource-dir)"
  CC_aarch64_linux_android=clang AR_aarch64_linux_android=llvm-ar \
  CFLAGS_aarch64_linux_android="--target=aarch64-linux-android24 -ffreestanding -nostdlibinc -isystem $resource_dir/include -DRING_CORE_NOSTDLIBINC=1" \
    cargo check --locked --target aarch64-linux-android "$@"
}
android_check -p vouch-protocol -p vouch-scan -p vouch-support -p vouch-device -p vouch-field -p vouch-app

step "fuzz targets build (their own workspace; cargo check on stable, so they cannot rot)"
if ! cargo check --locked --manifest-path fuzz/Cargo.toml --bins; then
  echo "fuzz/: if the lock file is stale (a dependency of the protocol core or the scanner changed)," >&2
  echo "refresh it from the root lock: cp Cargo.lock fuzz/Cargo.lock && (cd fuzz && cargo metadata >/dev/null)" >&2
  exit 1
fi

step "tests"
cargo test --locked --workspace

step "app: setup (trunk, wasm-bindgen, tauri-driver; installs only what is missing)"
scripts/setup.sh app

step "app: build the UI (trunk), the app, the server and the device agent"
(cd ui && trunk build --offline=true)
cargo build --locked -p vouch-app --features tauri/custom-protocol
cargo build --locked -p vouch-server -p vouch-device

step "app: end-to-end tests in a real window (Xvfb, tauri-driver, WebKitWebDriver, vouch-server)"
# Screenshots of each screen go to target/screenshots/ (the current ones are in docs/screenshots/).
VOUCH_E2E=1 xvfb-run -a -s "-screen 0 1280x900x24" \
  cargo test --locked -p vouch-e2e -- --test-threads=1

step "all checks passed"
