#!/usr/bin/env bash
# wrk, the HTTP load generator `make bench` drives the gateway with, from Debian packages.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing wrk from Debian packages…"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
else
  echo "wrk is missing: install it (Debian/Ubuntu: apt-get install wrk) and run make bench again" >&2
  exit 1
fi
