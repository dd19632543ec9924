"""The silences page, "silence alerts like this", a service's maintenance form, the dashboard's
maintenance line and the war room's caused-by links, through the web app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.conftest import count_rows
from tests.web.conftest import Web
from tests.web.helpers import alert
from warroom.alerts.models import Alert, Silence


def _generic(web: Web, key: str) -> str:
    r = web.base.post(
        f"/integrations/generic/{web.world.generic_key}",
        json={"summary": f"{key} failing", "severity": "error", "dedup_key": key},
    )
    assert r.status_code == 202, r.text
    return str(r.json()["events"][0]["result"])


def test_silence_like_this_from_the_alerts_page_holds_the_next_alert(web: Web) -> None:
    assert _generic(web, "disk-full") == "opened"
    bob = web.browser("responder")
    page = bob.get("/alerts")
    assert "Silence like this 2 h" in page.text
    with web.db.read_session() as s:
        alert_id = s.scalars(select(Alert.id)).one()
    r = bob.post(f"/alerts/{alert_id}/silence", {"hours": "2"})
    assert r.status_code == 303 and r.headers["location"].startswith("/silences?created=")
    with web.db.read_session() as s:
        silence = s.scalars(select(Silence)).one()
    assert silence.matchers == [
        {"name": "service", "value": "checkout-api", "isRegex": False, "isEqual": True},
        {"name": "dedup_key", "value": "disk-full", "isRegex": False, "isEqual": True},
    ]
    assert silence.created_by == "Bob"
    listed = bob.get("/silences")
    shown = 'service="checkout-api", dedup_key="disk-full"'.replace('"', "&#34;")
    assert shown in listed.text and "active" in listed.text
    # The source resolves and fires again: the new alert is held, no new incident.
    web.base.post(
        f"/integrations/generic/{web.world.generic_key}",
        json={"summary": "ok", "severity": "info", "dedup_key": "disk-full", "action": "resolve"},
    )
    assert _generic(web, "disk-full") == "suppressed"
    assert count_rows(web.db, "incidents") == 1
    assert "silenced" in bob.get("/alerts").text
    # Expire it from the page.
    r = bob.post(f"/silences/{silence.id}/expire", {"confirm": "yes"})
    assert r.status_code == 303
    assert "expired" in bob.get("/silences").text
    assert bob.post(f"/silences/{silence.id}/expire", {"confirm": "yes"}).status_code == 409
    assert bob.post(f"/silences/{silence.id}/expire").status_code == 422


def test_the_silence_form_refuses_bad_matchers_and_keeps_what_was_typed(web: Web) -> None:
    bob = web.browser("responder")
    r = bob.post("/silences", {"matchers": 'job=~".*"', "hours": "2", "comment": "<b>x</b>"})
    assert r.status_code == 422 and "match every alert" in r.text
    assert "&lt;b&gt;x&lt;/b&gt;" in r.text  # what was typed, as text
    r = bob.post("/silences", {"matchers": "no operator", "hours": "2"})
    assert r.status_code == 422 and "expected name=" in r.text
    r = bob.post("/silences", {"matchers": 'alertname="Deploy"', "hours": "5"})
    assert r.status_code == 422
    assert count_rows(web.db, "silences") == 0
    r = bob.post("/silences", {"matchers": 'alertname="Deploy"\nenv!="dev"', "hours": "1"})
    assert r.status_code == 303
    # Stakeholders see silences but cannot add one.
    carol = web.browser("stakeholder")
    assert carol.get("/silences").status_code == 200
    assert "New silence" not in carol.get("/silences").text
    assert carol.post("/silences", {"matchers": 'a="b"', "hours": "1"}).status_code == 403


def test_a_maintenance_window_from_the_service_page_holds_paging_and_shows_on_the_dashboard(
    web: Web,
) -> None:
    bob = web.browser("responder")
    sid = web.world.checkout_id
    now = datetime.now(UTC).astimezone()
    local = "%Y-%m-%dT%H:%M"
    start = (datetime.now(UTC) - timedelta(minutes=5)).strftime(local)
    end = (datetime.now(UTC) + timedelta(hours=1)).strftime(local)
    r = bob.post(
        f"/services/{sid}/maintenance",
        {"title": "Deploy", "starts_at": end, "ends_at": start, "time_zone": "UTC"},
    )
    assert r.status_code == 422 and "end after it starts" in r.text
    r = bob.post(
        f"/services/{sid}/maintenance",
        {"title": "Deploy", "starts_at": start, "ends_at": end, "time_zone": "UTC"},
    )
    assert r.status_code == 303, r.text
    page = bob.get(f"/services/{sid}")
    assert "in progress" in page.text and "Deploy" in page.text
    assert "In maintenance (paging held)" in bob.get("/").text
    assert _generic(web, "during-deploy") == "suppressed"
    assert "in maintenance" in bob.get("/alerts").text
    assert now  # the form reads times in the given zone
    with web.db.read_session() as s:
        from warroom.maintenance.models import MaintenanceWindow

        window_id = s.scalars(select(MaintenanceWindow.id)).one()
    assert bob.post(f"/maintenance/{window_id}/cancel", {}).status_code == 422
    r = bob.post(f"/maintenance/{window_id}/cancel", {"service_id": str(sid), "confirm": "yes"})
    assert r.status_code == 303
    assert "None planned" in bob.get(f"/services/{sid}").text


def test_an_incident_on_a_dependency_shows_its_dependants_incidents_as_caused_by_it(
    web: Web,
) -> None:
    alert(web)  # payments-db (checkout-api depends on it)
    assert _generic(web, "checkout-5xx") == "opened"
    admin = web.world.auth("admin")
    incidents = web.base.get("/api/v1/incidents", headers=admin).json()["items"]
    by_service = {i["service_id"]: i for i in incidents}
    db_inc, api_inc = by_service[web.world.database_id], by_service[web.world.checkout_id]
    assert api_inc["caused_by_id"] == db_inc["id"]
    bob = web.browser("responder")
    page = bob.get(f"/incidents/{db_inc['id']}")
    assert "joined as caused by it" in page.text and f"/incidents/{api_inc['id']}" in page.text
    page = bob.get(f"/incidents/{api_inc['id']}")
    assert f'Caused by <a href="/incidents/{db_inc["id"]}">' in page.text
    # Its alert shows as inhibited, with the silence action of the war room.
    assert "inhibited" in page.text and "Silence like this 2 h" in page.text
    assert "Silence like this" not in web.browser("stakeholder").get(page.url.path).text
    events = web.base.get(f"/api/v1/incidents/{db_inc['id']}/timeline", headers=admin).json()
    assert any(e["kind"] == "dependants_joined" for e in events["items"])


def test_inhibition_rules_on_the_silences_page_add_refuse_beside_the_field_and_delete(
    web: Web,
) -> None:
    bob = web.browser("responder")
    r = bob.post(
        "/silences/inhibit-rules",
        {"name": "db down", "source": 'job=~".*"', "target": 'alertname="Slow"', "equal": ""},
    )
    assert r.status_code == 422
    # The reason sits beside the source field; what was typed is kept (escaped).
    assert 'id="ir-source-err"' in r.text and "match every alert" in r.text
    assert 'aria-describedby="ir-source-err"' in r.text
    assert "job=~&#34;.*&#34;" in r.text
    r = bob.post(
        "/silences/inhibit-rules",
        {"name": "x", "source": 'a="b"', "target": 'c="d"', "equal": "not-a-label"},
    )
    assert r.status_code == 422 and 'id="ir-equal-err"' in r.text
    assert count_rows(web.db, "inhibit_rules") == 0

    r = bob.post(
        "/silences/inhibit-rules",
        {
            "name": "db down mutes checkout",
            "source": 'service="payments-db"',
            "target": 'service="checkout-api"',
            "equal": "",
            "comment": "<i>one page</i>",
        },
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/silences#inhibit-rule-")
    page = bob.get("/silences").text
    assert "db down mutes checkout" in page and "&lt;i&gt;one page&lt;/i&gt;" in page
    # A payments-db alert fires: a checkout alert is stored as inhibited, no incident for it.
    assert (
        web.base.post(
            "/v2/enqueue",
            json={
                "routing_key": web.world.pagerduty_key,
                "event_action": "trigger",
                "dedup_key": "db",
                "payload": {"summary": "db down", "source": "db-1", "severity": "critical"},
            },
        ).status_code
        == 202
    )
    assert _generic(web, "checkout-slow") == "suppressed"
    assert "1 alert" in bob.get("/silences").text
    carol = web.browser("stakeholder")
    assert "New inhibition rule" not in carol.get("/silences").text
    with web.db.read_session() as s:
        from warroom.alerts.models import InhibitRule

        rule_id = s.scalars(select(InhibitRule.id)).one()
    assert (
        carol.post(f"/silences/inhibit-rules/{rule_id}/delete", {"confirm": "yes"}).status_code
        == 403
    )
    assert bob.post(f"/silences/inhibit-rules/{rule_id}/delete").status_code == 422
    r = bob.post(f"/silences/inhibit-rules/{rule_id}/delete", {"confirm": "yes"})
    assert r.status_code == 303
    assert count_rows(web.db, "inhibit_rules") == 0
    assert (
        bob.post(f"/silences/inhibit-rules/{rule_id}/delete", {"confirm": "yes"}).status_code == 404
    )
