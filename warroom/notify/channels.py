"""Delivery channels: one transport class per way of reaching a person, behind one interface.

Every transport takes an `OutgoingMessage`, a target (an address, URL or phone number) and its
own config dataclass, and returns a `DeliveryResult` that is ok, a retryable failure or a
permanent one; it never raises for a delivery problem, so the dispatcher (which owns the
database, attempts and escalation) can treat every channel the same way. Adding a channel is
one class here and one entry in the tuple that builds `TRANSPORTS`.

Outgoing HTTP to user-supplied URLs (webhook, and the SMS/voice provider base URL) goes through
`warroom.notify.safehttp`, which refuses internal addresses. Apprise does its own HTTP with
`requests` and cannot use that guard: for the Apprise schemas that post to an arbitrary host
(json://, xml://, form://) the host is checked before handing over and redirects are switched
off, but that check is not rebinding-proof, and the other Apprise schemas reach whatever host
their plugin targets. Admins who let untrusted users add Apprise URLs should know this.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import smtplib
import ssl
import textwrap
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from enum import StrEnum
from typing import Any, ClassVar, Generic, Literal, TypeVar
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape as xml_escape

import apprise
import httpcore
import httpx

from warroom.notify import safehttp
from warroom.notify.signing import SIGNATURE_HEADER, sign_webhook

__all__ = [
    "TRANSPORTS",
    "AppriseConfig",
    "AppriseTransport",
    "Delivered",
    "DeliveryResult",
    "DeliveryStatus",
    "EmailConfig",
    "EmailTransport",
    "LocalConfig",
    "LocalTransport",
    "OutgoingMessage",
    "SmsTransport",
    "Transport",
    "TwilioConfig",
    "VoiceTransport",
    "WebhookConfig",
    "WebhookTransport",
    "classify_http_status",
    "deliver",
    "render_html",
    "render_text",
]

Urgency = Literal["high", "low"]
C = TypeVar("C")

# Enough of an error response to explain a failure; the rest is never read, so a hostile
# endpoint cannot make a delivery worker buffer megabytes.
_MAX_RESPONSE_BYTES = 64 * 1024
_REASON_CHARS = 300
_LINK_LABELS = {"ack": "Acknowledge", "resolve": "Resolve", "view": "View incident"}


class DeliveryStatus(StrEnum):
    OK = "ok"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    status: DeliveryStatus
    reason: str = ""
    # What the provider calls this delivery (SMTP Message-ID, Twilio SID), for support tickets.
    provider_id: str | None = None
    # Seconds the receiver asked us to wait (Retry-After); the retry policy may honour it.
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is DeliveryStatus.OK

    @property
    def retryable(self) -> bool:
        return self.status is DeliveryStatus.RETRYABLE

    @classmethod
    def success(cls, provider_id: str | None = None) -> DeliveryResult:
        return cls(DeliveryStatus.OK, provider_id=provider_id)

    @classmethod
    def retry(cls, reason: str, retry_after: float | None = None) -> DeliveryResult:
        return cls(DeliveryStatus.RETRYABLE, _clip(reason), retry_after=retry_after)

    @classmethod
    def fail(cls, reason: str) -> DeliveryResult:
        return cls(DeliveryStatus.PERMANENT, _clip(reason))


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One notification to one person, already rendered; the same for every channel."""

    # Stable across retries of this notification, so receivers can drop duplicates.
    idempotency_key: str
    subject: str
    text: str
    incident_id: int
    urgency: Urgency = "high"
    # Pre-rendered HTML (must be autoescaped by whoever made it); None: built from the text.
    html: str | None = None
    # Signed action links by action name: "ack", "resolve", "view".
    links: Mapping[str, str] = field(default_factory=dict)


def _clip(text: str) -> str:
    return textwrap.shorten(" ".join(text.split()), _REASON_CHARS, placeholder="...")


def _one_line(text: str) -> str:
    # Header values and SMS/voice texts: a CR or LF from an alert title must not start a
    # new header (email header injection) or break a provider's form field.
    return " ".join(text.split())


