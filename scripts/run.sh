#!/usr/bin/env bash
# The main job: installs what is missing, builds, and starts vouch-server on the embedded
# default store (a data folder with a fresh CA on loopback, unless one exists), then prints a
# supervisor invite for the app (vouch-field register --invite ...). Ctrl-C stops the server.
#
# Environment: VOUCH_DATA (default ./vouch-data), VOUCH_LISTEN (default 127.0.0.1:8443).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${VOUCH_DATA:-$PWD/vouch-data}"
LISTEN="${VOUCH_LISTEN:-127.0.0.1:8443}"
log() { printf '\033[1;34m[vouch]\033[0m %s\n' "$*"; }

scripts/setup.sh base
log "building (release)"
cargo build --locked --release -p vouch-server -p vouch-device
BIN="$PWD/target/release"

if [ ! -f "$DATA/ca/ca.pem" ]; then
  log "initialising $DATA (new CA, server certificate, operator credential)"
  "$BIN/vouch-server" --data "$DATA" init --hostname localhost
fi

rm -f "$DATA/server.addr"
"$BIN/vouch-server" --data "$DATA" serve --listen "$LISTEN" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do [ -s "$DATA/server.addr" ] && break; sleep 0.1; done
[ -s "$DATA/server.addr" ] || { echo "vouch-server did not start" >&2; exit 1; }

log "vouch-server is listening on https://$(cat "$DATA/server.addr") (data: $DATA)"
log "a one-time supervisor invite (scan it with the app, or: vouch-field register --invite '...'):"
"$BIN/vouch-server" --data "$DATA" invite --role supervisor --name "First supervisor"
log "try a device: $BIN/vouch-device keygen --dir /tmp/dev1 --model DEMO --serial SN-0001"
log "Ctrl-C stops the server."
wait $SERVER
