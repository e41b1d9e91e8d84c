"""The generated C# client's retries against retry_server (tests/clients/cs/meson.build).

1. generates tests/cluster/route_test.toml's C# (`ember-codegen --lang cs`) and compiles it with
   retry_test.cs with Mono's mcs as C# 7.2;
2. starts tests/clients/retry_server (a gateway giving forwarded requests 300 ms, a game
   backend) and runs the test over TCP, then over WebSocket: a step that outlasts the gateway's
   deadline, retried with one request id, runs once; the same id sent twice by the caller runs
   once; retries end at the call's deadline;
3. starts it with --game-after-unavailable: a call refused with Unavailable is retried until
   the game has linked, and runs once;
4. starts it with --pair (net1 and net2, each the other's resume peer) and runs the move test
   over TCP, then over WebSocket: net1 drains (SIGUSR1), its `moved` push sends the client to
   net2, where the session resumes with its steps run once and its pushes once, in order;
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

run = functools.partial(runner.run, "clients_cs_retry")
start = functools.partial(runner.start, "clients_cs_retry")
stop = functools.partial(runner.stop, "clients_cs_retry")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--codegen", required=True)
    p.add_argument("--schema", required=True)
    p.add_argument("--retry-server", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--work", required=True)
    args = p.parse_args()
    work = Path(args.work)
    built = cs_program.build("clients_cs_retry", run, args.codegen, args.schema, args.test, work,
                             "retry_test.exe")
    if built is None:
        return 1
    mono, exe = built

    for extra, modes in (([], ("tcp", "ws")), (["--game-after-unavailable"], ("unavailable",))):
        for mode in modes:
            server, ports = start([args.retry_server, "--port-file", str(work / "ports"), *extra],
                                  work / "ports")
            try:
                where = [f"ws://127.0.0.1:{ports[1]}/"] if mode == "ws" else ["127.0.0.1", str(ports[0])]
                run([mono, "--debug", str(exe), mode, *where])
            finally:
                if server.poll() is None:
                    stop(server)
    for mode in ("tcp", "ws"):
        server, ports = start([args.retry_server, "--port-file", str(work / "ports"), "--pair"],
                              work / "ports")
        try:
            where = [f"ws://127.0.0.1:{ports[1]}/", f"ws://127.0.0.1:{ports[3]}/"] if mode == "ws" \
                else [f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[2]}"]
            run([mono, "--debug", str(exe), "move", *where, str(server.pid)])
        finally:
            if server.poll() is None:
                stop(server)
    print("clients_cs_retry: retried calls run once, over TCP and WebSocket, after "
          "outcome_unknown and unavailable; a drained server's sessions move over both", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
