#!/usr/bin/env bash
# Installs what Vouch needs on a Debian 12 machine and skips what is already there.
# Usage: scripts/setup.sh [base|app]
#   base: Debian packages, Rust targets, the Python tools in the project venv (enough to build
#         and test the Rust workspace)
#   app:  base plus trunk, wasm-bindgen-cli, tauri-driver and the npm Tauri CLI
# It ends by checking that every program in scripts/tools.list for the profile is found, and
# fails naming what is missing.
#
# The Python tools (scripts/python-tools.txt) go into a venv of the project's own: $VOUCH_VENV,
# default .venv at the repository root. The tests look there first (vouch_testkit::external_tool),
# so nothing needs to be on PATH and nothing is installed into the system's Python.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-base}"
case "$profile" in base|app) ;; *) echo "usage: scripts/setup.sh [base|app] (got '$profile')" >&2; exit 2;; esac
VENV="${VOUCH_VENV:-$PWD/.venv}"
# The list of programs to check (scripts/check-setup.sh points it at a copy with one more).
TOOLS_LIST="${VOUCH_TOOLS_LIST:-scripts/tools.list}"
log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  build-essential pkg-config curl wget file libssl-dev
  # the project venv for the Python tools (Debian's python3 needs python3-venv for `-m venv`)
  python3 python3-venv
  # openssl verify in the conformance tests; prlimit (util-linux) for the descriptor-limit tests
  openssl util-linux
  libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev
  libclang-dev clang llvm
  xvfb xauth webkit2gtk-driver xdotool imagemagick
  # crates/field/tests/durability.rs traces the fsync before a scan is confirmed
  strace
  # server/tests/hsm.rs: SoftHSM2 is the PKCS#11 token the CA key lives in, made by each test;
  # opensc's pkcs11-tool reads the key's attributes back from it
  softhsm2 opensc
  # the PostgreSQL store: server/tests/postgres.rs and the conformance suite start a throwaway
  # cluster with scripts/pg-cluster.sh (initdb, pg_ctl, createdb; psql reads the tables back)
  postgresql postgresql-client
  # server/tests/est.rs: strongSwan's `pki` is the independent EST client (RFC 7030); curl the
  # raw one for csrattrs and the refusals; pki's P-256 and TLS come from the openssl plugin of
  # libstrongswan-standard-plugins (a recommendation of strongswan-pki, which setup does not
  # install by itself)
  strongswan-pki libstrongswan-standard-plugins
)

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then log "Debian packages: all present"; return; fi
  log "Debian packages: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Debian keeps the PostgreSQL server programs in /usr/lib/postgresql/<version>/bin, off PATH;
# scripts/pg-cluster.sh and the tests find them on PATH, so the newest version's are linked into
# /usr/local/bin (only those not already on PATH).
link_postgres() {
  local bindir
  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  if [ -z "$bindir" ]; then echo "[setup] postgresql is installed but has no server programs" >&2; exit 1; fi
  for p in initdb pg_ctl postgres createdb; do
    if command -v "$p" >/dev/null 2>&1; then continue; fi
    log "linking $bindir/$p into /usr/local/bin"
    $SUDO ln -sf "$bindir/$p" "/usr/local/bin/$p"
  done
}

install_pip() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "Python tools: making the venv $VENV"
    python3 -m venv "$VENV"
  fi
  # Every version is pinned in the file; pip only downloads what the venv lacks.
  if "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-virtualenv \
      --no-deps -r scripts/python-tools.txt; then
    "$VENV/bin/python" -m pip check >/dev/null || { echo "[setup] the Python tools in $VENV are inconsistent:" >&2; "$VENV/bin/python" -m pip check >&2; exit 1; }
    log "Python tools: present in $VENV"
  else
    echo "[setup] installing the Python tools into $VENV failed" >&2
    exit 1
  fi
}

install_targets() {
  local installed
  installed="$(rustup target list --installed)"
  for t in wasm32-unknown-unknown aarch64-linux-android; do
    if grep -qx "$t" <<<"$installed"; then log "rust target $t: present"; else rustup target add "$t"; fi
  done
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
}

cargo_tool() { # name version [extra cargo install args]
  local bin="$1" version="$2"; shift 2
  local crate="$1"; [ "$crate" = wasm-bindgen ] && crate=wasm-bindgen-cli
  if command -v "$bin" >/dev/null 2>&1 && cargo install --list | grep -qx "$crate v$version:"; then
    log "$bin $version: present"; return
  fi
  log "installing $bin $version"
  cargo install "$@"
}

wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock
}

install_app_tools() {
  cargo_tool trunk 0.21.14 trunk --version 0.21.14 --locked
  local wbv; wbv="$(wasm_bindgen_version)"
  if [ -n "$wbv" ]; then
    # The crate's own lockfile pins a webpki-roots the registry lacks, so it is installed unlocked
    # at the exact version the workspace lockfile uses (trunk then finds it on PATH, no download).
    cargo_tool wasm-bindgen "$wbv" wasm-bindgen-cli --version "$wbv"
  fi
  cargo_tool tauri-driver 2.1.0 tauri-driver --version 2.1.0 --locked
  if [ -f package.json ]; then
    if [ -x node_modules/.bin/tauri ]; then log "npm Tauri CLI: present"; else npm ci --no-audit --no-fund; fi
  fi
}

# Every program the profile's tests and scripts run (scripts/tools.list) must now be found.
check_tools() {
  local missing=() tool_profile name
  while read -r tool_profile name _; do
    case "$tool_profile" in ''|'#'*) continue;; esac
    if [ "$tool_profile" = app ] && [ "$profile" != app ]; then continue; fi
    if [ -x "$VENV/bin/$name" ] || command -v "$name" >/dev/null 2>&1; then continue; fi
    missing+=("$name")
  done <"$TOOLS_LIST"
  if [ "${#missing[@]}" -ne 0 ]; then
    echo "[setup] missing after setup ($profile): ${missing[*]} (see $TOOLS_LIST)" >&2
    exit 1
  fi
  log "every program in $TOOLS_LIST for '$profile' is found"
}

install_apt
link_postgres
install_pip
install_targets
if [ "$profile" = "app" ]; then install_app_tools; fi
check_tools
log "done ($profile)"
