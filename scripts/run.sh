#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts vouch-server on the embedded default
# store (a data folder with a fresh CA on loopback, unless one exists), and opens the Vouch app
# already joined to it as a supervisor (on first run the app redeems a supervisor invite made
# here), so a label can be scanned or a photo imported at once. Ctrl-C stops the server and the
# app.
#
# Environment: VOUCH_DATA (default ./vouch-data), VOUCH_LISTEN (default 127.0.0.1:8443),
# VOUCH_APP_DATA (the app's data folder, default $VOUCH_DATA/app), VOUCH_NO_APP=1 (server only).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${VOUCH_DATA:-$PWD/vouch-data}"
LISTEN="${VOUCH_LISTEN:-127.0.0.1:8443}"
APP_DATA="${VOUCH_APP_DATA:-$DATA/app}"
log() { printf '\033[1;34m[vouch]\033[0m %s\n' "$*"; }

WITH_APP=1
[ "${VOUCH_NO_APP:-0}" = "1" ] && WITH_APP=0

if [ "$WITH_APP" = 1 ]; then scripts/setup.sh app; else scripts/setup.sh base; fi
log "building the server and the device agent (release)"
cargo build --locked --release -p vouch-server -p vouch-device
if [ "$WITH_APP" = 1 ]; then
  log "building the app: the UI (trunk, release) and the Tauri shell (release)"
  (cd ui && trunk build --release --offline=true)
  cargo build --locked --release -p vouch-app --features tauri/custom-protocol
fi
BIN="$PWD/target/release"

if [ ! -f "$DATA/ca/ca.pem" ]; then
  log "initialising $DATA (new CA, server certificate, operator credential)"
  "$BIN/vouch-server" --data "$DATA" init --hostname localhost
fi

rm -f "$DATA/server.addr"
"$BIN/vouch-server" --data "$DATA" serve --listen "$LISTEN" &
SERVER=$!
APP=""
cleanup() {
  trap - EXIT
  if [ -n "$APP" ]; then kill -TERM "$APP" 2>/dev/null || true; fi
  kill -TERM "$SERVER" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 100); do [ -s "$DATA/server.addr" ] && break; sleep 0.1; done
[ -s "$DATA/server.addr" ] || { echo "vouch-server did not start" >&2; exit 1; }
log "vouch-server is listening on https://$(cat "$DATA/server.addr") (data: $DATA)"

invite() { # role name
  "$BIN/vouch-server" --data "$DATA" invite --role "$1" --name "$2" --json \
    | sed -n 's/.*"invite": *"\([^"]*\)".*/\1/p'
}

if [ "$WITH_APP" = 1 ]; then
  ARGS=(--data "$APP_DATA")
  if [ -f "$APP_DATA/identity/identity.json" ]; then
    log "the app in $APP_DATA is already joined"
  else
    ARGS+=(--invite "$(invite supervisor "First supervisor")")
    log "the app joins as \"First supervisor\" on its first start"
  fi
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    "$BIN/vouch-app" "${ARGS[@]}" &
    APP=$!
    log "the Vouch app is open (data: $APP_DATA)"
  else
    log "no display: start the app on a desktop with: $BIN/vouch-app ${ARGS[*]}"
  fi
else
  log "a one-time supervisor invite (paste it into the app, or: vouch-field register --invite '...'):"
  "$BIN/vouch-server" --data "$DATA" invite --role supervisor --name "First supervisor"
fi
log "more staff: $BIN/vouch-server --data $DATA invite --role technician --name NAME"
log "a device to scan: $BIN/vouch-device keygen --dir /tmp/dev1 --model DEMO --serial SN-0001 &&"
log "                  $BIN/vouch-device label --dir /tmp/dev1 --png /tmp/dev1.png   (import it in the app)"
log "Ctrl-C stops the server$( [ -n "$APP" ] && echo " and the app")."
wait "$SERVER"
