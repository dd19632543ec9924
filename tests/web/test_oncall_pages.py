"""The on-call pages: who is on call, a schedule's week and month, and overrides through forms."""

from __future__ import annotations

import re
from typing import Any

from tests.oncall.helpers import API, make_schedule, weekly_layer
from tests.web.conftest import Web


def _office_hours(web: Web) -> dict[str, Any]:
    """Alice and Bob take turns daily, 09:00 to 17:00 on weekdays (London): nights are gaps."""
    layer = {
        "name": "Office hours",
        "rotation": "daily",
        "start": "2026-01-05T09:00",
        "member_ids": [web.world.admin_id, web.world.responder_id],
        "restrictions": [{"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
    }
    return make_schedule(web.base, web.world, "Database", "Europe/London", [layer])


def _overrides(web: Web, schedule_id: int) -> list[dict[str, Any]]:
    r = web.base.get(
        f"{API}/schedules/{schedule_id}/overrides?since=2026-01-01T00:00:00Z",
        headers=web.world.auth(),
    )
    assert r.status_code == 200, r.text
    return list(r.json())


def test_on_call_pages_render_for_responder_and_read_only_for_stakeholder(web: Web) -> None:
    always = make_schedule(
        web.base, web.world, "Primary", "Europe/London", [weekly_layer(web.world.responder_id)]
    )
    office = _office_hours(web)
    bob, carol = web.browser("responder"), web.browser("stakeholder")
    week = f"/oncall/schedules/{office['id']}?view=week&start=2026-01-05"
    expected = {
        "/oncall": [
            "Primary",
            "Database",
            "Bob",
            "until",
            "service &#39;checkout-api&#39; has no escalation policy",
            "has nobody on call in the next 7 days",
        ],
        f"/oncall/schedules/{always['id']}": ["Primary", "Now", "Bob", "further than a year"],
        week: ["Mon 05 Jan 2026 to Sun 11 Jan 2026", "Office hours", "Mon 05 Jan", "Sun 11 Jan"],
        f"/oncall/schedules/{office['id']}?view=month&start=2026-02-17": ["February 2026"],
        f"/oncall/schedules/{office['id']}?view=nonsense&start=not-a-day&tz=x": ["Week"],
    }
    for url, texts in expected.items():
        for who, b in (("responder", bob), ("stakeholder", carol)):
            r = b.get(url)
            assert r.status_code == 200, (who, url, r.status_code, r.text[:300])
            for text in texts:
                assert text in r.text, (who, url, text)
    assert "You are on call now on" in bob.get("/oncall").text
    assert 'action="/oncall/schedules' in bob.get(week).text
    assert "Add an override" in bob.get(week).text
    page = carol.get(week).text
    assert 'method="post" action="/oncall' not in page and "Add an override" not in page
    assert 'aria-current="page">On call' in page  # the main menu leads here
    assert bob.get("/oncall/schedules/999999").status_code == 404
    assert bob.get("/oncall/schedules/abc").status_code == 404


def test_the_week_shows_layers_final_shifts_and_gaps_in_both_zones(web: Web) -> None:
    office = _office_hours(web)
    bob = web.browser("responder")  # America/New_York
    url = f"/oncall/schedules/{office['id']}?view=week&start=2026-01-05"
    page = bob.get(url).text
    rows = re.findall(r'<tr class="day[^"]*">(.*?)</tr>', page, re.S)
    assert len(rows) == 7
    monday, tuesday, saturday = rows[0], rows[1], rows[5]
    # Alice first (the anchor is Monday 09:00), then Bob; nights and the weekend are gaps.
    assert "09:00–17:00" in monday and "Alice" in monday and "Bob" not in monday
    assert "00:00–09:00" in monday and "17:00–24:00" in monday and "nobody on call" in monday
    assert "Bob" in tuesday
    assert "00:00–24:00" in saturday and "Alice" not in saturday and "Bob" not in saturday
    assert page.count('class="badge gap-badge"') == 7
    assert "gaps with nobody on call in this week" in page
    # Each piece also in the reader's zone: 09:00 in London is 04:00 in New York in January.
    assert "Mon 04:00–Mon 12:00 EST" in monday
    # Days cut in the reader's zone instead: the office day is 04:00–12:00 there.
    mine = bob.get(url + "&tz=mine").text
    assert "Days and times in <strong>America/New_York</strong>" in mine
    first = re.findall(r'<tr class="day[^"]*">(.*?)</tr>', mine, re.S)[0]
    assert "04:00–12:00" in first and "Mon 09:00–Mon 17:00 GMT" in first
    # Navigation keeps the view and the zone.
    assert "?view=week&amp;start=2026-01-12&amp;tz=mine" in mine
    assert "?view=week&amp;start=2025-12-29&amp;tz=schedule" in page


def test_overrides_through_the_page_created_refused_on_overlap_and_deleted(web: Web) -> None:
    office = _office_hours(web)
    sid = office["id"]
    bob = web.browser("responder")
    form = {
        "kind": "replace",
        "user_id": str(web.world.admin_id),
        "replacement_id": str(web.world.responder_id),
        "start_at": "2026-07-06T09:00",
        "end_at": "2026-07-06T17:00",
        "note": "Alice at the dentist",
        "back_view": "month",
        "back_start": "2026-07-01",
        "back_tz": "schedule",
    }
    r = bob.post(f"/oncall/schedules/{sid}/overrides", form)
    assert r.status_code == 303, r.text[:500]
    # Back to the week the override starts in, so it is on the screen.
    assert r.headers["location"] == f"/oncall/schedules/{sid}?view=week&start=2026-07-06#overrides"
    [stored] = _overrides(web, sid)
    # Typed in the schedule's zone (London, summer time), not Bob's (New York).
    assert stored["start"].startswith("2026-07-06T08:00") and stored["end"].startswith(
        "2026-07-06T16:00"
    )
    assert (stored["kind"], stored["replacement_id"]) == ("replace", web.world.responder_id)
    page = bob.get(r.headers["location"]).text
    assert "Alice at the dentist" in page and "covers for" in page
    monday = re.findall(r'<tr class="day[^"]*">(.*?)</tr>', page, re.S)[0]
    assert "Alice → Bob" in monday and "(override)" in monday

    # Overlapping the same person: refused with the clash named, the form as typed.
    clash = {**form, "kind": "add", "start_at": "2026-07-06T12:00", "end_at": "2026-07-06T20:00"}
    r = bob.post(f"/oncall/schedules/{sid}/overrides", clash)
    assert r.status_code == 409
    assert "This override overlaps override" in r.text and "cannot overlap" in r.text
    assert 'value="2026-07-06T12:00"' in r.text and "July 2026" in r.text  # the month shown
    assert len(_overrides(web, sid)) == 1

    for bad, message in (
        ({"start_at": ""}, "Give a start and an end."),
        ({"start_at": "tomorrow"}, "not a date and time"),
        ({"replacement_id": ""}, "Choose who covers"),
        ({"kind": "swap"}, "adds, removes or replaces"),
        ({"end_at": "2026-07-06T08:00"}, "must be after start"),
        (
            {"user_id": "999999", "start_at": "2026-08-01T09:00", "end_at": "2026-08-02T09:00"},
            "User 999999 does not exist",
        ),
    ):
        r = bob.post(f"/oncall/schedules/{sid}/overrides", {**form, **bad})
        assert r.status_code == 422, (bad, r.status_code)
        assert message in r.text, (bad, message)
    assert len(_overrides(web, sid)) == 1

    carol = web.browser("stakeholder")
    delete = f"/oncall/schedules/{sid}/overrides/{stored['id']}/delete"
    assert carol.post(delete, {}).status_code == 403
    assert carol.post(f"/oncall/schedules/{sid}/overrides", form).status_code == 403
    r = bob.post(delete, {"back_view": "month", "back_start": "2026-07-01", "back_tz": "mine"})
    assert r.status_code == 303
    assert r.headers["location"] == (
        f"/oncall/schedules/{sid}?view=month&start=2026-07-01&tz=mine#overrides"
    )
    assert _overrides(web, sid) == []
    assert bob.post(delete, {}).status_code == 404
    assert bob.post(delete, {}, csrf=False).status_code == 403
