#!/usr/bin/env bash
# Start (creating on first use) a project-local PostgreSQL under var/pg and print its DATABASE_URL.
# Used by `make run` when DATABASE_URL is unset. As root, the server runs as an unprivileged OS user.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
pgbin="$here/scripts/pgbin"
data="$here/var/pg/data"
port="${LOCAL_PG_PORT:-55432}"
log="$here/var/pg/server.log"
mkdir -p "$here/var/pg"
chmod 755 "$here/var" "$here/var/pg" 2>/dev/null || true

if [ ! -f "$data/PG_VERSION" ]; then
  echo "creating a local PostgreSQL cluster in var/pg (first run only)…" >&2
  "$pgbin/initdb" -D "$data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
  cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
fsync = off
max_connections = 200
track_functions = pl
CONF
fi
if ! "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  touch "$log"; [ "$(id -u)" = "0" ] && chown "${PG_OS_USER:-postgres}" "$log"
  "$pgbin/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null
fi
bindir="$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
if ! "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname='mospay'" postgres | grep -q 1; then
  "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres mospay
fi
echo "postgresql://postgres@127.0.0.1:$port/mospay"
