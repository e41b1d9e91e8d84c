#!/usr/bin/env bash
# Builds the benchmark tools (optimised) and runs every benchmark against the raw-Asio
# baseline, forwarding through a gateway against the direct echo, and the data layer's tables
# against plain memcached and ODBC (its own memcached and PostgreSQL), writing BENCHMARKS.md.
# Run it on a quiet machine: it pins the servers to CPU 0 and the load generator to CPU 1.
# usage: tools/bench.sh [seconds-per-run] [run_benchmarks.py options, e.g. --phases data]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
build=${EMBER_BENCH_BUILD:-build-release}
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release -Dtests=false -Dexamples=false >/dev/null
ninja -C "$build" tools/bench/ember-bench tools/bench/bench_echo_server tools/bench/bench_baseline_server \
  tools/bench/bench_cluster_server tools/bench/ember-data-bench tools/bench/ember-modules-bench
/usr/bin/python3 tools/bench/run_benchmarks.py "$build" --duration "${1:-5}" "${@:2}"
