"""Every page route has an access rule, and the rule holds for each kind of visitor.

Anonymous visitors are sent to sign in; stakeholders read every page but change nothing (403);
responders act on incidents; admins also manage users. The rules are the WEB and PUBLIC tables
of tests/api/test_authorization.py (one table for the whole app); this file enumerates the
routes the web package registers, so a page cannot be added without a rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_authorization import PUBLIC, WEB
from tests.oncall.helpers import oncall_objects
from tests.web.conftest import Browser, Web
from tests.web.helpers import alert, declared
from warroom.app import create_app
from warroom.config import Settings
from warroom.web import live

# "team": an admin or a responder of the owning team; the world's responder is in no team.
RANK = {"stakeholder": 0, "responder": 1, "admin": 2, "team": 2}
PUBLIC_PAGES = {("GET", "/login"), ("POST", "/login"), ("GET", "/static")}
# The public status page: the same for everyone, signed in or not.
# (POST /status/report is the reports API's public form endpoint, not a page.)
STATUS_PAGES = {
    r
    for r in PUBLIC
    if (r[1] == "/status" or r[1].startswith("/status/")) and r != ("POST", "/status/report")
}
PAGE_RULES: dict[tuple[str, str], str] = {
    **WEB,
    **dict.fromkeys(PUBLIC_PAGES, "public"),
    **dict.fromkeys(STATUS_PAGES, "status"),
}


def web_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route whose handler lives in warroom.web, and the static mount."""
    for route in routes:
        nested = getattr(route, "original_router", None)  # FastAPI's wrapped include_router
        if nested is not None:
            context = getattr(route, "include_context", None)
            yield from web_routes(nested.routes, prefix + str(getattr(context, "prefix", "") or ""))
            continue
        path = getattr(route, "path", None)
        endpoint = getattr(route, "endpoint", None)
        if path is None:
            yield from web_routes(getattr(route, "routes", None) or [], prefix)
        elif getattr(route, "name", "") == "static":
            yield ("GET", prefix + path)
        elif endpoint is not None and endpoint.__module__.startswith("warroom.web"):
            for method in sorted(getattr(route, "methods", None) or {"GET"}):
                if method not in ("HEAD", "OPTIONS"):
                    yield (method, prefix + path)


@pytest.fixture(autouse=True)
def short_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    # The TestClient reads a response to its end: let event streams end after one poll.
    monkeypatch.setattr(live, "STREAM_SECONDS", 0.0)


def test_every_page_route_has_a_rule(tmp_path: Path) -> None:
    assert PUBLIC_PAGES <= PUBLIC
    # The app is only built, never started: no database is touched.
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/unused.db"))
    routes = set(web_routes(list(app.routes)))
    assert len(routes) >= 25
    unruled = sorted(routes - set(PAGE_RULES))
    assert unruled == [], f"page routes without an access rule: {unruled}"
    stale = sorted(set(PAGE_RULES) - routes)
    assert stale == [], f"rules for page routes that do not exist: {stale}"


def _objects(web: Web) -> dict[str, Any]:
    incident_id = declared(web)
    task = web.base.post(
        f"/api/v1/incidents/{incident_id}/tasks", json={"title": "check"}, headers=web.world.auth()
    )
    admin = web.world.auth("admin")
    reviewed = declared(web, title="reviewed")
    assert web.base.post(f"/api/v1/incidents/{reviewed}/resolve", headers=admin).status_code == 200
    assert web.base.post(f"/api/v1/incidents/{reviewed}/review", headers=admin).status_code == 201
    item = web.base.post(
        f"/api/v1/incidents/{reviewed}/action-items", json={"title": "fix"}, headers=admin
    ).json()
    event = web.base.get(f"/api/v1/incidents/{reviewed}/timeline", headers=admin).json()
    update = web.base.post(
        f"/api/v1/incidents/{incident_id}/status-updates",
        json={"visibility": "internal", "message": "looking"},
        headers=web.world.auth(),
    )
    return {
        **oncall_objects(web.base, web.world),
        "item_id": item["id"],
        "event_id": event["items"][0]["id"],
        "table": "summary",
        "name": "durations",
        "incident_id": incident_id,
        "task_id": task.json()["id"],
        "update_id": update.json()["id"],
        "action": "acknowledge",
        "role": "commander",
        "token": "not-a-signed-token",
        "component_id": web.base.post(
            "/api/v1/components", json={"name": "Probe"}, headers=web.world.auth("admin")
        ).json()["id"],
        "window_id": web.base.post(
            "/api/v1/maintenance-windows",
            json={"title": "w", "starts_at": "2030-01-01T00:00Z", "ends_at": "2030-01-02T00:00Z"},
            headers=web.world.auth("admin"),
        ).json()["id"],
        "service_id": web.world.checkout_id,
        "token_id": web.base.post(
            "/api/v1/tokens", json={"name": "probe"}, headers=web.world.auth("admin")
        ).json()["id"],
        "integration_id": web.base.post(
            "/api/v1/integrations",
            json={"service_id": web.world.checkout_id, "type": "generic"},
            headers=web.world.auth("admin"),
        ).json()["id"],
        **noise_objects(web),
        **stakeholder_objects(web),
        "user_id": web.world.stakeholder_id,
        "team_id": web.base.post(
            "/api/v1/teams", json={"name": "probe team"}, headers=web.world.auth("admin")
        ).json()["id"],
    }


