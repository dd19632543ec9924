"""Every page renders for a responder, shows what it must, and escapes what others send."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.api.helpers import get_incident, timeline
from tests.web.conftest import Web
from tests.web.helpers import alert, declared, set_times


def test_each_page_renders_for_a_responder(web: Web) -> None:
    alert(web, "Disk 95% full on db-1")
    incident_id = declared(web, "Checkout errors", description="Customers see 500s")
    bob = web.browser("responder")
    pages = {
        "/": ["Open incidents", "Checkout errors", "Disk 95% full on db-1", "Declare an incident"],
        "/?status=resolved": ["Resolved incidents"],
        "/dashboard.fragment": ["dashboard-live", "Checkout errors"],
        "/incidents/new": ["Declare an incident", "checkout-api", "payments-db"],
        f"/incidents/{incident_id}": [
            "Checkout errors",
            "Customers see 500s",
            "Acknowledge",
            "Take this role",
            "Incident Commander",
            "checkout-api",
            "Depends on",
            "payments-db",
            "Declared by Bob",
        ],
        f"/incidents/{incident_id}/panels.fragment": ["incident-roles", "incident-tasks"],
        f"/incidents/{incident_id}/timeline.fragment": ["Declared by Bob"],
        "/alerts": ["Disk 95% full on db-1", "payments-db"],
        "/alerts?q=95%25&severity=critical&status=triggered": ["Disk 95% full on db-1"],
        "/services": ["checkout-api", "payments-db"],
        f"/services/{web.world.database_id}": [
            "payments-db",
            "Used by",
            "checkout-api",
            "pagerduty",
            "shown to admins and the owning team",
        ],
        "/teams": ["Teams"],
        "/account": ["Change your password", "bob"],
    }
    for url, expected in pages.items():
        r = bob.get(url)
        assert r.status_code == 200, (url, r.status_code, r.text[:500])
        assert r.headers["content-type"].startswith("text/html")
        for text in expected:
            assert text in r.text, (url, text)
    assert "Disk 95% full" not in bob.get("/alerts?q=nothing-like-this").text
    assert bob.get("/admin/users").status_code == 403


def test_script_in_an_alert_summary_and_an_incident_title_is_shown_as_text(web: Web) -> None:
    evil = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'
    alert(web, summary=evil)
    incident_id = declared(web, title=evil, description=evil)
    web.base.post(
        f"/api/v1/incidents/{incident_id}/notes", json={"text": evil}, headers=web.world.auth()
    )
    bob = web.browser("responder")
    for url in (
        "/",
        "/alerts",
        f"/incidents/{incident_id}",
        "/dashboard.fragment",
        f"/incidents/{incident_id}/timeline.fragment",
        "/incidents/1",
    ):
        html = bob.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html, url
    # The only scripts are the app's own module files.
    page = bob.get(f"/incidents/{incident_id}").text
    assert re.findall(r"<script[^>]*>", page) == [
        f'<script type="module" src="{m}">'
        for m in re.findall(r'<script type="module" src="([^"]+)">', page)
    ]
    assert "style=" not in page


def test_the_war_room_commands_an_incident(web: Web) -> None:
    incident_id = declared(web, "Payments failing", impact=1, urgency=1)
    bob = web.browser("responder")
    url = f"/incidents/{incident_id}"

    r = bob.post(f"{url}/actions/acknowledge")
    assert (r.status_code, r.headers["location"]) == (303, url)
    r = bob.post(f"{url}/actions/acknowledge")
    assert r.status_code == 409 and "already acknowledged" in r.text  # the state machine says no

    r = bob.post(f"{url}/roles/commander", {"user_id": str(web.world.responder_id)})
    assert r.status_code == 303
    r = bob.post(f"{url}/roles/scribe", {"user_id": str(web.world.admin_id)})
    assert r.status_code == 303
    r = bob.post(
        f"{url}/tasks",
        {
            "title": "Fail over the database",
            "owner_id": str(web.world.admin_id),
            "due_at": "2030-01-02T10:30",
        },
    )
    assert r.status_code == 303
    r = bob.post(f"{url}/notes", {"text": "Failover started\nETA 10 min"})
    assert r.status_code == 303
    r = bob.post(f"{url}/priority", {"impact": "2", "urgency": "1", "reason": "EU only"})
    assert r.status_code == 303
    r = bob.post(f"{url}/priority", {"impact": "2", "urgency": "1", "reason": ""})
    assert r.status_code == 422 and "Say why" in r.text

    incident = get_incident(web.base, web.world, incident_id)
    assert incident["status"] == "acknowledged" and incident["priority"] == 2
    roles = {r["role"]: r["user_id"] for r in incident["roles"]}
    assert roles == {"commander": web.world.responder_id, "scribe": web.world.admin_id}
    tasks = web.base.get(f"/api/v1/incidents/{incident_id}/tasks", headers=web.world.auth()).json()
    # Bob's time zone is America/New_York: 10:30 there is 15:30 UTC in January.
    assert tasks[0]["due_at"].startswith("2030-01-02T15:30")
    assert tasks[0]["owner_id"] == web.world.admin_id

    task_id = tasks[0]["id"]
    assert bob.post(f"{url}/tasks/{task_id}", {"status": "done"}).status_code == 303
    assert bob.post(f"{url}/tasks/{task_id}", {"owner_id": "", "due_at": ""}).status_code == 303
    r = bob.post(f"{url}/roles/scribe/release")
    assert r.status_code == 303

    page = bob.get(url).text
    assert "Failover started\nETA 10 min" in page
    assert "Task completed: Fail over the database" in page
    assert "Priority P1 → P2 by Bob: EU only" in page
    assert "Release" in page  # bob holds the commander role

    assert bob.post(f"{url}/actions/resolve").status_code == 303
    assert get_incident(web.base, web.world, incident_id)["status"] == "resolved"
    page = bob.get(url).text
    assert "Reopen" in page and ">Resolve<" not in page
    kinds = [e["kind"] for e in timeline(web.base, web.world, incident_id)]
    assert kinds.count("status_changed") == 2 and "role_unassigned" in kinds
    after = bob.get(f"{url}/tasks/{task_id}")
    assert after.status_code in (404, 405)


def test_forms_report_mistakes_and_keep_what_was_typed(web: Web) -> None:
    bob = web.browser("responder")
    r = bob.post(
        "/incidents/new", {"title": "", "impact": "1", "urgency": "9", "description": "kept text"}
    )
    assert r.status_code == 422 and "Give the incident a title" in r.text
    assert "kept text" in r.text
    r = bob.post(
        "/incidents/new",
        {"title": "API down", "impact": "1", "urgency": "1", "service_ids": ["99999"]},
    )
    assert r.status_code == 422 and "unknown service" in r.text and 'value="API down"' in r.text
    r = bob.post(
        "/incidents/new",
        {
            "title": "API down",
            "impact": "1",
            "urgency": "2",
            "service_ids": [str(web.world.checkout_id), str(web.world.database_id)],
        },
    )
    assert r.status_code == 303
    incident_id = int(r.headers["location"].rsplit("/", 1)[1])
    incident = get_incident(web.base, web.world, incident_id)
    assert incident["priority"] == 2 and incident["source"] == "declared"
    assert sorted(incident["service_ids"]) == sorted([web.world.checkout_id, web.world.database_id])
    url = f"/incidents/{incident_id}"
    r = bob.post(f"{url}/tasks", {"title": "x", "due_at": "not a time"})
    assert r.status_code == 422 and "due time" in r.text
    r = bob.post(f"{url}/tasks", {"title": "x", "owner_id": "999"})
    assert r.status_code == 422 and "does not exist" in r.text
    r = bob.post(f"{url}/notes", {"text": "  "})
    assert r.status_code == 422
    assert bob.post(f"{url}/actions/explode").status_code == 404
    assert bob.post(f"{url}/roles/king", {"user_id": "1"}).status_code == 404
    assert bob.post("/incidents/999999/notes", {"text": "hi"}).status_code == 404
    assert bob.get("/incidents/999999").status_code == 404
    assert bob.get("/incidents/abc").status_code == 404
    assert bob.get("/incidents/99999999999999999999999").status_code == 404
    assert "There is no such page" in bob.get("/services/xyz").text


def test_dashboard_orders_by_priority_then_age_with_counts_filters_and_mine(web: Web) -> None:
    now = datetime.now(UTC)
    low = declared(web, "Low old", impact=3, urgency=3)  # P4
    high_new = declared(web, "High new", impact=1, urgency=1)  # P1
    high_old = declared(web, "High old", impact=1, urgency=1, service_ids=[web.world.database_id])
    mid = declared(web, "Mid", impact=2, urgency=2)  # P3
    set_times(web, low, triggered_at=now - timedelta(hours=5))
    set_times(web, high_old, triggered_at=now - timedelta(minutes=10))
    set_times(web, high_new, triggered_at=now - timedelta(minutes=1))
    bob = web.browser("responder")
    bob.post(f"/incidents/{mid}/roles/operations_lead", {"user_id": str(web.world.responder_id)})
    bob.post(f"/incidents/{low}/actions/resolve")

    def titles(query: str = "") -> list[str]:
        html = bob.get("/" + query).text
        return re.findall(r'<a href="/incidents/\d+">([^<]+)</a>', html)

    assert titles() == ["High old", "High new", "Mid"]
    html = bob.get("/").text
    counts = dict(re.findall(r'<span class="n">(\d+)</span> P(\d)', html))
    assert counts == {"2": "1", "1": "2", "0": "5"} or counts["2"] == "1"
    assert re.findall(r'<span class="n">(\d+)</span> P\d', html) == ["2", "0", "1", "0", "0"]
    assert titles("?priority=1") == ["High old", "High new"]
    assert titles(f"?service={web.world.database_id}") == ["High old"]
    assert titles("?mine=1") == ["Mid"]
    assert titles("?status=resolved") == ["Low old"]
    assert titles("?status=nonsense&priority=77") == ["High old", "High new", "Mid"]
    assert "Only mine" in html and "Commander" in html


def test_sla_clocks_turn_amber_then_red(web: Web) -> None:
    now = datetime.now(UTC)
    incident_id = declared(web, "Clocked", impact=1, urgency=1)  # P1: ack 15 min, resolve 4 h
    bob = web.browser("stakeholder")

    def clock_classes() -> list[str]:
        return re.findall(r'class="clock clock-(\w+)"', bob.get("/").text)

    assert clock_classes() == ["ok", "ok"]
    set_times(web, incident_id, triggered_at=now - timedelta(minutes=12))  # 80 % of 15 min
    assert clock_classes() == ["warning", "ok"]
    set_times(web, incident_id, triggered_at=now - timedelta(minutes=20))
    assert clock_classes() == ["breached", "ok"]
    assert "breached" in bob.get("/").text
    set_times(
        web,
        incident_id,
        triggered_at=now - timedelta(hours=3, minutes=10),
        acknowledged_at=now - timedelta(hours=3),
    )
    assert clock_classes() == ["met", "warning"]
    page = bob.get(f"/incidents/{incident_id}").text
    assert "met in 10m" in page and 'class="clock clock-warning"' in page


def test_stakeholders_read_without_action_forms(web: Web) -> None:
    incident_id = declared(web, "Read only")
    carol = web.browser("stakeholder")
    for url in ("/", f"/incidents/{incident_id}", "/alerts", "/services", "/teams", "/account"):
        r = carol.get(url)
        assert r.status_code == 200, url
    page = carol.get(f"/incidents/{incident_id}").text
    for absent in (
        "/actions/acknowledge",
        "Take this role",
        "Add a note",
        "Add a task",
        "Change impact",
        "Declare an incident",
        'method="post" action="/incidents',
    ):
        assert absent not in page, absent
    assert "read-only" in page
    assert carol.get("/incidents/new").status_code == 403
    r = carol.post(f"/incidents/{incident_id}/notes", {"text": "let me in"})
    assert r.status_code == 403 and "read everything but change nothing" in r.text
    assert [e for e in timeline(web.base, web.world, incident_id) if e["kind"] == "note"] == []


def test_integration_keys_and_snippets_are_for_admins_only(web: Web) -> None:
    alice, bob = web.browser("admin"), web.browser("responder")
    checkout = f"/services/{web.world.checkout_id}"
    page = alice.get(checkout).text
    assert web.world.alertmanager_key in page and web.world.generic_key in page
    assert "webhook_configs:" in page and "http_config:" in page
    assert f"credentials: {web.world.alertmanager_key}" in page
    assert "http://warroom.test/integrations/alertmanager\n" in page
    page = alice.get(f"/services/{web.world.database_id}").text
    assert "Integration URL: http://warroom.test/v2/enqueue" in page
    assert f"Integration key (routing key): {web.world.pagerduty_key}" in page
    page = bob.get(checkout).text
    assert web.world.alertmanager_key not in page and "webhook_configs" not in page
    assert "shown to admins and the owning team" in page


def _links(html: str, nav_label: str) -> list[tuple[str, bool]]:
    """(label, is current) of each link in the <nav> with this aria-label."""
    block = re.search(rf'<nav[^>]*aria-label="{nav_label}"[^>]*>(.*?)</nav>', html, re.S)
    assert block, nav_label
    return [
        (label.strip(), "aria-current" in attrs)
        for attrs, label in re.findall(r"<a ([^>]*)>([^<]*)</a>", block.group(1))
    ]


def test_the_navigation_has_seven_places_and_tabs_within_them(web: Web) -> None:
    bob = web.browser("responder")
    main = _links(bob.get("/").text, "Main")
    assert [label for label, _ in main] == [
        "Dashboard",
        "On call",
        "Alerts",
        "Services",
        "Reviews",
        "Metrics",
        "Report a problem",
        "API docs",
    ]
    assert "In this section" not in bob.get("/").text  # no tabs where a place has one page
    for url, place, tabs in [
        ("/silences", "Alerts", [("Alerts", False), ("Silences", True)]),
        (
            "/policies",
            "Services",
            [("Services", False), ("Escalation policies", True), ("Teams", False)],
        ),
        (
            "/teams",
            "Services",
            [("Services", False), ("Escalation policies", False), ("Teams", True)],
        ),
        (
            f"/services/{web.world.database_id}",
            "Services",
            [("Services", True), ("Escalation policies", False), ("Teams", False)],
        ),
        ("/action-items", "Reviews", [("Reviews", False), ("Action items", True)]),
    ]:
        html = bob.get(url).text
        assert [label for label, current in _links(html, "Main") if current] == [place], url
        assert _links(html, "In this section") == tabs, url
