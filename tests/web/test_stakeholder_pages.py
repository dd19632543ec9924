"""Admins see, create, edit and delete a service's or a team's stakeholder lists and their
members in the browser, through the same functions (and refusals) as the API; nobody else may."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Web


def _lists(web: Web) -> list[dict[str, Any]]:
    r = web.base.get("/api/v1/stakeholder-lists", headers=web.world.auth("admin"))
    assert r.status_code == 200, r.text
    return list(r.json())


def test_an_admin_manages_a_services_lists_and_members(web: Web) -> None:
    w = web.world
    alice = web.browser("admin")
    assert (
        f'href="/services/{w.checkout_id}/stakeholders"'
        in alice.get(f"/services/{w.checkout_id}").text
    )
    page = f"/services/{w.checkout_id}/stakeholders"
    assert "No lists yet" in alice.get(page).text
    bad = alice.post(
        "/stakeholder-lists", {"service_id": str(w.checkout_id), "name": "", "min_priority": "2"}
    )
    assert bad.status_code == 422 and "Give the list a name" in bad.text
    r = alice.post(
        "/stakeholder-lists",
        {"service_id": str(w.checkout_id), "name": "Support <b>leads</b>", "min_priority": "1"},
    )
    assert r.status_code == 200 and "Support &lt;b&gt;leads&lt;/b&gt;" in r.text
    [lst] = _lists(web)
    assert (lst["service_id"], lst["min_priority"]) == (w.checkout_id, 1)
    lid = lst["id"]
    refused = alice.post(
        f"/stakeholder-lists/{lid}/members",
        {"kind": "address", "channel": "email", "address": "not-an-address"},
    )
    assert refused.status_code == 422 and 'value="not-an-address"' in refused.text
    added = alice.post(
        f"/stakeholder-lists/{lid}/members",
        {"kind": "address", "channel": "webhook", "address": "https://hooks.example.com/x"},
    )
    assert added.status_code == 200 and 'id="member-secret"' in added.text
    person = alice.post(
        f"/stakeholder-lists/{lid}/members", {"kind": "person", "user_id": str(w.stakeholder_id)}
    )
    assert person.status_code == 200
    [lst] = _lists(web)
    assert {m["channel"] for m in lst["members"]} == {"webhook", None}
    assert 'id="member-secret"' not in alice.get(page).text  # shown once only
    saved = alice.post(f"/stakeholder-lists/{lid}", {"name": "Support", "min_priority": "3"})
    assert saved.status_code == 200 and "List Support saved." in saved.text
    assert _lists(web)[0]["min_priority"] == 3
    hook = next(m for m in _lists(web)[0]["members"] if m["channel"] == "webhook")
    gone = alice.post(f"/stakeholder-lists/{lid}/members/{hook['id']}/delete", {"confirm": "yes"})
    assert gone.status_code == 200 and len(_lists(web)[0]["members"]) == 1
    assert alice.post(f"/stakeholder-lists/{lid}/delete", {}).status_code == 422
    assert alice.post(f"/stakeholder-lists/{lid}/delete", {"confirm": "yes"}).status_code == 200
    assert _lists(web) == []


def test_team_lists_and_who_may_see_them(web: Web) -> None:
    w = web.world
    admin = w.auth("admin")
    team = web.base.post("/api/v1/teams", json={"name": "Payments"}, headers=admin).json()
    alice = web.browser("admin")
    assert f'href="/teams/{team["id"]}/stakeholders"' in alice.get("/teams").text
    r = alice.post(
        "/stakeholder-lists",
        {"team_id": str(team["id"]), "name": "Finance", "min_priority": "2"},
    )
    assert r.status_code == 200 and _lists(web)[0]["team_id"] == team["id"]
    for who in ("responder", "stakeholder"):
        b = web.browser(who)
        assert b.get(f"/teams/{team['id']}/stakeholders").status_code == 403
        assert (
            f"/services/{w.checkout_id}/stakeholders"
            not in b.get(f"/services/{w.checkout_id}").text
        )
    assert alice.get("/teams/999999/stakeholders").status_code == 404