def _http_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")


def _labelled_links(message: OutgoingMessage) -> list[tuple[str, str]]:
    return [
        (_LINK_LABELS.get(name, name.replace("_", " ").capitalize()), url)
        for name, url in message.links.items()
        if _http_url(url)
    ]


def render_text(message: OutgoingMessage) -> str:
    """The plain-text body: the message text, then one line per action link."""
    lines = [message.text.rstrip()]
    links = _labelled_links(message)
    if links:
        lines.append("")
        lines.extend(f"{label}: {url}" for label, url in links)
    return "\n".join(lines) + "\n"


def render_html(message: OutgoingMessage) -> str:
    """The HTML body: every piece of message text escaped, links restricted to http(s)."""
    esc = html.escape
    paragraphs = "".join(
        "<p>" + "<br>".join(esc(line) for line in block.splitlines()) + "</p>"
        for block in message.text.strip().split("\n\n")
        if block.strip()
    )
    buttons = " ".join(
        f'<a href="{esc(url, quote=True)}" style="display:inline-block;padding:8px 14px;'
        f'margin:0 6px 6px 0;border:1px solid #444;border-radius:4px;text-decoration:none">'
        f"{esc(label)}</a>"
        for label, url in _labelled_links(message)
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{esc(message.subject)}</title></head>"
        '<body style="font-family:sans-serif;line-height:1.4">'
        f"<h2>{esc(message.subject)}</h2>{paragraphs}"
        + (f"<p>{buttons}</p>" if buttons else "")
        + "</body></html>"
    )


def classify_http_status(code: int) -> DeliveryStatus:
    """2xx delivered; timeouts, rate limits and server errors may pass; other answers won't."""
    if 200 <= code < 300:
        return DeliveryStatus.OK
    if code in (408, 425, 429) or code >= 500:
        return DeliveryStatus.RETRYABLE
    return DeliveryStatus.PERMANENT


def _check_networks(networks: tuple[str, ...]) -> None:
    # Fail when the settings are saved, not at 3 a.m. when the first page goes out.
    if isinstance(networks, str):
        raise ValueError("allowed_networks must be a list of networks, not one string")
    safehttp.parse_allowed_networks(networks)


def _config_from_mapping(config_type: type[C], raw: Mapping[str, Any]) -> C:
    kind: Any = config_type
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(raw) - names
    if unknown:
        raise ValueError(f"unknown {kind.__name__} settings: {', '.join(sorted(unknown))}")
    # Lists from JSON settings become tuples so that configs stay hashable and immutable.
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    try:
        return config_type(**values)
    except TypeError as exc:
        raise ValueError(f"invalid {kind.__name__}: {exc}") from None


class Transport(ABC, Generic[C]):
    """One way of delivering a message. Instances are shared between threads: keep no
    per-delivery state on them."""

    name: ClassVar[str]
    config_type: type[C]

    def make_config(self, raw: Mapping[str, Any] | None = None) -> C:
        """Build this transport's config from stored settings; ValueError if they are wrong."""
        return _config_from_mapping(self.config_type, raw or {})

    @abstractmethod
    def deliver(self, message: OutgoingMessage, target: str, config: C) -> DeliveryResult:
        """Try once to deliver `message` to `target`. Never raises for delivery failures."""


# ---------------------------------------------------------------------------------------------
# Email


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
        email["Subject"] = _one_line(message.subject)
        email["From"] = config.from_address
        email["To"] = target
        email["Date"] = format_datetime(self._clock())
        email["Message-ID"] = f"<{digest}@{domain}>"
        email["Warroom-Idempotency-Key"] = _one_line(message.idempotency_key)
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


# ---------------------------------------------------------------------------------------------
# HTTP-based channels


def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    # Raw bytes: decompressing a hostile gzip stream could blow up far beyond the cap.
    for chunk in response.iter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _MAX_RESPONSE_BYTES:
            break
    return b"".join(chunks)[:_MAX_RESPONSE_BYTES]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    # Only the delay-seconds form; an HTTP date would need the clock, and is rare from APIs.
    return float(value) if value.isascii() and value.isdigit() else None


