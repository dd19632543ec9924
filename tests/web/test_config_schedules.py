"""Schedules built in the browser: an admin drafts layers, previews the next two weeks without
storing anything, saves, and edits them later, refused exactly where the API refuses, with
the refusal in the form's words (layers by number, people by name, the typed values kept)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import update

from tests.web.conftest import Web
from warroom.catalog.models import User


def _schedules(web: Web) -> list[dict[str, Any]]:
    listed = web.base.get("/api/v1/schedules", headers=web.world.auth("admin")).json()
    items: list[dict[str, Any]] = listed["items"]
    return items


def _form(web: Web, **extra: Any) -> dict[str, Any]:
    w = web.world
    return {
        "name": "Checkout <primary>",
        "description": "",
        "time_zone": "Europe/Paris",
        "team_id": "",
        "l0_name": "",
        "l0_rotation": "daily",
        "l0_hours": "",
        "l0_start": "2026-01-05T09:00",
        "l0_end": "",
        "l0_m0": str(w.responder_id),
        "l0_m1": str(w.admin_id),
        "l0_m2": "",
        "l0_r0_start": "",
        "l0_r0_end": "",
        "l1_rotation": "weekly",
        "l1_start": "",
        "l1_m0": "",
        "l1_r0_start": "",
        **extra,
    }


def test_an_admin_previews_then_saves_a_schedule_and_edits_its_layers(web: Web) -> None:
    w = web.world
    alice = web.browser("admin")
    assert alice.get("/oncall/schedules/new").status_code == 200

    preview = alice.post("/oncall/schedules/new", _form(web, action="preview"))
    assert preview.status_code == 200, preview.text
    assert "Preview, not saved" in preview.text
    # Daily handoff at 09:00 Paris, Bob then Alice: both names are in the two weeks.
    assert "Bob" in preview.text and "Alice" in preview.text and "09:00" in preview.text
    assert 'value="Checkout &lt;primary&gt;"' in preview.text  # typed kept, escaped
    assert _schedules(web) == []  # a preview stores nothing

    saved = alice.post("/oncall/schedules/new", _form(web, action="save"))
    assert saved.status_code == 303, saved.text
    sid = int(re.search(r"/oncall/schedules/(\d+)", saved.headers["location"]).group(1))  # type: ignore[union-attr]
    stored = web.base.get(f"/api/v1/schedules/{sid}", headers=w.auth("admin")).json()
    assert stored["time_zone"] == "Europe/Paris"
    [layer] = stored["layers"]
    assert layer["rotation"] == "daily" and layer["member_ids"] == [w.responder_id, w.admin_id]
    assert layer["start"].startswith("2026-01-05T09:00")
    page = alice.get(saved.headers["location"]).text
    assert "Schedule created." in page and "Edit layers and members" in page

    # The edit form shows what is stored; a second layer with a weekday window is added.
    form = alice.get(f"/oncall/schedules/{sid}/edit").text
    assert 'value="2026-01-05T09:00"' in form and f'value="{w.responder_id}" selected' in form
    edited = _form(
        web,
        action="save",
        name="Checkout",
        l1_rotation="custom",
        l1_hours="12",
        l1_start="2026-01-05T08:00",
        l1_m0=str(w.admin_id),
        l1_r0_days=["0", "1", "2", "3", "4"],
        l1_r0_start="08:00",
        l1_r0_end="20:00",
    )
    r = alice.post(f"/oncall/schedules/{sid}/edit", edited)
    assert r.status_code == 303, r.text
    stored = web.base.get(f"/api/v1/schedules/{sid}", headers=w.auth("admin")).json()
    assert stored["name"] == "Checkout"
    second = stored["layers"][1]
    assert second["rotation"] == "custom" and second["shift_seconds"] == 12 * 3600
    assert second["restrictions"] == [
        {"weekdays": [0, 1, 2, 3, 4], "start": "08:00", "end": "20:00"}
    ]

    # Removing a layer.
    r = alice.post(f"/oncall/schedules/{sid}/edit", {**edited, "l1_drop": "1"})
    assert r.status_code == 303
    stored = web.base.get(f"/api/v1/schedules/{sid}", headers=w.auth("admin")).json()
    assert len(stored["layers"]) == 1


def test_refusals_are_in_plain_words_keep_what_was_typed_and_store_nothing(web: Web) -> None:
    w = web.world
    alice = web.browser("admin")
    r = alice.post(
        "/oncall/schedules/new",
        _form(
            web,
            action="save",
            time_zone="Mars/Olympus",
            l0_rotation="custom",
            l0_hours="half",
            l0_start="next monday",
            l0_m0="",
            l0_m1="",
            l0_r0_days=["0"],
            l0_r0_start="",
            l0_r0_end="",
        ),
    )
    assert r.status_code == 422
    text = r.text
    assert "Mars/Olympus" in text and "is not a zone name" in text
    assert "Layer 1: a custom shift lasts a whole number of hours" in text
    assert "the first handoff must be a date and time" in text
    assert "choose at least one person" in text and "window 1: give its hours" in text
    assert 'value="next monday"' in text and 'value="half"' in text

    # The service's own refusal (a deactivated member) names the person, not an id.
    with web.db.session() as s:
        s.execute(update(User).where(User.id == w.responder_id).values(active=False))
    r = alice.post("/oncall/schedules/new", _form(web, action="preview"))
    assert r.status_code == 422
    assert "Layer 1: Bob is deactivated" in r.text, r.text
    r = alice.post("/oncall/schedules/new", _form(web, action="save"))
    assert r.status_code == 422 and "Bob is deactivated" in r.text
    # No layer at all.
    r = alice.post(
        "/oncall/schedules/new", _form(web, action="save", l0_start="", l0_m0="", l0_m1="")
    )
    assert r.status_code == 422 and "Add at least one layer" in r.text
    assert _schedules(web) == []


def test_a_taken_name_is_refused_beside_the_name(web: Web) -> None:
    alice = web.browser("admin")
    assert alice.post("/oncall/schedules/new", _form(web, action="save")).status_code == 303
    r = alice.post("/oncall/schedules/new", _form(web, action="save"))
    assert r.status_code == 409 and "There is already a schedule with this name" in r.text
    assert len(_schedules(web)) == 1


def test_only_admins_change_schedules(web: Web) -> None:
    """ADR 10: schedules and their layers are the admins' (as in the API)."""
    for who in ("responder", "stakeholder"):
        b = web.browser(who)
        assert b.get("/oncall/schedules/new").status_code == 403
        assert b.post("/oncall/schedules/new", _form(web, action="save")).status_code == 403
        assert 'href="/oncall/schedules/new"' not in b.get("/oncall").text
    assert _schedules(web) == []
