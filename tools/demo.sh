#!/usr/bin/env bash
# The main job: builds ember and runs the example cluster (examples/cluster/config.json, ports
# 17xxx) under ember-master — gate, two net servers, two game servers and two lobbies, each
# ember-server loading the world module, and the memcached the config names, which the master
# starts — with six bots playing for 20 seconds across both net servers on the game's gameplay
# modules: they sign in (accounts), befriend the next bot (friends), walk, chat in a room and
# tell their friend things (chat), buy and sell items with operation ids (wallet + inventory),
# mail gifts of gold and claim them (mail), buy from the catalogue with purchase ids (shop),
# claim the daily quest those purchases complete (quests), talk in one guild's channel
# (guilds), queue for matches of two hosted on a game (matchmaking, on the lobby) and read the
# board of purchases the lobby keeps (leaderboard). It prints a line per module and how much
# was lost or doubled (each bot checks its ledger, bag, quest and board record), stops the
# cluster in order (every server writes back its rows), shows what reached the database, and
# fails if a bot or a server did.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
build=${EMBER_BUILD:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
echo "demo: building (the first time takes a few minutes on 2 cores)"
ninja -C "$build" tools/master/ember-master tools/server/ember-server examples/cluster/world.so \
  examples/cluster/world_bot >/dev/null
exec examples/cluster/run_cluster.sh "$build/tools/master/ember-master" "$build/tools/server/ember-server" \
  "$build/examples/cluster/world.so" "$build/examples/cluster/world_bot" examples/cluster/config.json 20 6
