"""Incident communication on a fake clock: update reminders (due, overdue, rescheduled by an
update, cancelled on resolve), role notices, stakeholder notices received by a real SMTP server
(aiosmtpd) and a real HTTP server (signed webhook), and pages claimed before a queued fan-out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import World
from tests.engine.test_engine import Clock, contact, local_outbox, make_engine
from tests.notify.conftest import LocalHTTPServer, http_server
from tests.pgserver import free_port
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.engine import delivery
from warroom.notify.models import Notification
from warroom.notify.signing import verify_webhook_signature
from warroom.timers.models import Timer
from warroom.web.queries import dashboard_data
from warroom.web.queries.war_room_data import messages_of

__all__ = ["http_server", "local_outbox"]  # fixtures shared with the engine and notify tests


class Mailbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        found = []
        for envelope in self.envelopes:
            raw = envelope.original_content or envelope.content
            assert isinstance(raw, bytes)
            parsed = message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    smtp[0].envelopes.clear()
    return smtp[0]


@pytest.fixture
def settings(db_url: str, smtp: tuple[Mailbox, int]) -> Settings:
    return Settings(
        database_url=db_url,
        base_url="http://warroom.test",
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        outbound_allow_networks=["127.0.0.0/8"],
    )


def _declare(client: TestClient, world: World, impact: int, urgency: int) -> int:
    r = client.post(
        "/api/v1/incidents",
        json={
            "title": "Card payments failing",
            "impact": impact,
            "urgency": urgency,
            "service_ids": [world.checkout_id],
        },
        headers=world.auth(),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _story(client: TestClient, world: World, incident_id: int) -> list[tuple[str, str]]:
    items = client.get(
        f"/api/v1/incidents/{incident_id}/timeline?limit=1000", headers=world.auth()
    ).json()["items"]
    return [(e["kind"], e["message"]) for e in items]


def _engine(db: Database, settings: Settings, start: datetime) -> Any:
    clock = Clock()
    clock.now = start  # the engine's last look before sending compares leases with this
    return make_engine(db, settings, clock)


def _subjects(outbox: list[Any]) -> list[str]:
    return [d.message.subject for d in outbox]


def _pending_reminders(db: Database, incident_id: int) -> list[datetime]:
    with db.read_session() as s:
        return list(
            s.scalars(
                select(Timer.due_at).where(
                    Timer.incident_id == incident_id,
                    Timer.kind == "update_due",
                    Timer.done_at.is_(None),
                )
            )
        )


def test_update_reminders_due_overdue_rescheduled_and_cancelled_on_resolve(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    client = quiet_client
    contact(db, world.admin_id)
    start = datetime.now(UTC)
    clock = Clock()
    clock.now = start
    engine = make_engine(db, settings, clock)
    iid = _declare(client, world, 1, 1)  # P1: an update every 30 minutes
    r = client.put(
        f"/api/v1/incidents/{iid}/roles/communications_lead",
        json={"user_id": world.admin_id},
        headers=world.auth(),
    )
    assert r.status_code == 200
    engine.run_once(start + timedelta(seconds=5), wait=True)
    # Being given the role is told at once (Bob gave it to Alice).
    assert _subjects(local_outbox) == [
        f"You are now Communications Lead of #{iid} Card payments failing"
    ]
    [due] = _pending_reminders(db, iid)
    assert timedelta(minutes=30) <= due - start < timedelta(minutes=31)

    engine.run_once(start + timedelta(minutes=29), wait=True)
    assert len(local_outbox) == 1, "not due yet"
    with db.read_session() as s:
        board = dashboard_data.dashboard(
            s,
            dashboard_data.DashboardFilter(),
            world.admin_id,
            start + timedelta(minutes=29),
            cadence={1: timedelta(minutes=30)},
        )
        assert [row.update_overdue for row in board.rows] == [False]
        board = dashboard_data.dashboard(
            s,
            dashboard_data.DashboardFilter(),
            world.admin_id,
            start + timedelta(minutes=31),
            cadence={1: timedelta(minutes=30)},
        )
        assert [row.update_overdue for row in board.rows] == [True]

    engine.run_once(start + timedelta(minutes=31), wait=True)
    assert _subjects(local_outbox)[1] == f"Status update due: #{iid} Card payments failing"
    assert "please post a status update" in local_outbox[1].message.text
    assert "/act/" in local_outbox[1].message.text  # the view link only
    assert any(
        k == "update_overdue" and "reminded Alice (Communications Lead)" in m
        for k, m in _story(client, world, iid)
    )
    # Still overdue: reminded again a cadence later, not at every engine pass.
    engine.run_once(start + timedelta(minutes=40), wait=True)
    assert len(local_outbox) == 2

    # An update that promises the next one in an hour re-plans the reminder to that time.
    promise = start + timedelta(minutes=95)
    r = client.post(
        f"/api/v1/incidents/{iid}/status-updates",
        json={
            "visibility": "internal",
            "message": "Failing over",
            "next_update_at": promise.isoformat(),
        },
        headers=world.auth(),
    )
    assert r.status_code == 201, r.text
    engine.run_once(start + timedelta(minutes=41), wait=True)
    assert _pending_reminders(db, iid) == [promise]
    engine.run_once(start + timedelta(minutes=90), wait=True)
    assert len(local_outbox) == 2, "the promised time is not there yet"
    engine.run_once(start + timedelta(minutes=96), wait=True)
    assert len(local_outbox) == 3

    # Resolving stops the reminders.
    assert client.post(f"/api/v1/incidents/{iid}/resolve", headers=world.auth()).status_code == 200
    assert _pending_reminders(db, iid) == []
    engine.run_once(start + timedelta(hours=5), wait=True)
    assert len(local_outbox) == 3


def test_the_commander_is_reminded_when_there_is_no_comms_lead_and_nobody_is_flagged(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    client = quiet_client
    contact(db, world.responder_id)
    lonely = _declare(client, world, 1, 2)  # P2: every 60 minutes, nobody holds a role
    commanded = _declare(client, world, 1, 2)
    # Bob takes the Commander role himself: no role notice for that.
    client.put(
        f"/api/v1/incidents/{commanded}/roles/commander",
        json={"user_id": world.responder_id},
        headers=world.auth(),
    )
    quiet = _declare(client, world, 2, 2)  # P3: no cadence, no reminders
    # The engine's clock starts once all three exist: on a loaded machine declaring them can
    # take longer than the first pass's 5 s, and a comms check not yet due then would plan its
    # reminder only in the 61-minute pass, due a moment after it.
    start = datetime.now(UTC)
    engine = _engine(db, settings, start)
    engine.run_once(start + timedelta(seconds=5), wait=True)
    assert list(local_outbox) == []
    assert _pending_reminders(db, quiet) == []
    engine.run_once(start + timedelta(minutes=61), wait=True)
    # (Oversight's SLA messages go out too by then; the reminders are these.)
    reminders = [s for s in _subjects(local_outbox) if s.startswith("Status update due")]
    assert reminders == [f"Status update due: #{commanded} Card payments failing"]
    assert any(
        k == "update_overdue" and "nobody is Communications Lead or Incident Commander" in m
        for k, m in _story(client, world, lonely)
    )


def test_a_role_given_is_told_by_low_urgency_rules(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    contact(db, world.admin_id)  # a high-urgency rule only: low urgency reaches every method
    engine = _engine(db, settings, datetime.now(UTC))
    iid = _declare(quiet_client, world, 2, 2)
    quiet_client.put(
        f"/api/v1/incidents/{iid}/roles/scribe",
        json={"user_id": world.admin_id},
        headers=world.auth(),
    )
    engine.run_once(datetime.now(UTC) + timedelta(seconds=5), wait=True)
    assert len(local_outbox) == 1
    assert local_outbox[0].message.urgency == "low"
    assert "Bob made you Scribe" in local_outbox[0].message.text
    with db.read_session() as s:
        kinds = list(s.scalars(select(Notification.kind)))
    assert kinds == ["role"]


def test_stakeholders_are_told_by_mail_and_signed_webhook_in_plain_words(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
    http_server: LocalHTTPServer,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    client = quiet_client
    admin = world.auth("admin")
    lst = client.post(
        "/api/v1/stakeholder-lists",
        json={"name": "Customer support", "service_id": world.checkout_id},
        headers=admin,
    ).json()
    members = f"/api/v1/stakeholder-lists/{lst['id']}/members"
    assert (
        client.post(
            members, json={"channel": "email", "address": "support@example.com"}, headers=admin
        ).status_code
        == 201
    )
    hook = client.post(
        members,
        json={"channel": "webhook", "address": f"{http_server.url}/stakeholders"},
        headers=admin,
    ).json()
    assert (
        client.post(members, json={"user_id": world.stakeholder_id}, headers=admin).status_code
        == 201
    )
    contact(db, world.stakeholder_id)
    start = datetime.now(UTC)
    engine = _engine(db, settings, start)

    minor = _declare(client, world, 2, 2)  # P3: below the list's P2 threshold
    iid = _declare(client, world, 1, 2)  # P2: reaches it
    engine.run_once(start + timedelta(seconds=5), wait=True)
    assert len(mailbox.envelopes) == 1
    [mail] = mailbox.messages()
    assert mail["To"] == "support@example.com"
    assert mail["Subject"] == "Service problem: checkout-api (serious)"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "We are dealing with a serious problem affecting: checkout-api." in text
    assert "http://warroom.test/status" in text
    assert "Customer support" in text and "P2" not in text  # no jargon in the words
    # The webhook: signed with the member's own secret.
    [request] = http_server.requests
    verify_webhook_signature(
        hook["secret"], request.headers.get("Warroom-Signature"), request.body, datetime.now(UTC)
    )
    payload = json.loads(request.body)
    assert payload["subject"] == "Service problem: checkout-api (serious)"
    assert payload["links"] == {"status": "http://warroom.test/status"}
    # Carol (a person in Warroom) through her own contact method, with a view link only.
    assert _subjects(local_outbox) == ["Service problem: checkout-api (serious)"]

    # A public update is told; an internal one is not; a repeated check tells nobody twice.
    r = client.post(
        f"/api/v1/incidents/{iid}/status-updates",
        json={
            "visibility": "public",
            "stage": "identified",
            "message": "Card payments fail; a fix is being deployed. <b>not bold</b>",
            "impact": "Customers cannot pay by card",
        },
        headers=world.auth(),
    )
    assert r.status_code == 201
    client.post(
        f"/api/v1/incidents/{iid}/status-updates",
        json={"visibility": "internal", "message": "Rolling back release 42"},
        headers=world.auth(),
    )
    client.post(
        f"/api/v1/incidents/{iid}/priority",
        json={"urgency": 1, "reason": "all cards"},
        headers=world.auth(),
    )
    engine.run_once(start + timedelta(seconds=10), wait=True)
    assert len(mailbox.envelopes) == 2
    update_mail = mailbox.messages()[1]
    assert update_mail["Subject"] == "Identified: checkout-api"
    body = update_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "We have found the cause and are working on a fix." in body
    assert "Card payments fail; a fix is being deployed. <b>not bold</b>" in body
    assert "Who is affected: Customers cannot pay by card" in body
    assert "Rolling back" not in body
    assert len(http_server.requests) == 2

    story = _story(client, world, iid)
    assert any(
        k == "stakeholders_notified" and "'Customer support' (3 recipients): reached P2" in m
        for k, m in story
    )
    assert (
        "notification_sent",
        "Notified a stakeholder list member via email (stakeholder)",
    ) in story
    assert not any(k == "stakeholders_notified" for k, _ in _story(client, world, minor))
    with db.read_session() as s:
        rows, total = messages_of(s, iid)
    assert total == 6
    assert {r.list_name for r in rows if r.person is None} == {"Customer support"}
    assert all(r.status == "sent" for r in rows)


def test_pages_are_claimed_before_a_queued_fan_out(db: Database, world: World) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with db.session() as s:
        for n in range(40):
            s.add(
                Notification(
                    idempotency_key=f"fan-{n}",
                    channel="email",
                    target=f"s{n}@example.com",
                    kind="stakeholder",
                    urgency="low",
                    subject="x",
                    body="x",
                    next_attempt_at=now - timedelta(minutes=10),
                    created_at=now,
                )
            )
        s.add(
            Notification(
                idempotency_key="the-page",
                user_id=world.responder_id,
                channel="local",
                target="console",
                kind="page",
                subject="PAGE",
                body="x",
                next_attempt_at=now,
                created_at=now,
            )
        )
    jobs = delivery.claim_due(db, now, "w1", timedelta(seconds=60), limit=8)
    assert [j.kind for j in jobs] == ["page"] + ["stakeholder"] * 7
    # The rest of the fan-out is still claimed, oldest first, once no page waits.
    more = delivery.claim_due(db, now, "w2", timedelta(seconds=60), limit=50)
    assert len(more) == 33 and {j.kind for j in more} == {"stakeholder"}
