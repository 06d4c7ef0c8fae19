#!/usr/bin/env bash
# Container start: migrate (retrying while PostgreSQL starts), then run the given command.
set -euo pipefail
if [ "${SKIP_MIGRATE:-0}" != "1" ]; then
  for attempt in $(seq 1 30); do
    if flask --app app migrate; then break; fi
    if [ "$attempt" = 30 ]; then echo "migrations failed 30 times; giving up" >&2; exit 1; fi
    echo "database not ready; retrying in 2 s ($attempt/30)" >&2
    sleep 2
  done
fi
exec "$@"
