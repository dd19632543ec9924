"""People's paging preferences: their contact methods, notification rules and quiet hours.

The engine reads these when it pages someone; this module only checks and stores them.
Addresses are checked for their channel's shape here so a typo is refused when it is typed,
not discovered during an incident. Reachability (and the SSRF guard) is the delivery's job.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from email.utils import parseaddr
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog.models import User
from warroom.errors import ApiError
from warroom.notify.models import ContactMethod, NotificationRule
from warroom.oncall.schemas import (
    ContactMethodIn,
    ContactMethodOut,
    ContactMethodPatch,
    NotificationRuleIn,
    NotificationRulePatch,
    QuietHours,
)

# E.164: "+", a country code and up to 15 digits in all.
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def address_problem(channel: str, address: str) -> str | None:
    """Why ``address`` cannot be a ``channel`` address, or None when it can."""
    if any(c.isspace() for c in address) and channel != "local":
        return "an address has no spaces"
    if channel == "email":
        _, parsed = parseaddr(address)
        local, at, domain = parsed.partition("@")
        if parsed != address or not (local and at and "." in domain):
            return "not an email address like name@example.com"
    elif channel == "webhook":
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "a webhook needs an http:// or https:// URL with a host"
    elif channel in ("sms", "voice"):
        if not _E164.match(address):
            return "a phone number in E.164 form, like +14155550123"
    elif channel == "apprise" and not _SCHEME.match(address):
        return "an Apprise URL like slack://token or ntfys://topic"
    return None


def _check_address(channel: str, address: str) -> None:
    problem = address_problem(channel, address)
    if problem:
        raise ApiError(
            422, f"invalid {channel} address: {problem}", [{"field": "address", "message": problem}]
        )


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise ApiError(404, f"user {user_id} does not exist")
    return user


def method_out(row: ContactMethod, show_address: bool) -> ContactMethodOut:
    return ContactMethodOut(
        id=row.id,
        user_id=row.user_id,
        channel=row.channel,
        label=row.label,
        address=row.address if show_address else None,
        disabled=row.disabled_at is not None,
        created_at=row.created_at,
    )


def list_methods(session: Session, user_id: int) -> list[ContactMethod]:
    get_user(session, user_id)
    return list(
        session.scalars(
            select(ContactMethod).where(ContactMethod.user_id == user_id).order_by(ContactMethod.id)
        )
    )


def create_method(
    session: Session, user_id: int, body: ContactMethodIn
) -> tuple[ContactMethod, str | None]:
    """The stored method and, for a webhook, its signing secret (shown once, kept for signing)."""
    get_user(session, user_id)
    _check_address(body.channel, body.address)
    # 256 bits; the receiver verifies Warroom-Signature headers with it.
    secret = secrets.token_urlsafe(32) if body.channel == "webhook" else None
    row = ContactMethod(
        user_id=user_id,
        channel=body.channel,
        label=body.label,
        address=body.address,
        secret=secret,
    )
    session.add(row)
    session.flush()
    return row, secret


def _method(session: Session, user_id: int, method_id: int) -> ContactMethod:
    row = session.get(ContactMethod, method_id)
    if row is None or row.user_id != user_id:
        raise ApiError(404, f"contact method {method_id} of user {user_id} does not exist")
    return row


def update_method(
    session: Session, user_id: int, method_id: int, body: ContactMethodPatch, now: datetime
) -> ContactMethod:
    row = _method(session, user_id, method_id)
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise ApiError(422, f"'{name}' cannot be null")
    if "address" in changes:
        _check_address(row.channel, changes["address"])
        row.address = changes["address"]
    if "label" in changes:
        row.label = changes["label"]
    if "disabled" in changes:
        # Keep the first disabling time: it says since when this way was not used.
        row.disabled_at = (row.disabled_at or now) if changes["disabled"] else None
    return row


def delete_method(session: Session, user_id: int, method_id: int) -> None:
    """Its notification rules go with it (ON DELETE CASCADE); sent messages keep their copy."""
    session.delete(_method(session, user_id, method_id))


def list_rules(session: Session, user_id: int) -> list[NotificationRule]:
    get_user(session, user_id)
    return list(
        session.scalars(
            select(NotificationRule)
            .where(NotificationRule.user_id == user_id)
            .order_by(NotificationRule.urgency, NotificationRule.delay_seconds, NotificationRule.id)
        )
    )


def _own_method(session: Session, user_id: int, method_id: int) -> None:
    row = session.get(ContactMethod, method_id)
    if row is None or row.user_id != user_id:
        raise ApiError(
            422,
            f"contact method {method_id} is not one of user {user_id}'s",
            [{"field": "contact_method_id", "message": "unknown contact method"}],
        )


def create_rule(session: Session, user_id: int, body: NotificationRuleIn) -> NotificationRule:
    get_user(session, user_id)
    _own_method(session, user_id, body.contact_method_id)
    row = NotificationRule(
        user_id=user_id,
        contact_method_id=body.contact_method_id,
        urgency=body.urgency,
        delay_seconds=body.delay_seconds,
    )
    session.add(row)
    session.flush()
    return row


def _rule(session: Session, user_id: int, rule_id: int) -> NotificationRule:
    row = session.get(NotificationRule, rule_id)
    if row is None or row.user_id != user_id:
        raise ApiError(404, f"notification rule {rule_id} of user {user_id} does not exist")
    return row


def update_rule(
    session: Session, user_id: int, rule_id: int, body: NotificationRulePatch
) -> NotificationRule:
    row = _rule(session, user_id, rule_id)
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise ApiError(422, f"'{name}' cannot be null")
    if "contact_method_id" in changes:
        _own_method(session, user_id, changes["contact_method_id"])
    for name, value in changes.items():
        setattr(row, name, value)
    return row


def delete_rule(session: Session, user_id: int, rule_id: int) -> None:
    session.delete(_rule(session, user_id, rule_id))


def set_quiet_hours(session: Session, user_id: int, body: QuietHours) -> User:
    """Both times or neither; equal times are refused (all day or never? say which)."""
    user = get_user(session, user_id)
    if (body.start is None) != (body.end is None):
        raise ApiError(422, "give both start and end of quiet hours, or neither to clear them")
    if body.start is not None and body.start == body.end:
        raise ApiError(422, "quiet hours start and end at the same time; clear them instead")
    user.quiet_hours_start, user.quiet_hours_end = body.start, body.end
    return user
