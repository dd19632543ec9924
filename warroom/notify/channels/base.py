"""What every delivery channel shares: the message, the result, the transport interface and the
`Channel` entry that the registry (``warroom.notify.channels``) holds for each channel.

A transport takes an `OutgoingMessage`, a target (an address, URL or phone number) and its own
config dataclass, and returns a `DeliveryResult` that is ok, a retryable failure or a permanent
one; it never raises for a delivery problem, so the dispatcher (which owns the database,
attempts and escalation) treats every channel the same way.
"""

from __future__ import annotations

import dataclasses
import html
import textwrap
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

from warroom.config import Settings
from warroom.notify import safehttp

Urgency = Literal["high", "low"]
C = TypeVar("C")

_REASON_CHARS = 300
LINK_LABELS = {"ack": "Acknowledge", "resolve": "Resolve", "view": "View incident"}


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
        return cls(DeliveryStatus.RETRYABLE, clip(reason), retry_after=retry_after)

    @classmethod
    def fail(cls, reason: str) -> DeliveryResult:
        return cls(DeliveryStatus.PERMANENT, clip(reason))


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
    # An event for a machine (an action item created or done): {"type", "data"}; a webhook
    # sends it as its payload instead of the notification's text.
    event: Mapping[str, Any] | None = None


def clip(text: str) -> str:
    return textwrap.shorten(" ".join(text.split()), _REASON_CHARS, placeholder="...")


def one_line(text: str) -> str:
    # Header values and SMS/voice texts: a CR or LF from an alert title must not start a
    # new header (email header injection) or break a provider's form field.
    return " ".join(text.split())


def is_http_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")


def labelled_links(message: OutgoingMessage) -> list[tuple[str, str]]:
    return [
        (LINK_LABELS.get(name, name.replace("_", " ").capitalize()), url)
        for name, url in message.links.items()
        if is_http_url(url)
    ]


def render_text(message: OutgoingMessage) -> str:
    """The plain-text body: the message text, then one line per action link."""
    lines = [message.text.rstrip()]
    links = labelled_links(message)
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
        for label, url in labelled_links(message)
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{esc(message.subject)}</title></head>"
        '<body style="font-family:sans-serif;line-height:1.4">'
        f"<h2>{esc(message.subject)}</h2>{paragraphs}"
        + (f"<p>{buttons}</p>" if buttons else "")
        + "</body></html>"
    )


def check_networks(networks: tuple[str, ...]) -> None:
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


class Contact(Protocol):
    """What a channel may need of the contact method being delivered to, besides its address."""

    @property
    def secret(self) -> str | None: ...


def no_settings(settings: Settings, contact: Contact) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class Channel:
    """One way of reaching a person, as the rest of Warroom sees it: one entry in the registry.

    `settings` turns the admin's settings and the contact method into the transport's config
    mapping (what ``Transport.make_config`` takes). `address_problem` is the check a contact
    method's address must pass when it is saved, given the admin's outbound allow-list; it
    returns why the address cannot work, or None.
    """

    name: str
    # How people read it: "Notified Bob via chat/push".
    label: str
    transport: Transport[Any]
    address_problem: Callable[[str, tuple[str, ...]], str | None]
    settings: Callable[[Settings, Contact], dict[str, Any]] = no_settings
    # Contact methods of this channel get a signing secret when they are created.
    signed: bool = False
