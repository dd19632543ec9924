"""An incident commanded from two browsers, against the real server: live, escaped, accessible.

One story, in order: sign in; an event sent to the intake appears on the open dashboard without
a reload; open it; acknowledge; take the commander role; add a task; a second person sees a
note arrive live; resolve; an alert whose summary is a <script> shows as text; who is on call.
Screenshots of the main pages go to test-artifacts/screenshots/ (ignored by git); `./dev
screenshots` also copies dashboard, incident and on call to docs/screenshots/ for the README.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import README_SCREENSHOTS
from tests.e2e.server import Server

pytestmark = pytest.mark.browser
README_PICTURES = ("dashboard.png", "incident.png", "oncall.png")
LIVE = 5_000  # ms: live updates arrive within about a second; this is the patience on a slow CI


def _trigger(server: Server, summary: str, dedup_key: str, severity: str = "critical") -> None:
    key = server.keys[("payments-db", "pagerduty")]
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": summary, "source": "db-1.prod", "severity": severity},
    }
    r = httpx.post(f"{server.base_url}/v2/enqueue", json=event, timeout=10)
    assert r.status_code == 202, r.text


def _new_page(browser: Any, server: Server, problems: list[str], **options: Any) -> Any:
    context = browser.new_context(base_url=server.base_url, **options)
    page = context.new_page()
    # Console errors include Content-Security-Policy violations: there must be none.
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    return page


def _sign_in(page: Any, username: str, password: str, target: str = "/") -> None:
    page.goto(target)
    assert "/login" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(target.split("?")[0]) + r"(\?.*)?$"))


def test_an_incident_commanded_live_from_two_browsers(
    server: Server, chromium: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    # A second person with a password, made through the API with the demo's admin token.
    r = httpx.post(
        f"{server.base_url}/api/v1/users",
        headers=server.auth(),
        timeout=10,
        json={
            "username": "lena2",
            "name": "Lena Second",
            "role": "responder",
            "password": "lena's long password",
        },
    )
    assert r.status_code == 201, r.text
    problems: list[str] = []
    ada = _new_page(chromium, server, problems, viewport={"width": 1280, "height": 900})
    _sign_in(ada, "admin", server.password)
    expect(ada.get_by_role("heading", name="Open incidents")).to_be_visible()
    expect(ada.get_by_text("No open incidents")).to_be_visible()

    # A signal arrives while the dashboard is open: it appears without a reload.
    ada.evaluate("window.__stillTheSamePage = true")
    _trigger(server, "Disk usage at 95% on db-primary-1", "disk-1")
    row = ada.locator("tr.incident-row", has_text="Disk usage at 95% on db-primary-1")
    expect(row).to_be_visible(timeout=LIVE)
    assert ada.evaluate("window.__stillTheSamePage") is True
    expect(row.locator(".badge.prio")).to_have_text(re.compile("P1"))
    expect(row.locator(".clock").first).to_have_text(re.compile("left of 15m"))
    # Two more, for a dashboard worth a screenshot: a warning from a script, a declared one.
    key = server.keys[("search", "generic")]
    r = httpx.post(
        f"{server.base_url}/integrations/generic/{key}",
        timeout=10,
        json={"summary": "Search p99 latency above 2 s", "severity": "warning"},
    )
    assert r.status_code == 202, r.text
    r = httpx.post(
        f"{server.base_url}/api/v1/incidents",
        headers=server.auth(),
        timeout=10,
        json={"title": "Wiki edits are slow", "impact": 3, "urgency": 3},
    )
    assert r.status_code == 201, r.text
    expect(ada.locator("tr.incident-row")).to_have_count(3, timeout=LIVE)
    expect(ada.locator("tr.incident-row").first).to_contain_text("Disk usage at 95%")
    ada.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

    # Open it; acknowledge; take the commander role; add a task.
    row.get_by_role("link", name="Disk usage at 95% on db-primary-1").click()
    ada.wait_for_url(re.compile(r"/incidents/\d+$"))
    incident_url = ada.url
    expect(ada.locator(".summary .status")).to_have_text("Triggered")
    ada.get_by_role("button", name="Acknowledge").click()
    expect(ada.locator(".summary .status")).to_have_text("Acknowledged")
    commander = ada.locator("li.role-seat", has_text="Incident Commander")
    commander.get_by_role("button", name=re.compile("Take this role")).click()
    expect(ada.locator("li.role-seat", has_text="Incident Commander")).to_contain_text("Ada Admin")
    ada.get_by_text("Add a task").click()
    ada.get_by_label("Task", exact=True).fill("Fail over to the replica")
    ada.locator("#t-owner").select_option(label="Ada Admin")
    ada.get_by_role("button", name="Add task").click()
    expect(ada.locator("#incident-tasks")).to_contain_text("Fail over to the replica")

    # A second person watches the war room; a note from the first shows up there live.
    lena = _new_page(chromium, server, problems, viewport={"width": 375, "height": 800})
    _sign_in(lena, "lena2", "lena's long password", incident_url.replace(server.base_url, ""))
    expect(lena.locator("#timeline")).to_contain_text("Acknowledged by Ada Admin")
    lena.evaluate("window.__stillTheSamePage = true")
    ada.get_by_label("Add a note").fill("Replica promoted; watching replication lag")
    ada.get_by_role("button", name="Add note").click()
    expect(ada.locator("#timeline")).to_contain_text("Replica promoted")
    expect(lena.locator("#timeline")).to_contain_text("Replica promoted", timeout=LIVE)
    assert lena.evaluate("window.__stillTheSamePage") is True
    # Usable at 375 px: nothing wider than the screen.
    assert lena.evaluate("document.documentElement.scrollWidth") <= 375
    lena.screenshot(path=str(screenshots / "incident-375px.png"), full_page=True)
    ada.screenshot(path=str(screenshots / "incident.png"), full_page=True)

    # Resolve: the other browser's status follows.
    ada.get_by_role("button", name="Resolve").click()
    expect(ada.locator(".summary .status")).to_have_text("Resolved")
    expect(lena.locator(".summary .status")).to_have_text("Resolved", timeout=LIVE)
    expect(ada.get_by_role("button", name="Reopen")).to_be_visible()

    # An alert whose summary is markup shows as text and runs nothing.
    evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    _trigger(server, evil, "evil-1", severity="warning")
    ada.goto("/alerts")
    expect(
        ada.locator(".summary-text", has_text="<script>window.__pwned = 1</script>")
    ).to_be_visible()
    assert ada.evaluate("window.__pwned") is None
    ada.goto("/")
    expect(ada.get_by_role("link", name=re.compile(r"<script>window\.__pwned"))).to_be_visible()
    assert ada.evaluate("window.__pwned") is None
    ada.goto("/alerts")
    ada.screenshot(path=str(screenshots / "alerts.png"), full_page=True)

    # Services: an admin sees the copy-paste configuration of each integration.
    ada.goto("/services")
    ada.get_by_role("link", name="checkout-api").first.click()
    expect(ada.locator("pre").first).to_contain_text("webhook_configs:")
    expect(ada.locator("pre").first).to_contain_text(
        "credentials: " + server.keys[("checkout-api", "alertmanager")]
    )
    ada.screenshot(path=str(screenshots / "services.png"), full_page=True)

    # On call: who is on call now on the demo's schedules, then one schedule's week.
    ada.goto("/oncall")
    expect(ada.get_by_role("heading", name="On call", exact=True)).to_be_visible()
    expect(ada.locator("table.oncall")).to_contain_text("Platform primary")
    ada.screenshot(path=str(screenshots / "oncall.png"), full_page=True)
    ada.get_by_role("link", name="Platform primary").click()
    expect(ada.locator("table.rota tbody tr")).to_have_count(7)
    ada.screenshot(path=str(screenshots / "schedule.png"), full_page=True)

    # Keyboard: the skip link is the first stop and takes focus to the content.
    ada.goto("/")
    ada.keyboard.press("Tab")
    assert ada.evaluate("document.activeElement.textContent") == "Skip to content"

    assert problems == [], problems
    if README_SCREENSHOTS is not None:
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in README_PICTURES:
            shutil.copyfile(screenshots / name, README_SCREENSHOTS / name)
    ada.context.close()
    lena.context.close()
