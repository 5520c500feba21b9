#!/usr/bin/env bash
# Makes a fresh clone runnable: installs npm dependencies when package-lock.json changed since the last
# install, installs the system tools the tests drive (kcat) when they are missing, and builds dist/.
# Runs before `npm start`, `npm test` and `npm run bench`; cheap when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test_tools=0
[ "${1:-}" = "--test" ] && want_test_tools=1

stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "prepare: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "$want_test_tools" = 1 ] && ! command -v kcat >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "prepare: installing kcat (apt-get install kcat)" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null 2>&1; then
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null
    fi
  else
    echo "prepare: kcat is missing and cannot be installed here (not root or no apt-get)." >&2
    echo "prepare: install it (Debian: apt-get install kcat); the kcat interop tests will fail without it." >&2
  fi
fi

node_modules/.bin/tsc -p tsconfig.json
