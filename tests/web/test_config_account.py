"""One's own account in the browser: profile, contact methods with a test message, rules,
quiet hours, API tokens and the calendar feed, with the API's rules and refusals."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.web.conftest import Web
from warroom.notify.models import Notification


def test_a_responder_sets_up_how_they_are_paged(web: Web) -> None:
    w = web.world
    bob = web.browser("responder")
    page = bob.get("/account").text
    assert "No contact method: pages cannot reach you." in page
    assert "/calendar/users/" in page

    r = bob.post(
        "/account/profile", {"name": "Bob <b>B</b>", "email": "", "time_zone": "Mars/Base"}
    )
    assert r.status_code == 422 and "is not a zone name" in r.text and 'value="Mars/Base"' in r.text
    r = bob.post(
        "/account/profile", {"name": "Bob <b>B</b>", "email": "", "time_zone": "Europe/Paris"}
    )
    assert r.status_code == 200 and "Bob &lt;b&gt;B&lt;/b&gt;" in r.text
    me = web.base.get("/api/v1/users/me", headers=w.auth()).json()
    assert (me["name"], me["time_zone"]) == ("Bob <b>B</b>", "Europe/Paris")

    r = bob.post("/account/contact-methods", {"channel": "email", "address": "not an address"})
    assert r.status_code == 422 and 'id="cm-address-err"' in r.text
    assert 'value="not an address"' in r.text
    r = bob.post("/account/contact-methods", {"channel": "local", "address": "bob's console"})
    assert r.status_code == 200 and "contact method added" in r.text
    [method] = web.base.get(
        f"/api/v1/users/{w.responder_id}/contact-methods", headers=w.auth()
    ).json()

    r = bob.post(f"/account/contact-methods/{method['id']}/test")
    assert r.status_code == 200 and "Test message queued" in r.text
    with web.db.read_session() as s:
        [note] = s.scalars(select(Notification).where(Notification.kind == "test")).all()
        assert note.contact_method_id == method["id"] and note.incident_id is None

    r = bob.post(
        "/account/rules", {"contact_method_id": str(method["id"]), "urgency": "high", "delay": "x"}
    )
    assert r.status_code == 422 and "whole number of minutes" in r.text
    r = bob.post(
        "/account/rules", {"contact_method_id": str(method["id"]), "urgency": "low", "delay": "2"}
    )
    assert r.status_code == 200
    [rule] = web.base.get(
        f"/api/v1/users/{w.responder_id}/notification-rules", headers=w.auth()
    ).json()
    assert (rule["urgency"], rule["delay_seconds"]) == ("low", 120)

    r = bob.post("/account/quiet-hours", {"start": "22:00", "end": ""})
    assert r.status_code == 422 and "give both start and end" in r.text.lower()
    assert bob.post("/account/quiet-hours", {"start": "22:00", "end": "07:00"}).status_code == 200
    quiet = web.base.get(f"/api/v1/users/{w.responder_id}/quiet-hours", headers=w.auth()).json()
    assert (quiet["start"], quiet["end"]) == ("22:00", "07:00")

    r = bob.post("/account/tokens", {"name": "grafana"})
    token = re.search(r"<code>(wr_[^<]+)</code>", r.text)
    assert token and "shown only this once" in r.text
    assert (
        web.base.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {token.group(1)}"}
        ).status_code
        == 200
    )
    tid = [
        t for t in web.base.get("/api/v1/tokens", headers=w.auth()).json() if t["name"] == "grafana"
    ][0]["id"]
    assert bob.post(f"/account/tokens/{tid}/revoke").status_code == 200
    assert (
        web.base.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {token.group(1)}"}
        ).status_code
        == 401
    )
    # Someone else's token or method: not found, nothing changed.
    admin_token = [t for t in web.base.get("/api/v1/tokens", headers=w.auth("admin")).json()][0][
        "id"
    ]
    assert bob.post(f"/account/tokens/{admin_token}/revoke").status_code == 404
    assert web.base.get("/api/v1/users/me", headers=w.auth("admin")).status_code == 200


def test_an_admin_edits_someone_s_profile_and_role(web: Web) -> None:
    w = web.world
    alice = web.browser("admin")
    r = alice.post(
        f"/admin/users/{w.stakeholder_id}",
        {
            "name": "Carol C",
            "email": "carol@example.com",
            "time_zone": "Asia/Kathmandu",
            "role": "responder",
        },
    )
    assert r.status_code == 200 and "User carol saved." in r.text
    carol = web.base.get(f"/api/v1/users/{w.stakeholder_id}", headers=w.auth("admin")).json()
    assert (carol["role"], carol["time_zone"]) == ("responder", "Asia/Kathmandu")
    r = alice.post(
        f"/admin/users/{w.admin_id}",
        {"name": "A", "email": "", "time_zone": "UTC", "role": "responder"},
    )
    assert r.status_code == 409 and "your own role" in r.text
    r = alice.post(
        f"/admin/users/{w.stakeholder_id}",
        {"name": "", "email": "", "time_zone": "Nowhere", "role": "admin"},
    )
    assert r.status_code == 422 and "not a zone name" in r.text
    assert (
        web.base.get(f"/api/v1/users/{w.stakeholder_id}", headers=w.auth("admin")).json()["role"]
        == "responder"
    )
