"""Live updates: the event stream's versions, its end, its database use, and the fragments."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.conftest import World
from tests.web.conftest import Web
from tests.web.helpers import declared
from warroom.db.engine import Database
from warroom.incidents import service as incidents
from warroom.web import live
from warroom.web.queries.live_stamps import version_tag


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def collect(
    read: Callable[[], object | None],
    *,
    disconnect_after: int = 10**9,
    exiting: Callable[[], bool] = lambda: False,
    **kwargs: float,
) -> list[str]:
    """Runs a stream to its end under a fake clock; returns its messages."""
    fake = FakeTime()
    checks = 0

    async def is_disconnected() -> bool:
        nonlocal checks
        checks += 1
        return checks > disconnect_after

    async def run() -> list[str]:
        return [
            m
            async for m in live.version_events(
                read, is_disconnected, clock=fake.clock, sleep=fake.sleep, exiting=exiting, **kwargs
            )
        ]

    return asyncio.run(run())


def test_a_stream_sends_a_version_at_start_and_after_each_change_only() -> None:
    versions = iter([1, 1, 1, 2, 2, 3] + [3] * 100)
    messages = collect(
        lambda: next(versions), stream_seconds=10, poll_seconds=0.5, keepalive_seconds=2
    )
    assert messages[0] == "retry: 1000\n\n"
    events = [m for m in messages if m.startswith("event:")]
    assert events == [f"event: version\ndata: {version_tag(v)}\n\n" for v in (1, 2, 3)]
    # Quiet streams get a comment now and then, so proxies keep them open.
    assert ": keepalive\n\n" in messages
    assert len(messages) < 10  # no message per poll


def test_a_stream_ends_on_disconnect_shutdown_time_limit_or_when_the_thing_is_gone() -> None:
    polls = 0

    def read() -> int:
        nonlocal polls
        polls += 1
        return 1

    collect(read, disconnect_after=3, stream_seconds=1e9)
    assert polls == 3  # the fourth check saw the client gone, and it stopped polling
    polls = 0
    collect(read, exiting=lambda: polls >= 2, stream_seconds=1e9)
    assert polls == 2
    polls = 0
    collect(read, stream_seconds=5, poll_seconds=0.5)
    assert polls == 11
    assert collect(lambda: None)[-1] == "event: gone\ndata: {}\n\n"


def test_polls_hold_no_database_connection_between_them(db: Database, world: World) -> None:
    with db.session() as s:
        incident = incidents.declare(
            s,
            incidents.Actor(world.responder_id, "Bob"),
            datetime.now(UTC),
            [[1, 2, 3], [2, 3, 4], [3, 4, 4]],
            title="t",
            description="",
            impact=1,
            urgency=1,
            service_ids=[],
        )
        incident_id = incident.id
    pool = db.read_engine.pool
    fake = FakeTime()
    checked_out_while_sleeping: list[int] = []
    sleeps = 0

    async def sleep(seconds: float) -> None:
        nonlocal sleeps
        sleeps += 1
        checked_out_while_sleeping.append(pool.checkedout())  # type: ignore[attr-defined]
        if sleeps == 2:  # someone adds a note between two polls
            with db.session() as s:
                incidents.add_note(
                    s, incident_id, incidents.Actor(None, "x"), datetime.now(UTC), "hello"
                )
        await fake.sleep(seconds)

    async def connected() -> bool:
        return False

    async def run(target: int | None) -> list[str]:
        stream = live.version_events(
            live.version_reader(db, target),
            connected,
            clock=fake.clock,
            sleep=sleep,
            exiting=lambda: False,
            stream_seconds=2.0,
        )
        return [m async for m in stream if m.startswith("event:")]

    events = asyncio.run(run(incident_id))
    assert len(events) == 2  # the first version, then the one after the note
    assert set(checked_out_while_sleeping) == {0}
    sleeps = 10
    assert len(asyncio.run(run(None))) == 1  # the dashboard's stream
    assert asyncio.run(run(999_999)) == ["event: gone\ndata: {}\n\n"]


def test_the_stream_and_fragments_bring_a_note_to_another_browser(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "STREAM_SECONDS", 0.0)  # the TestClient reads to the end
    incident_id = declared(web, "Live one")
    watcher, writer = web.browser("stakeholder"), web.browser("responder")
    page = watcher.get(f"/incidents/{incident_id}").text
    version = re.search(r'data-version="(\w+)"', page).group(1)  # type: ignore[union-attr]
    last_id = max(map(int, re.findall(r'data-id="(\d+)"', page)))

    stream = watcher.get(f"/events/stream?incident={incident_id}")
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["cache-control"] == "no-store"
    assert stream.text == f"retry: 1000\n\nevent: version\ndata: {version}\n\n"

    assert (
        writer.post(f"/incidents/{incident_id}/notes", {"text": "DB failover done"}).status_code
        == 303
    )
    stream = watcher.get(f"/events/stream?incident={incident_id}").text
    new_version = stream.split("data: ")[1].strip()
    assert new_version != version

    fragment = watcher.get(f"/incidents/{incident_id}/timeline.fragment?after={last_id}")
    assert fragment.text.count("<li ") == 1 and "DB failover done" in fragment.text
    assert int(fragment.headers["x-timeline-total"]) >= 2
    panels = watcher.get(f"/incidents/{incident_id}/panels.fragment").text
    assert f'data-version="{new_version}"' in panels
    assert 'id="incident-roles" data-panel' in panels

    # The dashboard's stream moves when a new incident appears.
    before = watcher.get("/events/stream").text
    declared(web, "Another one")
    after = watcher.get("/events/stream").text
    assert before != after and "event: version" in after
    dashboard = watcher.get("/dashboard.fragment").text
    assert "Another one" in dashboard and after.split("data: ")[1].strip() in dashboard


def test_one_stream_follows_many_pages_by_topic(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    """All tabs of a browser share one stream (ADR 10): it carries a tag per topic, the same
    tags the pages carry, and a gone incident reads as null."""
    monkeypatch.setattr(live, "STREAM_SECONDS", 0.0)
    first, second = declared(web, "one"), declared(web, "two")
    assert live.parse_topics(f"dashboard,incident:{first},incident:{first}, incident:{second}") == [
        "dashboard",
        f"incident:{first}",
        f"incident:{second}",
    ]
    assert live.parse_topics("incident:x") is None and live.parse_topics("users") is None
    assert live.parse_topics(",".join(f"incident:{i}" for i in range(1, 90))) is not None
    b = web.browser("stakeholder")
    r = b.get(f"/events/versions?topics=dashboard,incident:{first},incident:999999")
    assert r.status_code == 200
    tags = r.json()
    assert tags["incident:999999"] is None
    page = b.get(f"/incidents/{first}").text
    assert f'data-version="{tags[f"incident:{first}"]}"' in page
    stream = b.get(f"/events/stream?topics=dashboard,incident:{first}")
    assert "event: versions" in stream.text and tags["dashboard"] in stream.text
    assert b.get("/events/versions?topics=nope").status_code == 404
    assert web.browser().get("/events/versions?topics=dashboard").status_code == 303
