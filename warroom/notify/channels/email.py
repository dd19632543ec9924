"""The email channel: one multipart message (text and HTML) per page over SMTP."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from warroom.config import Settings
from warroom.notify import safehttp
from warroom.notify.channels.base import (
    Channel,
    Contact,
    DeliveryResult,
    OutgoingMessage,
    Transport,
    one_line,
    render_html,
    render_text,
)


@dataclass(frozen=True, slots=True)
class EmailConfig:
    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # STARTTLS upgrades a plain connection (port 587); implicit_tls is SMTPS (port 465).
    starttls: bool = False
    implicit_tls: bool = False
    from_address: str = "warroom@localhost"
    timeout: float = safehttp.DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if self.starttls and self.implicit_tls:
            raise ValueError("choose either starttls or implicit_tls, not both")


def _smtp_failure(code: int, text: str) -> DeliveryResult:
    # SMTP's own split: 4xx is "try again later", 5xx is "this will never work".
    if code >= 500:
        return DeliveryResult.fail(f"SMTP {code} {text}")
    return DeliveryResult.retry(f"SMTP {code} {text}")


def _smtp_text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


class EmailTransport(Transport[EmailConfig]):
    name = "email"
    config_type = EmailConfig

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))

    def build(self, message: OutgoingMessage, target: str, config: EmailConfig) -> EmailMessage:
        """The email as it will be sent (exposed so that previews show exactly this)."""
        domain = parseaddr(config.from_address)[1].rpartition("@")[2] or "warroom.invalid"
        # Derived from the idempotency key: a retried send carries the same Message-ID, so
        # servers and mail clients that deduplicate on it show the page once.
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
        email = EmailMessage()
        email["Subject"] = one_line(message.subject)
        email["From"] = config.from_address
        email["To"] = target
        email["Date"] = format_datetime(self._clock())
        email["Message-ID"] = f"<{digest}@{domain}>"
        email["Warroom-Idempotency-Key"] = one_line(message.idempotency_key)
        email["Warroom-Incident"] = str(message.incident_id)
        # RFC 3834: keeps vacation responders from answering pages.
        email["Auto-Submitted"] = "auto-generated"
        if message.urgency == "high":
            email["Importance"] = "high"
        email.set_content(render_text(message))
        email.add_alternative(message.html or render_html(message), subtype="html")
        return email

    def deliver(self, message: OutgoingMessage, target: str, config: EmailConfig) -> DeliveryResult:
        address = parseaddr(target)[1]
        if not address or address != target.strip() or "@" not in address:
            return DeliveryResult.fail(f"not an email address: {target!r}")
        try:
            email = self.build(message, address, config)
            self._send(email, address, config)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (550, b"recipient refused"))
            return _smtp_failure(code, _smtp_text(text))
        except smtplib.SMTPResponseException as exc:
            return _smtp_failure(exc.smtp_code, _smtp_text(exc.smtp_error))
        except smtplib.SMTPNotSupportedError as exc:
            return DeliveryResult.fail(f"SMTP server does not support {exc}")
        except ssl.SSLCertVerificationError as exc:
            return DeliveryResult.fail(f"SMTP server certificate rejected: {exc}")
        except (smtplib.SMTPException, OSError) as exc:
            return DeliveryResult.retry(f"SMTP connection failed: {exc or type(exc).__name__}")
        except ValueError as exc:  # a header the email package refuses
            return DeliveryResult.fail(f"cannot build email: {exc}")
        return DeliveryResult.success(provider_id=str(email["Message-ID"]))

    @staticmethod
    def _send(email: EmailMessage, address: str, config: EmailConfig) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if config.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with smtp:
            if config.starttls:
                smtp.starttls(context=context)
            if config.username:
                smtp.login(config.username, config.password or "")
            smtp.send_message(email, from_addr=config.from_address, to_addrs=[address])


def address_problem(address: str, allowed_networks: tuple[str, ...]) -> str | None:
    # The SMTP server is the admin's; the address is only a mailbox name, so no network check.
    if any(c.isspace() for c in address):
        return "an address has no spaces"
    _, parsed = parseaddr(address)
    local, at, domain = parsed.partition("@")
    if parsed != address or not (local and at and "." in domain):
        return "not an email address like name@example.com"
    return None


def settings(settings: Settings, contact: Contact) -> dict[str, Any]:
    return {
        "host": settings.smtp_host,
        "port": settings.smtp_port,
        "username": settings.smtp_username or None,
        "password": settings.smtp_password or None,
        "starttls": settings.smtp_starttls,
        "from_address": settings.smtp_from,
    }


CHANNEL = Channel(
    name="email",
    label="email",
    transport=EmailTransport(),
    address_problem=address_problem,
    settings=settings,
)
