"""iCalendar feeds: a schedule's and a person's shifts, parsed back with icalendar; the token in
the URL is the only credential, and anything forged or stale is a plain 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from icalendar import Calendar

from tests.api.helpers import assert_error
from tests.conftest import World
from tests.oncall.helpers import API, make_schedule, weekly_layer
from warroom.db.engine import Database
from warroom.oncall import feeds

NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


def events(body: bytes) -> list[tuple[str, datetime, datetime]]:
    cal = Calendar.from_ical(body)
    return [
        (str(e["SUMMARY"]), e.decoded("DTSTART"), e.decoded("DTEND")) for e in cal.walk("VEVENT")
    ]


def feed_path(client: TestClient, world: World, url: str, who: str = "stakeholder") -> str:
    r = client.get(url, headers=world.auth(who))
    assert r.status_code == 200, r.text
    parts = urlsplit(r.json()["url"])
    assert parts.netloc == "warroom.test"  # the configured base URL
    return f"{parts.path}?{parts.query}"


def test_schedule_feed_has_the_final_shifts_and_the_gaps(client: TestClient, world: World,
                                                         db: Database) -> None:  # fmt: skip
    sid = make_schedule(client, world)["id"]
    with db.read_session() as s:
        body = feeds.schedule_calendar(s, sid, NOW)
    assert body is not None
    cal = Calendar.from_ical(body)
    assert str(cal["X-WR-CALNAME"]) == "On call: Primary"
    found = events(body)
    # From the start of today (UTC) to 60 days ahead: Alice's week, then weekly turns.
    assert found[0] == ("On call: Alice", datetime(2026, 1, 7, tzinfo=UTC),
                        datetime(2026, 1, 12, 9, tzinfo=UTC))  # fmt: skip
    assert found[1][0] == "On call: Bob" and found[1][1] == datetime(2026, 1, 12, 9, tzinfo=UTC)
    assert found[-1][2] == NOW + timedelta(days=60)
    # Shifts are back to back (no gap in this schedule), handoffs on Mondays.
    assert all(a[2] == b[1] for a, b in zip(found, found[1:], strict=False))
    assert {start.weekday() for _, start, _ in found[1:]} == {0}
    uids = [str(e["UID"]) for e in cal.walk("VEVENT")]
    assert len(set(uids)) == len(uids)

    # A schedule that has not started yet is one long gap, flagged as such.
    later = make_schedule(client, world, "Later", layers=[weekly_layer(world.admin_id,
                          start="2026-02-02T09:00")])["id"]  # fmt: skip
    with db.read_session() as s:
        body = feeds.schedule_calendar(s, later, NOW)
        assert feeds.schedule_calendar(s, 99999, NOW) is None
    assert body is not None
    found = events(body)
    assert found[-1] == ("Nobody on call", datetime(2026, 1, 7, tzinfo=UTC),
                         datetime(2026, 2, 2, 9, tzinfo=UTC))  # fmt: skip


def test_feeds_over_http_and_forged_tokens(client: TestClient, world: World) -> None:
    # Started long ago, so whatever today is, the feed has shifts.
    layer = weekly_layer(world.admin_id, world.responder_id, start="2000-01-03T09:00")
    sid = make_schedule(client, world, layers=[layer])["id"]
    path = feed_path(client, world, f"{API}/schedules/{sid}/calendar-feed")
    assert path.startswith(f"/calendar/schedules/{sid}.ics?token=")
    r = client.get(path)  # no Authorization header: the token is the credential
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    found = events(r.content)
    assert found and {summary for summary, _, _ in found} == {"On call: Alice", "On call: Bob"}
    assert all(a[2] == b[1] for a, b in zip(found, found[1:], strict=False))

    token = path.split("token=")[1]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (
        f"/calendar/schedules/{sid}.ics?token={forged}",
        f"/calendar/schedules/{sid}.ics",
        f"/calendar/schedules/{sid}.ics?token=",
        f"/calendar/schedules/{sid + 1}.ics?token={token}",  # another schedule's
        f"/calendar/users/{sid}.ics?token={token}",  # the same id, another kind
        f"/calendar/schedules/x{sid}.ics?token={token}",
        f"/calendar/schedules/{'9' * 40}.ics?token={token}",
    ):
        err = assert_error(client.get(bad), 404)
        assert err["message"] == "no such calendar"
    # A deleted schedule's URL stops working.
    assert client.delete(f"{API}/schedules/{sid}", headers=world.auth("admin")).status_code == 204
    assert_error(client.get(path), 404)
    assert_error(client.get(f"{API}/schedules/{sid}/calendar-feed", headers=world.auth()), 404)


def test_a_persons_feed(client: TestClient, world: World) -> None:
    alice, bob = world.admin_id, world.responder_id
    layer = weekly_layer(alice, bob, start="2000-01-03T09:00")
    make_schedule(client, world, "Primary", layers=[layer])
    make_schedule(client, world, "Secondary", layers=[{**layer, "member_ids": [bob, alice]}])
    path = feed_path(client, world, f"{API}/users/me/calendar-feed", who="responder")
    assert path.startswith(f"/calendar/users/{bob}.ics?token=")
    r = client.get(path)
    assert r.status_code == 200, r.text
    cal = Calendar.from_ical(r.content)
    assert str(cal["X-WR-CALNAME"]) == "Bob: on call"
    found = events(r.content)
    # Bob's turns alternate between the two schedules week by week; nobody else's are there.
    assert {summary for summary, _, _ in found} == {"On call: Primary", "On call: Secondary"}
    assert all(b[1] == a[2] for a, b in zip(found, found[1:], strict=False))
    assert all(end - start <= timedelta(days=7) for _, start, end in found)
    # Everyone gets only their own feed URL; deactivation ends the feed.
    other = feed_path(client, world, f"{API}/users/me/calendar-feed", who="admin")
    assert other != path and other.startswith(f"/calendar/users/{alice}.ics?token=")
    r = client.patch(f"{API}/users/{bob}", json={"active": False}, headers=world.auth("admin"))
    assert r.status_code == 200
    assert_error(client.get(path), 404)


def test_tokens_depend_on_the_secret_kind_and_id() -> None:
    token = feeds.feed_token("secret-1", "schedule", 1)
    assert len(token) == 27 and token.isascii()
    assert feeds.token_matches("secret-1", "schedule", 1, token)
    others: list[Any] = [("secret-2", "schedule", 1), ("secret-1", "user", 1),
                         ("secret-1", "schedule", 2)]  # fmt: skip
    assert all(not feeds.token_matches(*o, token) for o in others)
    assert feeds.feed_window(NOW) == (datetime(2026, 1, 7, tzinfo=UTC), NOW + timedelta(days=60))
