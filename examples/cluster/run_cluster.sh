#!/usr/bin/env bash
# Runs the example cluster — gate, net1, net2, game1, game2, each a world_server started from
# CONFIG — waits until both games have linked to gate and both net servers, lets world_bot play
# on net1 and net2 for SECONDS with BOTS bots, then stops every server it started (by PID:
# SIGTERM, SIGKILL after 5 s) and exits with the bots' status. Every wait is bounded; Ctrl-C
# stops the servers too. With EMBER_PORT_BASE set, it runs on a copy of CONFIG whose ports are
# moved to start at that port (so a test does not clash with a demo on the config's ports).
# EMBER_KEEP_LOGS=1 keeps the servers' logs.
#
# usage: run_cluster.sh WORLD_SERVER WORLD_BOT CONFIG [SECONDS] [BOTS]
set -euo pipefail
if [ $# -lt 3 ] || [ $# -gt 5 ]; then
  echo "usage: $0 WORLD_SERVER WORLD_BOT CONFIG [SECONDS] [BOTS]" >&2
  exit 2
fi
server=$(realpath "$1") bot=$(realpath "$2") config=$(realpath "$3")
seconds=${4:-10} bots=${5:-6}
names=(gate net1 net2 game1 game2)
ready_limit=15  # seconds for the cluster to link up
dir=$(mktemp -d "${TMPDIR:-/tmp}/ember-cluster.XXXXXX")
declare -A pid=()

show_logs() {  # the last $1 lines of every server's log
  local n
  for n in "${names[@]}"; do
    [ -f "$dir/$n.log" ] || continue
    echo "--- $n: last $1 lines of its log ---"
    tail -n "$1" "$dir/$n.log"
  done
}

alive() { kill -0 "$1" 2>/dev/null; }

# Stops the servers this script started: SIGTERM, then SIGKILL for those still running after 5 s.
stop_servers() {
  local n rc unclean=()
  [ ${#pid[@]} -gt 0 ] || return 0
  # After a Ctrl-C the servers had a SIGINT from the terminal too: let them finish stopping.
  [ $interrupted = 0 ] || for _ in $(seq 20); do
    local any=0
    for n in "${!pid[@]}"; do alive "${pid[$n]}" && any=1; done
    [ $any = 0 ] && break
    sleep 0.1
  done
  for n in "${!pid[@]}"; do alive "${pid[$n]}" && kill -TERM "${pid[$n]}" 2>/dev/null; done
  for _ in $(seq 50); do
    local any=0
    for n in "${!pid[@]}"; do alive "${pid[$n]}" && any=1; done
    [ $any = 0 ] && break
    sleep 0.1
  done
  for n in "${names[@]}"; do
    [ -n "${pid[$n]:-}" ] || continue
    if alive "${pid[$n]}"; then
      echo "run_cluster: $n did not stop in 5 s; killing it"
      kill -KILL "${pid[$n]}" 2>/dev/null || true
    fi
    rc=0
    wait "${pid[$n]}" 2>/dev/null || rc=$?
    [ $rc = 0 ] || unclean+=("$n (exit status $rc)")
    unset "pid[$n]"
  done
  if [ ${#unclean[@]} = 0 ]; then
    echo "run_cluster: every server stopped cleanly"
  else
    echo "run_cluster: did not stop cleanly: ${unclean[*]}"
  fi
}

cleanup() {
  stop_servers
  if [ -n "${EMBER_KEEP_LOGS:-}" ]; then echo "run_cluster: logs kept in $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
interrupted=0
trap 'interrupted=1; echo; echo "run_cluster: interrupted"; exit 130' INT TERM

cfg=$config
if [ -n "${EMBER_PORT_BASE:-}" ]; then
  cfg=$dir/config.json
  python3 -c '
import json, sys
src, dst, base = sys.argv[1], sys.argv[2], int(sys.argv[3])
keys = {"rootport", "netport", "webport", "port"}
c = json.load(open(src))
def ports(v, key=None):
    if isinstance(v, dict):
        for k, x in v.items(): yield from ports(x, k)
    elif isinstance(v, list):
        for x in v: yield from ports(x, key)
    elif isinstance(v, int) and not isinstance(v, bool) and key in keys:
        yield v
    elif isinstance(v, str) and key == "servers" and ":" in v:  # memcached host:port
        yield int(v.rsplit(":", 1)[1])
shift = base - min(ports(c))
def moved(v, key=None):
    if isinstance(v, dict):
        return {k: moved(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [moved(x, key) for x in v]
    if isinstance(v, int) and not isinstance(v, bool) and key in keys:
        return v + shift
    if isinstance(v, str) and key == "servers" and ":" in v:
        host, port = v.rsplit(":", 1)
        return "%s:%d" % (host, int(port) + shift)
    return v
json.dump(moved(c), open(dst, "w"), indent=2)
' "$config" "$cfg" "$EMBER_PORT_BASE"
  # Game data is found beside the config.
  [ -d "$(dirname "$config")/data" ] && cp -r "$(dirname "$config")/data" "$dir/data"
fi
netport() {
  python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))["servers"][sys.argv[2]]["netport"]
print(p["port"] if isinstance(p, dict) else p)' "$cfg" "$1"
}
port1=$(netport net1) port2=$(netport net2)

# The servers run in the temporary directory: whatever files they write stay out of the tree.
for n in "${names[@]}"; do
  (cd "$dir" && exec "$server" "$cfg" "$n") >"$dir/$n.log" 2>&1 &
  pid[$n]=$!
done

# Ready when both games have linked to gate, net1 and net2, and both nets to gate.
limit=$((SECONDS + ready_limit))
for g in game1 game2 net1 net2; do
  roots="gate net1 net2"
  case $g in net*) roots=gate ;; esac
  for root in $roots; do
    until grep -q "linked to root '$root'" "$dir/$g.log" 2>/dev/null; do
      for n in "${names[@]}"; do
        if ! alive "${pid[$n]}"; then
          echo "run_cluster: $n exited while the cluster was starting"
          show_logs 20
          exit 1
        fi
      done
      if [ $SECONDS -ge $limit ]; then
        echo "run_cluster: $g did not link to root '$root' in $ready_limit s"
        show_logs 20
        exit 1
      fi
      sleep 0.1
    done
  done
done
echo "run_cluster: gate, net1 (clients on port $port1), net2 (port $port2), game1 and game2 are up"

status=0
"$bot" --port "$port1" --port "$port2" --bots "$bots" --seconds "$seconds" || status=$?
if [ $status != 0 ]; then
  echo "run_cluster: the bots failed (exit status $status)"
  show_logs 15
fi
stop_servers
exit $status
