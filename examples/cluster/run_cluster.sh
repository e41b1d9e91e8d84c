#!/usr/bin/env bash
# Runs the example cluster under ember-master — gate, net1, net2, game1, game2, lobby and lobby2 from CONFIG,
# each SERVER (ember-server loading MODULE, or world_server with "-" as MODULE), the
# memcached the config names started by the master, the games' rows in a SQLite file — waits
# until the games and the lobby have linked to gate and both net servers, lets world_bot play on net1 and
# net2 for SECONDS with BOTS bots, then stops the master (SIGTERM: nets, games, gate, then
# memcached, every game writing back its rows first) and shows what reached the database (the
# modules' tables: accounts, gold, items, friendships, mails claimed, chat lines, purchases,
# quest rewards, guilds, board records, matches). The bots print
# how much was lost or doubled (each checks its wallet ledger and bag) and fail on any.
# Exits with the bots' status (1 as well if the master did not stop cleanly). Every wait is
# bounded; Ctrl-C stops the cluster too. Everything runs in a temporary directory: a copy of
# CONFIG (with its ports moved to start at EMBER_PORT_BASE when that is set), its game data,
# the module, the database, the journals and the logs. EMBER_KEEP_LOGS=1 keeps it.
#
# usage: run_cluster.sh MASTER SERVER MODULE|- WORLD_BOT CONFIG [SECONDS] [BOTS]
set -euo pipefail
if [ $# -lt 5 ] || [ $# -gt 7 ]; then
  echo "usage: $0 MASTER SERVER MODULE|- WORLD_BOT CONFIG [SECONDS] [BOTS]" >&2
  exit 2
fi
master=$(realpath "$1") server=$(realpath "$2") module=$3 bot=$(realpath "$4") config=$(realpath "$5")
seconds=${6:-10} bots=${7:-6}
ready_limit=20  # seconds for the cluster to link up
dir=$(mktemp -d "${TMPDIR:-/tmp}/ember-cluster.XXXXXX")
log=$dir/master.log
master_pid=

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
# Lines of the master's output worth showing: its own, and the servers' start and data lines.
highlights() {
  grep -E '^\[master\]|store open|journal|written back|loaded player|listening on|\(game\) started' "$log" || true
}

stop_master() {
  alive "$master_pid" || return 0
  kill -TERM "$master_pid" 2>/dev/null || true
  for _ in $(seq 300); do alive "$master_pid" || break; sleep 0.1; done
  if alive "$master_pid"; then
    echo "run_cluster: the master did not stop in 30 s; killing it"
    kill -KILL "$master_pid" 2>/dev/null || true
  fi
  local rc=0
  wait "$master_pid" 2>/dev/null || rc=$?
  master_pid=
  return $rc
}
cleanup() {
  stop_master || true
  if [ -n "${EMBER_KEEP_LOGS:-}" ]; then echo "run_cluster: logs kept in $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'echo; echo "run_cluster: interrupted"; exit 130' INT TERM

# The run's copy of the config: ports moved if asked, every server's module in modules/.
/usr/bin/python3 - "$config" "$dir/config.json" "${EMBER_PORT_BASE:-}" <<'EOF'
import json, sys
src, dst, base = sys.argv[1], sys.argv[2], sys.argv[3]
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
shift = int(base) - min(ports(c)) if base else 0
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
EOF
cp -r "$(dirname "$config")/data" "$dir/data"
if [ "$module" != - ]; then
  mkdir -p "$dir/modules"
  cp "$module" "$dir/modules/world.so"
fi
cfg=$dir/config.json
netport() {
  /usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))["servers"][sys.argv[2]]["netport"]
print(p["port"] if isinstance(p, dict) else p)' "$cfg" "$1"
}
port1=$(netport net1) port2=$(netport net2)
# The backends every net server routes to: the games, and the lobby if the config has one.
backends=$(/usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["servers"]
print(" ".join(n for n, v in s.items() if v.get("type") in ("game", "lobby")))' "$cfg")

(cd "$dir" && exec "$master" "$cfg" --server-binary "$server") >"$log" 2>&1 &
master_pid=$!

# Ready when the games and the lobby have linked to gate, net1 and net2, and both nets to gate.
limit=$((SECONDS + ready_limit))
for g in $backends net1 net2; do
  roots="gate net1 net2"
  case $g in net*) roots=gate ;; esac
  for root in $roots; do
    until grep -q "^\[$g\] .*linked to root '$root'" "$log" 2>/dev/null; do
      if ! alive "$master_pid"; then
        echo "run_cluster: the master exited while the cluster was starting"
        tail -n 30 "$log"
        exit 1
      fi
      if [ $SECONDS -ge $limit ]; then
        echo "run_cluster: $g did not link to root '$root' in $ready_limit s"
        tail -n 30 "$log"
        exit 1
      fi
      sleep 0.1
    done
  done
