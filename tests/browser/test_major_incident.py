"""A major incident in the browser, against the real server: a critical alert on the tier-1
payments-db is proposed as a major incident on its page, beside the blast-radius graph; the
admin accepts it with a reason, the page marks it and the major-incident policy is paged, and
the dashboard marks it too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.browser.test_war_room import LIVE, _new_page, _sign_in
from tests.e2e.server import Server, run_server
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.incidents import major_store
from warroom.incidents.major import MajorPolicy
from warroom.oncall.models import EscalationPolicy

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('major') / 'warroom.db'}"


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[Server]:
    with run_server(database_url) as running:
        yield running


def _major_policy(database_url: str) -> str:
    """The demo's first escalation policy becomes the major-incident policy; its name."""
    db = Database(database_url)
    try:
        with db.session() as s:
            policy = s.scalars(select(EscalationPolicy).order_by(EscalationPolicy.id)).first()
            assert policy is not None
            major_store.put_policy(s, MajorPolicy(escalation_policy_id=policy.id), utcnow())
            return policy.name
    finally:
        db.dispose()


def test_the_admin_accepts_a_proposed_major_incident_and_the_dashboard_marks_it(
    server: Server, database_url: str, chromium: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    policy = _major_policy(database_url)
    event = {
        "routing_key": server.keys[("payments-db", "pagerduty")],
        "event_action": "trigger",
        "dedup_key": "ledger-down",
        "payload": {"summary": "Ledger writes failing", "source": "db-1", "severity": "critical"},
    }
    assert httpx.post(f"{server.base_url}/v2/enqueue", json=event, timeout=10).status_code == 202
    problems: list[str] = []
    page = _new_page(chromium, server, problems, viewport={"width": 390, "height": 844})
    _sign_in(page, "admin", server.password)
    row = page.locator("tr.incident-row", has_text="Ledger writes failing")
    expect(row).to_be_visible(timeout=LIVE)
    expect(row.locator(".badge.major")).to_have_count(0)
    row.get_by_role("link", name="Ledger writes failing").click()

    proposal = page.locator("#major-proposal")
    expect(proposal).to_contain_text("Major incident proposed: tier-1 payments-db affected")
    expect(proposal).to_contain_text("priority P1")
    # The blast radius: payments-db affected, checkout-api (tier 1) depends on it.
    graph = page.locator("#blast-graph svg")
    expect(graph).to_be_visible()
    expect(graph.locator(".node.affected")).to_contain_text("payments-db")
    expect(graph.locator(".node.dependant")).to_contain_text("checkout-api")
    expect(page.locator("#blast-dependants")).to_contain_text("checkout-api")
    page.screenshot(path=str(screenshots / "incident-major-proposed.png"), full_page=True)

    page.get_by_label("Reason (kept on the timeline)").first.fill("Every payment fails")
    page.get_by_role("button", name="Accept: major incident").click()
    expect(page.locator("#major-mark")).to_have_text("Major incident", timeout=LIVE)
    expect(page.locator("#major-proposal")).to_have_count(0)
    expect(page.locator("li.ev-major_accepted")).to_contain_text("Every payment fails")
    expect(page.locator("li.ev-mobilised")).to_contain_text(
        f"Major incident: paging step 1 of '{policy}'"
    )

    page.goto("/")
    expect(row.locator(".badge.major")).to_have_text("Major", timeout=LIVE)
    page.screenshot(path=str(screenshots / "dashboard-major.png"), full_page=True)
    assert problems == [], problems
