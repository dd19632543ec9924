"""Delivering the outbox: claim due notifications, check, send through their channel, record.

Each claim is a lease with a token of its own (lease_token, claimed_until) committed before
sending; the last check before sending and the record afterwards act only while the row still
carries that token, so two claims (two engines, or one engine whose lease ran out) never both
send and record one row. Right before sending the row is read again: a claim no longer ours, or
a message no longer wanted (the incident acknowledged, resolved or merged, the person
deactivated, the contact method disabled) is not sent, and an unwanted one is cancelled. Sending
happens outside any transaction; the result is recorded afterwards with retries, backoff with
jitter and fallback to the person's next contact method, each attempt on the timeline, unless
the message stopped being wanted meanwhile: then it is cancelled, neither retried nor fallen
back.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from warroom.catalog.models import User
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.incidents import oversight, oversight_store, timeline
from warroom.incidents.models import Incident
from warroom.notify import channels, outbox
from warroom.notify.channels import DeliveryResult, OutgoingMessage
from warroom.notify.models import ContactMethod, Notification
from warroom.notify.retry import RetryPolicy, after_failure
from warroom.notify.stakeholders import StakeholderMember
from warroom.statuspage import fanout
from warroom.statuspage.fanout import SUBSCRIBER_KIND

# Free delivery workers that status-page subscribers' mails never take (see claim_due).
RESERVED_FOR_PAGES = 2
# Channels whose attempts take a network timeout (the lease must outlast it, see config.py).
TIMED_CHANNELS = ("email", "webhook", "apprise", "sms", "voice")


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
    # The claim's own token: only the claim holding it may send and record this row.
    lease_token: str = ""


def claim_due(
    db: Database, now: datetime, worker: str, lease: timedelta, limit: int = 32
) -> list[Job]:
    """Claim up to `limit` due rows: the engine passes its number of free workers, so a
    claimed row is sent at once and never waits in a queue while its lease runs out."""
    if limit <= 0:
        return []
    if db.is_sqlite:
        # Most passes (every intake commit wakes the engine) find nothing due: a read says so
        # without taking SQLite's one writer lock away from intake. One engine per file, so a
        # row due a moment later is met by the pass its own commit wakes.
        with db.read_session() as session:
            if session.scalar(select(Notification.id).where(*_due(now)).limit(1)) is None:
                return []
    with db.session() as session:
        rows = _due_rows(session, db, now, limit)
        secrets: dict[int, str | None] = {}
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
        sub_ids = [r.subscriber_id for r in rows if r.channel == "webhook" and r.subscriber_id]
        sub_secrets = fanout.webhook_secrets(session, sub_ids)
        member_ids = [
            r.stakeholder_member_id
            for r in rows
            if r.channel == "webhook" and r.stakeholder_member_id and not r.contact_method_id
        ]
        member_secrets = (
            dict(
                session.execute(
                    select(StakeholderMember.id, StakeholderMember.secret).where(
                        StakeholderMember.id.in_(member_ids)
                    )
                ).all()
            )
            if member_ids
            else {}
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
            token = uuid.uuid4().hex
            row.claimed_by, row.claimed_until, row.lease_token = worker, now + lease, token
            jobs.append(
                Job(
                    row.id,
                    row.incident_id,
                    row.user_id,
                    row.contact_method_id,
                    row.channel,
                    row.target,
                    sub_secrets.get(row.subscriber_id)
                    if row.subscriber_id
                    else secrets.get(row.contact_method_id or -1)
                    or member_secrets.get(row.stakeholder_member_id or -1),
                    row.kind,
                    row.urgency,
                    row.subject,
                    row.body,
                    dict(row.links),
                    row.idempotency_key,
                    names.get(row.user_id or -1, ""),
                    token,
                )
            )
    return jobs


# --- which due rows go first ------------------------------------------------------------------
# Pages and mobilisations are claimed before anything else that is due (reminders, role and
# stakeholder notices, the status page's subscriber mails): a fan-out of 10,000 queued mails
# never stands between a page and its delivery worker. Within each class, oldest due first.
URGENT_KINDS = ("page", "mobilise")


def _due(now: datetime) -> tuple[Any, ...]:
    return (
        Notification.status == "pending",
        Notification.next_attempt_at <= now,
        or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
    )


def _due_rows(session: Any, db: Database, now: datetime, limit: int) -> list[Notification]:
    due = _due(now)
    rows: list[Notification] = []
    # First the due pages, one kind at a time (an equality on kind keeps both databases on
    # ix_notifications_due_kind, already in due order), then, if workers are left, the rest
    # in due order along ix_notifications_due: every due page is taken by then, so "not one
    # of those rows" is "not a page".
    # Status-page subscribers' mails come last and never take the last RESERVED_FOR_PAGES free
    # workers, so a page due a moment later finds one free instead of waiting behind a fan-out.
    for kind in (*URGENT_KINDS, None, SUBSCRIBER_KIND):
        room = limit - len(rows) - (RESERVED_FOR_PAGES if kind == SUBSCRIBER_KIND else 0)
        if room <= 0:
            continue
        query = select(Notification).where(*due)
        if kind is None:
            query = query.where(Notification.kind != SUBSCRIBER_KIND)
            if rows:
                query = query.where(Notification.id.not_in([r.id for r in rows]))
        else:
            query = query.where(Notification.kind == kind)
        query = query.order_by(Notification.next_attempt_at, Notification.id).limit(room)
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        rows.extend(session.scalars(query))
    urgent = [r for r in rows if r.kind in URGENT_KINDS]
    urgent.sort(key=lambda r: (r.next_attempt_at, r.id))
    return urgent + [r for r in rows if r.kind not in URGENT_KINDS]


def unwanted(session: Any, row: Notification) -> str | None:
    """Why this outbox row should no longer be sent, or None while it is still wanted.

    A page is wanted while its incident is triggered; a mobilisation (people pulled onto an
    incident already being worked) while the incident is open and not merged away; an
    oversight message by its own rule (incidents/oversight.py `unwanted`)."""
    if row.kind in oversight.OUTBOX_KINDS:
        reason = oversight_store.unwanted_now(session, row)
        if reason is not None:
            return reason
    if row.kind in ("page", "mobilise", "reminder") and row.incident_id is not None:
        found = session.execute(
            select(Incident.status, Incident.merged_into_id).where(Incident.id == row.incident_id)
        ).first()
        if found is None:
            return "the incident no longer exists"
        status, merged_into = found
        if merged_into is not None:
            return f"the incident was merged into #{merged_into}"
        if row.kind == "page" and status != "triggered":
            return f"the incident is {status}"
        if status in ("resolved", "closed"):
            return f"the incident is {status}"
    if row.subscriber_id is not None:
        return fanout.still_wanted(session, row.kind, row.subscriber_id)
    if row.user_id is not None:
        active = session.scalar(select(User.active).where(User.id == row.user_id))
        if not active:
            return "the person was deactivated"
    if row.contact_method_id is not None:
        disabled = session.scalar(
            select(ContactMethod.disabled_at).where(ContactMethod.id == row.contact_method_id)
        )
        if disabled is not None:
            return "the contact method was disabled"
    return None


def still_ours_and_wanted(db: Database, job: Job, now: datetime) -> bool:
    """The last look before sending: True to send. A claim that was lost (its lease ran out,
    the row was cancelled or taken over) is left alone; an unwanted message is cancelled."""
    with db.read_session() as session:
        row = session.get(Notification, job.id)
        if (
            row is None
            or row.lease_token != job.lease_token
            or row.status != "pending"
            or row.claimed_until is None
            or row.claimed_until <= now
        ):
            return False
        reason = unwanted(session, row)
    if reason is None:
        return True
    cancel(db, job, reason)
    return False


def cancel(db: Database, job: Job, reason: str) -> None:
    """Cancel a claimed row that is no longer wanted (only while the claim is still ours)."""
    with db.session() as session:
        row = session.get(Notification, job.id, with_for_update=not db.is_sqlite)
        if row is None or row.lease_token != job.lease_token or row.status != "pending":
            return
        row.status, row.last_error = "cancelled", f"not sent: {reason}"
        row.claimed_by = row.claimed_until = row.lease_token = None


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base=timedelta(seconds=settings.delivery_retry_base_seconds),
        cap=timedelta(seconds=settings.delivery_retry_cap_seconds),
        max_attempts=settings.delivery_max_attempts,
    )


def channel_settings(job: Job, settings: Settings) -> dict[str, Any]:
    """The transport settings for this job's channel, from the channel registry."""
    return channels.transport_settings(job.channel, settings, job)


