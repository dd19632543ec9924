"""Recurring maintenance on the public page: each occurrence in progress and the next one, in the
HTML, the Statuspage JSON and the feeds, with the rule in words; the component under
maintenance during an occurrence and its minutes left out of the uptime; the series announced
to subscribers once (and its cancellation once), never per occurrence; bad rules refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import assert_error
from tests.conftest import World, count_rows
from tests.statuspage.conftest import Driver, Mailbox
from tests.statuspage.helpers import component, subscribe, window
from warroom.db.engine import Database
from warroom.statuspage import logic, public

LINK = re.compile(r"http://warroom\.test(/status/confirm/[A-Za-z0-9_.-]+)")
# No daylight saving there, ever since 1945: wall-clock times map to UTC the same every day.
ZONE = "Asia/Kolkata"


def _confirmed_subscriber(client: TestClient, engine: Driver, mailbox: Mailbox) -> None:
    assert subscribe(client, {"channel": "email", "address": "ops-fan@example.com"}).is_success
    engine.run()
    body = mailbox.messages()[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = LINK.search(body)
    assert found
    assert client.post(found.group(1)).status_code == 200
    mailbox.envelopes.clear()


def _daily(client: TestClient, world: World, comp_id: int, first: datetime) -> dict[str, Any]:
    """A public window every day from `first` for an hour (first occurrence a week ago)."""
    return window(
        client,
        world,
        title="Nightly backup",
        description="Reads may be slow.",
        starts_at=first.isoformat(),
        ends_at=(first + timedelta(hours=1)).isoformat(),
        component_ids=[comp_id],
        rrule="FREQ=DAILY",
        time_zone=ZONE,
    )


def _words(first: datetime) -> str:
    local = first.astimezone(ZoneInfo(ZONE))
    end = local + timedelta(hours=1)
    # An hour that starts before midnight there ends the next day, and the words say so.
    next_day = " (+1 day)" if end.date() != local.date() else ""
    return f"every day {local:%H:%M}–{end:%H:%M}{next_day} {ZONE}"


def test_an_occurrence_in_progress_and_the_next_one_show_everywhere(
    client: TestClient, world: World, db: Database, engine: Driver, mailbox: Mailbox
) -> None:
    comp = component(client, world, name="Backups API")
    _confirmed_subscriber(client, engine, mailbox)
    now = datetime.now(UTC).replace(microsecond=0)
    # Today's occurrence started 20 minutes ago; the series began a week ago.
    first = now - timedelta(days=7, minutes=20)
    w = _daily(client, world, comp["id"], first)
    assert w["rrule"] == "FREQ=DAILY" and w["recurrence"] == _words(first)
    assert w["next_starts_at"].startswith((now - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M"))

    summary = client.get("/status/api/v2/summary.json").json()
    [c] = summary["components"]
    assert c["status"] == "under_maintenance"
    assert summary["status"]["indicator"] == "maintenance"
    running, following = summary["scheduled_maintenances"]
    assert running["status"] == "in_progress" and following["status"] == "scheduled"
    today = now - timedelta(minutes=20)
    assert running["scheduled_for"].startswith(today.strftime("%Y-%m-%dT%H:%M"))
    tomorrow = today + timedelta(days=1)
    assert following["scheduled_for"].startswith(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    assert running["id"] != following["id"]  # each occurrence is its own maintenance
    assert running["id"].startswith(f"m{w['id']}-")
    assert running["recurrence"] == _words(first)
    assert _words(first) in running["incident_updates"][0]["body"]
    active = client.get("/status/api/v2/scheduled-maintenances/active.json").json()
    assert [m["id"] for m in active["scheduled_maintenances"]] == [running["id"]]
    upcoming = client.get("/status/api/v2/scheduled-maintenances/upcoming.json").json()
    assert [m["id"] for m in upcoming["scheduled_maintenances"]] == [following["id"]]

    html = client.get("/status").text
    assert "Nightly backup" in html and "In progress" in html and "Next" in html
    assert f"Repeats {_words(first)}." in html
    assert f'id="{running["shortlink"].split("#")[1]}"' in html

    for path in ("/status/history.rss", "/status/history.atom"):
        feed = feedparser.parse(client.get(path).content)
        assert not feed.bozo, feed.bozo_exception
        items = [e for e in feed.entries if e.title == "Nightly backup"]
        assert len(items) == 1  # announced once: one item for the series
        assert f"Recurring maintenance, {_words(first)}. In progress" in items[0].summary

    # The series was announced once; its occurrences starting and ending are mailed to nobody.
    engine.run(now + timedelta(seconds=1))
    engine.run(now + timedelta(minutes=41))
    engine.run(now + timedelta(days=1, minutes=-19))
    engine.run(now + timedelta(days=1, minutes=41))
    [notice] = mailbox.messages()
    assert notice["Subject"] == "[Status] Recurring maintenance: Nightly backup"
    text = notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert _words(first) in text


def test_occurrence_minutes_count_as_maintenance_in_the_uptime(
    client: TestClient, world: World, db: Database, engine: Driver
) -> None:
    comp = component(client, world, name="Reports")
    now = datetime.now(UTC) + timedelta(seconds=1)  # the engine's clock, after the creation
    _daily(client, world, comp["id"], now - timedelta(days=7, minutes=10))  # ends in 50 min
    engine.run(now)  # the engine's reconcile records "under maintenance"
    engine.run(now + timedelta(minutes=51))  # and "operational" after the occurrence
    later = now + timedelta(minutes=60)
    with db.read_session() as s:
        snapshot = public.build(s, later)
    [c] = snapshot.components
    assert c.status == logic.OPERATIONAL
    recorded = [d for d in c.days if d.worst is not None]
    assert logic.MAINTENANCE in {d.worst for d in recorded}
    existed = (later - datetime.fromisoformat(comp["created_at"])).total_seconds()
    counted = sum(d.counted for d in recorded)
    # The occurrence's minutes (recorded within the engine's reconcile step) are not counted.
    assert counted == pytest.approx(existed - 51 * 60, abs=2)
    assert c.uptime == 100.0


def test_a_cancelled_series_leaves_the_page_and_is_told_once(
    client: TestClient, world: World, db: Database, engine: Driver, mailbox: Mailbox
) -> None:
    comp = component(client, world, name="Search")
    _confirmed_subscriber(client, engine, mailbox)
    now = datetime.now(UTC).replace(microsecond=0)
    w = _daily(client, world, comp["id"], now - timedelta(days=2, minutes=5))
    engine.run(now + timedelta(seconds=1))
    r = client.post(f"/api/v1/maintenance-windows/{w['id']}/cancel", headers=world.auth("admin"))
    assert r.status_code == 200
    summary = client.get("/status/api/v2/summary.json").json()
    assert summary["scheduled_maintenances"] == []
    assert summary["components"][0]["status"] == "operational"
    engine.run(now + timedelta(days=1, seconds=1))
    subjects = [m["Subject"] for m in mailbox.messages()]
    assert subjects == [
        "[Status] Recurring maintenance: Nightly backup",
        "[Status] Recurring maintenance cancelled: Nightly backup",
    ]


def test_bad_recurrences_are_refused_and_nothing_is_stored(
    client: TestClient, world: World, db: Database
) -> None:
    comp = component(client, world, name="Mail")
    start = datetime.now(UTC) + timedelta(hours=1)
    base = {
        "title": "Patching",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
        "component_ids": [comp["id"]],
    }
    admin = world.auth("admin")
    cases = [
        ({"rrule": "FREQ=MINUTELY"}, "more often than every"),
        ({"rrule": "every sunday"}, "not an RRULE"),
        ({"rrule": "FREQ=DAILY;DTSTART=20260101T000000Z"}, "leave DTSTART out"),
        ({"rrule": "FREQ=DAILY", "time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"recur_until": (start + timedelta(days=9)).isoformat()}, "recur_until needs an rrule"),
        (
            {"rrule": "FREQ=DAILY", "recur_until": (start - timedelta(days=1)).isoformat()},
            "recur_until must be after",
        ),
    ]
    for extra, words in cases:
        r = client.post("/api/v1/maintenance-windows", json={**base, **extra}, headers=admin)
        assert words in assert_error(r, 422)["message"], (extra, r.json())
    assert count_rows(db, "maintenance_windows") == 0
    assert count_rows(db, "timers WHERE kind = 'status_page_maintenance'") == 0
