"""Telling subscribers: a public status update or a maintenance notice becomes one outbox row
(kind "subscriber") per confirmed subscriber who follows an affected component.

The fan-out runs on its timer in slices of FANOUT_BATCH subscribers (in id order, the timer's
payload keeps the last id), and writes the next slice only once fewer than FANOUT_BATCH // 2
subscriber rows wait in the outbox: the outbox never holds more than one and a half slices of
them, write transactions stay short, and a page to an on-call person is never queued behind
thousands of status mails (delivery also claims pages before subscriber rows, and leaves two
workers to them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident, StatusUpdate, incident_services
from warroom.incidents.models import status_update_components as update_components
from warroom.maintenance import windows
from warroom.maintenance.models import MaintenanceWindow
from warroom.maintenance.occurrences import describe
from warroom.notify.models import Notification
from warroom.notify.signing import make_purpose_token
from warroom.statuspage import service
from warroom.statuspage.models import (
    Component,
    StatusSubscriber,
    status_subscriber_components,
)
from warroom.timers.models import Timer

FANOUT = "status_page_fanout"
SUBSCRIBER_KIND = "subscriber"
CONFIRM_KIND = "sub-confirm"
FANOUT_BATCH = 200
FANOUT_WAIT = timedelta(seconds=1)
STAGE_WORDS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
}
EVENT_WORDS = {
    "announced": "Scheduled maintenance",
    "updated": "Maintenance rescheduled",
    "started": "Maintenance in progress",
    "ended": "Maintenance completed",
    "cancelled": "Maintenance cancelled",
}

# A recurring window is told once (announced, changed, cancelled), never per occurrence.
RECURRING_WORDS = {
    "announced": "Recurring maintenance",
    "updated": "Recurring maintenance changed",
    "cancelled": "Recurring maintenance cancelled",
}


@dataclass(frozen=True)
class Notice:
    key: str  # unique per notice: the outbox rows' idempotency keys start with it
    subject: str
    body: str
    path: str  # on the status page
    component_ids: frozenset[int]  # public components affected; empty: nobody component-bound


def unsubscribe_url(base_url: str, secret: str, subscriber_id: int, now: datetime) -> str:
    token = make_purpose_token(
        secret, "subscriber-unsubscribe", subscriber_id, now + service.UNSUBSCRIBE_VALID
    )
    return f"{base_url.rstrip('/')}/status/unsubscribe/{token}"


def confirm_url(base_url: str, secret: str, subscriber_id: int, now: datetime) -> str:
    token = make_purpose_token(
        secret, "subscriber-confirm", subscriber_id, now + service.CONFIRM_VALID
    )
    return f"{base_url.rstrip('/')}/status/confirm/{token}"


def _public_ids(session: Session, ids: set[int]) -> frozenset[int]:
    if not ids:
        return frozenset()
    return frozenset(
        session.scalars(
            select(Component.id).where(Component.id.in_(ids), Component.private.is_(False))
        )
    )


def update_notice(session: Session, update_id: int, page_name: str) -> Notice | None:
    """The notice of a public status update, or None if it is not (or no longer) public."""
    update = session.get(StatusUpdate, update_id)
    if update is None or update.visibility != "public":
        return None
    incident = session.get(Incident, update.incident_id)
    if incident is None:
        return None
    named = set(
        session.scalars(
            select(update_components.c.component_id).where(
                update_components.c.update_id == update.id
            )
        )
    )
    if not named:  # none named: the components of the incident's services
        named = set(
            session.scalars(
                select(Component.id).where(
                    Component.service_id.in_(
                        select(incident_services.c.service_id).where(
                            incident_services.c.incident_id == incident.id
                        )
                    )
                )
            )
        )
    stage = STAGE_WORDS.get(update.stage, update.stage)
    lines = [f"{stage}: {update.message}"]
    if update.impact:
        lines.append(f"Impact: {update.impact}")
    if update.estimated_resolution_at:
        lines.append(f"Expected resolution: {update.estimated_resolution_at:%Y-%m-%d %H:%M} UTC")
    return Notice(
        key=f"sp-u{update.id}-r{update.revision}",
        subject=f"[{page_name}] {incident.title} — {stage}",
        body="\n\n".join(lines),
        path=f"/status/incidents/{incident.id}",
        component_ids=_public_ids(session, named),
    )


def maintenance_notice(
    session: Session, window_id: int, event: str, page_name: str
) -> Notice | None:
    window = session.get(MaintenanceWindow, window_id)
    if window is None or not window.public:
        return None
    if event != "cancelled" and window.cancelled_at is not None:
        return None
    words = EVENT_WORDS.get(event, event)
    when = f"{window.starts_at:%Y-%m-%d %H:%M} to {window.ends_at:%Y-%m-%d %H:%M} UTC"
    if window.rrule is not None:
        # Announced once for the whole series: the rule in words and where it starts.
        spec = windows.spec_of(window)
        words = RECURRING_WORDS.get(event, words)
        when = f"{describe(spec)}; first {when}"
    body = f"{words}: {window.title}\n\nWhen: {when}"
    if window.description:
        body += f"\n\n{window.description}"
    return Notice(
        key=f"sp-m{window.id}-{event}-{int(window.starts_at.timestamp())}-"
        f"{int(window.ends_at.timestamp())}",
        subject=f"[{page_name}] {words}: {window.title}",
        body=body,
        path="/status",
        component_ids=_public_ids(session, set(windows.component_ids(session, window.id))),
    )


def _waiting(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count(Notification.id)).where(
                Notification.status == "pending", Notification.kind == SUBSCRIBER_KIND
            )
        )
        or 0
    )


def fan_out_slice(
    session: Session,
    notice: Notice,
    after_id: int,
    now: datetime,
    base_url: str,
    secret: str,
    batch: int = FANOUT_BATCH,
) -> int | None:
    """Queue the notice for the next `batch` subscribers after `after_id`; returns the last id
    done, or None when every subscriber has been queued."""
    query = (
        select(StatusSubscriber.id, StatusSubscriber.channel, StatusSubscriber.address)
        .where(
            StatusSubscriber.unsubscribed_at.is_(None),
            StatusSubscriber.confirmed_at.is_not(None),
            StatusSubscriber.id > after_id,
        )
        .order_by(StatusSubscriber.id)
        .limit(batch)
    )
    # Someone who chose components hears only about those; someone who chose none, about all.
    chose = select(status_subscriber_components.c.subscriber_id).where(
        status_subscriber_components.c.subscriber_id == StatusSubscriber.id
    )
    if notice.component_ids:
        query = query.where(
            or_(
                ~chose.exists(),
                chose.where(
                    status_subscriber_components.c.component_id.in_(notice.component_ids)
                ).exists(),
            )
        )
    else:
        query = query.where(~chose.exists())
    rows = session.execute(query).all()
    if rows:
        page = base_url.rstrip("/") + notice.path
        session.execute(
            insert(Notification),
            [
                _row(notice, sid, channel, address, page, base_url, secret, now)
                for sid, channel, address in rows
            ],
        )
    if len(rows) < batch:
        return None
    return int(rows[-1][0])


def _row(
    notice: Notice,
    subscriber_id: int,
    channel: str,
    address: str,
    page: str,
    base_url: str,
    secret: str,
    now: datetime,
) -> dict[str, Any]:
    leave = unsubscribe_url(base_url, secret, subscriber_id, now)
    return {
        "idempotency_key": f"{notice.key}-s{subscriber_id}",
        "subscriber_id": subscriber_id,
        "channel": channel,
        "target": address,
        "kind": SUBSCRIBER_KIND,
        "urgency": "low",
        "subject": notice.subject,
        "body": f"{notice.body}\n\nDetails: {page}\n\nUnsubscribe: {leave}",
        "links": {"status_page": page, "unsubscribe": leave},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "created_at": now,
    }


def run_fanout_timer(
    session: Session, timer: Timer, notice: Notice | None, now: datetime, base_url: str, secret: str
) -> None:
    """One step of a fan-out timer: a slice, then the timer waits or is done."""
    if notice is None:
        timer.done_at = now
        return
    if _waiting(session) >= FANOUT_BATCH // 2:
        timer.due_at = now + FANOUT_WAIT
        return
    after = int(timer.payload.get("after_id", 0))
    last = fan_out_slice(session, notice, after, now, base_url, secret)
    if last is None:
        timer.done_at = now
        return
    timer.payload = {**timer.payload, "after_id": last}
    timer.due_at = now


def queue_confirmation(
    session: Session,
    subscriber: StatusSubscriber,
    page_name: str,
    base_url: str,
    secret: str,
    now: datetime,
) -> None:
    link = confirm_url(base_url, secret, subscriber.id, now)
    session.add(
        Notification(
            idempotency_key=f"sp-confirm-s{subscriber.id}-{int(now.timestamp())}",
            subscriber_id=subscriber.id,
            channel="email",
            target=subscriber.address,
            kind=CONFIRM_KIND,
            urgency="low",
            subject=f"[{page_name}] Confirm your subscription",
            body=(
                f"Someone (hopefully you) asked to receive {page_name} status notices at this "
                f"address. Confirm here: {link}\n\nIf it was not you, ignore this mail: "
                "nothing will be sent without the confirmation."
            ),
            links={"confirm": link},
            next_attempt_at=now,
            created_at=now,
        )
    )


def still_wanted(session: Session, kind: str, subscriber_id: int) -> str | None:
    """Why a subscriber row should no longer be sent, or None (delivery's last check)."""
    found = session.execute(
        select(StatusSubscriber.confirmed_at, StatusSubscriber.unsubscribed_at).where(
            StatusSubscriber.id == subscriber_id
        )
    ).first()
    if found is None:
        return "the subscriber no longer exists"
    confirmed_at, unsubscribed_at = found
    if unsubscribed_at is not None:
        return "the subscriber unsubscribed"
    if kind == SUBSCRIBER_KIND and confirmed_at is None:
        return "the subscriber has not confirmed"
    return None


def webhook_secrets(session: Session, ids: Sequence[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    return dict(
        session.execute(
            select(StatusSubscriber.id, StatusSubscriber.secret).where(StatusSubscriber.id.in_(ids))
        ).all()
    )
