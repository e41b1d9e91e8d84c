"""The generated C# client against real chat servers (tests/clients/cs/meson.build).

1. generates the chat example's C# (`ember-codegen --lang cs`) and compiles it with the test
   program (chat_test.cs) with Mono's mcs as C# 7.2;
2. starts examples/chat/chat_server on a free port and runs the test over TCP (binary, then
   JSON requests and pushes): sign in, a refused password, join, talk, hear the other client,
   50 calls in flight, a dropped connection resumed with every missed push once and in order;
3. starts chat_server with a WebSocket port and an idle timeout of 1.5 s, and runs the same over WebSocket, then with one client on TCP and the other on
   WebSocket, then a session silent for 6 s that the client's pings keep alive;
4. on a server with resume_grace 0, a dropped connection ends the session (Disconnected,
   calls unavailable);
5. stops each server with SIGTERM and checks it exits 0.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
import runner  # noqa: E402  (tests/support/runner.py)
import cs_program  # noqa: E402  (beside this file)

run = functools.partial(runner.run, "clients_cs")
start = functools.partial(runner.start, "clients_cs")
stop = functools.partial(runner.stop, "clients_cs")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--codegen", required=True)
    p.add_argument("--schema", required=True)
    p.add_argument("--chat-server", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--work", required=True)
    args = p.parse_args()
    work = Path(args.work)
    built = cs_program.build("clients_cs", run, args.codegen, args.schema, args.test, work,
                             "chat_test.exe")
    if built is None:
        return 1
    mono, exe = built

    server, ports = start([args.chat_server, "--port", "0", "--port-file", str(work / "port")],
                          work / "port")
    try:
        run([mono, "--debug", str(exe), "tcp", "127.0.0.1", str(ports[0])])
    finally:
        if server.poll() is None:
            stop(server)
    print("clients_cs: the C# client plays examples/chat/chat_server over TCP", flush=True)

    # an idle timeout of 1.5 s: the client pings every 0.5 s; a session that did not would lose
    # its connection (and resume) during the 6 s the idle test stays silent
    idle_ms = 1500
    server, ports = start([args.chat_server, "--port", "0", "--websocket-port", "0",
                           "--idle-timeout-ms", str(idle_ms), "--port-file", str(work / "ports")],
                          work / "ports")
    try:
        uri = f"ws://127.0.0.1:{ports[1]}/"
        run([mono, "--debug", str(exe), "ws", uri])
        run([mono, "--debug", str(exe), "mixed", "127.0.0.1", str(ports[0]), uri])
        run([mono, "--debug", str(exe), "idle", uri, str(idle_ms)])
    finally:
        if server.poll() is None:
            stop(server)
    print("clients_cs: the C# client plays the chat service over WebSocket, and TCP with "
          "WebSocket", flush=True)

    server, ports = start([args.chat_server, "--port", "0", "--resume-grace-ms", "0",
                           "--port-file", str(work / "ports")], work / "ports")
    try:
        run([mono, "--debug", str(exe), "noresume", "127.0.0.1", str(ports[0])])
    finally:
        if server.poll() is None:
            stop(server)
    print("clients_cs: on a server without resume, a dropped connection ends the session",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
