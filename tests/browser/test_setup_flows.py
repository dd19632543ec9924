"""Setting Warroom up in the browser, against the real server, then being paged by it.

One story: an admin creates a service, adds an integration, builds an escalation policy,
attaches it, adds a console contact method with a rule and sends themself a test; an event to
the integration then pages them on that method, and the acknowledge link from the page works
on a 375 px phone screen. Long unbroken text wraps. No console errors, no CSP violations.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.test_war_room import LIVE, _new_page, _sign_in
from tests.e2e.server import Server

pytestmark = pytest.mark.browser


def _ack_link(server: Server, subject: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = server.output()
        at = text.rfind(subject)
        if at >= 0:
            found = re.search(r"ack\s+(http://\S+/act/\S+)", text[at:])
            if found:
                return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no page with {subject!r} on the console:\n{server.output()[-2000:]}")


def test_set_up_in_the_browser_then_get_paged(
    server: Server, chromium: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    ada = _new_page(chromium, server, problems, viewport={"width": 1280, "height": 900})
    _sign_in(ada, "admin", server.password)

    # A service with an integration.
    ada.goto("/services")
    ada.get_by_role("link", name="New service").click()
    ada.get_by_label("Name").fill("billing-api")
    ada.get_by_label("Tier (impact of an outage)").select_option("1")
    ada.get_by_label("Grouping window (minutes)").fill("abc")
    ada.get_by_role("button", name="Create service").click()
    expect(ada.locator("#s-window-err")).to_contain_text("whole number")
    expect(ada.get_by_label("Name")).to_have_value("billing-api")  # kept
    assert any(p.startswith("422 ") for p in problems)  # the refusal itself, expected
    problems.clear()
    ada.get_by_label("Grouping window (minutes)").fill("30")
    ada.get_by_role("button", name="Create service").click()
    expect(ada.get_by_role("heading", name="billing-api")).to_be_visible()
    ada.get_by_text("Add an integration…").click()
    ada.get_by_label("Sender", exact=True).select_option("generic")
    ada.get_by_label("Name (optional)").fill("cron jobs")
    ada.get_by_role("button", name="Add integration").click()
    expect(ada.locator("pre").first).to_contain_text("/integrations/generic")
    key = ada.locator("code.key").first.inner_text()
    service_url = ada.url.split("?")[0]
    ada.screenshot(path=str(screenshots / "setup-service.png"), full_page=True)

    # An escalation policy paging Ada, attached to the service.
    ada.goto("/policies/new")
    ada.get_by_label("Name", exact=True).fill("Billing on call")
    ada.locator("#s0-targets").select_option(label="Ada Admin")
    ada.locator("#s0-delay").fill("5")
    ada.get_by_role("button", name="Create policy").click()
    expect(ada.get_by_text("Policy created.")).to_be_visible()
    ada.screenshot(path=str(screenshots / "setup-policy.png"), full_page=True)
    ada.goto(service_url)
    ada.locator("#p-choice").select_option(label="Billing on call")
    ada.get_by_role("button", name="Save policy").click()
    expect(ada.get_by_text("Escalation policy saved.")).to_be_visible()

    # Ada's own contact method, a rule, and a test message that the engine sends.
    ada.goto("/account")
    ada.get_by_text("Add a contact method…").click()
    ada.get_by_label("Channel").select_option("local")
    ada.get_by_label("Address").fill("ada's laptop")
    ada.get_by_role("button", name="Add contact method").click()
    expect(ada.get_by_text("contact method added")).to_be_visible()
    ada.get_by_text("Add a rule…").click()
    value = ada.locator("#nr-method option", has_text="ada's laptop").get_attribute("value")
    ada.locator("#nr-method").select_option(value)
    ada.get_by_role("button", name="Add rule").click()
    expect(ada.get_by_text("Notification rule added.")).to_be_visible()
    ada.get_by_role("button", name=re.compile("Send me a test on ada's laptop")).click()
    expect(ada.get_by_text("Test message queued")).to_be_visible()
    # The engine sends it within a moment; the account page says so after a reload.
    deadline = time.monotonic() + 10
    recent = ada.locator("section", has_text="Recent tests")
    while "sent" not in (recent.inner_text() if recent.count() else ""):
        assert time.monotonic() < deadline, ada.content()[-3000:]
        time.sleep(0.3)
        ada.reload()
    ada.screenshot(path=str(screenshots / "setup-account.png"), full_page=True)

    # An event to the new integration pages Ada on that method.
    long_title = "Billing-export-" + "x" * 500
    r = httpx.post(
        f"{server.base_url}/integrations/generic/{key}",
        json={"summary": long_title, "severity": "critical"},
        timeout=10,
    )
    assert r.status_code == 202, r.text
    ack = _ack_link(server, long_title[:60])
    # Long unbroken text wraps: the dashboard is no wider than the window.
    ada.goto("/")
    expect(ada.locator("tr.incident-row", has_text="Billing-export-")).to_be_visible(timeout=LIVE)
    assert ada.evaluate("document.documentElement.scrollWidth") <= 1280

    # The acknowledge page on a phone: styled, one big button, the result clearly shown.
    phone = _new_page(chromium, server, problems, viewport={"width": 375, "height": 740})
    phone.goto(ack)
    expect(phone.get_by_role("heading", name=re.compile("Acknowledge incident"))).to_be_visible()
    expect(phone.locator(".act-incident")).to_contain_text("billing-api")
    button = phone.get_by_role("button", name="Acknowledge")
    box = button.bounding_box()
    assert box and box["height"] >= 48 and box["width"] >= 300, box
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    phone.screenshot(path=str(screenshots / "ack-375px.png"), full_page=True)
    button.click()
    expect(phone.locator(".act-done")).to_contain_text("Paging has stopped")
    phone.screenshot(path=str(screenshots / "ack-done-375px.png"), full_page=True)

    # The same pages at 375 px: nothing wider than the screen.
    small = _new_page(chromium, server, problems, viewport={"width": 375, "height": 800})
    _sign_in(small, "admin", server.password)
    for path in (
        "/",
        "/services",
        service_url.replace(server.base_url, ""),
        "/policies",
        "/account",
        "/alerts",
    ):
        small.goto(path)
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    small.goto("/alerts")
    small.screenshot(path=str(screenshots / "alerts-375px.png"), full_page=True)
    assert problems == [], problems
    for page in (ada, phone, small):
        page.context.close()


def test_build_a_schedule_preview_it_save_it_and_see_who_is_on_call(
    server: Server, chromium: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    ada = _new_page(chromium, server, problems, viewport={"width": 1280, "height": 900})
    _sign_in(ada, "admin", server.password)
    ada.goto("/oncall")
    ada.get_by_role("link", name="New schedule").click()
    ada.get_by_label("Name", exact=True).fill("Billing <rota>")
    ada.get_by_label(re.compile("^Time zone")).fill("Europe/Berlin")
    ada.locator("#l0-rotation").select_option("weekly")
    ada.locator("#l0-start").fill("2026-01-05T09:00")
    # No one chosen yet: refused beside the layer, what was typed kept.
    ada.get_by_role("button", name="Preview the next two weeks").click()
    expect(ada.locator("#l0-err")).to_contain_text("Layer 1: choose at least one person")
    expect(ada.get_by_label("Name", exact=True)).to_have_value("Billing <rota>")
    assert any(p.startswith("422 ") for p in problems)
    problems.clear()
    ada.locator("#l0-m0").select_option(label="1. Lena Fischer")
    ada.locator("#l0-m1").select_option(label="2. Raj Patel")
    ada.get_by_role("button", name="Preview the next two weeks").click()
    preview = ada.locator("#preview")
    expect(preview).to_contain_text("Preview, not saved")
    expect(preview.locator("table.rota")).to_contain_text("Lena Fischer")
    expect(preview.locator("table.rota")).to_contain_text("Raj Patel")
    ada.screenshot(path=str(screenshots / "setup-schedule-preview.png"), full_page=True)
    ada.get_by_role("button", name="Create schedule").click()
    expect(ada.get_by_text("Schedule created.")).to_be_visible()
    expect(ada.get_by_role("heading", name="Billing <rota>")).to_be_visible()
    now = ada.locator("section.now")
    expect(now).to_contain_text(re.compile("Lena Fischer|Raj Patel"))
    ada.goto("/oncall")
    expect(ada.locator("table.oncall tr", has_text="Billing <rota>")).to_contain_text(
        re.compile("Lena Fischer|Raj Patel")
    )
    assert problems == [], problems
    ada.context.close()
