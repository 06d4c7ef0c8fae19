#!/usr/bin/env bash
# Stop the project-local PostgreSQL started by dev_postgres.sh (if running).
set -euo pipefail
source "$(dirname "$0")/local_pg_paths.sh"
[ -f "$data/PG_VERSION" ] || exit 0
"$here/scripts/pgbin/pg_ctl" -D "$data" -m fast stop || true
case "$sock" in /tmp/mospay-pg-*) rmdir "$sock" 2>/dev/null || true ;; esac   # the short fallback socket dir
