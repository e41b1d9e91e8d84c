#!/usr/bin/env bash
# Runs test_console with npm's puppeteer-core (the version pinned in package-lock.json),
# installed once into DIR with `npm ci` (the npm registry is the only network it needs), driving
# Debian's chromium — never a browser puppeteer downloads. Exits 77 (meson: skipped) when node,
# npm or /usr/bin/chromium is missing or the install fails (tools/install-deps.sh installs them).
# usage: run.sh TEST_EXE DIR EMBER_MASTER WORLD_SERVER
set -euo pipefail
exe=$1
dir=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node or npm not found: skipped"
  exit 77
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "/usr/bin/chromium not found (apt-get install chromium): skipped"
  exit 77
fi
mkdir -p "$dir"
cp "$here/package.json" "$here/package-lock.json" "$here/console_test.mjs" "$dir/"
if [ ! -f "$dir/node_modules/puppeteer-core/package.json" ]; then
  # puppeteer-core downloads no browser; the variable says so for any that would.
  if ! (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 timeout 180 npm ci --no-audit --no-fund >npm.log 2>&1); then
    echo "npm ci failed (see $dir/npm.log): skipped"
    exit 77
  fi
fi
exec "$exe" -- "$@" "$(command -v node)" "$dir/console_test.mjs" "$dir"