def send(job: Job, settings: Settings) -> DeliveryResult:
    if job.channel == "email" and not settings.smtp_host:
        return DeliveryResult.fail("email is not configured (set WARROOM_SMTP_HOST)")
    if job.channel in ("sms", "voice") and not settings.sms_base_url:
        return DeliveryResult.fail("SMS/voice is not configured (set WARROOM_SMS_BASE_URL)")
    event = None
    if job.kind == outbox.EVENT_KIND:
        # Event webhooks go to the configured URL with the configured secret, not a person's.
        if not settings.event_webhook_secret:
            return DeliveryResult.fail("WARROOM_EVENT_WEBHOOK_SECRET is not set")
        event = json.loads(job.body)
        job = replace(job, secret=settings.event_webhook_secret)
    message = OutgoingMessage(
        event=event,
        idempotency_key=job.idempotency_key,
        subject=job.subject,
        text=job.body,
        incident_id=job.incident_id or 0,
        urgency="high" if job.urgency == "high" else "low",
        links=job.links,
    )
    config = channel_settings(job, settings)
    if job.channel in TIMED_CHANNELS:
        config = {**config, "timeout": settings.delivery_timeout_seconds}
    try:
        return channels.deliver(job.channel, message, job.target, config)
    except Exception as exc:  # a transport bug must not take the engine down with it
        return DeliveryResult.retry(f"internal error: {type(exc).__name__}: {exc}")


