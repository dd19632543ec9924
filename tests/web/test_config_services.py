"""Services set up in the browser: admins create them; admins and the owning team's responders
edit them, add, rotate and delete integrations and choose the escalation policy. The forms call
the API's services: the same refusals, in plain words beside the field, nothing half-stored."""

from __future__ import annotations

import re

from tests.web.conftest import Web


def _service(web: Web, sid: int) -> dict[str, object]:
    r = web.base.get(f"/api/v1/services/{sid}", headers=web.world.auth("admin"))
    return dict(r.json())


def test_an_admin_creates_a_service_with_an_integration(web: Web) -> None:
    alice = web.browser("admin")
    assert 'href="/services/new"' in alice.get("/services").text
    form = alice.get("/services/new")
    assert form.status_code == 200 and 'for="s-name"' in form.text
    r = alice.post(
        "/services/new",
        {
            "name": "search <b>api</b>",
            "description": "Finds things",
            "team_id": "",
            "tier": "1",
            "window": "15",
            "auto_resolve": "1",
            "depends_on_ids": [str(web.world.database_id)],
        },
    )
    assert r.status_code == 303, r.text
    sid = int(re.search(r"/services/(\d+)", r.headers["location"]).group(1))  # type: ignore[union-attr]
    svc = _service(web, sid)
    assert svc["tier"] == 1 and svc["grouping_window_seconds"] == 900
    assert svc["depends_on_ids"] == [web.world.database_id]
    page = alice.get(f"/services/{sid}").text
    assert "search &lt;b&gt;api&lt;/b&gt;" in page and "<b>api</b>" not in page
    r = alice.post(f"/services/{sid}/integrations", {"type": "alertmanager", "name": "prom"})
    assert r.status_code == 303
    page = alice.get(f"/services/{sid}").text
    key = re.search(r'<code class="key">([^<]+)</code>', page)
    assert key and "webhook_configs" in page
    iid = web.base.get(
        f"/api/v1/integrations?service_id={sid}", headers=web.world.auth("admin")
    ).json()[0]["id"]
    assert alice.post(f"/services/{sid}/integrations/{iid}/rotate").status_code == 303
    assert key.group(1) not in alice.get(f"/services/{sid}").text
    assert alice.post(f"/services/{sid}/integrations/{iid}/delete").status_code == 303
    assert "None yet." in alice.get(f"/services/{sid}").text


def test_bad_input_is_shown_beside_the_field_and_kept(web: Web) -> None:
    alice = web.browser("admin")
    typed = {"name": "   ", "description": "x" * 10, "tier": "7", "window": "abc", "team_id": ""}
    r = alice.post("/services/new", typed)
    assert r.status_code == 422
    assert 'id="s-window-err"' in r.text and "whole number" in r.text
    assert 'value="abc"' in r.text  # what was typed is kept
    r = alice.post("/services/new", {**typed, "window": "99999", "tier": "2", "name": "ok"})
    assert r.status_code == 422 and "at most 10080 minutes" in r.text
    r = alice.post("/services/new", {**typed, "window": "10", "tier": "2", "name": "ok", "x": ""})
    assert r.status_code == 303
    # A taken name: 409, said beside the name.
    r = alice.post("/services/new", {**typed, "window": "10", "tier": "2", "name": "ok"})
    assert r.status_code == 409 and "already a service named" in r.text
    names = [
        s["name"]
        for s in web.base.get("/api/v1/services", headers=web.world.auth("admin")).json()["items"]
    ]
    assert names.count("ok") == 1


def test_the_owning_team_edits_their_service_and_nobody_else(web: Web) -> None:
    w = web.world
    admin = w.auth("admin")
    team = web.base.post(
        "/api/v1/teams", json={"name": "Checkout", "member_ids": [w.responder_id]}, headers=admin
    ).json()
    web.base.patch(f"/api/v1/services/{w.checkout_id}", json={"team_id": team["id"]}, headers=admin)
    bob = web.browser("responder")
    page = bob.get(f"/services/{w.checkout_id}").text
    assert f'href="/services/{w.checkout_id}/edit"' in page
    assert '<code class="key">' in page  # the team sets up its senders
    r = bob.post(
        f"/services/{w.checkout_id}/edit",
        {"name": "checkout", "tier": "1", "window": "5", "team_id": "", "description": ""},
    )
    assert r.status_code == 303, r.text
    svc = _service(web, w.checkout_id)
    assert (svc["name"], svc["tier"], svc["team_id"]) == ("checkout", 1, team["id"])
    # Another team's service: the page has no edit link, and the forms are refused.
    page = bob.get(f"/services/{w.database_id}").text
    assert "/edit" not in page and '<code class="key">' not in page
    assert bob.get(f"/services/{w.database_id}/edit").status_code == 403
    r = bob.post(f"/services/{w.database_id}/integrations", {"type": "generic"})
    assert r.status_code == 403
    assert (
        bob.post("/services/new", {"name": "mine", "tier": "2", "window": "1"}).status_code == 403
    )
