"""Oversight in the browser, against the real server: an incident declared 40 minutes ago that
nobody touched since is flagged on the dashboard (response SLA breached, stale) and on its
page, where the engine's breach escalation and stale nudge arrive on the timeline live."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.test_war_room import LIVE, _new_page, _sign_in
from tests.e2e.server import Server, run_server
from warroom.catalog.models import Service, User
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.incidents import service
from warroom.incidents.logic import DEFAULT_MATRIX
from warroom.incidents.timeline import Actor

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('oversight') / 'warroom.db'}"


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[Server]:
    """This module's own server (the shared one's dashboard belongs to the war room story)."""
    with run_server(database_url) as running:
        yield running


def declare_in_the_past(database_url: str, minutes: int) -> int:
    """A P1 declared `minutes` ago by the admin, straight into the server's database (the only
    way to have an old incident on a real clock); the server's engine takes it from there."""
    db = Database(database_url)
    try:
        with db.session() as s:
            admin = s.scalars(select(User).where(User.username == "admin")).one()
            svc = s.scalars(select(Service).order_by(Service.id)).first()
            assert svc is not None
            incident = service.declare(
                s,
                Actor(admin.id, admin.name or admin.username),
                utcnow() - timedelta(minutes=minutes),
                DEFAULT_MATRIX,
                title="Payments failing since the deploy",
                description="",
                impact=1,
                urgency=1,
                service_ids=[svc.id],
            )
            return incident.id
    finally:
        db.dispose()


def test_the_dashboard_and_the_incident_flag_a_breached_stale_incident(
    server: Server, database_url: str, chromium: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    iid = declare_in_the_past(database_url, 40)
    problems: list[str] = []
    page = _new_page(chromium, server, problems, viewport={"width": 1280, "height": 900})
    _sign_in(page, "admin", server.password)
    row = page.locator("tr.incident-row", has_text="Payments failing since the deploy")
    expect(row).to_be_visible(timeout=LIVE)
    expect(row.locator(".badge.breached")).to_have_text("response SLA breached")
    expect(row.locator(".badge.stale")).to_have_text(re.compile(r"stale · idle 4\dm"))
    expect(row.locator(".clock").first).to_have_text(re.compile("breached"))
    page.screenshot(path=str(screenshots / "dashboard-oversight.png"), full_page=True)

    page.goto(f"/incidents/{iid}")
    expect(page.locator(".banner-breach")).to_contain_text("The response SLA is breached")
    expect(page.locator(".banner-stale")).to_contain_text("no activity by a person for 4")
    # The engine fired the incident's look: the breach and the nudge are on the timeline.
    expect(page.locator("li.ev-sla_breached")).to_contain_text(
        "P1 response SLA breached", timeout=LIVE
    )
    expect(page.locator("li.ev-stale")).to_contain_text("Stale: no activity for 40m")
    page.screenshot(path=str(screenshots / "incident-oversight.png"), full_page=True)

    # A note is a person's activity: the stale flag goes, the breach stays.
    page.get_by_label("Add a note").fill("Rolling back the deploy")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".banner-stale")).to_have_count(0, timeout=LIVE)
    expect(page.locator(".banner-breach")).to_have_count(1)
    assert problems == [], problems
