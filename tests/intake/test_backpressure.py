"""Intake back-pressure: a full queue, a deadline and a failing database answer 503 + Retry-After
in each tool's own shape, store nothing half-way, and intake recovers by itself afterwards."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from tests.conftest import World, count_rows
from warroom.app import create_app
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.intake import committer as committer_module

TABLES = ("alerts", "incidents", "timeline_events")


def pd_body(world: World, key: str) -> bytes:
    event = {
        "routing_key": world.pagerduty_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {"summary": f"Disk full on {key}", "source": "db-1", "severity": "critical"},
    }
    return json.dumps(event).encode()


def am_body(*instances: str) -> bytes:
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "instance": i, "severity": "critical"},
            "annotations": {"summary": f"5xx errors on {i}"},
            "startsAt": "2026-11-27T09:32:30.33727958Z",
            "endsAt": "0001-01-01T00:00:00Z",
        }
        for i in instances
    ]
    return json.dumps({"version": "4", "status": "firing", "alerts": alerts}).encode()


@dataclass
class Endpoint:
    name: str
    send: Callable[[TestClient, World, str], httpx.Response]
    ok: int
    events: int  # how many alerts one successful request stores


def _pd(client: TestClient, world: World, tag: str) -> httpx.Response:
    return client.post(
        "/v2/enqueue", content=pd_body(world, tag), headers={"Content-Type": "application/json"}
    )


def _am(client: TestClient, world: World, tag: str) -> httpx.Response:
    return client.post(
        f"/integrations/alertmanager/{world.alertmanager_key}",
        content=am_body(f"{tag}-a", f"{tag}-b"),
        headers={"Content-Type": "application/json"},
    )


def _generic(client: TestClient, world: World, tag: str) -> httpx.Response:
    return client.post(
        f"/integrations/generic/{world.generic_key}",
        json={"summary": f"Search index stale ({tag})", "severity": "warning", "dedup_key": tag},
    )


ENDPOINTS = [Endpoint("pagerduty", _pd, 202, 1), Endpoint("alertmanager", _am, 200, 2),
             Endpoint("generic", _generic, 202, 1)]  # fmt: skip


def assert_unavailable(response: httpx.Response, endpoint: Endpoint, retry_after: str) -> str:
    """The 503 in the tool's own error shape; returns its message."""
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == retry_after
    body = response.json()
    if endpoint.name == "pagerduty":
        # PagerDuty's three fields, as its other errors on /v2/enqueue.
        assert set(body) == {"status", "message", "errors"}
        assert body["errors"]
        return str(body["message"])
    error = body["error"]
    assert error["status"] == 503 and error["code"] == "unavailable"
    return str(error["message"])


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Polls a condition another thread makes true; bounded, so a bug fails instead of hanging."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def stored(db: Database) -> dict[str, int]:
    return {t: count_rows(db, t) for t in TABLES}


@pytest.fixture
def make_client(db_url: str, db: Database) -> Iterator[Callable[..., tuple[FastAPI, TestClient]]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> tuple[FastAPI, TestClient]:
        settings = Settings(database_url=db_url, base_url="http://warroom.test", **overrides)
        app = create_app(settings, db, run_engine=False)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return app, client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_a_full_queue_answers_503_with_retry_after_and_recovers(
    make_client: Callable[..., tuple[FastAPI, TestClient]], world: World, db: Database
) -> None:
    app, client = make_client(intake_queue_limit=1, intake_deadline_seconds=30)
    committer = app.state.committer
    committer.stop()  # the writer is away: what is submitted stays queued
    first: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: first.append(_pd(client, world, "queued")))
    waiting.start()
    wait_until(lambda: committer.depth == 1)

    for endpoint in ENDPOINTS:
        message = assert_unavailable(endpoint.send(client, world, "refused"), endpoint, "1")
        assert "overloaded" in message and "nothing was stored" in message
    assert committer.depth == 1
    assert stored(db)["alerts"] == 0

    committer.start()
    waiting.join(timeout=30)
    assert first[0].status_code == 202
    assert committer.depth == 0
    for endpoint in ENDPOINTS:
        assert endpoint.send(client, world, "after").status_code == endpoint.ok
    # The queued event and one request per endpoint; none of the refused ones.
    assert stored(db)["alerts"] == 1 + sum(e.events for e in ENDPOINTS)


def test_a_request_past_its_deadline_gets_503_and_is_never_stored_later(
    make_client: Callable[..., tuple[FastAPI, TestClient]], world: World, db: Database
) -> None:
    app, client = make_client(intake_deadline_seconds=0.2)
    committer = app.state.committer
    committer.stop()
    for endpoint in ENDPOINTS:
        message = assert_unavailable(endpoint.send(client, world, "late"), endpoint, "1")
        assert "within 0.2 s" in message
    assert committer.depth == 0
    committer.deadline = 30  # from here on, a slow machine must not make the test fail
    committer.start()
    # The writer now drains the queue: the given-up requests first, then this one.
    assert _generic(client, world, "fresh").status_code == 202
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert [a["dedup_key"] for a in alerts] == ["fresh"]


