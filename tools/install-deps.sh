#!/usr/bin/env bash
# Installs the Debian 12 packages ember needs (only those missing). Run as root.
set -euo pipefail
packages=(meson ninja-build pkg-config g++ python3 python3-jinja2
  libasio-dev libfmt-dev libsimdjson-dev libsodium-dev libboost-test-dev
  libmemcached-dev memcached unixodbc-dev unixodbc libsqliteodbc odbc-postgresql postgresql
  libcli11-dev libhttp-parser-dev libssl-dev clang-14 libclang-rt-14-dev
  prometheus
  chromium)  # the web console's test drives it headless (puppeteer-core, never a downloaded browser)
# Node and npm (the WebSocket interop test with npm's ws, the TypeScript codec test): Debian's,
# unless a node with its npm is on PATH already (e.g. NodeSource's nodejs, which bundles npm).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
# Chromium, headless, for the browser test of the generated TypeScript client (tests/clients/ts,
# driven by npm's puppeteer-core: the system browser, never a downloaded one).
packages+=(chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (or install the packages above with apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
