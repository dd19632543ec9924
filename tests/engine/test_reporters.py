"""The reporter is told when the incident resolves (issue 11), received by a real SMTP server
(aiosmtpd): a person in Warroom through their contact methods or at their account's email, a
public reporter at the address they left, nobody without one; once per report, through a
resolve, a reopen and a second resolve; by hand and when the last alert resolves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import World
from tests.engine.test_comms import Mailbox, _engine, _story, mailbox, settings, smtp
from tests.engine.test_engine import contact, local_outbox, paging_alone
from warroom.catalog.models import User
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.reports.models import UserReport
from warroom.reports.service import submit_report

__all__ = ["local_outbox", "mailbox", "paging_alone", "settings", "smtp"]


def public_report(
    db: Database, settings: Settings, service_id: int, text: str, email: str = ""
) -> UserReport:
    """What the status page's form stores: no user, maybe an address."""
    with db.session() as s:
        report = submit_report(
            s,
            service_id=service_id,
            description=text,
            reporter_id=None,
            reporter_name="a visitor",
            source="public",
            now=datetime.now(UTC),
            matrix=settings.priority_matrix,
            reporter_email=email,
        )
        s.flush()
        s.expunge(report)
        return report


def api_report(client: TestClient, world: World, who: str, text: str) -> dict[str, Any]:
    r = client.post(
        "/api/v1/reports",
        json={"service_id": world.checkout_id, "description": text},
        headers=world.auth(who),
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def bodies(mailbox: Mailbox) -> dict[str, Any]:
    return {str(m["To"]): m for m in mailbox.messages()}


def test_reporters_are_told_once_when_the_incident_resolves(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    client = quiet_client
    auth = world.auth()
    r = client.post(
        "/api/v1/incidents",
        json={
            "title": "Checkout <b>hangs</b>",
            "impact": 2,
            "urgency": 2,
            "service_ids": [world.checkout_id],
        },
        headers=auth,
    )
    iid = r.json()["id"]
    contact(db, world.stakeholder_id)  # Carol: a contact method of her own
    with db.session() as s:
        alice = s.get(User, world.admin_id)
        assert alice is not None
        alice.email = "alice@example.com"  # Alice: no contact method, an account email
    assert api_report(client, world, "stakeholder", "cart is empty")["incident_id"] == iid
    assert api_report(client, world, "admin", "pay button does nothing")["incident_id"] == iid
    public_report(db, settings, world.checkout_id, "checkout hangs", "visitor@example.org")
    public_report(db, settings, world.checkout_id, "checkout hangs for me too")  # no address
    start = datetime.now(UTC)
    engine = _engine(db, settings, start)
    engine.run_once(start + timedelta(seconds=1), wait=True)
    assert mailbox.envelopes == [], "nobody is told while the incident is open"

    assert client.post(f"/api/v1/incidents/{iid}/resolve", headers=auth).status_code == 200
    engine.run_once(start + timedelta(seconds=2), wait=True)
    engine.run_once(start + timedelta(seconds=3), wait=True)
    mails = bodies(mailbox)
    assert sorted(mails) == ["alice@example.com", "visitor@example.org"]
    visitor = mails["visitor@example.org"]
    assert visitor["Subject"] == "Resolved: Checkout <b>hangs</b>"
    text = visitor.get_body(("plain",)).get_content()
    assert "The problem it was about has been fixed." in text
    assert "Incident: Checkout <b>hangs</b>" in text
    assert 'You reported: "checkout hangs"' in text
    assert "Status page: http://warroom.test/status" in text
    assert (
        "pay button does nothing" in mails["alice@example.com"].get_body(("plain",)).get_content()
    )
    # Carol through her own contact method, with a view link only.
    [carol] = local_outbox
    assert carol.message.subject == "Resolved: Checkout <b>hangs</b>"
    assert set(carol.message.links) == {"view"}
    assert (
        "reporters_notified",
        "Told 3 reporters that the problem they reported is resolved",
    ) in _story(client, world, iid)
    assert ("notification_sent", "Notified a reporter via email (reporter)") in _story(
        client, world, iid
    )

    # Reopened (the problem is back) and resolved again: those told are not told twice; a
    # report that came while it was open again is told now.
    assert client.post(f"/api/v1/incidents/{iid}/reopen", headers=auth).status_code == 200
    public_report(db, settings, world.checkout_id, "broken again", "late@example.org")
    assert client.post(f"/api/v1/incidents/{iid}/resolve", headers=auth).status_code == 200
    engine.run_once(start + timedelta(seconds=4), wait=True)
    engine.run_once(start + timedelta(seconds=5), wait=True)
    assert [str(m["To"]) for m in mailbox.messages()][2:] == ["late@example.org"]
    assert len(local_outbox) == 1
    with db.read_session() as s:
        untold = s.scalars(select(UserReport.id).where(UserReport.told_resolved_at.is_(None)))
        assert list(untold) == []


def test_a_reporter_of_an_alert_born_incident_is_told_when_its_last_alert_resolves(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
) -> None:
    client = quiet_client
    event = {
        "routing_key": world.pagerduty_key,
        "event_action": "trigger",
        "dedup_key": "db-down",
        "payload": {"summary": "payments-db down", "source": "db-1", "severity": "critical"},
    }
    assert client.post("/v2/enqueue", json=event).status_code == 202
    report = public_report(db, settings, world.database_id, "cannot pay", "me@example.net")
    assert report.incident_id is not None
    # A public update puts the incident on the status page: the link goes to its entry.
    r = client.post(
        f"/api/v1/incidents/{report.incident_id}/status-updates",
        json={"visibility": "public", "stage": "identified", "message": "Fixing"},
        headers=world.auth(),
    )
    assert r.status_code == 201, r.text
    start = datetime.now(UTC)
    engine = _engine(db, settings, start)
    engine.run_once(start + timedelta(seconds=1), wait=True)
    mailbox.envelopes.clear()  # (stakeholder notices, if any, are not what this is about)
    resolve = {**event, "event_action": "resolve"}
    del resolve["payload"]
    assert client.post("/v2/enqueue", json=resolve).status_code == 202
    engine.run_once(start + timedelta(seconds=2), wait=True)
    engine.run_once(start + timedelta(seconds=3), wait=True)
    [mail] = mailbox.messages()
    assert mail["To"] == "me@example.net" and mail["Subject"] == "Resolved: payments-db down"
    text = mail.get_body(("plain",)).get_content()
    assert f"Status page: http://warroom.test/status/incidents/{report.incident_id}" in text