done
highlights
echo "run_cluster: gate, net1 (clients on port $port1), net2 (port $port2), ${backends// /, } are up"
echo

status=0
"$bot" --port "$port1" --port "$port2" --bots "$bots" --seconds "$seconds" || status=$?
if [ $status != 0 ]; then
  echo "run_cluster: the bots failed (exit status $status)"
  tail -n 30 "$log"
fi
echo
echo "run_cluster: stopping the cluster (SIGTERM to the master)"
from=$(wc -l <"$log")
master_status=0
stop_master || master_status=$?
tail -n +"$((from + 1))" "$log" | grep -E '^\[master\]|written back' || true
if [ $master_status != 0 ]; then
  echo "run_cluster: the master did not stop cleanly (exit status $master_status); the stop's full output:"
  tail -n +"$((from + 1))" "$log" | tail -n 80
  status=1
fi
# What the games wrote back, read from the database file itself: the modules' tables.
/usr/bin/python3 - "$dir/world.db" <<'EOF2' || status=1
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
one = lambda sql: db.execute(sql).fetchone()[0]
players = one("SELECT COUNT(*) FROM player")
accounts = one("SELECT COUNT(*) FROM account")
gold = one("SELECT COALESCE(SUM(amount), 0) FROM wallet_balance WHERE currency = 'gold'")
items = one("SELECT COUNT(*) FROM inventory_item WHERE count > 0 AND owner <> 0")
friends = one("SELECT COUNT(*) FROM friends_edge WHERE state = 0") // 2
mails = one("SELECT COUNT(*) FROM mail_message WHERE state = 1")
claimed = one("SELECT COUNT(*) FROM mail_message WHERE state = 1 AND claimed <> 0")
lines = one("SELECT COUNT(*) FROM chat_message")
print(f"run_cluster: world.db holds {accounts} accounts, {players} players with {gold} gold and {items} items "
      f"in their bags, {friends} friendships, {mails} mails ({claimed} claimed), {lines} chat lines")
tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
if "shop_purchase" in tables and "leaderboard_record" in tables:
    bought = one("SELECT COUNT(*) FROM shop_purchase WHERE applied <> 0")
    rewards = one("SELECT COUNT(*) FROM quest_progress WHERE claimed <> 0")
    guilds = one("SELECT COUNT(*) FROM guild")
    members = one("SELECT COALESCE(SUM(members), 0) FROM guild")
    ranked = one("SELECT COUNT(*) FROM leaderboard_record")
    points = one("SELECT COALESCE(SUM(score), 0) FROM leaderboard_record")
    matches = one("SELECT COUNT(*) FROM matchmaking_match")
    print(f"run_cluster: and {bought} shop purchases, {rewards} quest rewards claimed, {guilds} guild(s) of "
          f"{members} members, {ranked} board records counting {points} purchases, {matches} matches")
    if points != bought:
        print(f"run_cluster: FAILED: the board counts {points} purchases, the shop stored {bought}")
        sys.exit(1)
EOF2
exit $status
