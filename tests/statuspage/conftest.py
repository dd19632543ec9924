"""Fixtures of the status-page tests: the app with a real SMTP server (aiosmtpd) to mail to,
loopback allowed for webhooks, and an engine driven by the test's own clock."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient

from tests.notify.conftest import http_server  # noqa: F401 - a fixture used here
from warroom.app import create_app
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.engine.runner import Engine
from warroom.instance import secret_key


@dataclass
class Mailbox:
    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        found = []
        for envelope in self.envelopes:
            raw = envelope.original_content or envelope.content
            assert isinstance(raw, bytes)
            parsed = message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Mailbox, int]) -> Mailbox:
    smtp_server[0].envelopes.clear()
    return smtp_server[0]


@pytest.fixture
def settings(db_url: str, smtp_server: tuple[Mailbox, int]) -> Settings:
    return Settings(
        database_url=db_url,
        base_url="http://warroom.test",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server[1],
        outbound_allow_networks=["127.0.0.0/8"],
    )


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db, run_engine=False)) as test_client:
        yield test_client


@dataclass
class Driver:
    engine: Engine

    def run(self, now: datetime | None = None, rounds: int = 50) -> None:
        """Fire timers and deliver until nothing is left to do at `now`."""
        now = now or datetime.now(UTC)
        for _ in range(rounds):
            if self.engine.run_once(now, wait=True) == 0:
                return


@pytest.fixture
def engine(client: TestClient, settings: Settings, db: Database) -> Iterator[Driver]:
    app: Any = client.app
    engine = Engine(db, settings, app.state.secret or secret_key(db))
    yield Driver(engine)
    engine._pool.shutdown(wait=True)