def _http_send(
    request: Callable[[httpx.Client], httpx.Response],
    *,
    allowed_networks: Iterable[str],
    timeout: float,
    describe: Callable[[httpx.Response, bytes], str],
    provider_id: Callable[[bytes], str | None] = lambda body: None,
) -> DeliveryResult:
    """Run one request through safehttp and classify the answer."""
    try:
        with safehttp.build_client(allowed_networks, timeout=timeout) as client:
            response = request(client)
            try:
                body = _read_capped(response)
            finally:
                response.close()
    except safehttp.BlockedDestination as exc:
        return DeliveryResult.fail(str(exc))
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        return DeliveryResult.fail(f"invalid URL: {exc}")
    except httpx.TimeoutException as exc:
        return DeliveryResult.retry(f"timed out: {exc or type(exc).__name__}")
    except httpx.TransportError as exc:
        return DeliveryResult.retry(f"connection failed: {exc or type(exc).__name__}")
    status = classify_http_status(response.status_code)
    if status is DeliveryStatus.OK:
        return DeliveryResult.success(provider_id(body))
    reason = describe(response, body)
    if status is DeliveryStatus.RETRYABLE:
        return DeliveryResult.retry(reason, retry_after=_retry_after(response))
    return DeliveryResult.fail(reason)


def _describe_plain(response: httpx.Response, body: bytes) -> str:
    if response.is_redirect:
        # Redirects are never followed: a receiver moved elsewhere must be reconfigured.
        location = response.headers.get("location", "?")
        return f"HTTP {response.status_code} redirect to {location} (not followed)"
    snippet = body[:200].decode("utf-8", "replace")
    return f"HTTP {response.status_code} {response.reason_phrase}: {snippet}".rstrip(": ")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    # Per contact method: the dispatcher merges it into the admin-level settings.
    secret: str = field(repr=False)
    allowed_networks: tuple[str, ...] = ()
    timeout: float = safehttp.DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("a webhook needs a signing secret")
        _check_networks(self.allowed_networks)


class WebhookTransport(Transport[WebhookConfig]):
    """Signed JSON POST; the receiver checks `Warroom-Signature` with the shared secret."""

    name = "webhook"
    config_type = WebhookConfig

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))

    @staticmethod
    def payload(message: OutgoingMessage) -> dict[str, Any]:
        return {
            "type": "incident.notification",
            "idempotency_key": message.idempotency_key,
            "incident_id": message.incident_id,
            "urgency": message.urgency,
            "subject": message.subject,
            "text": message.text,
            "links": dict(message.links),
        }

    def deliver(
        self, message: OutgoingMessage, target: str, config: WebhookConfig
    ) -> DeliveryResult:
        if not _http_url(target):
            return DeliveryResult.fail(f"webhook URL must be http or https: {target!r}")
        # The signature covers these exact bytes, so serialise once and send them as they are.
        body = json.dumps(self.payload(message), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Warroom-Webhook/1",
            "Accept-Encoding": "identity",
            "Idempotency-Key": message.idempotency_key,
            SIGNATURE_HEADER: sign_webhook(config.secret, body, self._clock()),
        }
        return _http_send(
            lambda client: client.send(
                client.build_request("POST", target, content=body, headers=headers),
                stream=True,
            ),
            allowed_networks=config.allowed_networks,
            timeout=config.timeout,
            describe=_describe_plain,
        )


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    """Any provider speaking Twilio's REST API (Twilio itself, or a compatible gateway)."""

    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str
    base_url: str = "https://api.twilio.com"
    allowed_networks: tuple[str, ...] = ()
    timeout: float = safehttp.DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        _check_networks(self.allowed_networks)


def _e164(number: str) -> bool:
    digits = number[1:]
    return (
        number.startswith("+") and digits.isascii() and digits.isdigit() and 7 <= len(digits) <= 15
    )


