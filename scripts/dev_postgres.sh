#!/usr/bin/env bash
# Start (creating on first use) the project-local PostgreSQL and print its DATABASE_URL on stdout.
# Used by `make run` when DATABASE_URL is unset. It listens on a Unix socket only (no TCP port to clash on), keeps
# fsync on and asks for a scram-sha-256 password (kept in <cluster>/password, mode 600). Where it lives: see
# scripts/local_pg_paths.sh. As root, the server runs as an unprivileged OS user (PG_OS_USER, default postgres).
set -euo pipefail
source "$(dirname "$0")/local_pg_paths.sh"
pgbin="$here/scripts/pgbin"

fail() {  # what went wrong, the end of the server log, and what to do
  echo "local PostgreSQL: $1" >&2
  if [ -s "$log" ]; then
    echo "--- last lines of $log ---" >&2
    tail -n 15 "$log" >&2
    echo "---" >&2
  fi
  cat >&2 <<HINT
What to do:
  - read the whole log: $log
  - stop a server left running for this checkout: make stop-db
  - start afresh (deletes the local demo data): make reset-db
  - or use your own PostgreSQL: DATABASE_URL=postgresql://user:pass@host/db make run
HINT
  exit 1
}

own() { [ "$(id -u)" = "0" ] && chown "$pg_user" "$@"; return 0; }

mkdir -p "$pg_dir"
[ "$pg_dir" = "$here/var/pg" ] && chmod 755 "$here/var" "$pg_dir"
case "$pg_dir" in /var/lib/mospay-dev/*) chmod 755 /var/lib/mospay-dev ;; esac   # root's fallback (see paths)
pwfile="$pg_dir/password"

if [ ! -f "$data/PG_VERSION" ]; then
  echo "creating a local PostgreSQL cluster in $pg_dir (first run only)…" >&2
  (umask 077; head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$pwfile")
  initpw="$pg_dir/.initdb-pw"   # readable by the server's user only for the duration of initdb
  (umask 077; cp "$pwfile" "$initpw"); own "$initpw"
  if ! out="$("$pgbin/initdb" -D "$data" -U postgres --auth=scram-sha-256 --pwfile="$initpw" -E UTF8 2>&1)"; then
    rm -f "$initpw"
    echo "$out" | tail -n 15 >&2
    fail "initdb failed (output above) in $data"
  fi
  rm -f "$initpw"
  echo "include_if_exists = 'mospay_run.conf'   # written by scripts/dev_postgres.sh at every start" >>"$data/postgresql.conf"
elif ! grep -q "^include_if_exists = 'mospay_run.conf'" "$data/postgresql.conf"; then
  # A cluster made by an older version (TCP port in postgresql.conf): the include, appended last, overrides it.
  echo "include_if_exists = 'mospay_run.conf'   # written by scripts/dev_postgres.sh at every start" >>"$data/postgresql.conf"
fi

# The socket directory: project-local, or a short private one in /tmp (checked: ours, not a symlink).
if [ -L "$sock" ]; then fail "socket directory $sock is a symlink; remove it"; fi
mkdir -p -m 700 "$sock"
own "$sock"
if [ "$(stat -c %U "$sock")" != "$pg_user" ]; then fail "socket directory $sock belongs to $(stat -c %U "$sock"), not $pg_user"; fi

# Settings applied at every start, so moving the checkout or changing them never needs a new cluster.
cat >"$data/mospay_run.conf" <<CONF
# Written by scripts/dev_postgres.sh at every start; edits here are overwritten.
listen_addresses = ''
unix_socket_directories = '${sock//\'/\'\'}'
port = 5432
fsync = on
max_connections = 200
track_functions = pl
CONF
own "$data/mospay_run.conf"

if ! "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  touch "$log"; own "$log"
  "$pgbin/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null 2>&1 || fail "the server did not start"
fi

password=""
if [ -s "$pwfile" ]; then
  password="$(cat "$pwfile")"
else
  echo "note: $pg_dir was created by an older version (no password, trust auth); remove it for a scram-protected one" >&2
fi
bindir="$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
export PGPASSWORD="$password"
exists="$("$bindir/psql" -h "$sock" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname='mospay'" postgres 2>&1)" ||
  fail "cannot connect through $sock: $exists"
if [ "$exists" != "1" ]; then
  "$bindir/createdb" -h "$sock" -U postgres mospay || fail "createdb mospay failed"
fi
host="$(python3 -c 'import sys, urllib.parse as u; print(u.quote(sys.argv[1], safe="/"))' "$sock")"
echo "postgresql://postgres${password:+:$password}@/mospay?host=$host"
