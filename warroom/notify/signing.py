"""Signatures Warroom puts on what it sends: webhook request signatures and signed action links.

Webhooks: ``Warroom-Signature: t=<unix seconds>,v1=<hex>`` where v1 is HMAC-SHA256, keyed with
the contact's secret, over ``f"{t}.{body}"``. The timestamp is inside the MAC so a receiver can
refuse replays of an old request; several ``v1=`` entries are accepted so that a secret can be
rotated without a window where receivers reject everything.

Action links (ack / resolve / view from an email or chat message): a URL-safe token
``<payload>.<mac>`` (both unpadded base64url) whose payload names the action, the user, the
incident and the expiry. The MAC key is derived from the instance secret key for this one purpose,
so a MAC made for something else with the same secret key (a session, say) is never a valid link.

Time is always a parameter: nothing here reads the clock, which keeps expiry testable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal, cast, get_args

__all__ = [
    "ACTIONS",
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "Action",
    "ActionClaim",
    "ActionLinkError",
    "BadSignature",
    "ExpiredLink",
    "ExpiredPurposeLink",
    "InvalidLink",
    "Purpose",
    "PurposeClaim",
    "StaleSignature",
    "WebhookSignatureError",
    "make_action_token",
    "make_purpose_token",
    "read_action_token",
    "read_purpose_token",
    "sign_webhook",
    "verify_webhook_signature",
]

SIGNATURE_HEADER: Final = "Warroom-Signature"
# Five minutes: clock skew between hosts plus delivery delay, but short enough to bound replays.
DEFAULT_TOLERANCE: Final = 300

Action = Literal["ack", "resolve", "view"]
ACTIONS: Final[frozenset[str]] = frozenset(get_args(Action))

# Bumped when the payload layout changes, so old links fail as invalid rather than misparse.
_LINK_FORMAT: Final = "1"
_LINK_KEY_LABEL: Final = b"warroom/action-link/v1"
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _unix_seconds(moment: datetime) -> int:
    # A naive datetime means "local time" to Python and "UTC" to the database: refuse to guess.
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware (UTC) datetime")
    return int(moment.timestamp())


# ---------------------------------------------------------------------------------------------
# Webhook signatures


class WebhookSignatureError(ValueError):
    """A webhook request's signature header does not prove it came from Warroom just now."""


class BadSignature(WebhookSignatureError):
    """The header is missing, malformed, or no signature in it matches the body."""


class StaleSignature(WebhookSignatureError):
    """The signature is genuine but its timestamp is outside the tolerance (a replay?)."""


def _webhook_mac(secret: str | bytes, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(_key(secret), signed, hashlib.sha256).hexdigest()


def sign_webhook(secret: str | bytes, body: bytes, timestamp: datetime) -> str:
    """The `Warroom-Signature` header value for `body` sent at `timestamp`."""
    if not secret:
        raise ValueError("empty webhook secret")
    seconds = _unix_seconds(timestamp)
    return f"t={seconds},v1={_webhook_mac(secret, seconds, body)}"


def verify_webhook_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE,
) -> None:
    """Check a received `Warroom-Signature` header; return quietly or raise why it fails.

    `body` must be the raw request bytes, before any JSON parsing. The signature is checked
    before the timestamp, so `StaleSignature` always means a genuine but old (or future) request.
    """
    if not secret:
        raise ValueError("empty webhook secret")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit() and timestamp is None:
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise BadSignature("malformed Warroom-Signature header")
    expected = _webhook_mac(secret, timestamp, body)
    # compare_digest on every candidate, without stopping early, keeps timing independent
    # of which (if any) candidate matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate.lower().encode())
    if not matched:
        raise BadSignature("signature does not match the body")
    age = _unix_seconds(now) - timestamp
    if abs(age) > tolerance:
        raise StaleSignature(f"signature timestamp is {age} s from now (tolerance {tolerance} s)")


# ---------------------------------------------------------------------------------------------
# Signed action links


class ActionLinkError(ValueError):
    """An action link cannot be honoured."""


class InvalidLink(ActionLinkError):
    """The token is malformed, forged, altered, or not for the action asked."""


class ExpiredLink(ActionLinkError):
    """The token is genuine but past its expiry; `claim` says what it was for."""

    def __init__(self, claim: ActionClaim) -> None:
        self.claim = claim
        super().__init__(f"link to {claim.action} incident {claim.incident_id} has expired")


@dataclass(frozen=True, slots=True)
class ActionClaim:
    action: Action
    user_id: int
    incident_id: int
    expires_at: datetime


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise InvalidLink("malformed link")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidLink("malformed link") from None
    # Only the canonical encoding is accepted, so one claim has exactly one token text.
    if _b64encode(data) != text:
        raise InvalidLink("malformed link")
    return data


def _link_mac(secret_key: str | bytes, payload: bytes) -> bytes:
    link_key = hmac.new(_key(secret_key), _LINK_KEY_LABEL, hashlib.sha256).digest()
    return hmac.new(link_key, payload, hashlib.sha256).digest()