def _describe_twilio(response: httpx.Response, body: bytes) -> str:
    try:
        error = json.loads(body)
        if isinstance(error, dict) and "message" in error:
            code = error.get("code")
            return f"HTTP {response.status_code}: {error['message']}" + (
                f" (code {code})" if code else ""
            )
    except ValueError:
        pass
    return _describe_plain(response, body)


def _twilio_sid(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    sid = data.get("sid") if isinstance(data, dict) else None
    return sid if isinstance(sid, str) else None


class _TwilioTransport(Transport[TwilioConfig]):
    resource: ClassVar[str]
    config_type = TwilioConfig

    @abstractmethod
    def fields(self, message: OutgoingMessage) -> dict[str, str]:
        """The channel-specific form fields besides To and From."""

    def deliver(
        self, message: OutgoingMessage, target: str, config: TwilioConfig
    ) -> DeliveryResult:
        if not _e164(target):
            return DeliveryResult.fail(f"not an E.164 phone number: {target!r}")
        if not _http_url(config.base_url):
            return DeliveryResult.fail(f"provider base URL must be http(s): {config.base_url!r}")
        url = (
            f"{config.base_url.rstrip('/')}/2010-04-01/Accounts/"
            f"{quote(config.account_sid, safe='')}/{self.resource}"
        )
        form = {"To": target, "From": config.from_number, **self.fields(message)}
        # Honoured by gateways that support idempotency keys, ignored by the others.
        headers = {
            "Idempotency-Key": message.idempotency_key,
            "User-Agent": "Warroom/1",
            "Accept-Encoding": "identity",
        }
        auth = httpx.BasicAuth(config.account_sid, config.auth_token)
        return _http_send(
            lambda client: client.send(
                client.build_request("POST", url, data=form, headers=headers),
                auth=auth,
                stream=True,
            ),
            allowed_networks=config.allowed_networks,
            timeout=config.timeout,
            describe=_describe_twilio,
            provider_id=_twilio_sid,
        )


class SmsTransport(_TwilioTransport):
    name = "sms"
    resource = "Messages.json"
    # Twilio's limit for one (concatenated) message body.
    max_chars = 1600

    def fields(self, message: OutgoingMessage) -> dict[str, str]:
        lines = [f"Warroom: {_one_line(message.subject)}"]
        for name in ("ack", "view"):
            if name in message.links and _http_url(message.links[name]):
                lines.append(f"{_LINK_LABELS[name]}: {message.links[name]}")
        return {"Body": "\n".join(lines)[: self.max_chars]}


class VoiceTransport(_TwilioTransport):
    name = "voice"
    resource = "Calls.json"

    def fields(self, message: OutgoingMessage) -> dict[str, str]:
        # Said twice: the first words of a call are often lost while the phone is brought up.
        said = xml_escape(f"Warroom alert. {_one_line(message.subject)[:300]}.")
        twiml = f'<Response><Say>{said}</Say><Pause length="1"/><Say>{said}</Say></Response>'
        return {"Twiml": twiml}


# ---------------------------------------------------------------------------------------------
# Apprise (chat and push services)

# Schemas whose host part is wherever the user wants the POST to go.
_APPRISE_ANY_HOST = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})


@dataclass(frozen=True, slots=True)
class AppriseConfig:
    # Networks the json:// / xml:// / form:// pre-check lets through, as in safehttp.
    allowed_networks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_networks(self.allowed_networks)


