#!/usr/bin/env bash
# Makes a fresh clone runnable: installs npm dependencies when package-lock.json changed since the last
# install, installs the system tools the tests drive (kcat, the Python clients, iptables, docker.io, chromium) when they
# are missing, and builds dist/.
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

# Debian packages the interop tests drive: kcat, and the Python clients run with Debian's own python3.
missing=()
if [ "$want_test_tools" = 1 ]; then
  command -v kcat >/dev/null 2>&1 || missing+=(kcat)
  /usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || missing+=(python3-kafka)
  /usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || missing+=(python3-confluent-kafka)
  # Network partitions (iptables), the Docker backend (docker.io), the HTML report's browser test (chromium).
  command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing+=(iptables)
  command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
  command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "prepare: installing ${missing[*]} (apt-get install)" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
  else
    echo "prepare: ${missing[*]} missing and cannot be installed here (not root or no apt-get)." >&2
    echo "prepare: install them (Debian: apt-get install ${missing[*]}); the interop tests that use them will fail without." >&2
  fi
fi

node_modules/.bin/tsc -p tsconfig.json
