#!/usr/bin/env bash
# Replaces the game servers of a running cluster one at a time, without dropping a player
# (docs/operations.md, "Draining and rolling upgrades"). Install the new build where the
# config's master runs its program first (e.g. a new ember-server or module beside the old,
# then a rename over it); then, for each SERVER in turn:
#
#   1. drain it through ember-master: gateways route it no new player, each of its players
#      is saved and moves to another server of its type (requests in flight finish first,
#      those that arrive meanwhile wait and continue there), then it stops;
#   2. start it again (the master runs the program as installed now);
#   3. wait until it is ready: /readyz on its metricsport when the config gives one, else
#      linked to the master and serving.
#
# It prints the time each step took, and stops at the first server that does not come back.
# Every wait is bounded (EMBER_UPGRADE_WAIT seconds each, 120 by default).
#
# usage: rolling-upgrade.sh CONFIG.json [SERVER...]
#   SERVER... defaults to every backend of the config (a server joining a client-facing one),
#   in name order. A client-facing server (one with a netport) may be named too: its drain
#   moves its sessions to the other client-facing servers, whose clients resume there
#   (docs/operations.md, "Draining a net server"). EMBER_CLI names the ember-cli to use
#   (default: ember-cli in PATH).
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  echo "usage: $0 CONFIG.json [SERVER...]" >&2
  exit 2
fi
config=$1
shift
cli=${EMBER_CLI:-ember-cli}
wait_s=${EMBER_UPGRADE_WAIT:-120}

# The config as the script needs it: "NAME METRICSPORT" per backend (0: no metricsport); with
# "net", per client-facing server instead.
backends() {
  python3 - "$config" "${1:-}" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
servers = c.get("servers", {})
for name in sorted(servers):
    s = servers[name]
    roots = [r.get("rootname") for r in s.get("remoteport", [])]
    backend = any("netport" in servers.get(r, {}) for r in roots)
    if (sys.argv[2] == "net" and "netport" in s and not backend) or (sys.argv[2] != "net" and backend):
        print(name, s.get("metricsport", 0))
EOF
}

now_ms() { date +%s%3N; }

# True once SERVER answers /readyz with 200 (metricsport), or the master's status shows it
# linked (no metricsport).
ready() {
  local name=$1 port=$2
  if [ "$port" != "0" ]; then
    # bash's /dev/tcp: no process to start per poll (an interpreter takes seconds on a busy host)
    (
      exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
      printf 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
      IFS= read -r -t 2 status_line <&3 || exit 1
      [[ $status_line == *" 200 "* ]]
    ) 2>/dev/null
  else
    "$cli" --config "$config" status 2>/dev/null | awk -v n="$name" '$1 == n && $3 == "yes" { ok = 1 } END { exit !ok }'
  fi
}

mapfile -t all < <(backends)
if [ $# -gt 0 ]; then
  mapfile -t nets < <(backends net)
  chosen=()
  for want in "$@"; do
    found=
    for line in "${all[@]}" "${nets[@]}"; do
      [ -n "$line" ] && [ "${line%% *}" = "$want" ] && chosen+=("$line") && found=1 && break
    done
    [ -n "$found" ] || { echo "rolling-upgrade: $want is neither a backend nor a client-facing server of $config" >&2; exit 2; }
  done
  all=("${chosen[@]}")
fi
[ ${#all[@]} -gt 0 ] || { echo "rolling-upgrade: $config has no backend to upgrade" >&2; exit 2; }

for line in "${all[@]}"; do
  name=${line%% *} port=${line##* }
  t0=$(now_ms)
  "$cli" --config "$config" drain "$name" --stop --wait "$wait_s" >/dev/null
  t1=$(now_ms)
  "$cli" --config "$config" restart "$name" >/dev/null
  ok=
  for _ in $(seq $((wait_s * 10))); do
    if ready "$name" "$port"; then ok=1; break; fi
    sleep 0.1
  done
  t2=$(now_ms)
  if [ -z "$ok" ]; then
    echo "rolling-upgrade: $name is not ready $wait_s s after its restart; stopping here" >&2
    exit 1
  fi
  echo "$name: drained and stopped in $((t1 - t0)) ms, ready again after $((t2 - t1)) ms"
done
echo "rolling-upgrade: ${#all[@]} servers upgraded"
