"""User reports: clustering by service and text (pure, hypothesis), attach to an open incident,
raise one when three similar reports arrive within the window; HTML shown as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from tests.api.helpers import assert_error, declare
from tests.conftest import World
from warroom.reports.logic import Report, decide, similarity, words

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_similar_reports_raise_together_and_others_wait() -> None:
    recent = [
        Report(1, 7, "Checkout page hangs at payment", T0),
        Report(2, 7, "payment hangs in checkout", T0 + timedelta(minutes=3)),
        Report(3, 7, "logo looks blurry", T0 + timedelta(minutes=4)),
        Report(4, 8, "checkout payment hangs", T0 + timedelta(minutes=4)),  # other service
    ]
    new = Report(5, 7, "CHECKOUT: payment hangs!", T0 + timedelta(minutes=5))
    decided = decide(new, recent, None, new.at)
    assert decided.action == "raise" and decided.cluster == (1, 2, 5)
    assert decide(new, recent[2:], None, new.at).action == "wait"
    assert decide(new, recent, 42, new.at).incident_id == 42  # open incident: attach
    late = Report(6, 7, "payment hangs checkout", T0 + timedelta(hours=1))
    assert decide(late, recent, None, late.at).action == "wait"  # out of the window
    assert "the" not in words("The checkout is broken")


@given(st.text(max_size=80), st.text(max_size=80))
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    assert 0.0 <= similarity(a, b) == similarity(b, a) <= 1.0
    assert similarity(a, a) == 1.0


@given(
    st.lists(
        st.tuples(st.integers(1, 2), st.sampled_from(["slow pay", "login fails", "pay slow"])),
        max_size=12,
    )
)
def test_a_raise_needs_three_similar_reports_of_one_service(
    items: list[tuple[int, str]],
) -> None:
    recent: list[Report] = []
    for i, (service, text) in enumerate(items):
        report = Report(i, service, text, T0 + timedelta(seconds=i))
        decided = decide(report, recent, None, report.at)
        if decided.action == "raise":
            members = [r for r in recent if r.id in decided.cluster] + [report]
            assert len(members) >= 3 and {r.service_id for r in members} == {service}
            recent = [
                Report(r.id, r.service_id, r.text, r.at, 1 if r.id in decided.cluster else None)
                for r in recent
            ]
        recent.append(Report(i, service, text, report.at, 1 if decided.action == "raise" else None))


@pytest.fixture
def client(quiet_client: TestClient) -> TestClient:
    return quiet_client


def report(client: TestClient, world: World, text: str, who: str = "stakeholder") -> Any:
    r = client.post(
        "/api/v1/reports",
        json={"service_id": world.checkout_id, "description": text},
        headers=world.auth(who),
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_three_reports_raise_an_incident_and_the_next_attaches(
    client: TestClient, world: World
) -> None:
    first = report(client, world, "checkout <b>hangs</b> at payment")
    assert first["incident_id"] is None
    report(client, world, "payment hangs in checkout", who="responder")
    third = report(client, world, "checkout payment hangs again")
    assert third["incident_id"] is not None
    incident = client.get(
        f"/api/v1/incidents/{third['incident_id']}", headers=world.auth("admin")
    ).json()
    assert "3 people report a problem" in incident["title"]
    listed = client.get("/api/v1/reports", headers=world.auth()).json()["items"]
    assert {r["incident_id"] for r in listed} == {third["incident_id"]}
    assert listed[-1]["description"] == "checkout <b>hangs</b> at payment"  # stored as typed
    fourth = report(client, world, "still broken")
    assert fourth["incident_id"] == third["incident_id"]
    events = client.get(
        f"/api/v1/incidents/{third['incident_id']}/timeline", headers=world.auth()
    ).json()
    items = events["items"] if isinstance(events, dict) else events
    assert any(e["kind"] == "user_report" for e in items)


def test_a_report_attaches_to_a_declared_incident(client: TestClient, world: World) -> None:
    incident = declare(client, world, service_ids=[world.checkout_id])
    got = report(client, world, "cart empty")
    assert got["incident_id"] == incident["id"]


def test_bad_reports(client: TestClient, world: World) -> None:
    auth = world.auth("stakeholder")
    for body in (
        {"service_id": 999_999, "description": "x"},
        {"service_id": world.checkout_id, "description": "   "},
        {"service_id": world.checkout_id, "description": "x" * 5001},
        {"service_id": world.checkout_id, "description": "x", "extra": 1},
    ):
        assert_error(client.post("/api/v1/reports", json=body, headers=auth), 422)
    assert_error(client.post("/api/v1/reports", json={"service_id": 1, "description": "x"}), 401)


def test_public_reports_are_rate_limited_and_bots_dropped(client: TestClient, world: World) -> None:
    form = {"service_id": str(world.checkout_id), "description": "the shop will not load"}
    r = client.post("/status/report", data=form)
    assert r.status_code == 202, r.text
    [stored] = client.get("/api/v1/reports", headers=world.auth()).json()["items"]
    assert stored["source"] == "public" and stored["reporter_id"] is None
    # A bot fills the hidden field: thanked, not stored. An unknown service: the same.
    assert (
        client.post("/status/report", data={**form, "website": "spam.example"}).status_code == 202
    )
    assert client.post("/status/report", json={**form, "service_id": 999_999}).status_code == 202
    assert len(client.get("/api/v1/reports", headers=world.auth()).json()["items"]) == 1
    assert_error(client.post("/status/report", data={**form, "description": "short"}), 422)
    assert_error(client.post("/status/report", content=b"x" * 9000), 413)
    # Five per address per 10 minutes: the sixth is 429 with Retry-After.
    client.post("/status/report", data=form)
    client.post("/status/report", data=form)
    r = client.post("/status/report", data=form)
    assert_error(r, 429)
    assert int(r.headers["retry-after"]) > 0
