"""Grouping rules in a real browser against the real server: an admin adds a dependency-aware
rule on checkout-api's edit page; an open incident on payments-db (which checkout-api depends
on) then absorbs checkout-api's alert, and its page lists both services."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.test_noise import _am, _incidents
from tests.browser.test_war_room import LIVE, _new_page, _sign_in
from tests.e2e.server import Server

pytestmark = pytest.mark.browser


def test_an_incident_on_a_dependency_absorbs_its_dependants_alert(
    server: Server, chromium: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    page = _new_page(chromium, server, problems, viewport={"width": 1280, "height": 900})
    _sign_in(page, "admin", server.password)
    services = httpx.get(f"{server.base_url}/api/v1/services", headers=server.auth(), timeout=10)
    ids = {s["name"]: s["id"] for s in services.json()["items"]}

    # The rule, from checkout-api's settings: group by alertname, join a dependency's incident.
    page.goto(f"/services/{ids['checkout-api']}/edit")
    section = page.locator("#grouping")
    section.get_by_label("Group by").fill("cluster")
    section.get_by_role("button", name="Add grouping rule").click()
    expect(section.locator(".field-error")).to_contain_text("unknown key 'cluster'")
    expect(section.get_by_label("Group by")).to_have_value("cluster")  # kept as typed
    section.get_by_label("Group by").fill("labels.alertname")
    section.get_by_label(re.compile("Join the open incident of a service it depends on")).check()
    section.get_by_role("button", name="Add grouping rule").click()
    page.wait_for_url(re.compile(r"/edit#grouping-h$"))
    row = page.locator("tr.grouping-rule")
    expect(row).to_contain_text("labels.alertname")
    expect(row).to_contain_text("joins a dependency's open incident")

    # payments-db breaks and opens an incident; then checkout-api's alert fires.
    r = httpx.post(
        f"{server.base_url}/v2/enqueue",
        timeout=10,
        json={
            "routing_key": server.keys[("payments-db", "pagerduty")],
            "event_action": "trigger",
            "dedup_key": "ledger-down",
            "payload": {"summary": "Ledger database down", "source": "db", "severity": "critical"},
        },
    )
    assert r.status_code == 202, r.text
    _am(server, "firing", "CheckoutErrors", "checkout-1")
    [upstream] = _incidents(server)  # absorbed: no incident of its own
    assert upstream["title"] == "Ledger database down"

    page.goto(f"/incidents/{upstream['id']}")
    affected = page.locator("#incident-services")
    expect(affected).to_contain_text("payments-db", timeout=LIVE)
    expect(affected).to_contain_text("checkout-api")
    expect(page.locator("#incident-alerts, body").first).to_contain_text(
        "CheckoutErrors on checkout-1"
    )
    page.screenshot(path=str(screenshots / "incident-absorbs-dependant.png"), full_page=True)
    # The one refusal above (422) is expected; nothing else failed.
    unexpected = [p for p in problems if "favicon" not in p and "422" not in p]
    assert not unexpected, problems
