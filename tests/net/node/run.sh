#!/usr/bin/env bash
# Runs test_websocket_node with npm's ws (the version pinned in package-lock.json), installed
# once into DIR with `npm ci` (the npm registry is the only network it needs). Exits 77 (meson:
# skipped) when node or npm is missing or the install fails.
# usage: run.sh TEST_EXE DIR
set -euo pipefail
exe=$1
dir=$2
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node or npm not found: skipped"
  exit 77
fi
mkdir -p "$dir"
cp "$here/package.json" "$here/package-lock.json" "$here/ws_client.mjs" "$dir/"
if [ ! -f "$dir/node_modules/ws/package.json" ]; then
  if ! (cd "$dir" && timeout 120 npm ci --no-audit --no-fund >npm.log 2>&1); then
    echo "npm ci failed (see $dir/npm.log): skipped"
    exit 77
  fi
fi
exec "$exe" -- "$(command -v node)" "$dir/ws_client.mjs"
