"""Delivery channels against real local servers: SMTP (aiosmtpd), HTTP receivers, fake Twilio."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.notify.conftest import LocalHTTPServer
from tests.pgserver import free_port
from warroom.notify.channels import (
    TRANSPORTS,
    AppriseConfig,
    AppriseTransport,
    DeliveryStatus,
    EmailConfig,
    EmailTransport,
    LocalTransport,
    OutgoingMessage,
    SmsTransport,
    TwilioConfig,
    VoiceTransport,
    WebhookConfig,
    WebhookTransport,
    deliver,
)
from warroom.notify.signing import verify_webhook_signature

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LOOPBACK = ("127.0.0.0/8",)
SECRET = "whsec_contact_secret"

MESSAGE = OutgoingMessage(
    idempotency_key="notif-7-user-42-attempt-set-1",
    subject='Disk full on db-1 <script>alert("x")</script>',
    text="Free space is 0%.\n\n<b>not bold</b> & <script>steal()</script>",
    incident_id=7,
    urgency="high",
    links={
        "ack": "https://warroom.example/a/ack?t=abc&x=1",
        "resolve": "https://warroom.example/a/resolve?t=def",
        "view": "https://warroom.example/incidents/7",
        "evil": "javascript:alert(1)",
    },
)


# --- SMTP -------------------------------------------------------------------------------------


@dataclass
class SMTPRecorder:
    envelopes: list[Envelope] = field(default_factory=list)
    refuse_rcpt: str | None = None  # an SMTP reply such as "550 5.1.1 No such user"
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == b"hunter2"
        if ok:
            self.logins.append((data.login, data.password))
        # handled=False: aiosmtpd then sends the 535 itself (the default waits for us to).
        return AuthResult(success=ok, handled=False, auth_data=data)


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[SMTPRecorder, int]]:
    recorder = SMTPRecorder()
    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=recorder.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield recorder, port
    controller.stop()


@pytest.fixture
def mailbox(smtp: tuple[SMTPRecorder, int]) -> tuple[SMTPRecorder, EmailConfig]:
    recorder, port = smtp
    recorder.envelopes.clear()
    recorder.refuse_rcpt = None
    config = EmailConfig(host="127.0.0.1", port=port, from_address="Warroom <pager@ops.example>")
    return recorder, config


def _parse(envelope: Envelope) -> EmailMessage:
    raw = envelope.original_content or envelope.content
    assert isinstance(raw, bytes)
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_email_is_received_with_both_parts_and_headers(
    mailbox: tuple[SMTPRecorder, EmailConfig],
) -> None:
    recorder, config = mailbox
    result = EmailTransport(clock=lambda: T0).deliver(MESSAGE, "oncall@team.example", config)
    assert result.ok, result.reason

    [envelope] = recorder.envelopes
    assert envelope.mail_from == "pager@ops.example"
    assert envelope.rcpt_tos == ["oncall@team.example"]
    email = _parse(envelope)
    assert email.get_content_type() == "multipart/alternative"
    assert email["Subject"] == MESSAGE.subject
    assert email["To"] == "oncall@team.example"
    assert email["Warroom-Idempotency-Key"] == MESSAGE.idempotency_key
    assert email["Message-ID"] == result.provider_id
    assert email["Message-ID"].endswith("@ops.example>")
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["Date"] == "Sat, 01 Mar 2025 12:00:00 +0000"

    plain = email.get_body(("plain",))
    rich = email.get_body(("html",))
    assert plain is not None and rich is not None
    text = plain.get_content()
    assert "<script>steal()</script>" in text  # plain text is shown as text: no escaping
    assert "Acknowledge: https://warroom.example/a/ack?t=abc&x=1" in text
    assert "javascript:" not in text

    page = rich.get_content()
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page  # the subject
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; &lt;script&gt;steal()&lt;/script&gt;" in page
    assert 'href="https://warroom.example/a/ack?t=abc&amp;x=1"' in page
    assert "javascript:" not in page


def test_email_retries_keep_the_message_id(mailbox: tuple[SMTPRecorder, EmailConfig]) -> None:
    recorder, config = mailbox
    transport = EmailTransport()
    first = transport.deliver(MESSAGE, "a@team.example", config)
    second = transport.deliver(MESSAGE, "a@team.example", config)
    other = transport.deliver(
        OutgoingMessage("another-key", "s", "t", incident_id=7), "a@team.example", config
    )
    assert first.provider_id == second.provider_id != other.provider_id
    assert len(recorder.envelopes) == 3


def test_email_logs_in_when_configured(mailbox: tuple[SMTPRecorder, EmailConfig]) -> None:
    recorder, config = mailbox
    good = EmailConfig(host=config.host, port=config.port, username="warroom", password="hunter2")
    bad = EmailConfig(host=config.host, port=config.port, username="warroom", password="wrong")
    assert EmailTransport().deliver(MESSAGE, "a@team.example", good).ok
    assert (b"warroom", b"hunter2") in recorder.logins
    refused = EmailTransport().deliver(MESSAGE, "a@team.example", bad)
    assert refused.status is DeliveryStatus.PERMANENT and "535" in refused.reason
    assert "hunter2" not in repr(good) and "wrong" not in repr(bad)


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ("550 5.1.1 No such user", DeliveryStatus.PERMANENT),
        ("450 4.2.1 Mailbox busy, try later", DeliveryStatus.RETRYABLE),
    ],
)
def test_email_recipient_refusal_is_classified_by_smtp_code(
    mailbox: tuple[SMTPRecorder, EmailConfig], reply: str, status: DeliveryStatus
) -> None:
    recorder, config = mailbox
    recorder.refuse_rcpt = reply
    result = EmailTransport().deliver(MESSAGE, "nobody@team.example", config)
    assert result.status is status
    assert reply.split()[0] in result.reason
    assert recorder.envelopes == []


def test_email_server_down_is_retryable(closed_port: int) -> None:
    config = EmailConfig(host="127.0.0.1", port=closed_port, timeout=2)
    result = EmailTransport().deliver(MESSAGE, "a@team.example", config)
    assert result.status is DeliveryStatus.RETRYABLE


@pytest.mark.parametrize(
    "target", ["not-an-address", "a@team.example\r\nBcc: victim@x.example", "A <a@b.example>"]
)
def test_email_bad_target_is_permanent(
    mailbox: tuple[SMTPRecorder, EmailConfig], target: str
) -> None:
    recorder, config = mailbox
    result = EmailTransport().deliver(MESSAGE, target, config)
    assert result.status is DeliveryStatus.PERMANENT
    assert recorder.envelopes == []


def test_email_subject_newlines_cannot_inject_headers(
    mailbox: tuple[SMTPRecorder, EmailConfig],
) -> None:
    recorder, config = mailbox
    message = OutgoingMessage("k", "Disk full\r\nBcc: victim@x.example", "body", incident_id=1)
    assert EmailTransport().deliver(message, "a@team.example", config).ok
    email = _parse(recorder.envelopes[0])
    assert email["Bcc"] is None
    assert email["Subject"] == "Disk full Bcc: victim@x.example"


# --- webhook ----------------------------------------------------------------------------------


def _webhook(server: LocalHTTPServer) -> tuple[WebhookTransport, str]:
    return WebhookTransport(clock=lambda: T0), f"{server.url}/hooks/warroom"


def test_webhook_is_received_and_its_signature_verifies(http_server: LocalHTTPServer) -> None:
    verified: list[bool] = []

    def receiver(request: Any) -> tuple[int, dict[str, str], bytes]:
        # What a receiver does: check the raw body against the header before trusting it.
        verify_webhook_signature(
            SECRET, request.headers.get("Warroom-Signature"), request.body, now=T0
        )
        verified.append(True)
        return 204, {}, b""

    http_server.reply = receiver
    transport, url = _webhook(http_server)
    result = transport.deliver(MESSAGE, url, WebhookConfig(SECRET, allowed_networks=LOOPBACK))
    assert result.ok, result.reason
    assert verified == [True]

    [request] = http_server.requests
    assert (request.method, request.path) == ("POST", "/hooks/warroom")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == MESSAGE.idempotency_key
    payload = json.loads(request.body)
    assert payload["incident_id"] == 7 and payload["subject"] == MESSAGE.subject
    assert payload["links"]["ack"] == MESSAGE.links["ack"]

    # The same request captured and replayed ten minutes later is refused by the receiver.
    with pytest.raises(ValueError, match="tolerance"):
        verify_webhook_signature(
            SECRET,
            request.headers["Warroom-Signature"],
            request.body,
            now=T0 + timedelta(minutes=10),
        )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, DeliveryStatus.OK),
        (202, DeliveryStatus.OK),
        (500, DeliveryStatus.RETRYABLE),
        (503, DeliveryStatus.RETRYABLE),
        (408, DeliveryStatus.RETRYABLE),
        (429, DeliveryStatus.RETRYABLE),
        (404, DeliveryStatus.PERMANENT),
        (400, DeliveryStatus.PERMANENT),
        (410, DeliveryStatus.PERMANENT),
    ],
)
def test_webhook_answers_are_classified(
    http_server: LocalHTTPServer, status: int, expected: DeliveryStatus
) -> None:
    http_server.answer(status, b"receiver says no")
    transport, url = _webhook(http_server)
    result = transport.deliver(MESSAGE, url, WebhookConfig(SECRET, allowed_networks=LOOPBACK))
    assert result.status is expected
    if expected is not DeliveryStatus.OK:
        assert str(status) in result.reason and "receiver says no" in result.reason


def test_webhook_rate_limit_passes_retry_after_on(http_server: LocalHTTPServer) -> None:
    http_server.answer(429, retry_after="7")
    transport, url = _webhook(http_server)
    result = transport.deliver(MESSAGE, url, WebhookConfig(SECRET, allowed_networks=LOOPBACK))
    assert result.retryable and result.retry_after == 7


def test_webhook_redirect_is_permanent_and_not_followed(
    http_server: LocalHTTPServer, connect_log: list[str]
) -> None:
    http_server.answer(307, location="http://169.254.169.254/latest/meta-data/")
    transport, url = _webhook(http_server)
    result = transport.deliver(MESSAGE, url, WebhookConfig(SECRET, allowed_networks=LOOPBACK))
    assert result.status is DeliveryStatus.PERMANENT and "not followed" in result.reason
    assert len(http_server.requests) == 1
    assert set(connect_log) == {"127.0.0.1"}


def test_webhook_to_internal_address_is_refused(
    http_server: LocalHTTPServer, connect_log: list[str]
) -> None:
    transport, url = _webhook(http_server)
    result = transport.deliver(MESSAGE, url, WebhookConfig(SECRET))  # no allow-list
    assert result.status is DeliveryStatus.PERMANENT and "loopback" in result.reason
    assert http_server.requests == [] and connect_log == []


def test_webhook_connection_refused_is_retryable(closed_port: int) -> None:
    result = WebhookTransport().deliver(
        MESSAGE,
        f"http://127.0.0.1:{closed_port}/",
        WebhookConfig(SECRET, allowed_networks=LOOPBACK),
    )
    assert result.status is DeliveryStatus.RETRYABLE


@pytest.mark.parametrize("target", ["ftp://example.org/x", "file:///etc/passwd", "not a url"])
def test_webhook_non_http_target_is_permanent(target: str, connect_log: list[str]) -> None:
    result = WebhookTransport().deliver(MESSAGE, target, WebhookConfig(SECRET))
    assert result.status is DeliveryStatus.PERMANENT and connect_log == []


def test_webhook_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        WebhookConfig("")
    assert "whsec" not in repr(WebhookConfig(SECRET))


# --- SMS and voice (Twilio-compatible) --------------------------------------------------------


def _twilio(server: LocalHTTPServer) -> TwilioConfig:
    return TwilioConfig(
        account_sid="AC123",
        auth_token="tok-secret",
        from_number="+15005550006",
        base_url=server.url,
        allowed_networks=LOOPBACK,
    )


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode(), strict_parsing=True).items()}


def test_sms_request_reaches_a_twilio_compatible_api(http_server: LocalHTTPServer) -> None:
    http_server.answer(201, json.dumps({"sid": "SM0001", "status": "queued"}).encode())
    result = SmsTransport().deliver(MESSAGE, "+14155550100", _twilio(http_server))
    assert result.ok and result.provider_id == "SM0001"

    [request] = http_server.requests
    assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected_auth = base64.b64encode(b"AC123:tok-secret").decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    form = _form(request.body)
    assert form["To"] == "+14155550100" and form["From"] == "+15005550006"
    assert form["Body"].startswith("Warroom: Disk full on db-1")
    assert MESSAGE.links["ack"] in form["Body"]


def test_voice_call_carries_escaped_twiml(http_server: LocalHTTPServer) -> None:
    http_server.answer(201, b'{"sid": "CA0001"}')
    result = VoiceTransport().deliver(MESSAGE, "+14155550100", _twilio(http_server))
    assert result.ok and result.provider_id == "CA0001"
    [request] = http_server.requests
    assert request.path == "/2010-04-01/Accounts/AC123/Calls.json"
    twiml = _form(request.body)["Twiml"]
    assert twiml.startswith("<Response><Say>Warroom alert. Disk full on db-1")
    assert "&lt;script&gt;" in twiml and "<script>" not in twiml


def test_sms_provider_errors_are_classified(http_server: LocalHTTPServer) -> None:
    http_server.answer(400, b'{"code": 21211, "message": "The To number is not valid."}')
    result = SmsTransport().deliver(MESSAGE, "+14155550100", _twilio(http_server))
    assert result.status is DeliveryStatus.PERMANENT
    assert "not valid" in result.reason and "21211" in result.reason
    http_server.answer(503, b"maintenance")
    assert SmsTransport().deliver(MESSAGE, "+14155550100", _twilio(http_server)).retryable


def test_sms_refuses_bad_numbers_and_internal_base_urls(
    http_server: LocalHTTPServer, connect_log: list[str]
) -> None:
    config = _twilio(http_server)
    bad_number = SmsTransport().deliver(MESSAGE, "4155550100; rm -rf", config)
    assert bad_number.status is DeliveryStatus.PERMANENT
    unguarded = TwilioConfig("AC123", "tok", "+15005550006", base_url=http_server.url)
    blocked = SmsTransport().deliver(MESSAGE, "+14155550100", unguarded)
    assert blocked.status is DeliveryStatus.PERMANENT and "loopback" in blocked.reason
    assert http_server.requests == [] and connect_log == []


# --- Apprise ----------------------------------------------------------------------------------


def test_apprise_posts_to_a_local_json_endpoint(http_server: LocalHTTPServer) -> None:
    url = f"json://127.0.0.1:{http_server.port}/chat"
    result = AppriseTransport().deliver(MESSAGE, url, AppriseConfig(allowed_networks=LOOPBACK))
    assert result.ok, result.reason
    [request] = http_server.requests
    assert (request.method, request.path) == ("POST", "/chat")
    payload = json.loads(request.body)
    assert payload["title"] == MESSAGE.subject
    assert "Acknowledge: https://warroom.example/a/ack?t=abc&x=1" in payload["message"]
    assert payload["type"] == "failure"  # high urgency


def test_apprise_failure_is_retryable(http_server: LocalHTTPServer) -> None:
    http_server.answer(500, b"down")
    url = f"json://127.0.0.1:{http_server.port}/chat"
    result = AppriseTransport().deliver(MESSAGE, url, AppriseConfig(allowed_networks=LOOPBACK))
    assert result.status is DeliveryStatus.RETRYABLE and result.reason


def test_apprise_does_not_follow_redirects(
    http_server: LocalHTTPServer, connect_log: list[str]
) -> None:
    http_server.answer(302, location="http://169.254.169.254/latest/meta-data/")
    url = f"json://127.0.0.1:{http_server.port}/chat?redirect=yes"
    result = AppriseTransport().deliver(MESSAGE, url, AppriseConfig(allowed_networks=LOOPBACK))
    assert not result.ok
    assert len(http_server.requests) == 1 and set(connect_log) == {"127.0.0.1"}


def test_apprise_generic_schemas_are_guarded(
    http_server: LocalHTTPServer, connect_log: list[str]
) -> None:
    for url in (
        f"json://127.0.0.1:{http_server.port}/chat",
        "jsons://169.254.169.254/latest/meta-data/",
        "form://10.0.0.1/",
    ):
        result = AppriseTransport().deliver(MESSAGE, url, AppriseConfig())
        assert result.status is DeliveryStatus.PERMANENT, url
    assert http_server.requests == [] and connect_log == []


def test_apprise_invalid_url_is_permanent() -> None:
    result = AppriseTransport().deliver(MESSAGE, "nosuchservice://x", AppriseConfig())
    assert result.status is DeliveryStatus.PERMANENT


# --- local and the registry -------------------------------------------------------------------


def test_local_transport_keeps_messages_and_calls_back() -> None:
    seen: list[tuple[str, str]] = []
    transport = LocalTransport(callback=lambda target, m: seen.append((target, m.subject)))
    assert transport.deliver(MESSAGE, "user:42", transport.make_config()).ok
    assert [(d.target, d.message) for d in transport.outbox] == [("user:42", MESSAGE)]
    assert seen == [("user:42", MESSAGE.subject)]

    def broken(target: str, message: OutgoingMessage) -> None:
        raise RuntimeError("websocket gone")

    failing = LocalTransport(callback=broken, keep=2)
    for _ in range(3):
        assert failing.deliver(MESSAGE, "user:42", failing.make_config()).retryable
    assert len(failing.outbox) == 2


def test_registry_and_config_from_settings(http_server: LocalHTTPServer) -> None:
    assert set(TRANSPORTS) == {"email", "webhook", "apprise", "sms", "voice", "local"}
    assert all(name == t.name for name, t in TRANSPORTS.items())

    config = TRANSPORTS["webhook"].make_config(
        {"secret": SECRET, "allowed_networks": ["127.0.0.0/8"], "timeout": 2}
    )
    assert config == WebhookConfig(SECRET, allowed_networks=LOOPBACK, timeout=2)
    with pytest.raises(ValueError, match="unknown"):
        TRANSPORTS["email"].make_config({"hots": "typo"})
    with pytest.raises(ValueError):
        TRANSPORTS["sms"].make_config({})  # account, token and number are required
    with pytest.raises(ValueError, match="list"):
        TRANSPORTS["apprise"].make_config({"allowed_networks": "127.0.0.0/8"})
    with pytest.raises(ValueError, match="invalid allowed network"):
        TRANSPORTS["webhook"].make_config({"secret": "s", "allowed_networks": ["intranet"]})

    settings = {"secret": SECRET, "allowed_networks": ["127.0.0.0/8"]}
    assert deliver("webhook", MESSAGE, http_server.url, settings).ok
    assert deliver("pigeon", MESSAGE, "x").status is DeliveryStatus.PERMANENT
    assert deliver("webhook", MESSAGE, http_server.url, {}).status is DeliveryStatus.PERMANENT
