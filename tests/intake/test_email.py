"""Inbound email: smtplib sends to the real aiosmtpd listener of the app; refusals happen at
the SMTP level (unknown recipient, huge message, no subject); dedup by subject without numbers."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World
from tests.pgserver import free_port
from warroom.app import create_app
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.intake.email import dedup_key, parse


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    listening = settings.model_copy(
        update={"inbound_smtp_port": free_port(), "inbound_smtp_max_bytes": 200_000}
    )
    with TestClient(create_app(listening, db, run_engine=False)) as test_client:
        yield test_client


def email_key(client: TestClient, world: World) -> str:
    r = client.post(
        "/api/v1/integrations",
        json={"service_id": world.checkout_id, "type": "email", "name": "nagios mail"},
        headers=world.auth("admin"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["url"].startswith("mailto:")
    return str(r.json()["routing_key"])


def message(subject: str, body: str = "details", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "nagios@example.com"
    msg["To"] = "x@warroom.test"
    if subject:
        msg["Subject"] = subject
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(body)
    return msg


def smtp(client: TestClient) -> smtplib.SMTP:
    port = client.app.state.mail[0].port  # type: ignore[attr-defined]
    return smtplib.SMTP("127.0.0.1", port, timeout=10)


def alerts(client: TestClient, world: World) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/alerts", headers=world.auth()).json()["items"])


def test_mail_opens_dedups_and_resolves_an_alert(client: TestClient, world: World) -> None:
    key = email_key(client, world)
    with smtp(client) as s:
        s.send_message(message("PROBLEM: Disk 91% full on db-1"), to_addrs=[f"{key}@warroom.test"])
        s.send_message(message("PROBLEM: Disk 95% full on db-1"), to_addrs=[f"{key}@warroom.test"])
    [alert] = alerts(client, world)
    assert alert["summary"] == "PROBLEM: Disk 95% full on db-1"  # the latest mail
    full = client.get(f"/api/v1/alerts/{alert['id']}", headers=world.auth()).json()
    assert full["details"]["body"] == "details" and full["event_count"] == 2
    with smtp(client) as s:
        s.send_message(
            message("RECOVERY: Disk 40% full on db-1"), to_addrs=[f"{key.upper()}@warroom.test"]
        )
    assert alerts(client, world)[0]["status"] == "resolved"


def test_refusals_at_the_smtp_level(client: TestClient, world: World) -> None:
    key = email_key(client, world)
    with smtp(client) as s, pytest.raises(smtplib.SMTPRecipientsRefused):
        s.send_message(message("hello"), to_addrs=["0123456789abcdef@warroom.test"])
    with smtp(client) as s:
        huge = message("big attachment")
        huge.add_attachment(b"\x00" * 500_000, maintype="application", subtype="octet-stream")
        with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as refused:
            s.send_message(huge, to_addrs=[f"{key}@warroom.test"])
        assert "552" in str(refused.value) or getattr(refused.value, "smtp_code", 0) == 552
    with smtp(client) as s, pytest.raises(smtplib.SMTPDataError):
        s.send_message(message(""), to_addrs=[f"{key}@warroom.test"])
    assert alerts(client, world) == []


def test_parsing_rules() -> None:
    html = EmailMessage()
    html["Subject"] = "CRITICAL: <b>checkout</b> down"
    html.set_content("<p>All <i>pods</i> crash</p>", subtype="html")
    parsed = parse(html.as_bytes(), "ABCdef@warroom.test")
    [signal] = parsed.signals
    assert parsed.routing_key == "abcdef" and signal.severity == "critical"
    assert signal.details["body"] == "All pods crash"
    assert dedup_key("subject_without_numbers", "Queue 1,204 jobs late", "") == dedup_key(
        "subject_without_numbers", "Queue 77 jobs late", ""
    )
    assert dedup_key("message_id", "a", "<1@x>") != dedup_key("message_id", "a", "<2@x>")


def reports(client: TestClient, world: World) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/reports", headers=world.auth()).json()["items"])


def test_mail_to_the_report_address_is_a_user_report_not_an_alert(
    client: TestClient, world: World
) -> None:
    key = email_key(client, world)
    mail = message("Checkout is broken", "I cannot pay: the button spins forever.")
    del mail["From"]
    mail["From"] = "Dana Customer <dana@example.org>"
    with smtp(client) as s:
        s.send_message(mail, to_addrs=[f"{key}+report@warroom.test"])
    assert alerts(client, world) == []
    [report] = reports(client, world)
    assert report["service_id"] == world.checkout_id
    assert report["source"] == "mail"
    assert report["description"].startswith("Checkout is broken\n\nI cannot pay")
    # One report waits for more (three similar within 15 minutes raise an incident) ...
    assert report["incident_id"] is None
    with smtp(client) as s:
        for who in ("eve@example.org", "finn@example.org"):
            again = message("checkout broken", "the pay button spins")
            del again["From"]
            again["From"] = who
            s.send_message(again, to_addrs=[f"{key.upper()}+Report@warroom.test"])
    # ... and three raise one, which all of them join, each reporter's address kept for the
    # notice when it resolves.
    found = reports(client, world)
    assert len(found) == 3 and len({r["incident_id"] for r in found}) == 1
    assert found[0]["incident_id"] is not None
    from sqlalchemy import select

    from warroom.reports.models import UserReport

    with client.app.state.db.read_session() as session:  # type: ignore[attr-defined]
        emails = sorted(session.scalars(select(UserReport.reporter_email)))
    assert emails == ["dana@example.org", "eve@example.org", "finn@example.org"]


def test_reports_by_mail_refused_at_the_smtp_level_store_nothing(
    client: TestClient, world: World
) -> None:
    key = email_key(client, world)
    with smtp(client) as s, pytest.raises(smtplib.SMTPRecipientsRefused):
        s.send_message(message("broken"), to_addrs=["0123456789abcdef+report@warroom.test"])
    empty = EmailMessage()
    empty["From"] = "someone@example.org"
    empty.set_content("")
    with smtp(client) as s, pytest.raises(smtplib.SMTPDataError) as refused:
        s.send_message(empty, to_addrs=[f"{key}+report@warroom.test"])
    assert refused.value.smtp_code == 550 and b"neither a subject nor a text" in (
        refused.value.smtp_error
    )
    assert reports(client, world) == [] and alerts(client, world) == []
