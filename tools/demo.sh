#!/usr/bin/env bash
# The main job: builds ember and runs the example cluster (examples/cluster/config.json, ports
# 17xxx) — gate, two net servers and two game servers — with six bots playing for 20 seconds
# across both net servers: they log in, walk, chat in one room, tell each other things and ask
# who is online. It prints what they did, stops the servers, and fails if a bot did.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
build=${EMBER_BUILD:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
echo "demo: building (first time takes a few minutes on 2 cores)"
ninja -C "$build" examples/cluster/world_server examples/cluster/world_bot >/dev/null
exec examples/cluster/run_cluster.sh "$build/examples/cluster/world_server" \
  "$build/examples/cluster/world_bot" examples/cluster/config.json 20 6
