#!/usr/bin/env bash
# Headless Chromium for the portal's browser tests, from Debian packages (Playwright drives it).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver from Debian packages…"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
  echo "note: /usr/bin/chromium is missing; browser tests will be skipped (apt-get install chromium chromium-driver)"
fi
