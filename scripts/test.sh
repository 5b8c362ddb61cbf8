#!/usr/bin/env bash
# Runs every check and test of the workspace, installing what is missing first.
# This is the README's test command, and what CI (.ci/run) calls.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }

step "setup (installs only what is missing)"
scripts/setup.sh base

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (workspace, all targets, warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "protocol core builds for wasm32-unknown-unknown (no_std + alloc)"
cargo build --locked -p vouch-protocol --no-default-features --target wasm32-unknown-unknown

step "protocol core checks for aarch64-linux-android"
cargo check --locked -p vouch-protocol --target aarch64-linux-android

step "tests"
cargo test --locked --workspace

step "all checks passed"
