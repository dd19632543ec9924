"""Delivering the outbox: claim due notifications, send through their channel, record outcome.

A claim is a lease (claimed_by, claimed_until) committed before sending, so two engines never
send the same row, and a crashed engine's rows are taken over when the lease runs out. Sending
happens outside any transaction; the result is recorded afterwards with retries, backoff with
jitter and fallback to the person's next contact method, each attempt on the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from warroom.catalog.models import User
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.incidents.models import Incident, TimelineEvent
from warroom.notify import channels
from warroom.notify.channels import DeliveryResult, OutgoingMessage
from warroom.notify.models import ContactMethod, Notification
from warroom.notify.retry import after_failure


@dataclass(frozen=True)
class Job:
    id: int
    incident_id: int | None
    user_id: int | None
    contact_method_id: int | None
    channel: str
    target: str
    secret: str | None
    kind: str
    urgency: str
    subject: str
    body: str
    links: dict[str, str]
    idempotency_key: str
    user_name: str = ""


def claim_due(
    db: Database, now: datetime, worker: str, lease: timedelta, limit: int = 32
) -> list[Job]:
    with db.background_session() as session:
        query = (
            select(Notification)
            .where(
                Notification.status == "pending",
                Notification.next_attempt_at <= now,
                or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
            )
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = list(session.scalars(query))
        secrets = {}
        cm_ids = [
            r.contact_method_id for r in rows if r.channel == "webhook" and r.contact_method_id
        ]
        if cm_ids:
            secrets = dict(
                session.execute(
                    select(ContactMethod.id, ContactMethod.secret).where(
                        ContactMethod.id.in_(cm_ids)
                    )
                ).all()
            )
        user_ids = {r.user_id for r in rows if r.user_id}
        names = (
            {
                uid: name or username
                for uid, name, username in session.execute(
                    select(User.id, User.name, User.username).where(User.id.in_(user_ids))
                )
            }
            if user_ids
            else {}
        )
        jobs = []
        for row in rows:
            row.claimed_by, row.claimed_until = worker, now + lease
            jobs.append(
                Job(
                    row.id,
                    row.incident_id,
                    row.user_id,
                    row.contact_method_id,
                    row.channel,
                    row.target,
                    secrets.get(row.contact_method_id or -1),
                    row.kind,
                    row.urgency,
                    row.subject,
                    row.body,
                    dict(row.links),
                    row.idempotency_key,
                    names.get(row.user_id or -1, ""),
                )
            )
    return jobs


def channel_settings(job: Job, settings: Settings) -> dict[str, Any]:
    """The transport settings for this job's channel, from the channel registry."""
    return channels.transport_settings(job.channel, settings, job)


def send(job: Job, settings: Settings) -> DeliveryResult:
    if job.channel == "email" and not settings.smtp_host:
        return DeliveryResult.fail("email is not configured (set WARROOM_SMTP_HOST)")
    if job.channel in ("sms", "voice") and not settings.sms_base_url:
        return DeliveryResult.fail("SMS/voice is not configured (set WARROOM_SMS_BASE_URL)")
    message = OutgoingMessage(
        idempotency_key=job.idempotency_key,
        subject=job.subject,
        text=job.body,
        incident_id=job.incident_id or 0,
        urgency="high" if job.urgency == "high" else "low",
        links=job.links,
    )
    try:
        return channels.deliver(job.channel, message, job.target, channel_settings(job, settings))
    except Exception as exc:  # a transport bug must not take the engine down with it
        return DeliveryResult.retry(f"internal error: {type(exc).__name__}: {exc}")


def record(db: Database, job: Job, worker: str, result: DeliveryResult, now: datetime) -> bool:
    """Store the outcome; returns True if new work (a retry or a fallback) was queued."""
    with db.background_session() as session:
        row = session.get(Notification, job.id, with_for_update=not db.is_sqlite)
        if row is None or row.claimed_by != worker or row.status != "pending":
            return False  # our lease ran out and another engine took the row over
        row.attempts += 1
        row.claimed_by = row.claimed_until = None
        user = session.get(User, job.user_id) if job.user_id else None
        who = (user.name or user.username) if user else "someone"
        via = channels.label(job.channel)
        if result.ok:
            row.status, row.sent_at = "sent", now
            _event(
                session,
                job,
                now,
                "notification_sent",
                f"Notified {who} via {via} ({job.kind})",
                {"attempt": row.attempts},
            )
            return False
        step = after_failure(row.attempts, retryable=result.retryable, now=now)
        row.last_error = result.reason
        if step.kind == "retry":
            at = step.at
            if result.retry_after:
                at = max(at, now + timedelta(seconds=result.retry_after))
            row.next_attempt_at = at
            _event(
                session,
                job,
                now,
                "notification_failed",
                f"Notifying {who} via {via} failed (attempt {row.attempts}): {result.reason}; "
                f"retrying",
                {"attempt": row.attempts, "retry_at": at.isoformat()},
            )
            return True
        row.status = "failed"
        _event(
            session,
            job,
            now,
            "notification_failed",
            f"Notifying {who} via {via} failed for good: {result.reason}",
            {"attempt": row.attempts},
        )
        return _fall_back(session, row, who, now)


def _fall_back(session: Any, row: Notification, who: str, now: datetime) -> bool:
    """Queue the person's next contact method not yet tried for this page."""
    group = row.idempotency_key.split("-r", 1)[0]
    tried = set(
        session.scalars(
            select(Notification.contact_method_id).where(
                Notification.incident_id == row.incident_id,
                Notification.user_id == row.user_id,
                Notification.idempotency_key.like(f"{group}-%"),
            )
        )
    )
    candidates = [
        cm
        for cm in session.scalars(
            select(ContactMethod)
            .where(ContactMethod.user_id == row.user_id, ContactMethod.disabled_at.is_(None))
            .order_by(ContactMethod.id)
        )
        if cm.id not in tried
    ]
    if not candidates:
        if row.incident_id is not None:
            session.add(
                TimelineEvent(
                    incident_id=row.incident_id,
                    at=now,
                    kind="paging_warning",
                    actor_type="system",
                    actor_name="Warroom",
                    message=f"{who} could not be reached on any contact method",
                )
            )
        return False
    cm = candidates[0]
    session.add(
        Notification(
            idempotency_key=f"{group}-rfb{len(tried)}-cm{cm.id}",
            incident_id=row.incident_id,
            user_id=row.user_id,
            contact_method_id=cm.id,
            channel=cm.channel,
            target=cm.address,
            kind=row.kind,
            urgency=row.urgency,
            subject=row.subject,
            body=row.body,
            links=row.links,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return True


def _event(
    session: Any, job: Job, now: datetime, kind: str, message: str, after: dict[str, Any]
) -> None:
    if job.incident_id is None:
        return
    if session.get(Incident, job.incident_id) is None:
        return
    session.add(
        TimelineEvent(
            incident_id=job.incident_id,
            at=now,
            kind=kind,
            actor_type="system",
            actor_name="Warroom",
            message=message,
            after={
                "notification_id": job.id,
                "channel": job.channel,
                "user_id": job.user_id,
                **after,
            },
        )
    )
