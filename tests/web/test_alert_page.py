"""An alert's own page: labels, annotations, details, only http(s) links (noopener), its
incident; responders acknowledge or resolve it alone, as POST /api/v1/alerts/{id}/... does."""

from __future__ import annotations

from tests.web.conftest import Web


def _alertmanager(web: Web) -> int:
    hook = {
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": "g",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DiskFull", "instance": "db-1<b>"},
                "annotations": {"summary": "Disk full", "runbook_url": "https://run.book/disk"},
                "fingerprint": "fp-1",
                "startsAt": "2026-01-01T00:00:00Z",
                "generatorURL": "javascript:alert(1)",
            }
        ],
    }
    r = web.base.post(f"/integrations/alertmanager/{web.world.alertmanager_key}", json=hook)
    assert r.status_code == 200, r.text
    items = web.base.get("/api/v1/alerts", headers=web.world.auth()).json()["items"]
    return int(items[0]["id"])


def test_an_alert_page_shows_its_context_and_acts_on_it_alone(web: Web) -> None:
    alert_id = _alertmanager(web)
    carol = web.browser("stakeholder")
    assert f'href="/alerts/{alert_id}"' in carol.get("/alerts").text
    page = carol.get(f"/alerts/{alert_id}").text
    assert "DiskFull" in page and "db-1&lt;b&gt;" in page
    assert (
        "javascript:" not in page.split("<main")[1].split("Labels")[0]
        or 'href="javascript' not in page
    )
    assert 'href="javascript' not in page
    assert "Acknowledge alert" not in page  # stakeholders read only
    assert carol.post(f"/alerts/{alert_id}/acknowledge").status_code == 403

    bob = web.browser("responder")
    r = bob.post(f"/alerts/{alert_id}/acknowledge")
    assert r.status_code == 303
    page = bob.get(r.headers["location"]).text
    assert "Alert acknowledged." in page and "Acknowledge alert" not in page
    alert = web.base.get(f"/api/v1/alerts/{alert_id}", headers=web.world.auth()).json()
    assert alert["status"] == "acknowledged"
    incident = web.base.get(
        f"/api/v1/incidents/{alert['incident_id']}", headers=web.world.auth()
    ).json()
    assert incident["status"] == "triggered"  # the incident keeps its own status
    assert bob.post(f"/alerts/{alert_id}/acknowledge").status_code == 409
    assert bob.post(f"/alerts/{alert_id}/resolve").status_code == 303
    r = web.base.post(f"/api/v1/alerts/{alert_id}/resolve", headers=web.world.auth())
    assert r.status_code == 409
    timeline = web.base.get(
        f"/api/v1/incidents/{alert['incident_id']}/timeline", headers=web.world.auth()
    ).json()
    assert any(
        e["kind"] == "alert_resolved" and e["actor_name"] == "Bob" for e in timeline["items"]
    )
    assert bob.post(f"/alerts/{alert_id}/snooze").status_code == 404
    assert bob.get("/alerts/99999999").status_code == 404
