"""A seeded incident reviewed end to end in Chromium, against the real server: start the review,
star two timeline entries, add an action item, publish, export the PDF and check it has the
timeline and a chart; then the metrics page with its charts. Screenshots and the PDF rendered
to PNG (pdftoppm) go to test-artifacts/."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.test_war_room import _new_page, _sign_in, _trigger
from tests.e2e.server import ROOT, Server, run_server

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The browser tests' server, with more patience to start: the PDF and chart libraries add
    to the import time on a busy two-core machine."""
    path = tmp_path_factory.mktemp("browser-review") / "warroom.db"
    with run_server(f"sqlite:///{path}", timeout=120) as running:
        yield running


def _seed(server: Server) -> int:
    """A P1 storm on payments-db, acknowledged, commanded, noted and resolved."""
    for n in range(12):
        _trigger(server, f"Disk usage at 9{n % 10}% on db-primary-{n % 3}", f"disk-{n}")
    auth, base = server.auth(), server.base_url
    incidents = httpx.get(f"{base}/api/v1/incidents", headers=auth, timeout=10).json()["items"]
    iid = int(incidents[0]["id"])
    me = httpx.get(f"{base}/api/v1/users/me", headers=auth, timeout=10).json()
    for call in (
        ("POST", f"/api/v1/incidents/{iid}/acknowledge", None),
        ("PUT", f"/api/v1/incidents/{iid}/roles/commander", {"user_id": me["id"]}),
        (
            "POST",
            f"/api/v1/incidents/{iid}/notes",
            {"text": "Replica promoted; lag is <b>fine</b>"},
        ),
        ("POST", f"/api/v1/incidents/{iid}/mitigate", None),
        ("POST", f"/api/v1/incidents/{iid}/resolve", None),
    ):
        r = httpx.request(call[0], base + call[1], json=call[2], headers=auth, timeout=10)
        assert r.status_code in (200, 201), r.text
    return iid


def test_review_a_seeded_incident_end_to_end(
    server: Server, chromium: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    iid = _seed(server)
    problems: list[str] = []
    page = _new_page(chromium, server, problems, viewport={"width": 1280, "height": 900})
    _sign_in(page, "admin", server.password, f"/incidents/{iid}")
    page.get_by_role("link", name="Post-incident review").click()
    page.wait_for_url(re.compile(rf"/incidents/{iid}/review$"))
    page.get_by_role("button", name="Start the review").click()
    expect(page.locator("#review-status")).to_have_text("Draft")
    expect(page.locator("table.durations")).to_contain_text("Time to acknowledge")
    expect(page.locator(".facts")).to_contain_text("12: 12 critical")

    # Star two entries, one with a note.
    entries = page.locator(".review-timeline li")
    first = entries.filter(has_text="Acknowledged by")
    first.get_by_label("Note").fill("The first human response")
    first.get_by_role("button", name="Star").click()
    expect(page.locator(".review-timeline li.starred")).to_have_count(1)
    page.locator(".review-timeline li", has_text="Replica promoted").get_by_role(
        "button", name="Star"
    ).click()
    expect(page.locator(".review-timeline li.starred")).to_have_count(2)
    expect(page.locator(".review-timeline li.starred").first).to_contain_text(
        "The first human response"
    )
    # The note's HTML is text.
    expect(page.locator(".review-timeline")).to_contain_text("lag is <b>fine</b>")

    # Write the template, add an action item.
    page.get_by_label("What happened").fill(
        "The primary's disk filled with WAL after a stuck replication slot."
    )
    page.get_by_label("Lessons").fill("Alert on replication slot lag.")
    page.get_by_role("button", name="Save the review").click()
    expect(page.get_by_label("What happened")).to_have_value(re.compile("stuck replication slot"))
    page.get_by_text("Add an action item").click()
    page.get_by_label("What will be done").fill(
        "Alert when a replication slot holds more than 10 GB"
    )
    page.locator("#ai-owner").select_option(label="Ada Admin")
    page.locator("#ai-priority").select_option("2")
    page.get_by_role("button", name="Add action item").click()
    expect(page.locator("#action-items table")).to_contain_text("Alert when a replication slot")
    chart = page.locator("img.chart").first
    expect(chart).to_be_visible()
    # Visible is not loaded: on a loaded machine the SVG may still be on its way.
    page.wait_for_function(
        "(() => { const i = document.querySelector('img.chart'); "
        "return i && i.complete && i.naturalWidth > 0; })()",
        timeout=15_000,
    )
    assert page.evaluate("document.querySelector('img.chart').naturalWidth") > 0
    page.screenshot(path=str(screenshots / "review-draft.png"), full_page=True)

    # Publish: nothing can be edited after.
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#review-status")).to_have_text("Published")
    expect(page.get_by_role("button", name="Save the review")).to_have_count(0)
    expect(page.get_by_role("button", name="Star")).to_have_count(0)
    page.screenshot(path=str(screenshots / "review-published.png"), full_page=True)

    # Export the PDF (through the signed-in browser) and look at it.
    response = page.request.get(f"/incidents/{iid}/review.pdf")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = ARTIFACTS / "review.pdf"
    pdf.write_bytes(response.body())
    if shutil.which("pdftotext") and shutil.which("pdftoppm"):
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "Timeline" in text and "Replica promoted" in text
        assert "★" in text or "The first human response" in text
        # The chart: its title and axis are text inside the embedded SVG.
        assert "time to each step" in text and "Time to acknowledge" in text
        assert "Alert when a replication slot" in text
        for old in ARTIFACTS.glob("review-page-*.png"):
            old.unlink()
        subprocess.run(
            ["pdftoppm", "-png", "-r", "70", str(pdf), str(ARTIFACTS / "review-page")], check=True
        )
        assert sorted(ARTIFACTS.glob("review-page-*.png")), "no PNG pages"
    else:
        assert response.body().startswith(b"%PDF")

    # The list of open action items, filtered by owner.
    page.goto("/action-items")
    expect(page.locator("table")).to_contain_text("Alert when a replication slot")
    page.screenshot(path=str(screenshots / "action-items.png"), full_page=True)

    # The metrics page: numbers, definitions and charts that load under the CSP.
    page.goto("/analytics?period=7")
    expect(page.locator("#m-incidents")).to_contain_text("Incidents")
    expect(page.locator("#m-mtta")).to_contain_text("triggered → first acknowledged")
    page.wait_for_function(
        "[...document.querySelectorAll('img.chart')].every(i => i.complete && i.naturalWidth > 0)"
    )
    page.screenshot(path=str(screenshots / "metrics.png"), full_page=True)
    csv = page.request.get("/analytics/summary.csv?period=7")
    assert csv.status == 200 and csv.text().startswith("metric,count")
    assert problems == [], problems
