"""Ten tabs of one browser, against the real server: every page loads, every form submits, and
every tab updates live. One stream per tab used up the browser's six connections per host and
the seventh page never loaded; the tabs now share one stream through a shared worker (ADR 10).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.test_war_room import LIVE, _sign_in
from tests.e2e.server import Server

pytestmark = pytest.mark.browser
TABS = 10


def _declare(server: Server, title: str) -> int:
    r = httpx.post(
        f"{server.base_url}/api/v1/incidents",
        headers=server.auth(),
        timeout=10,
        json={"title": title, "impact": 2, "urgency": 2},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_ten_tabs_load_submit_and_update_live(
    server: Server, chromium: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    context = chromium.new_context(
        base_url=server.base_url, viewport={"width": 1100, "height": 800}
    )
    streams: list[str] = []
    context.on("request", lambda r: streams.append(r.url) if "/events/stream" in r.url else None)
    first = context.new_page()
    first.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    _sign_in(first, "admin", server.password)
    ids = [_declare(server, f"Tab incident {n}") for n in range(TABS - 1)]
    tabs = [first]
    for incident_id in ids:
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"/incidents/{incident_id}", timeout=10_000)
        expect(page.locator("#timeline")).to_be_visible(timeout=10_000)
        tabs.append(page)
    # An eleventh page still loads, and a form in the last tab still submits.
    extra = context.new_page()
    extra.goto("/oncall", timeout=10_000)
    expect(extra.get_by_role("heading", name="On call", exact=True)).to_be_visible()
    last = tabs[-1]
    last.get_by_label("Add a note").fill("Submitted from the tenth tab")
    last.get_by_role("button", name="Add note").click()
    expect(last.locator("#timeline")).to_contain_text(
        "Submitted from the tenth tab", timeout=10_000
    )

    # Every tab updates live: a note on each incident from the API, the dashboard sees a new one.
    for incident_id in ids:
        r = httpx.post(
            f"{server.base_url}/api/v1/incidents/{incident_id}/notes",
            headers=server.auth(),
            timeout=10,
            json={"text": f"live note for {incident_id}"},
        )
        assert r.status_code == 201, r.text
    _declare(server, "Declared while ten tabs watch")
    expect(
        first.locator("tr.incident-row", has_text="Declared while ten tabs watch")
    ).to_be_visible(timeout=LIVE)
    for page, incident_id in zip(tabs[1:], ids, strict=True):
        expect(page.locator("#timeline")).to_contain_text(
            f"live note for {incident_id}", timeout=LIVE
        )
    # No page held a stream of its own (the shared worker's requests are not the pages').
    assert streams == [], streams
    assert first.evaluate("'SharedWorker' in window") is True
    first.screenshot(path=str(screenshots / "ten-tabs-dashboard.png"), full_page=True)
    assert problems == [], problems
    context.close()
