"""A real local HTTP server a test can turn off, for the checks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Website:
    status: int = 200
    body: bytes = b"<h1>shop is open</h1>"
    server: ThreadingHTTPServer | None = None
    hits: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/health"

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def turn_off(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@contextmanager
def serve_website() -> Iterator[Website]:
    site = Website()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            site.hits.append(self.path)
            self.send_response(site.status)
            self.send_header("Content-Length", str(len(site.body)))
            self.end_headers()
            self.wfile.write(site.body)

        def log_message(self, *args: object) -> None:
            pass

    site.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=site.server.serve_forever, daemon=True).start()
    try:
        yield site
    finally:
        site.turn_off()


@pytest.fixture
def website() -> Iterator[Website]:
    with serve_website() as site:
        yield site
