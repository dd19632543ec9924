"""Cutting the noise in a real browser against the real server: silence an alert from the
alerts page and see its next firing held (no new incident, shown as silenced); see an incident
on a dependency absorb its dependants' alerts (caused by, not paged) with links both ways."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.test_war_room import LIVE, _new_page, _sign_in
from tests.e2e.server import Server

pytestmark = pytest.mark.browser


def _am(server: Server, status: str, alertname: str, instance: str) -> None:
    key = server.keys[("checkout-api", "alertmanager")]
    alert = {
        "status": status,
        "labels": {"alertname": alertname, "instance": instance, "severity": "critical"},
        "annotations": {"summary": f"{alertname} on {instance}"},
        "startsAt": "2026-12-02T09:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-02T09:10:00Z",
        "fingerprint": f"{alertname}-{instance}",
    }
    hook = {
        "receiver": "warroom",
        "status": status,
        "alerts": [alert],
        "groupLabels": {"alertname": alertname},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://am",
        "version": "4",
        "groupKey": f"{{}}:{{alertname={alertname!r}}}",
        "truncatedAlerts": 0,
    }
    r = httpx.post(f"{server.base_url}/integrations/alertmanager/{key}", json=hook, timeout=10)
    assert r.status_code == 200, r.text


def _incidents(server: Server) -> list[dict[str, Any]]:
    r = httpx.get(f"{server.base_url}/api/v1/incidents", headers=server.auth(), timeout=10)
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_silence_an_alert_from_its_page_and_see_a_dependency_absorb_alerts(
    server: Server, chromium: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    page = _new_page(chromium, server, problems, viewport={"width": 1280, "height": 900})
    _sign_in(page, "admin", server.password)

    # An alert fires and opens an incident (it pages); silence alerts like it for 2 hours.
    _am(server, "firing", "HighLatency", "checkout-1")
    assert len(_incidents(server)) == 1
    page.goto("/alerts")
    row = page.locator("tr", has_text="HighLatency on checkout-1")
    row.get_by_role("button", name=re.compile("Silence like this")).click()
    page.wait_for_url(re.compile(r"/silences\?created=\d+"))
    expect(page.get_by_role("status")).to_contain_text("created")
    silence = page.locator("tr.silence-active")
    expect(silence).to_contain_text('alertname="HighLatency"')
    expect(silence).to_contain_text('instance="checkout-1"')

    # It resolves and fires again: the new alert is stored as silenced and opens nothing.
    _am(server, "resolved", "HighLatency", "checkout-1")
    _am(server, "firing", "HighLatency", "checkout-1")
    assert len(_incidents(server)) == 1
    page.goto("/alerts")
    newest = page.locator("tr", has_text="HighLatency on checkout-1").first
    expect(newest.locator(".badge.suppressed")).to_have_text("silenced")
    expect(newest).to_contain_text("—")  # in no incident
    page.screenshot(path=str(screenshots / "alerts-silenced.png"), full_page=True)

    # An incident on payments-db (checkout-api depends on it); then checkout alerts fire.
    key = server.keys[("payments-db", "pagerduty")]
    r = httpx.post(
        f"{server.base_url}/v2/enqueue",
        timeout=10,
        json={
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": "ledger-down",
            "payload": {"summary": "Ledger database down", "source": "db", "severity": "critical"},
        },
    )
    assert r.status_code == 202, r.text
    _am(server, "firing", "HighErrorRate", "checkout-2")
    by_title = {i["title"]: i for i in _incidents(server)}
    upstream = by_title["Ledger database down"]
    dependant = by_title["HighErrorRate on checkout-2"]
    assert dependant["caused_by_id"] == upstream["id"]

    page.goto(f"/incidents/{upstream['id']}")
    absorbed = page.locator(".caused-here")
    expect(absorbed).to_contain_text("joined as caused by it", timeout=LIVE)
    absorbed.get_by_role("link", name=re.compile("HighErrorRate on checkout-2")).click()
    page.wait_for_url(re.compile(rf"/incidents/{dependant['id']}$"))
    expect(page.locator(".caused-by")).to_contain_text(f"incident #{upstream['id']}")
    page.screenshot(path=str(screenshots / "incident-caused-by.png"), full_page=True)
    assert not [p for p in problems if "favicon" not in p], problems