def test_a_request_that_gives_up_mid_batch_rolls_the_batch_back(
    make_client: Callable[..., tuple[FastAPI, TestClient]],
    world: World,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writer has taken the request into a transaction but not committed when the deadline
    passes: the 503 stands, so the transaction must not commit it."""
    app, client = make_client(intake_deadline_seconds=0.3)
    entered, release = threading.Event(), threading.Event()
    real = committer_module.ingest_batch

    def blocked(*args: Any) -> Any:
        results = real(*args)  # rows written inside the open transaction
        entered.set()
        assert release.wait(timeout=30)
        return results

    monkeypatch.setattr(committer_module, "ingest_batch", blocked)
    outcome: list[httpx.Response] = []
    sender = threading.Thread(target=lambda: outcome.append(_am(client, world, "mid")))
    sender.start()
    assert entered.wait(timeout=10)
    sender.join(timeout=10)  # answered at its deadline while the writer still holds it
    assert_unavailable(outcome[0], ENDPOINTS[1], "1")
    release.set()
    monkeypatch.setattr(committer_module, "ingest_batch", real)
    app.state.committer.deadline = 30
    wait_until(lambda: app.state.committer.depth == 0)
    assert _pd(client, world, "next").status_code == 202
    assert stored(db)["alerts"] == 1


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_a_failing_commit_answers_503_stores_nothing_and_recovers(
    endpoint: Endpoint,
    make_client: Callable[..., tuple[FastAPI, TestClient]],
    world: World,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _app, client = make_client()
    real = committer_module.ingest_batch
    tries: list[int] = []

    def full(*args: Any) -> Any:
        real(*args)  # the batch's rows are written, then the database refuses
        tries.append(1)
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(committer_module, "ingest_batch", full)
    message = assert_unavailable(endpoint.send(client, world, "x"), endpoint, "5")
    assert "database is full" in message and "nothing was stored" in message
    assert len(tries) == committer_module.MAX_TRIES
    # All or nothing: not one alert of the batch, no incident, no timeline entry.
    assert stored(db) == {t: 0 for t in TABLES}

    monkeypatch.setattr(committer_module, "ingest_batch", real)
    # The client's resend after Retry-After is stored once.
    assert endpoint.send(client, world, "x").status_code == endpoint.ok
    assert stored(db)["alerts"] == endpoint.events
    assert stored(db)["incidents"] == 1


def test_a_database_that_cannot_be_reached_answers_503_not_500(
    make_client: Callable[..., tuple[FastAPI, TestClient]],
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _app, client = make_client()

    def refused(*_args: Any) -> Any:
        raise OperationalError("connect", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(committer_module, "ingest_batch", refused)
    for endpoint in ENDPOINTS:
        message = assert_unavailable(endpoint.send(client, world, "y"), endpoint, "5")
        assert message.startswith("the database is unavailable")


@pytest.mark.parametrize("backend", ["sqlite"])  # SQLite's own size cap
def test_a_full_sqlite_database_answers_503_saying_so_and_recovers(
    make_client: Callable[..., tuple[FastAPI, TestClient]], world: World, db: Database
) -> None:
    """SQLite's own size cap (PRAGMA max_page_count) makes writes fail with SQLITE_FULL, as a
    full disk does, without root; tests/faults has the real full filesystem."""
    with db.read_session() as s:
        pages = int(s.execute(text("PRAGMA page_count")).scalar_one())
    cap = [pages]  # no page more than the file has now

    @event.listens_for(db.engine, "checkout")
    def _cap(dbapi_conn: Any, *_args: Any) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {cap[0]}")

    _app, client = make_client()
    big = [f"host-{i}-{'x' * 200}" for i in range(300)]  # needs new pages
    r = client.post(
        f"/integrations/alertmanager/{world.alertmanager_key}",
        content=am_body(*big),
        headers={"Content-Type": "application/json"},
    )
    message = assert_unavailable(r, ENDPOINTS[1], "5")
    assert message.startswith("the database is full")
    assert stored(db) == {t: 0 for t in TABLES}

    cap[0] = pages * 100  # space returns
    r = client.post(
        f"/integrations/alertmanager/{world.alertmanager_key}",
        content=am_body(*big),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["accepted"] == 300
    assert stored(db)["alerts"] == 300
    with db.read_session() as s:
        assert s.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    event.remove(db.engine, "checkout", _cap)
