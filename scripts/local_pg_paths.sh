# Sourced by dev_postgres.sh and stop_postgres.sh: where the project-local PostgreSQL lives.
# Sets: here, pg_user (OS user the server runs as), pg_dir (cluster home), data, sock (socket directory), log.
# The server listens on a Unix socket only (listen_addresses = ''), so two checkouts can never clash on a port.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
key="$(printf '%s' "$here" | sha256sum | cut -c1-12)"   # stable per checkout path
pg_user="$(id -un)"
[ "$(id -u)" = "0" ] && pg_user="${PG_OS_USER:-postgres}"   # initdb/postgres refuse to run as root

# As root, the server's user must be able to reach the data directory. A checkout under a mode-700 home is out of
# its reach, so the cluster then lives in /var/lib/mospay-dev/<hash of the checkout path> instead (persistent,
# root-owned parent). Nothing of the user's home is re-permissioned.
_pg_reachable() {
  id "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
  setpriv --reuid="$pg_user" --regid="$(id -g "$pg_user")" --clear-groups test -x "$here" 2>/dev/null
}
if [ -n "${LOCAL_PG_DIR:-}" ]; then
  pg_dir="$LOCAL_PG_DIR"
elif [ "$(id -u)" = "0" ] && ! _pg_reachable; then
  pg_dir="/var/lib/mospay-dev/$key"
else
  pg_dir="$here/var/pg"
fi
data="$pg_dir/data"
log="$pg_dir/server.log"

# A Unix socket path must fit in 107 bytes (sun_path); a deep checkout falls back to a short private dir in /tmp.
sock="$pg_dir/run"
LOCAL_PG_SOCKET_NAME="/.s.PGSQL.5432"
if [ $(( ${#sock} + ${#LOCAL_PG_SOCKET_NAME} )) -gt 107 ]; then
  sock="/tmp/mospay-pg-$(id -u)-$(printf '%s' "$pg_dir" | sha256sum | cut -c1-12)"   # one per cluster
fi
cd /   # the server user may not be able to enter the caller's directory (every path here is absolute)
