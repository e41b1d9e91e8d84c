#!/usr/bin/env bash
# WebSocket against TCP on one bench_echo_server (issue 20, "Throughput"): echo 100 x 16, 64 B,
# rounds alternating TCP and WebSocket in one run (ember-ws-bench), then the server's resident
# memory per idle session over each, each transport on a fresh server. Server on CPU 0, driver
# on CPU 1. Every step is bounded by `timeout`; servers are stopped by their PID.
# usage: tools/bench/ws_bench.sh [seconds-per-round (2)] [rounds (5)] [idle sessions (5000)]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-2}
rounds=${2:-5}
idle=${3:-5000}
build=${EMBER_BENCH_BUILD:-build-release}
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release -Dtests=false -Dexamples=false >/dev/null
echo "== building ember-ws-bench and bench_echo_server in $build" >&2
ninja -C "$build" tools/bench/ember-ws-bench tools/bench/bench_echo_server >/dev/null
bin=$build/tools/bench
tmp=$(mktemp -d)
server_pid=
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT

start_server() {
  rm -f "$tmp/port" "$tmp/ws_port"
  taskset -c 0 "$bin/bench_echo_server" --port 0 --port-file "$tmp/port" \
    --websocket-port 0 --websocket-port-file "$tmp/ws_port" &
  server_pid=$!
  for _ in $(seq 100); do
    [ -s "$tmp/port" ] && return 0
    sleep 0.05
  done
  echo "bench_echo_server did not start" >&2
  exit 1
}

machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== machine: $machine" >&2

# One round of each is ~(seconds + 0.5 s warm-up + connecting); the bound leaves room for a slow machine.
bound=$(( (rounds * 2 * (seconds + 3)) + 30 ))
echo "== throughput: echo 100x16, 64 B, $rounds rounds of ${seconds} s per transport, alternating (at most ${bound} s)" >&2
start_server
timeout "$bound" taskset -c 1 "$bin/ember-ws-bench" -p "$(cat "$tmp/port")" -w "$(cat "$tmp/ws_port")" \
  --server-pid "$server_pid" -c 100 -d 16 --payload 64 --rounds "$rounds" --duration "$seconds" --warmup 0.5 \
  --json > "$tmp/throughput.json"
stop_server

for t in tcp ws; do
  echo "== memory: $idle idle sessions over $t on a fresh server (at most 150 s)" >&2
  start_server
  timeout 150 taskset -c 1 "$bin/ember-ws-bench" -p "$(cat "$tmp/port")" -w "$(cat "$tmp/ws_port")" \
    --server-pid "$server_pid" --idle "$idle" --transport "$t" --json > "$tmp/idle_$t.json"
  stop_server
done

echo "== summary ($(date -u '+%Y-%m-%d %H:%M UTC'), $machine)"
/usr/bin/python3 - "$tmp" <<'EOF'
import json, sys
d = sys.argv[1]
t = json.load(open(f'{d}/throughput.json'))
print(f"echo {t['connections']}x{t['depth']}, {t['payload']} B, median of {t['rounds']} rounds of {t['seconds']} s:")
print(f"  tcp        {t['tcp_rps']:>9,.0f} req/s   server CPU {t['tcp_cpu_us']:.2f} us/req   p99 {t['tcp_p99_us']:,.0f} us")
print(f"  websocket  {t['ws_rps']:>9,.0f} req/s   server CPU {t['ws_cpu_us']:.2f} us/req   p99 {t['ws_p99_us']:,.0f} us")
ok = 'met' if t['ratio'] >= 0.8 else 'NOT met'
print(f"  websocket / tcp: throughput {t['ratio']:.2f} (each pair: {', '.join(f'{p:.2f}' for p in t['pair_ratios'])}; "
      f"median pair {t['pair_median']:.2f}) -- target >= 0.8: {ok}; server CPU per request {t['cpu_ratio']:.2f}; "
      f"errors {t['errors']}")
print(f"  client CPU per request: tcp {t['tcp_client_cpu_us']:.2f} us, websocket {t['ws_client_cpu_us']:.2f} us")
m = {k: json.load(open(f'{d}/idle_{k}.json')) for k in ('tcp', 'ws')}
for k, name in (('tcp', 'tcp'), ('ws', 'websocket')):
    x = m[k]
    print(f"  idle {name:<9} {x['idle_sessions']:,} sessions: {x['bytes_per_session']:,.0f} bytes "
          f"({x['bytes_per_session'] / 1024:.2f} KiB) per session, {x['errors']} errors")
ws = m['ws']['bytes_per_session']
print(f"  websocket idle session <= 2 KiB: {'met' if ws <= 2048 else 'NOT met'} "
      f"({ws - m['tcp']['bytes_per_session']:+,.0f} bytes against tcp)")
EOF
