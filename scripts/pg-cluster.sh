#!/usr/bin/env bash
# A throwaway PostgreSQL cluster in a folder, for tests, benchmarks and trying the server out.
# Usage:
#   scripts/pg-cluster.sh start DIR   initdb in DIR/data (DIR is made if missing), start it on a
#                                     Unix socket in DIR (no TCP), print the connection URL
#   scripts/pg-cluster.sh start-tcp DIR PORT [CERT KEY]
#                                     the same, and also listening on 127.0.0.1:PORT, where the
#                                     user `vouch` logs in with a password (SCRAM; the URL
#                                     carries it). With CERT and KEY (PEM files, copied into
#                                     DIR): ssl=on with them, and TCP clients must use TLS
#                                     (pg_hba: hostssl only); without: plain TCP, no TLS offered
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
# the caller); on TCP (start-tcp) it needs its password, made at random and kept in DIR.
# Programs: initdb, pg_ctl, postgres (scripts/setup.sh installs them), and coreutils.
set -euo pipefail
cmd="${1:-}"; dir="${2:-}"
usage() { echo "usage: scripts/pg-cluster.sh start|start-tcp|url|createdb|stop|crash|restart|remove DIR [NAME | PORT [CERT KEY]]" >&2; exit 2; }
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

# The socket's port (its file is named after it): the TCP port of a start-tcp cluster.
socket_port() {
  if [ -f "$dir/port" ]; then cat "$dir/port"; else echo 5432; fi
}

url() { # [database]
  # The socket folder is the host; the database is `vouch`, made at start, unless named. A
  # cluster on TCP is reached on 127.0.0.1 under the name localhost (what TLS checks).
  if [ -f "$dir/port" ]; then
    echo "postgres://vouch:$(cat "$dir/password")@localhost:$(cat "$dir/port")/${1:-vouch}?hostaddr=127.0.0.1"
  else
    # No host before the path: `host` is then the only host. Beside one (`vouch@localhost/`),
    # the driver would try TCP localhost:5432 first and the socket only after it.
    echo "postgres://vouch@/${1:-vouch}?host=$dir"
  fi
}

start_server() {
  # The Unix socket in DIR, and TCP on loopback only for a cluster started by start-tcp (its
  # TLS settings are in its postgresql.conf). fsync stays on (the default), so durability is
  # what production gets.
  local listen="''"
  if [ -f "$dir/port" ]; then listen="127.0.0.1 -p $(cat "$dir/port")"; fi
  as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -c listen_addresses=$listen -c max_connections=200" start >/dev/null
}

# start-tcp's set-up, between initdb and the first start: the port, the password, pg_hba, TLS.
setup_tcp() { # PORT [CERT KEY]
  local port="$1" cert="${2:-}" key="${3:-}"
  case "$port" in ''|*[!0-9]*) echo "pg-cluster: PORT must be a number" >&2; exit 2;; esac
  echo "$port" >"$dir/port"
  # The socket stays trusted (this script's own createdb); TCP needs the password, and with TLS
  # only hostssl lines exist, so a plain TCP client is refused by the server itself.
  local kind=host
  if [ -n "$cert" ]; then kind=hostssl; fi
  printf 'local all all trust\n%s all all 127.0.0.1/32 scram-sha-256\n' "$kind" >"$dir/data/pg_hba.conf"
  if [ -n "$cert" ]; then
    [ -n "$key" ] || usage
    # PostgreSQL refuses a key file that others may read, or that another user owns.
    cp "$cert" "$dir/server.crt"; cp "$key" "$dir/server.key"
    chmod 0600 "$dir/server.crt" "$dir/server.key"
    if [ "$(id -u)" -eq 0 ]; then chown "$user" "$dir/server.crt" "$dir/server.key"; fi
    printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" \
      "$dir/server.crt" "$dir/server.key" >>"$dir/data/postgresql.conf"
  fi
}

case "$cmd" in
  start|start-tcp)
    [ ! -e "$dir/data" ] || { echo "pg-cluster: $dir/data exists already" >&2; exit 1; }
    if [ "$cmd" = start-tcp ] && [ -z "${3:-}" ]; then usage; fi
    mkdir -p "$dir"
    chmod 0700 "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown "$user" "$dir"; fi
    pwfile=()
    if [ "$cmd" = start-tcp ]; then
      # A random password, in hex so that it needs no escaping in the URL.
      (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$dir/password")
      if [ "$(id -u)" -eq 0 ]; then chown "$user" "$dir/password"; fi
      pwfile=(--pwfile "$dir/password")
    fi
    as_owner "$BIN/initdb" -D "$dir/data" -A trust -U vouch "${pwfile[@]}" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    if [ "$cmd" = start-tcp ]; then setup_tcp "$3" "${4:-}" "${5:-}"; fi
    # The watchdog starts before the server, so that a start that fails half-way (after
    # pg_ctl, say) leaves no PostgreSQL behind either.
    if [ -n "${VOUCH_PG_OWNER_PID:-}" ]; then
      owner="$VOUCH_PG_OWNER_PID"
      setsid bash -c 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; exec "$1" remove "$2"' \
        "$owner" "$(readlink -f "$0")" "$dir" </dev/null >/dev/null 2>&1 &
    fi
    start_server
    as_owner "$BIN/createdb" -h "$dir" -p "$(socket_port)" -U vouch vouch
    url
    ;;
  url) url ;;
  createdb)
    name="${3:-}"
    case "$name" in ''|*[!a-z0-9_]*) echo "pg-cluster: database names are [a-z0-9_]+" >&2; exit 2;; esac
    as_owner "$BIN/createdb" -h "$dir" -p "$(socket_port)" -U vouch "$name"
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
