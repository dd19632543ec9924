"""Outbox rows that are not pages: reminders to one person and signed event webhooks.

Pages follow a person's rules step by step (engine/paging.py); a reminder goes once, through
the first contact method of the person's low-urgency rules (else their first enabled method),
and an event webhook (an action item created or done, for a ticketing system to mirror) is a
signed POST to the configured URL, delivered and retried by the engine like any other row.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog.models import User
from warroom.notify.models import ContactMethod, Notification, NotificationRule

EVENT_KIND = "event"
REMINDER_KIND = "fyi"


def remind(
    session: Session,
    user_id: int,
    *,
    key: str,
    subject: str,
    body: str,
    now: datetime,
    incident_id: int | None = None,
    links: dict[str, str] | None = None,
) -> bool:
    """Queue one reminder to a person; False when they are deactivated or unreachable."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return False
    methods = {
        cm.id: cm
        for cm in session.scalars(
            select(ContactMethod)
            .where(ContactMethod.user_id == user_id, ContactMethod.disabled_at.is_(None))
            .order_by(ContactMethod.id)
        )
    }
    if not methods:
        return False
    ruled = [
        cm_id
        for cm_id in session.scalars(
            select(NotificationRule.contact_method_id)
            .where(NotificationRule.user_id == user_id, NotificationRule.urgency == "low")
            .order_by(NotificationRule.delay_seconds, NotificationRule.id)
        )
        if cm_id in methods
    ]
    cm = methods[ruled[0]] if ruled else next(iter(methods.values()))
    if session.scalar(select(Notification.id).where(Notification.idempotency_key == key)):
        return True  # already queued (a timer fired twice across a crash)
    session.add(
        Notification(
            idempotency_key=key,
            incident_id=incident_id,
            user_id=user_id,
            contact_method_id=cm.id,
            channel=cm.channel,
            target=cm.address,
            kind=REMINDER_KIND,
            urgency="low",
            subject=subject,
            body=body,
            links=links or {},
            next_attempt_at=now,
            created_at=now,
        )
    )
    return True


def event_webhook(
    session: Session,
    url: str,
    *,
    key: str,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
    incident_id: int | None = None,
) -> None:
    """Queue a signed event POST (`{"type", "idempotency_key", "data"}`) to `url`; the
    engine signs it with WARROOM_EVENT_WEBHOOK_SECRET (notify/channels/webhook.py)."""
    session.add(
        Notification(
            idempotency_key=key,
            incident_id=incident_id,
            user_id=None,
            contact_method_id=None,
            channel="webhook",
            target=url,
            kind=EVENT_KIND,
            urgency="low",
            subject=event_type,
            body=json.dumps({"type": event_type, "data": data}, separators=(",", ":")),
            links={},
            next_attempt_at=now,
            created_at=now,
        )
    )
