#!/usr/bin/env bash
# Stop the project-local PostgreSQL started by dev_postgres.sh (if running). With --remove, also delete it
# (`make reset-db`, `make clean`): the next `make run` creates a new one.
set -euo pipefail
source "$(dirname "$0")/local_pg_paths.sh"
if [ -f "$data/PG_VERSION" ]; then
  "$here/scripts/pgbin/pg_ctl" -D "$data" -m fast stop || true
fi
case "$sock" in /tmp/mospay-pg-*) rmdir "$sock" 2>/dev/null || true ;; esac   # the short fallback socket dir
if [ "${1:-}" = "--remove" ] && [ -d "$pg_dir" ]; then
  rm -rf "$pg_dir"
  echo "removed the local PostgreSQL in $pg_dir"
fi
