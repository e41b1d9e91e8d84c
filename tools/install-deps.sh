#!/usr/bin/env bash
# Installs the Debian 12 packages ember needs (only those missing). Run as root.
set -euo pipefail
packages=(meson ninja-build pkg-config g++ python3 python3-jinja2
  libasio-dev libfmt-dev libsimdjson-dev libsodium-dev libboost-test-dev
  libmemcached-dev memcached unixodbc-dev unixodbc libsqliteodbc odbc-postgresql postgresql
  libcli11-dev libhttp-parser-dev libssl-dev clang-14 libclang-rt-14-dev
  mold       # the linker when present (meson.build, -Dmold): links in a fraction of ld.bfd's time
  prometheus
  iproute2 nftables  # tools/partition: network namespaces, veth pairs, partitions by nft rules
  chromium)  # headless, driven by npm's puppeteer-core (never a downloaded browser): the web
             # console's test and the browser test of the generated TypeScript client
# Node and npm (the WebSocket interop test with npm's ws, the TypeScript codec test): Debian's,
# unless a node with its npm is on PATH already (e.g. NodeSource's nodejs, which bundles npm).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
# Mono (mcs, mono: the generated C# client's tests, tests/codegen/cs_interop, tests/clients/cs)
# and protoc (the .proto test): Debian's, unless mcs and protoc are on PATH already.
if ! command -v mcs >/dev/null 2>&1 || ! command -v mono >/dev/null 2>&1; then
  packages+=(mono-devel)
fi
if ! command -v protoc >/dev/null 2>&1; then
  packages+=(protobuf-compiler)
fi
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
