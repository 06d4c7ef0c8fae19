#!/usr/bin/env bash
# plpgsql_check for the function editor's lint gate, from Debian packages (finds unknown columns and wrong types
# that PostgreSQL itself reports only when a function runs). Optional: without it the gate uses our own checks.
set -euo pipefail
pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
major="$(basename "$(dirname "$pgbin")")"
if [ -f "/usr/share/postgresql/$major/extension/plpgsql_check.control" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing postgresql-$major-plpgsql-check from Debian packages…"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$major-plpgsql-check" >/dev/null
else
  echo "note: plpgsql_check is missing; the function lint uses its own checks only (apt-get install postgresql-$major-plpgsql-check)"
fi
