"""What the Python test runners share (the generated clients' and codecs' interop tests): running
a program with its command echoed, where a failure ends the test naming the program and its
status; and starting a server that writes its ports to a file, then stopping it cleanly.

A runner imports it with `sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path


def run(who: str, cmd: list, *, quiet: bool = False, **kw) -> subprocess.CompletedProcess:
    """Runs `cmd` (echoed unless `quiet`, which also captures its output); a non-zero status
    ends the test: `who: PROGRAM failed with status N`, with the captured standard error."""
    cmd = [str(c) for c in cmd]
    if quiet:
        kw.setdefault("capture_output", True)
    else:
        print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        err = r.stderr.decode(errors="replace") if isinstance(r.stderr, bytes) else (r.stderr or "")
        print(f"{who}: {Path(cmd[0]).name} failed with status {r.returncode}"
              + (f" ({' '.join(cmd[1:])}):\n{err}" if quiet else ""), flush=True)
        sys.exit(1)
    return r


def start(who: str, cmd: list, port_file: Path, seconds: float = 10) -> tuple[subprocess.Popen, list[int]]:
    """Starts a server that writes its listening ports (space-separated) to `port_file`;
    returns the process and the ports once it has, or ends the test if it exits or is slow.
    A server that exits with EX_TEMPFAIL (75: a port it picked was taken) is started again."""
    cmd = [str(c) for c in cmd]
    for attempt in range(1, 4):
        port_file.unlink(missing_ok=True)
        print("+", " ".join(cmd), flush=True)
        proc = subprocess.Popen(cmd)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and proc.poll() is None:
            if port_file.exists() and port_file.read_text().strip():
                return proc, [int(p) for p in port_file.read_text().split()]
            time.sleep(0.05)
        exited = proc.poll()
        if exited == 75 and attempt < 3:
            continue
        if exited is None:
            proc.kill()
            proc.wait()
            why = f"no ports in {port_file} after {seconds:g} s"
        else:
            why = f"it exited with status {exited} before writing {port_file}; its error is above"
        print(f"{who}: {Path(cmd[0]).name} did not start ({why})", flush=True)
        sys.exit(1)


def stop(who: str, proc: subprocess.Popen, seconds: float = 20) -> None:
    """Stops a server with SIGTERM; it must exit with status 0 within `seconds`."""
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        print(f"{who}: the server did not stop within {seconds:g} s of SIGTERM", flush=True)
        sys.exit(1)
    if code != 0:
        print(f"{who}: the server exited with status {code}", flush=True)
        sys.exit(1)
