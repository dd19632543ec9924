"""A status update posted and edited from the incident page in Chromium, against the real server:
the form is prefilled from the priority's template, HTML typed in it shows as text, the edit
keeps the history, and the timeline says so."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.test_war_room import _new_page, _sign_in
from tests.e2e.server import Server

pytestmark = pytest.mark.browser


def test_an_update_posted_and_edited_from_the_incident_page(
    server: Server, chromium: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    r = httpx.post(
        f"{server.base_url}/api/v1/incidents",
        headers=server.auth(),
        timeout=10,
        json={"title": "Checkout down", "impact": 1, "urgency": 1},
    )
    assert r.status_code == 201, r.text
    incident_id = r.json()["id"]
    problems: list[str] = []
    page = _new_page(chromium, server, problems, viewport={"width": 1280, "height": 900})
    _sign_in(page, "admin", server.password, f"/incidents/{incident_id}")
    expect(page.locator("#status-updates")).to_contain_text("No status updates yet")

    page.get_by_text("Post a status update").click()
    message = page.locator("#u-message")
    expect(message).to_have_value(re.compile("We are investigating a major disruption"))
    page.get_by_label(re.compile("^Public")).check()
    page.locator("#u-stage").select_option("identified")
    message.fill("Payments fail at checkout. <script>alert(1)</script>")
    page.get_by_label("Impact in plain words", exact=True).fill("<b>Card</b> payments")
    page.get_by_role("button", name="Post update").click()
    page.wait_for_url(re.compile(rf"/incidents/{incident_id}(#status-updates)?$"))

    update = page.locator("#status-updates li.update").first
    expect(update).to_contain_text("Public")
    expect(update).to_contain_text("Identified")
    expect(update).to_contain_text("Payments fail at checkout. <script>alert(1)</script>")
    expect(update).to_contain_text("<b>Card</b> payments")
    assert page.locator("#status-updates b").count() == 0  # shown as text, not markup
    expect(page.locator("#timeline")).to_contain_text("Public update (identified) by Ada Admin")

    update.locator("details.edit-update summary").click()
    update.locator("textarea[name=message]").fill("Payments fail for Visa cards only.")
    update.get_by_role("button", name="Save the edit").click()
    update = page.locator("#status-updates li.update").first
    expect(update).to_contain_text("Payments fail for Visa cards only.")
    expect(update).to_contain_text("History (1 earlier version)")
    expect(page.locator("#timeline")).to_contain_text("edited by Ada Admin")
    page.screenshot(path=str(screenshots / "status-updates.png"), full_page=True)
    assert problems == [], problems