def make_action_token(
    secret_key: str | bytes,
    action: Action,
    user_id: int,
    incident_id: int,
    expires_at: datetime,
) -> str:
    """A URL-safe token letting `user_id` perform `action` on `incident_id` until `expires_at`."""
    if not secret_key:
        raise ValueError("empty secret key")
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {sorted(ACTIONS)}")
    for name, value in (("user_id", user_id), ("incident_id", incident_id)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    expires = _unix_seconds(expires_at)
    payload = f"{_LINK_FORMAT}.{action}.{user_id}.{incident_id}.{expires}".encode("ascii")
    return f"{_b64encode(payload)}.{_b64encode(_link_mac(secret_key, payload))}"


def _parse_claim(payload: bytes) -> ActionClaim:
    try:
        version, action, user_id, incident_id, expires = payload.decode("ascii").split(".")
    except (UnicodeDecodeError, ValueError):
        raise InvalidLink("malformed link") from None
    numbers = (user_id, incident_id, expires)
    if version != _LINK_FORMAT or action not in ACTIONS or not all(n.isdigit() for n in numbers):
        raise InvalidLink("malformed link")
    return ActionClaim(
        action=cast(Action, action),
        user_id=int(user_id),
        incident_id=int(incident_id),
        expires_at=datetime.fromtimestamp(int(expires), UTC),
    )


def read_action_token(
    secret_key: str | bytes,
    token: str,
    now: datetime,
    action: Action | None = None,
) -> ActionClaim:
    """Verify `token` and return its claim.

    Raises `InvalidLink` for anything forged, altered or malformed, and (with `action` given)
    for a genuine link made for another action; `ExpiredLink` for a genuine link at or past
    its expiry. Expiry is checked only after the MAC, so it reveals nothing about forgeries.
    """
    if not secret_key:
        raise ValueError("empty secret key")
    payload_text, dot, mac_text = token.strip().partition(".")
    if not dot:
        raise InvalidLink("malformed link")
    payload = _b64decode(payload_text)
    mac = _b64decode(mac_text)
    if not hmac.compare_digest(mac, _link_mac(secret_key, payload)):
        raise InvalidLink("link signature does not match")
    claim = _parse_claim(payload)
    if action is not None and claim.action != action:
        raise InvalidLink(f"link is for {claim.action!r}, not {action!r}")
    if _unix_seconds(now) >= _unix_seconds(claim.expires_at):
        raise ExpiredLink(claim)
    return claim


# ---------------------------------------------------------------------------------------------
# Signed links for people who are not users (status-page subscribers: confirm, unsubscribe)
# and the status page's public form tokens

# The two "-form" purposes are the status page's public forms' tokens: subject 0, expiring a
# while after the form was served (stateless: the token is the served time, signed).
Purpose = Literal[
    "subscriber-confirm", "subscriber-unsubscribe", "status-subscribe-form", "status-report-form"
]
PURPOSES: Final[frozenset[str]] = frozenset(get_args(Purpose))
_PURPOSE_KEY_LABEL: Final = b"warroom/purpose-link/v1/"


@dataclass(frozen=True, slots=True)
class PurposeClaim:
    purpose: Purpose
    subject_id: int
    expires_at: datetime


class ExpiredPurposeLink(ActionLinkError):
    """The token is genuine but past its expiry."""

    def __init__(self, claim: PurposeClaim) -> None:
        self.claim = claim
        super().__init__(f"{claim.purpose} link has expired")


def _purpose_mac(secret_key: str | bytes, purpose: str, payload: bytes) -> bytes:
    # One key per purpose: a confirm link can never be replayed as an unsubscribe link.
    key = hmac.new(_key(secret_key), _PURPOSE_KEY_LABEL + purpose.encode(), hashlib.sha256)
    return hmac.new(key.digest(), payload, hashlib.sha256).digest()


def make_purpose_token(
    secret_key: str | bytes, purpose: Purpose, subject_id: int, expires_at: datetime
) -> str:
    """A URL-safe token for one `purpose` on one row (`subject_id`) until `expires_at`."""
    if not secret_key:
        raise ValueError("empty secret key")
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    if isinstance(subject_id, bool) or not isinstance(subject_id, int) or subject_id < 0:
        raise ValueError(f"subject_id must be a non-negative int, got {subject_id!r}")
    payload = f"{_LINK_FORMAT}.{subject_id}.{_unix_seconds(expires_at)}".encode("ascii")
    mac = _purpose_mac(secret_key, purpose, payload)
    return f"{_b64encode(payload)}.{_b64encode(mac)}"


def read_purpose_token(
    secret_key: str | bytes, token: str, purpose: Purpose, now: datetime
) -> PurposeClaim:
    """Verify a `make_purpose_token` token made for `purpose`: `InvalidLink` for anything
    forged, altered, malformed or made for another purpose; `ExpiredPurposeLink` past expiry."""
    if not secret_key:
        raise ValueError("empty secret key")
    payload_text, dot, mac_text = token.strip().partition(".")
    if not dot:
        raise InvalidLink("malformed link")
    payload = _b64decode(payload_text)
    if not hmac.compare_digest(_b64decode(mac_text), _purpose_mac(secret_key, purpose, payload)):
        raise InvalidLink("link signature does not match")
    try:
        version, subject, expires = payload.decode("ascii").split(".")
    except (UnicodeDecodeError, ValueError):
        raise InvalidLink("malformed link") from None
    if version != _LINK_FORMAT or not (subject.isdigit() and expires.isdigit()):
        raise InvalidLink("malformed link")
    claim = PurposeClaim(purpose, int(subject), datetime.fromtimestamp(int(expires), UTC))
    if _unix_seconds(now) >= int(expires):
        raise ExpiredPurposeLink(claim)
    return claim
