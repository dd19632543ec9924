"""Archiving a service in the browser, against the real server: an admin archives a retired
service from its page (the confirmation is required), its sender's next event is refused and
nothing is stored, the service leaves the default list and shows under "Show archived", and
unarchiving lets events in again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.test_war_room import _new_page, _sign_in
from tests.e2e.server import Server

pytestmark = pytest.mark.browser


def test_archive_a_service_from_its_page_then_its_events_are_refused(
    server: Server, chromium: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    ada = _new_page(chromium, server, problems, viewport={"width": 1280, "height": 900})
    _sign_in(ada, "admin", server.password)
    ada.goto("/services/new")
    ada.get_by_label("Name").fill("legacy-fax-gateway")
    ada.get_by_role("button", name="Create service").click()
    expect(ada.get_by_role("heading", name="legacy-fax-gateway")).to_be_visible()
    ada.get_by_text("Add an integration…").click()
    ada.get_by_label("Sender", exact=True).select_option("generic")
    ada.get_by_role("button", name="Add integration").click()
    key = ada.locator("code.key").first.inner_text()
    service_url = ada.url.split("?")[0]

    def send() -> httpx.Response:
        return httpx.post(
            f"{server.base_url}/integrations/generic/{key}",
            json={"summary": "fax queue stuck", "severity": "warning", "dedup_key": "fax"},
            timeout=10,
        )

    # Archive: the button needs the confirmation ticked (the browser enforces `required`).
    ada.get_by_role("button", name="Archive service legacy-fax-gateway").click()
    expect(ada.locator("#archived-banner")).to_have_count(0)
    ada.get_by_label("Yes, archive legacy-fax-gateway").check()
    ada.get_by_role("button", name="Archive service legacy-fax-gateway").click()
    expect(ada.locator("#archived-banner")).to_contain_text("its integrations refuse events")
    ada.screenshot(path=str(screenshots / "service-archived.png"), full_page=True)

    refused = send()
    assert refused.status_code == 409, refused.text
    assert "archived" in refused.text
    alerts = httpx.get(
        f"{server.base_url}/api/v1/alerts",
        headers={"Authorization": f"Bearer {server.token}"},
        params={"limit": 200},
        timeout=10,
    ).json()["items"]
    assert not [a for a in alerts if a["summary"] == "fax queue stuck"]

    # Out of the default list, in the archived one, marked.
    ada.goto("/services?q=legacy")
    expect(ada.get_by_text("No service matches.")).to_be_visible()
    ada.get_by_label("Show archived services").check()
    ada.get_by_role("button", name="Filter").click()
    row = ada.locator("tr.archived", has_text="legacy-fax-gateway")
    expect(row).to_contain_text("archived")

    # Unarchived, the same sender gets in again.
    ada.goto(service_url)
    ada.get_by_role("button", name="Unarchive legacy-fax-gateway").click()
    expect(ada.locator("#archived-banner")).to_have_count(0)
    assert send().status_code == 202
    assert not [p for p in problems if not p.startswith("409 ")], problems
