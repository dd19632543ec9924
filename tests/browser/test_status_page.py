"""The public status page in Chromium with JavaScript disabled, against the real server: a P1
with two public updates and one internal one, an announced maintenance window and a recurring
one. The internal update is absent, the maintenance shows (the recurring one with its rule in
words), and the page reads on a phone-sized screen too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from tests.e2e.server import Server, run_server
from warroom.db.engine import Database
from warroom.incidents.models import StatusUpdate

pytestmark = pytest.mark.browser


def _api(server: Server, method: str, path: str, **body: Any) -> dict[str, Any]:
    r = httpx.request(
        method,
        f"{server.base_url}/api/v1{path}",
        json=body or None,
        headers=server.auth(),
        timeout=10,
    )
    assert r.status_code < 300, r.text
    return dict(r.json())


def _update(db: Database, incident_id: int, message: str, visibility: str, stage: str) -> None:
    with db.session() as s:
        s.execute(
            insert(StatusUpdate),
            {
                "incident_id": incident_id,
                "visibility": visibility,
                "stage": stage,
                "message": message,
                "impact": "",
                "created_at": datetime.now(UTC),
                "revision": 1,
            },
        )


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("status-browser") / "warroom.db"


@pytest.fixture(scope="module")
def server(db_path: Path) -> Iterator[Server]:
    # This module's own server, so the test can write status updates to its database (their
    # API is another issue's).
    with run_server(f"sqlite:///{db_path}") as running:
        yield running


def test_public_page_without_javascript(
    server: Server, chromium: Any, screenshots: Path, db_path: Path
) -> None:
    services = httpx.get(f"{server.base_url}/api/v1/services", headers=server.auth()).json()
    service_id = services["items"][0]["id"]
    comp = _api(server, "POST", "/components", name="Checkout", service_id=service_id)
    _api(server, "POST", "/components", name="Ledger (private)", private=True)
    db_comp = _api(server, "POST", "/components", name="Database")
    _api(
        server, "PUT", "/status-page", name="Acme status", logo_text="ACME", accent_colour="#8250df"
    )
    incident = _api(
        server,
        "POST",
        "/incidents",
        title="Checkout errors",
        impact=1,
        urgency=1,
        service_ids=[service_id],
    )
    now = datetime.now(UTC)
    _api(
        server,
        "POST",
        "/maintenance-windows",
        title="Database upgrade",
        starts_at=(now + timedelta(days=2)).isoformat(),
        ends_at=(now + timedelta(days=2, hours=1)).isoformat(),
        component_ids=[db_comp["id"]],
    )
    _api(
        server,
        "POST",
        "/maintenance-windows",
        title="Weekly patching",
        starts_at=(now + timedelta(days=1)).isoformat(),
        ends_at=(now + timedelta(days=1, hours=2)).isoformat(),
        component_ids=[db_comp["id"]],
        rrule="FREQ=WEEKLY;BYDAY=SU",
        time_zone="Europe/Berlin",
    )
    db = Database(f"sqlite:///{db_path}")
    try:
        _update(
            db, incident["id"], "We are investigating checkout errors.", "public", "investigating"
        )
        _update(db, incident["id"], "INTERNAL: rolled back build 4711", "internal", "identified")
        _update(db, incident["id"], "A fix is being deployed.", "public", "identified")
    finally:
        db.dispose()
    for name, options in (
        ("status-page.png", {}),
        ("status-page-phone.png", {"viewport": {"width": 390, "height": 844}}),
    ):
        context = chromium.new_context(
            base_url=server.base_url, java_script_enabled=False, **options
        )
        page = context.new_page()
        page.goto("/status")
        body = page.inner_text("body")
        assert "Major System Outage" in body
        assert (
            "We are investigating checkout errors." in body and "A fix is being deployed." in body
        )
        assert "INTERNAL" not in body and "4711" not in body
        assert "Ledger" not in body
        assert "Database upgrade" in body and "Scheduled" in body
        assert "Weekly patching" in body and "Repeats every Sunday " in body
        assert "Europe/Berlin." in body
        assert "ACME" in body and "Acme status" in body
        assert comp["name"] in body
        page.screenshot(path=str(screenshots / name), full_page=True)
        if not options:
            page.get_by_role("link", name="Checkout errors").first.click()
            assert "A fix is being deployed." in page.inner_text("body")
            page.goto("/status/subscribe")
            page.get_by_label("Email address or webhook URL").fill("not an address")
            page.get_by_role("button", name="Subscribe").click()
            assert "not a valid email address" in page.inner_text("body").lower()
            page.screenshot(path=str(screenshots / "status-subscribe.png"), full_page=True)
        context.close()


def test_report_a_problem_without_javascript(
    server: Server, chromium: Any, screenshots: Path
) -> None:
    services = httpx.get(f"{server.base_url}/api/v1/services", headers=server.auth()).json()
    service_id = services["items"][0]["id"]
    _api(server, "POST", "/components", name="Reports <i>desk</i>", service_id=service_id)
    context = chromium.new_context(base_url=server.base_url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/status")
    page.get_by_role("link", name="Report a problem").first.click()
    page.get_by_label("What is not working").select_option(label="Reports <i>desk</i>")
    page.get_by_label("What happened").fill("short")
    page.get_by_role("button", name="Send the report").click()
    assert "10 to 2000 characters" in page.inner_text("body")  # the browser's own check is off
    page.get_by_label("What happened").fill("The <b>pay</b> button does nothing at all")
    page.get_by_label("Email me once, when this is fixed").check()
    page.get_by_label("Email address").fill("visitor@example.com")
    page.get_by_role("button", name="Send the report").click()
    page.wait_for_url("**/status/report/thanks**")
    body = page.inner_text("body")
    assert "Thank you" in body and "Reports <i>desk</i>" in body
    assert "We will email you when it is fixed" in body
    page.screenshot(path=str(screenshots / "status-report-thanks.png"), full_page=True)
    reports = httpx.get(f"{server.base_url}/api/v1/reports", headers=server.auth()).json()
    assert reports["items"][-1]["description"] == "The <b>pay</b> button does nothing at all"
    assert reports["items"][-1]["source"] == "public"
    context.close()


def test_published_review_summary_on_the_public_history(
    server: Server, chromium: Any, screenshots: Path, db_path: Path
) -> None:
    services = httpx.get(f"{server.base_url}/api/v1/services", headers=server.auth()).json()
    service_id = services["items"][0]["id"]
    incident = _api(
        server,
        "POST",
        "/incidents",
        title="Slow logins",
        impact=2,
        urgency=2,
        service_ids=[service_id],
    )
    db = Database(f"sqlite:///{db_path}")
    try:
        _update(db, incident["id"], "Logins are slow; we are on it.", "public", "investigating")
    finally:
        db.dispose()
    _api(server, "POST", f"/incidents/{incident['id']}/resolve")
    review = _api(server, "POST", f"/incidents/{incident['id']}/review")
    _api(
        server,
        "PATCH",
        f"/reviews/{review['id']}",
        what_happened="INTERNAL: cache node 3 was misconfigured",
        public_summary="Logins took up to a minute for 40 minutes.\n\n<em>We</em> fixed it.",
    )
    _api(server, "POST", f"/reviews/{review['id']}/actions/submit")
    _api(server, "POST", f"/reviews/{review['id']}/actions/publish")
    context = chromium.new_context(base_url=server.base_url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/status/history")
    page.get_by_role("link", name="Review published").first.click()
    body = page.inner_text("body")
    assert "Post-incident review" in body
    assert "Logins took up to a minute for 40 minutes." in body and "<em>We</em> fixed it." in body
    assert "INTERNAL" not in body
    page.screenshot(path=str(screenshots / "status-review.png"), full_page=True)
    context.close()


def test_an_admin_sets_up_a_stakeholder_list_from_the_service_page(
    server: Server, chromium: Any, screenshots: Path
) -> None:
    from tests.browser.test_war_room import _sign_in

    services = httpx.get(f"{server.base_url}/api/v1/services", headers=server.auth()).json()
    service = services["items"][0]
    context = chromium.new_context(base_url=server.base_url)
    page = context.new_page()
    _sign_in(page, "admin", server.password, f"/services/{service['id']}")
    page.get_by_role("link", name=f"Stakeholders of {service['name']}").click()
    assert "No lists yet" in page.inner_text("body")
    page.get_by_label("Name").fill("Support leads")
    page.get_by_label("Told about").select_option(label="P1 only")
    page.get_by_role("button", name="Create the list").click()
    assert "List Support leads created." in page.inner_text("body")
    page.get_by_text("Add a member to Support leads").click()
    page.get_by_label("An address", exact=True).check()
    page.get_by_label("Or an address by").select_option("email")
    page.get_by_label("Address (email").fill("support@example.com")
    page.get_by_role("button", name="Add to Support leads").click()
    body = page.inner_text("body")
    assert "support@example.com added." in body and "Told about: P1 only." in body
    page.screenshot(path=str(screenshots / "stakeholder-lists.png"), full_page=True)
    lists = httpx.get(f"{server.base_url}/api/v1/stakeholder-lists", headers=server.auth()).json()
    assert lists[0]["members"][0]["address"] == "support@example.com"
    context.close()
