#!/usr/bin/env bash
# Installs what the test suite needs from Debian packages when it is missing, so a fresh
# machine needs nothing by hand. Each check is cheap when the thing is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -f /usr/include/librdkafka/rdkafka_mock.h ] || need+=(librdkafka-dev)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ -x /usr/bin/chromium ] || need+=(chromium)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql-common)

if [ ${#need[@]} -gt 0 ]; then
  echo "[test-setup] installing from Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Build the front-end console if it is not built yet (served by the app at /).
if [ -f web/package.json ] || [ -f web/index.html ]; then
  if [ ! -f web/dist/index.html ]; then npm run --silent build:web; fi
fi
echo "[test-setup] ok"
