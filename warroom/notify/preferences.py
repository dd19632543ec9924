"""People's paging preferences: their contact methods, notification rules and quiet hours.

The engine reads these when it pages someone; this module only checks and stores them.
Addresses are checked by their channel (the registry in `warroom.notify.channels`) so a typo,
or a URL the outbound guard would refuse, is refused when it is typed, not discovered during an
incident. Reachability, and the connect-time guard, are the delivery's job.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog.models import User
from warroom.errors import ApiError
from warroom.notify import channels
from warroom.notify.models import ContactMethod, Notification, NotificationRule
from warroom.notify.schemas import ContactMethodIn, ContactMethodOut, ContactMethodPatch
from warroom.oncall.schemas import NotificationRuleIn, NotificationRulePatch, QuietHours


def _check_address(channel: str, address: str, allowed_networks: Sequence[str]) -> None:
    problem = channels.address_problem(channel, address, tuple(allowed_networks))
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
    session: Session,
    user_id: int,
    body: ContactMethodIn,
    allowed_networks: Sequence[str] = (),
) -> tuple[ContactMethod, str | None]:
    """The stored method and, for a signed channel (webhooks), its signing secret (shown once,
    kept for signing). `allowed_networks` is the admin's outbound allow-list: an address the
    outbound guard would refuse is refused here, when it is typed."""
    get_user(session, user_id)
    _check_address(body.channel, body.address, allowed_networks)
    # 256 bits; the receiver verifies Warroom-Signature headers with it.
    secret = secrets.token_urlsafe(32) if channels.CHANNELS[body.channel].signed else None
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
    session: Session,
    user_id: int,
    method_id: int,
    body: ContactMethodPatch,
    now: datetime,
    allowed_networks: Sequence[str] = (),
) -> ContactMethod:
    row = _method(session, user_id, method_id)
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise ApiError(422, f"'{name}' cannot be null")
    if "address" in changes:
        _check_address(row.channel, changes["address"], allowed_networks)
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


TEST_KIND = "test"


def send_test(session: Session, user_id: int, method_id: int, now: datetime) -> Notification:
    """An outbox row with a test message to this contact method ("send me a test"), delivered
    by the engine like any page, so the person sees whether the real path reaches them."""
    row = _method(session, user_id, method_id)
    if row.disabled_at is not None:
        raise ApiError(409, "this contact method is disabled; enable it to test it")
    note = Notification(
        idempotency_key=f"test-cm{row.id}-{secrets.token_hex(8)}",
        incident_id=None,
        user_id=user_id,
        contact_method_id=row.id,
        channel=row.channel,
        target=row.address,
        kind=TEST_KIND,
        urgency="high",
        subject="Warroom test message",
        body=(
            "This is a test from Warroom: if you read it, pages reach you here"
            f"{' (' + row.label + ')' if row.label else ''}. Nothing needs doing."
        ),
        links={},
        next_attempt_at=now,
        created_at=now,
    )
    session.add(note)
    session.flush()
    return note


def recent_tests(session: Session, user_id: int, limit: int = 5) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id, Notification.kind == TEST_KIND)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )
