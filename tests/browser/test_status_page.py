"""The public status page in Chromium with JavaScript disabled, against the real server: a P1
with two public updates and one internal one, and an announced maintenance window. The internal
update is absent, the maintenance shows, and the page reads on a phone-sized screen too."""

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
