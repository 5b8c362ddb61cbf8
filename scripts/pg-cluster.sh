#!/usr/bin/env bash
# A throwaway PostgreSQL cluster in a folder, for tests, benchmarks and trying the server out.
# Usage:
#   scripts/pg-cluster.sh start DIR   initdb in DIR/data (DIR is made if missing), start it on a
#                                     Unix socket in DIR (no TCP), print the connection URL
#   scripts/pg-cluster.sh url DIR     print the URL again
#   scripts/pg-cluster.sh createdb DIR NAME   make another database, print its URL
#   scripts/pg-cluster.sh stop DIR    stop it (fast shutdown), keep the folder
#   scripts/pg-cluster.sh crash DIR   stop it as a crash would (immediate: no checkpoint, WAL not
#                                     yet flushed is lost), keep the folder
#   scripts/pg-cluster.sh restart DIR start a stopped cluster again on the same folder
#   scripts/pg-cluster.sh remove DIR  stop it if running and delete DIR
# With VOUCH_PG_OWNER_PID set at start, a watchdog removes the cluster once that process has
# ended, so a test that crashes or is killed leaves no PostgreSQL behind.
# Run as root, the cluster runs as the unprivileged user $VOUCH_PG_USER (default postgres, made
# by Debian's postgresql package), because PostgreSQL refuses to run as root. The database user
# is `vouch`, trusted on the socket only (the folder is mode 0700 to everyone but its owner and
# the caller). Programs: initdb, pg_ctl, postgres (scripts/setup.sh installs them).
set -euo pipefail
cmd="${1:-}"; dir="${2:-}"
usage() { echo "usage: scripts/pg-cluster.sh start|url|createdb|stop|crash|restart|remove DIR [NAME]" >&2; exit 2; }
[ -n "$cmd" ] && [ -n "$dir" ] || usage
case "$dir" in /*) ;; *) dir="$PWD/$dir";; esac
user="${VOUCH_PG_USER:-postgres}"

# The server binaries: on PATH (scripts/setup.sh links them), else Debian's newest version.
bindir() {
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  local newest; newest="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  [ -n "$newest" ] || { echo "pg-cluster: initdb not found: run scripts/setup.sh" >&2; exit 1; }
  echo "$newest"
}
BIN="$(bindir)"

# Runs a command as the cluster's owner (root hands it to $user; anyone else is the owner).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

url() { # [database]
  # The socket folder is the host; the database is `vouch`, made at start, unless named.
  echo "postgres://vouch@localhost/${1:-vouch}?host=$dir"
}

start_server() {
  # No TCP at all: the Unix socket in DIR is the only way in. fsync stays on (the default), so
  # durability is what production gets.
  as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -c listen_addresses='' -c max_connections=200" start >/dev/null
}

case "$cmd" in
  start)
    [ ! -e "$dir/data" ] || { echo "pg-cluster: $dir/data exists already" >&2; exit 1; }
    mkdir -p "$dir"
    chmod 0700 "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown "$user" "$dir"; fi
    as_owner "$BIN/initdb" -D "$dir/data" -A trust -U vouch -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    start_server
    as_owner "$BIN/createdb" -h "$dir" -U vouch vouch
    if [ -n "${VOUCH_PG_OWNER_PID:-}" ]; then
      owner="$VOUCH_PG_OWNER_PID"
      setsid bash -c 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; exec "$1" remove "$2"' \
        "$owner" "$(readlink -f "$0")" "$dir" </dev/null >/dev/null 2>&1 &
    fi
    url
    ;;
  url) url ;;
  createdb)
    name="${3:-}"
    case "$name" in ''|*[!a-z0-9_]*) echo "pg-cluster: database names are [a-z0-9_]+" >&2; exit 2;; esac
    as_owner "$BIN/createdb" -h "$dir" -U vouch "$name"
    url "$name"
    ;;
  stop) as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null ;;
  crash) as_owner "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null ;;
  restart) start_server ;;
  remove)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) usage ;;
esac
