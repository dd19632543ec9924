"""Times typed into forms follow the product guide's DST rules, as the API's schedules do (one
function, common/zones.read_wall_clock): an end in a repeated hour is its last occurrence, a
start in a skipped hour moves forward by the gap, and the page says how it read them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.web.conftest import Web
from warroom.common.zones import read_wall_clock
from warroom.oncall.models import ScheduleOverride
from warroom.web.render import parse_local

PARIS = ZoneInfo("Europe/Paris")


def test_one_reading_of_skipped_and_repeated_times() -> None:
    # 29 Mar 2026 02:30 does not exist in Paris: 03:30 CEST (01:30 UTC).
    start, note = read_wall_clock(datetime(2026, 3, 29, 2, 30), PARIS)
    assert start == datetime(2026, 3, 29, 1, 30, tzinfo=UTC) and note and "does not exist" in note
    # 25 Oct 2026 02:30 happens twice: a start is the first (00:30 UTC), an end the last.
    first, _ = read_wall_clock(datetime(2026, 10, 25, 2, 30), PARIS)
    last, note = read_wall_clock(datetime(2026, 10, 25, 2, 30), PARIS, ending=True)
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert last == datetime(2026, 10, 25, 1, 30, tzinfo=UTC) and note and "second" in note
    assert read_wall_clock(datetime(2026, 6, 1, 9, 0), PARIS)[1] is None
    # Odd zones follow the same rules: Lord Howe's 30-minute change.
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    moved, note = read_wall_clock(datetime(2026, 10, 4, 2, 15), lord_howe)
    assert note and moved.astimezone(lord_howe).strftime("%H:%M") == "02:45"
    assert parse_local("2026-10-25T02:30", "Europe/Paris", ending=True) == last


def test_an_override_ending_in_the_repeated_hour_is_not_an_hour_short(web: Web) -> None:
    w = web.world
    admin = w.auth("admin")
    r = web.base.post(
        "/api/v1/schedules",
        headers=admin,
        json={
            "name": "Paris",
            "time_zone": "Europe/Paris",
            "layers": [
                {"rotation": "daily", "start": "2026-10-01T09:00", "member_ids": [w.responder_id]}
            ],
        },
    )
    sid = r.json()["id"]
    bob = web.browser("responder")
    r = bob.post(
        f"/oncall/schedules/{sid}/overrides",
        {
            "kind": "add",
            "user_id": str(w.admin_id),
            "start_at": "2026-10-25T00:30",
            "end_at": "2026-10-25T02:30",
            "note": "",
        },
    )
    assert r.status_code == 200, r.text
    assert "happens twice" in r.text and "read as its second occurrence, 02:30 CET" in r.text
    with web.db.read_session() as s:
        row = s.scalars(select(ScheduleOverride).where(ScheduleOverride.schedule_id == sid)).one()
        assert row.end_at.replace(tzinfo=UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    r = bob.post(
        f"/oncall/schedules/{sid}/overrides",
        {
            "kind": "add",
            "user_id": str(w.stakeholder_id),
            "start_at": "2027-03-28T02:30",
            "end_at": "2027-03-28T05:00",
            "note": "",
        },
    )
    assert r.status_code == 200 and "does not exist" in r.text and "03:30 CEST" in r.text