def stakeholder_objects(web: Web) -> dict[str, int]:
    """A stakeholder list with one member, for the routes that name them."""
    admin = web.world.auth("admin")
    lst = web.base.post(
        "/api/v1/stakeholder-lists",
        json={"name": "Probe list", "service_id": web.world.checkout_id},
        headers=admin,
    ).json()
    member = web.base.post(
        f"/api/v1/stakeholder-lists/{lst['id']}/members",
        json={"channel": "email", "address": "probe@example.com"},
        headers=admin,
    ).json()
    return {"list_id": lst["id"], "member_id": member["id"]}


def noise_objects(web: Web) -> dict[str, int]:
    """A silence, a maintenance window, an inhibition rule and an alert for the routes that
    name them."""
    admin = web.world.auth("admin")
    silence = web.base.post(
        "/api/v1/silences",
        json={
            "matchers": [{"name": "alertname", "value": "Probe"}],
            "endsAt": "2999-01-01T00:00:00Z",
        },
        headers=admin,
    ).json()
    window = web.base.post(
        f"/api/v1/services/{web.world.checkout_id}/maintenance-windows",
        json={
            "title": "Probe",
            "starts_at": "2999-01-01T00:00:00Z",
            "ends_at": "2999-01-01T01:00:00Z",
        },
        headers=admin,
    ).json()
    rule = web.base.post(
        "/api/v1/inhibit-rules",
        json={
            "name": "Probe",
            "source_matchers": [{"name": "alertname", "value": "ProbeDown"}],
            "target_matchers": [{"name": "alertname", "value": "ProbeSlow"}],
        },
        headers=admin,
    ).json()
    grouping = web.base.post(
        "/api/v1/grouping-rules",
        json={"service_id": web.world.checkout_id, "keys": ["labels.cluster"]},
        headers=admin,
    ).json()
    alert(web, dedup_key="probe")
    alerts = web.base.get("/api/v1/alerts", headers=admin).json()["items"]
    return {
        "grouping_rule_id": grouping["id"],
        "silence_id": silence["id"],
        "window_id": window["id"],
        "alert_id": alerts[0]["id"],
        "inhibit_rule_id": rule["id"],
    }


def _url(path: str, objects: dict[str, Any]) -> str:
    if path == "/static":
        return "/static/app.css"
    return re.sub(r"\{(\w+)\}", lambda m: str(objects[m.group(1)]), path)


def _call(b: Browser, method: str, url: str) -> httpx.Response:
    # An empty form with the session's CSRF token: authorised posts then fail validation (or
    # do something harmless); refused ones must be refused before that.
    return b.get(url) if method == "GET" else b.post(url, {})


def _in_order(rules: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
    """Sign-out last: it ends the session the other probes use."""
    return sorted(rules, key=lambda r: (r == ("POST", "/logout"), r))


def test_each_role_gets_exactly_what_its_rule_allows(web: Web) -> None:
    """Anonymous visitors are covered by tests/api/test_authorization.py (with API tokens too)."""
    objects = _objects(web)
    for who in ("stakeholder", "responder", "admin"):
        b = web.browser(who)
        for method, path in _in_order(PAGE_RULES):
            need = PAGE_RULES[(method, path)]
            r = _call(b, method, _url(path, objects))
            if need == "status":
                # Refusals here are the page's own (a bad link 400, an empty form 422).
                assert r.status_code not in (401, 403) and r.status_code < 500, (who, path)
            elif need == "public":
                # A signed-in visitor is sent on from /login; its form needs its login token.
                assert r.status_code in (200, 303, 403), (who, method, path, r.status_code)
            elif need == "self" or RANK[who] >= RANK[need]:
                assert r.status_code not in (401, 403), (who, method, path, r.text[:300])
                if method == "GET":
                    assert r.status_code == 200, (who, path, r.status_code)
            else:
                assert r.status_code == 403, (who, method, path, r.status_code)
                assert "text/html" in r.headers["content-type"]
