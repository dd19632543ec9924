"""Admins set someone's password (their sessions end), unknown pages get an HTML 404 for
browsers (the JSON error for API clients), and the dashboard's "I am on call" view."""

from __future__ import annotations

import re

from tests.api.helpers import assert_error
from tests.oncall.helpers import API, make_schedule, weekly_layer
from tests.web.conftest import PASSWORD, Web
from tests.web.helpers import declared

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_an_admin_sets_a_password_and_that_user_is_signed_out_everywhere(web: Web) -> None:
    alice = web.browser("admin")
    carol_phone, carol_laptop = web.browser("stakeholder"), web.browser("stakeholder")
    assert carol_phone.get("/account").status_code == 200
    page = alice.get("/admin/users").text
    assert f'action="/admin/users/{web.world.stakeholder_id}/password"' in page
    url = f"/admin/users/{web.world.stakeholder_id}/password"

    r = alice.post(url, {"password": "new pass phrase", "confirm_password": "new pass phrasE"})
    assert r.status_code == 422 and "Type the new password twice" in r.text
    r = alice.post(url, {"password": "short", "confirm_password": "short"})
    assert r.status_code == 422 and "8 to 200 characters" in r.text
    assert carol_phone.get("/account").status_code == 200  # nothing changed yet
    assert web.browser("responder").post(url, {"password": "x" * 10}).status_code == 403
    assert carol_phone.post(url, {"password": "x" * 10}).status_code == 403
    assert (
        alice.post(
            "/admin/users/999999/password",
            {"password": "new pass phrase", "confirm_password": "new pass phrase"},
        ).status_code
        == 404
    )
    assert alice.post(url, {"password": "new pass phrase"}, csrf=False).status_code == 403

    r = alice.post(url, {"password": "new pass phrase", "confirm_password": "new pass phrase"})
    assert r.status_code == 200 and "Password of carol set; 2 sessions of theirs ended." in r.text
    for b in (carol_phone, carol_laptop):
        r = b.get("/account")
        assert (r.status_code, r.headers["location"]) == (303, "/login?next=/account")
    fresh = web.browser()
    assert fresh.login("carol", PASSWORD).status_code == 401
    assert fresh.login("carol", "new pass phrase").status_code == 303

    # An admin's own password: their other sessions end, this one goes on.
    other_alice = web.browser("admin")
    own = f"/admin/users/{web.world.admin_id}/password"
    r = alice.post(own, {"password": "alice's new one", "confirm_password": "alice's new one"})
    assert r.status_code == 200 and "1 session of theirs ended" in r.text
    assert alice.get("/admin/users").status_code == 200
    assert other_alice.get("/admin/users").status_code == 303


def test_unknown_pages_are_html_for_browsers_and_json_for_api_clients(web: Web) -> None:
    bob = web.browser("responder")
    r = bob.get("/no/such/page", headers=HTML)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "There is no such page" in r.text and 'href="/oncall"' in r.text  # signed in: menus
    assert "content-security-policy" in r.headers
    r = web.browser().get("/nothing-here", headers=HTML)
    assert r.status_code == 404 and "There is no such page" in r.text
    assert 'href="/oncall"' not in r.text  # anonymous: no menus, nothing about the incidents
    # API clients, the API itself, and intake keep the one JSON error format.
    assert_error(bob.get("/no/such/page"), 404, "not_found")
    assert_error(bob.get("/no/such/page", headers={"Accept": "application/json"}), 404)
    for path in ("/api/v1/nothing", "/api/nothing", "/integrations/nothing", "/v2/nothing"):
        assert_error(bob.get(path, headers=HTML), 404)
    assert_error(web.base.get("/api/v1/incidents/999999", headers=web.world.auth()), 404)
    # A known route with the wrong method stays as it was.
    assert bob.get("/logout", headers=HTML).status_code == 405


def test_the_dashboard_shows_the_incidents_that_would_page_me(web: Web) -> None:
    admin = web.world.auth("admin")
    bobs = make_schedule(
        web.base, web.world, "Checkout rota", "UTC", [weekly_layer(web.world.responder_id)]
    )
    policies = {}
    for name, target in (
        ("Checkout", {"type": "schedule", "id": bobs["id"]}),
        ("Database", {"type": "user", "id": web.world.admin_id}),
    ):
        r = web.base.post(
            f"{API}/escalation-policies",
            json={"name": name, "steps": [{"targets": [target]}]},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        policies[name] = r.json()["id"]
    for service, policy in (
        (web.world.checkout_id, "Checkout"),
        (web.world.database_id, "Database"),
    ):
        r = web.base.put(
            f"{API}/services/{service}/escalation-policy",
            json={"escalation_policy_id": policies[policy]},
            headers=admin,
        )
        assert r.status_code == 200, r.text
    declared(web, "Checkout errors", service_ids=[web.world.checkout_id])
    declared(web, "Replication lag", service_ids=[web.world.database_id])
    declared(web, "Office wifi", service_ids=[])

    def titles(who: str, query: str) -> list[str]:
        html = web.browser(who).get("/" + query).text
        return sorted(re.findall(r'<a href="/incidents/\d+">([^<]+)</a>', html))

    assert titles("responder", "") == ["Checkout errors", "Office wifi", "Replication lag"]
    assert titles("responder", "?oncall=1") == ["Checkout errors"]  # on call on the rota
    assert titles("admin", "?oncall=1") == ["Replication lag"]  # named in the policy
    assert titles("responder", "?oncall=1&priority=1") == []
    page = web.browser("stakeholder").get("/?oncall=1").text
    assert "You are not on call now" in page and "No incidents match these filters." in page
    page = web.browser("responder").get("/?oncall=1").text
    assert 'id="f-oncall" name="oncall" value="1" checked' in page
    assert "&amp;oncall=1" in page  # the per-priority links keep the view
    fragment = web.browser("responder").get("/dashboard.fragment?oncall=1").text
    assert "Checkout errors" in fragment and "Replication lag" not in fragment
