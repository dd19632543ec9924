"""An incident with more alerts than the war room shows: the newest first, the stored total, and
every alert reachable page by page (the keyset walk of docs/performance.md, "Pages at scale")."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import Web
from warroom.web.queries.war_room_data import INCIDENT_ALERTS_LIMIT

STORM = INCIDENT_ALERTS_LIMIT + 30


def am_storm(n: int, prefix: str) -> dict[str, Any]:
    return {
        "receiver": "warroom",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Storm", "instance": f"{prefix}-{i:03d}"},
                "annotations": {"summary": f"{prefix} alert {i:03d}"},
                "startsAt": "2026-11-27T09:32:30Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{prefix}-{i:03d}",
            }
            for i in range(n)
        ],
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am",
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }


def storm(web: Web, n: int = STORM, prefix: str = "storm") -> int:
    r = web.base.post(
        f"/integrations/alertmanager/{web.world.alertmanager_key}", json=am_storm(n, prefix)
    )
    assert r.status_code == 200, r.text
    items = web.base.get("/api/v1/incidents", headers=web.world.auth()).json()["items"]
    return int(items[0]["id"])


def test_war_room_shows_the_newest_alerts_and_the_stored_total(web: Web) -> None:
    incident = storm(web)
    page = web.browser("stakeholder").get(f"/incidents/{incident}")
    assert page.status_code == 200
    panel = alerts_panel(page.text)
    assert f'Alerts <span class="muted">({STORM})</span>' in panel
    shown = re.findall(r"storm alert (\d{3})", panel)
    # The newest 100, newest first.
    assert shown == [f"{i:03d}" for i in range(STORM - 1, STORM - 1 - INCIDENT_ALERTS_LIMIT, -1)]
    assert f"All {STORM} alerts" in panel


def alerts_panel(html: str) -> str:
    found = re.search(r'<section[^>]*id="incident-alerts".*?</section>', html, re.S)
    assert found, "no alerts panel"
    return found.group(0)


def test_every_alert_of_an_incident_is_reached_page_by_page(web: Web) -> None:
    incident = storm(web)
    storm(web, 5, prefix="other")  # grouped into the same incident: the same service
    browser = web.browser("stakeholder")
    seen: list[str] = []
    url = f"/alerts?incident={incident}"
    for _ in range(10):
        page = browser.get(url)
        assert page.status_code == 200
        seen += re.findall(r"(?:storm|other) alert \d{3}", page.text)
        more = re.search(r'href="/alerts\?([^"]+)" rel="next"', page.text)
        if more is None:
            break
        url = "/alerts?" + more.group(1).replace("&amp;", "&")
    assert len(seen) == STORM + 5 == len(set(seen))
    assert seen[:5] == [f"other alert {i:03d}" for i in range(4, -1, -1)]
    assert seen[-1] == "storm alert 000"

    api: list[int] = []
    cursor = ""
    for _ in range(10):
        body = web.base.get(
            f"/api/v1/alerts?incident_id={incident}&limit=50{cursor}", headers=web.world.auth()
        ).json()
        api += [a["id"] for a in body["items"]]
        if not body["next_cursor"]:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert len(api) == STORM + 5 and api == sorted(api, reverse=True)


def test_a_merged_away_incident_shows_no_alerts(web: Web) -> None:
    first = storm(web, 3, prefix="first")
    declared = web.base.post(
        "/api/v1/incidents",
        json={"title": "Same outage", "impact": 2, "urgency": 2},
        headers=web.world.auth(),
    ).json()["id"]
    r = web.base.post(
        f"/api/v1/incidents/{first}/merge",
        json={"into_id": declared, "reason": "same outage"},
        headers=web.world.auth(),
    )
    assert r.status_code == 200, r.text
    browser = web.browser("stakeholder")
    gone = alerts_panel(browser.get(f"/incidents/{first}").text)
    assert 'Alerts <span class="muted">(0)</span>' in gone
    kept = alerts_panel(browser.get(f"/incidents/{declared}").text)
    assert 'Alerts <span class="muted">(3)</span>' in kept