class AppriseTransport(Transport[AppriseConfig]):
    """Slack, Teams, Mattermost, Discord, Telegram, ntfy... through an Apprise URL.

    Apprise sends with its own HTTP stack, not safehttp: see the module docstring.
    """

    name = "apprise"
    config_type = AppriseConfig

    def deliver(
        self, message: OutgoingMessage, target: str, config: AppriseConfig
    ) -> DeliveryResult:
        blocked = self._precheck(target, config)
        if blocked is not None:
            return blocked
        service = apprise.Apprise()
        if not service.add(target):
            return DeliveryResult.fail("not a valid Apprise URL")
        for plugin in service:
            # Apprise follows redirects by default (even with ?redirect=yes in the URL); a
            # redirect would carry the request past the host check above.
            if hasattr(plugin, "redirects"):
                plugin.redirects = False
        notify_type = (
            apprise.NotifyType.FAILURE if message.urgency == "high" else apprise.NotifyType.WARNING
        )
        result = service.notify(
            body=render_text(message),
            title=_one_line(message.subject),
            notify_type=notify_type,
            body_format=apprise.NotifyFormat.TEXT,
        )
        if result:
            return DeliveryResult.success()
        # Apprise reports only "failed"; it cannot tell a bad token from an outage, so the
        # failure is retried and the retry limit moves on to the next contact method.
        return DeliveryResult.retry(_apprise_reason(result))

    @staticmethod
    def _precheck(target: str, config: AppriseConfig) -> DeliveryResult | None:
        try:
            parts = urlsplit(target)
            port = parts.port
        except ValueError:
            return DeliveryResult.fail("not a valid Apprise URL")
        if parts.scheme.lower() not in _APPRISE_ANY_HOST:
            return None
        if not parts.hostname:
            return DeliveryResult.fail("Apprise URL has no host")
        secure = parts.scheme.lower().endswith("s")
        backend = safehttp.GuardedBackend(config.allowed_networks)
        try:
            backend.resolve_checked(parts.hostname, port or (443 if secure else 80))
        except safehttp.BlockedDestination as exc:
            return DeliveryResult.fail(str(exc))
        except httpcore.ConnectError as exc:
            return DeliveryResult.retry(str(exc))
        return None


def _apprise_reason(result: object) -> str:
    # Apprise 2.x results carry the plugin's log lines; 1.x returns a bare bool.
    try:
        logs = getattr(result, "logs", None)
        entries = list(logs()) if callable(logs) else []
        problems = [e.message for e in entries if e.level in ("WARNING", "ERROR")]
    except (AttributeError, TypeError):
        problems = []
    return problems[-1] if problems else "Apprise could not deliver the notification"


# ---------------------------------------------------------------------------------------------
# Local (in-process)


@dataclass(frozen=True, slots=True)
class LocalConfig:
    pass


@dataclass(frozen=True, slots=True)
class Delivered:
    target: str
    message: OutgoingMessage


class LocalTransport(Transport[LocalConfig]):
    """Keeps messages in memory and hands them to a callback: the demo's zero-setup channel."""

    name = "local"
    config_type = LocalConfig

    def __init__(
        self,
        callback: Callable[[str, OutgoingMessage], None] | None = None,
        keep: int = 1000,
    ) -> None:
        # Bounded: a long-running demo must not grow without limit.
        self.outbox: deque[Delivered] = deque(maxlen=keep)
        self.callback = callback

    def deliver(self, message: OutgoingMessage, target: str, config: LocalConfig) -> DeliveryResult:
        self.outbox.append(Delivered(target, message))
        if self.callback is not None:
            try:
                self.callback(target, message)
            except Exception as exc:  # the callback is someone else's code: report, don't crash
                return DeliveryResult.retry(f"local callback failed: {exc!r}")
        return DeliveryResult.success()


TRANSPORTS: dict[str, Transport[Any]] = {
    transport.name: transport
    for transport in (
        EmailTransport(),
        WebhookTransport(),
        AppriseTransport(),
        SmsTransport(),
        VoiceTransport(),
        LocalTransport(),
    )
}


def deliver(
    channel: str,
    message: OutgoingMessage,
    target: str,
    settings: Mapping[str, Any] | None = None,
) -> DeliveryResult:
    """Deliver through the named channel, with its config built from stored `settings`.

    An unknown channel or invalid settings is a permanent failure, not an exception: the
    dispatcher falls back to the person's next contact method either way.
    """
    transport = TRANSPORTS.get(channel)
    if transport is None:
        return DeliveryResult.fail(f"unknown channel {channel!r}")
    try:
        config = transport.make_config(settings)
    except ValueError as exc:
        return DeliveryResult.fail(f"{channel} is misconfigured: {exc}")
    return transport.deliver(message, target, config)
