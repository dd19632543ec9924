"""Run the real `python -m warroom serve --demo` process and read what its banner tells a user."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.pgserver import free_port

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION_LINE = re.compile(r"^ {4}(\S+)\s+(pagerduty|alertmanager|generic)\s+(\S+)$")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: no WARROOM_* settings leaking in from the test run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    token: str = ""
    password: str = ""
    keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (service, type) -> key
    commands: list[str] = field(default_factory=list)  # the curl lines of the banner

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)


def _drain(stream: object, sink: list[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sink.append(line)


def _parse_banner(server: Server) -> None:
    for line in (raw.rstrip("\n") for raw in server.stdout):
        if line.startswith("  API token:"):
            server.token = line.split(":", 1)[1].strip()
        elif line.startswith("  Sign in:"):
            server.password = line.split("/", 1)[1].strip()
        elif line.startswith("  curl "):
            server.commands.append(line.strip())
        else:
            m = INTEGRATION_LINE.match(line)
            if m:
                server.keys[(m.group(1), m.group(2))] = m.group(3)


@contextmanager
def run_server(
    database_url: str, *extra: str, timeout: float = 60, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Starts `warroom serve --demo`, waits for the banner and /readyz; SIGTERM on exit."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "warroom",
            "serve",
            "--demo",
            "--port",
            str(port),
            "--database-url",
            database_url,
            *extra,
        ],
        cwd=ROOT,
        env=clean_env(**(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    threads = [
        threading.Thread(target=_drain, args=(process.stdout, server.stdout), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, server.stderr), daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + timeout
        ready = False
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"{server.base_url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready:
                break
            time.sleep(0.1)
        if not ready:
            raise AssertionError(f"server did not become ready:\n{server.output()}")
        _parse_banner(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for t in threads:
            t.join(timeout=5)


def stop(server: Server, timeout: float = 15) -> int:
    """SIGTERM, as a service manager does; returns the exit code."""
    server.process.send_signal(signal.SIGTERM)
    return server.process.wait(timeout=timeout)
