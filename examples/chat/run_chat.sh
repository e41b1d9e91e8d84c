#!/usr/bin/env bash
# Runs the chat server and a few bots against it; fails if a bot fails or the server does not
# stop cleanly. usage: run_chat.sh SERVER BOT [bot args...]
set -euo pipefail
server=$1 bot=$2
shift 2
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$server" --port 0 --port-file "$dir/port" &
pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
[ -s "$dir/port" ] || { echo "chat server did not start"; exit 1; }
"$bot" --port "$(cat "$dir/port")" "$@"
kill -TERM "$pid"
wait "$pid"
echo "chat server stopped cleanly"
