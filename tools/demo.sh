#!/usr/bin/env bash
# The main job: builds ember and runs the chat example — a server and three bots that log in,
# join the lobby, chat and hear each other — printing what happens, then stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
build=${EMBER_BUILD:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
echo "demo: building (first time takes a few minutes on 2 cores)"
ninja -C "$build" examples/chat/chat_server examples/chat/chat_bot >/dev/null
exec examples/chat/run_chat.sh "$build/examples/chat/chat_server" "$build/examples/chat/chat_bot" --bots 3 --lines 3