def record(
    db: Database,
    job: Job,
    result: DeliveryResult,
    now: datetime,
    policy: RetryPolicy | None = None,
) -> bool:
    """Store the outcome; returns True if new work (a retry or a fallback) was queued.

    Only the claim holding the row's lease token records. A row cancelled while it was being
    sent (the incident was acknowledged meanwhile) keeps the token, so its outcome is still
    recorded truthfully: sent if it went out, and if it failed, cancelled without a retry or
    a fallback. A failure is also not retried once the message stopped being wanted."""
    with db.session() as session:
        row = session.get(Notification, job.id, with_for_update=not db.is_sqlite)
        if row is None or row.lease_token != job.lease_token:
            return False  # our lease ran out and another claim took the row over
        if row.status not in ("pending", "cancelled"):
            return False
        cancelled_meanwhile = row.status == "cancelled"
        row.attempts += 1
        row.claimed_by = row.claimed_until = row.lease_token = None
        user = session.get(User, job.user_id) if job.user_id else None
        who = (
            (user.name or user.username)
            if user
            else {"stakeholder": "a stakeholder list member", "reporter": "a reporter"}.get(
                job.kind, "someone"
            )
        )
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
        reason = "paging was stopped meanwhile" if cancelled_meanwhile else unwanted(session, row)
        if reason is not None:
            row.status, row.last_error = "cancelled", f"{result.reason}; not retried: {reason}"
            _event(
                session,
                job,
                now,
                "notification_failed",
                f"Notifying {who} via {via} failed (attempt {row.attempts}): {result.reason}; "
                f"not retried: {reason}",
                {"attempt": row.attempts},
            )
            return False
        step = after_failure(row.attempts, retryable=result.retryable, now=now, policy=policy)
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
    if row.user_id is None:
        return False  # an address of a stakeholder list: there is no other method to try
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
            timeline.add_event(
                session,
                row.incident_id,
                "paging_warning",
                f"{who} could not be reached on any contact method",
                now,
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
            context=row.context,
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
    timeline.add_event(
        session,
        job.incident_id,
        kind,
        message,
        now,
        after={"notification_id": job.id, "channel": job.channel, "user_id": job.user_id, **after},
    )
