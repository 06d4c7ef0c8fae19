#!/usr/bin/env bash
# Stop the project-local PostgreSQL started by dev_postgres.sh (if running).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
[ -f "$here/var/pg/data/PG_VERSION" ] || exit 0
"$here/scripts/pgbin/pg_ctl" -D "$here/var/pg/data" -m fast stop || true
