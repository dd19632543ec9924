"""The first run as a new user has it: clone, `./dev start`, and the seconds until the first
page answers. Prints each phase and whether the output had setuptools warnings.

    python bench/first_run.py [--keep-pip-cache]

Clones this checkout's HEAD into a temporary directory (git clone --no-local, a cold clone
of the files), so nothing of this checkout's .venv or .data is reused. By default pip's cache
is the user's (wheels already downloaded once are reused, as on a machine that installed
Python packages before); --cold-pip-cache points pip at an empty cache directory instead.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold-pip-cache", action="store_true")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "warroom"
        t0 = time.monotonic()
        subprocess.run(["git", "clone", "-q", "--no-local", str(ROOT), str(clone)], check=True)
        cloned = time.monotonic() - t0
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WARROOM_", "VIRTUAL_ENV"))}
        if args.cold_pip_cache:
            env["PIP_CACHE_DIR"] = str(Path(tmp) / "pip-cache")
        port = free_port()
        started = time.monotonic()
        process = subprocess.Popen(
            ["./dev", "start", "--port", str(port)],
            cwd=clone,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        ready_after = None
        try:
            while time.monotonic() - started < args.timeout and process.poll() is None:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                        ready_after = time.monotonic() - started
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            output = process.communicate(timeout=30)[0]
        load = os.getloadavg()
        warnings = len(re.findall(r"(?i)setuptools|BuildBackendWarning|deprecat", output))
        lines = output.count("\n")
        print(f"clone:                 {cloned:6.1f} s")
        print(f"./dev start → /login:  {ready_after:6.1f} s" if ready_after else "never ready")
        print(f"output lines before ready: {lines}, setuptools/deprecation lines: {warnings}")
        print(f"credentials last: {'Sign in:' in output.split('Send a first event')[-1]}")
        print(f"load average: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; cpus {os.cpu_count()}")
        print(
            f"pip cache: {'empty' if args.cold_pip_cache else 'the user’s'}; "
            f"python {sys.version.split()[0]}"
        )
        if ready_after is None:
            print(output[-3000:])
            sys.exit(1)


if __name__ == "__main__":
    main()
