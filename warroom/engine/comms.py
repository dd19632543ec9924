"""The engine's side of incident communication: update reminders, role notices and stakeholder
notices, each a timer handler (see runner.TIMER_HANDLERS) that writes outbox rows in the
timer's own savepoint.

- `comms_check` (a new incident, a priority change, a reopen, a new update): re-plan the one
  pending `update_due` timer of the incident, and tell the stakeholder lists whose priority
  threshold the incident has reached (once per incident and member).
- `update_due`: if the update is still owed, remind the Communications Lead (or the Commander
  when there is none) through their rules, say so on the timeline, and remind again after
  another cadence period while it stays overdue.
- `role_notice`: tell a person they were given a role, by their low-urgency rules.
- `stakeholder_notice`: tell the lists of the incident's services and teams about a public
  update, in plain words with the status page link.
- `reporters_notice`: the incident resolved; tell the people whose user reports it carries,
  once per report, in plain words with its title and the status page link.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from warroom.catalog.models import Service, User
from warroom.config import Settings
from warroom.engine.paging import page_users
from warroom.incidents import timeline
from warroom.incidents.comms import NoticeFacts, UpdateFacts, stakeholder_notice
from warroom.incidents.models import (
    OPEN_STATUSES,
    Incident,
    IncidentRole,
    StatusUpdate,
    incident_services,
)
from warroom.incidents.paging import wake_peers
from warroom.incidents.reporters import merged_family
from warroom.incidents.service import ROLE_LABELS
from warroom.incidents.updates import REMINDER, UPDATE_DUE, load_cadence, update_due_at
from warroom.notify.models import ContactMethod, Notification
from warroom.notify.stakeholders import StakeholderList, lists_for, members_of
from warroom.reports.logic import resolved_notice
from warroom.reports.service import claim_resolution_notices
from warroom.timers.models import Timer

# The outbox kind of a reporter's "it is fixed" notice.
REPORTER_KIND = "reporter"
# While an update stays overdue on a priority without a cadence (its time was promised by the
# last update), remind again this often.
REMIND_AGAIN = timedelta(minutes=30)


def fire_comms_check(
    session: Session, timer: Timer, now: datetime, settings: Settings, links: Any
) -> None:
    timer.done_at = now
    incident = session.get(Incident, timer.incident_id)
    if incident is None or incident.status not in OPEN_STATUSES:
        return
    plan_reminder(session, incident, now, load_cadence(session, settings.update_cadence))
    notify_stakeholders(session, incident, None, now, settings, links)


def plan_reminder(
    session: Session, incident: Incident, now: datetime, cadence: dict[int, timedelta]
) -> datetime | None:
    """Exactly one pending update_due timer per open incident, at the time the next update is
    owed (none if nothing is owed)."""
    due = update_due_at(session, incident, cadence)
    session.execute(
        update(Timer)
        .where(Timer.incident_id == incident.id, Timer.kind == UPDATE_DUE, Timer.done_at.is_(None))
        .values(done_at=now)
    )
    if due is not None:
        session.add(Timer(kind=UPDATE_DUE, incident_id=incident.id, due_at=due, created_at=now))
    return due


def fire_update_due(
    session: Session, timer: Timer, now: datetime, settings: Settings, links: Any
) -> None:
    timer.done_at = now
    incident = session.get(Incident, timer.incident_id)
    if incident is None or incident.status not in OPEN_STATUSES:
        return
    cadence = load_cadence(session, settings.update_cadence)
    due = update_due_at(session, incident, cadence)
    if due is None:
        return
    if due > now:
        # An update came meanwhile (its comms_check re-plans too; this keeps one timer).
        plan_reminder(session, incident, now, cadence)
        return
    holders = dict(
        session.execute(
            select(IncidentRole.role, IncidentRole.user_id).where(
                IncidentRole.incident_id == incident.id,
                IncidentRole.role.in_(("communications_lead", "commander")),
            )
        ).all()
    )
    role = "communications_lead" if "communications_lead" in holders else "commander"
    again = now + cadence.get(incident.priority, REMIND_AGAIN)
    session.add(Timer(kind=UPDATE_DUE, incident_id=incident.id, due_at=again, created_at=now))
    late = f"{due:%H:%M} UTC"
    if role not in holders:
        timeline.add_event(
            session,
            incident.id,
            "update_overdue",
            f"A status update is overdue (due {late}) and nobody is Communications Lead or "
            f"Incident Commander to remind",
            now,
            after={"due_at": due.isoformat(), "reminded": None},
        )
        return
    subject = f"Status update due: #{incident.id} {incident.title}"
    body = (
        f"As {ROLE_LABELS[role]} of incident #{incident.id} ({incident.title}, "
        f"P{incident.priority}), please post a status update: the next one was due at {late}."
    )
    names = page_users(
        session,
        incident,
        [holders[role]],
        now,
        kind=REMINDER,
        link_maker=links,
        key=f"rem-{timer.id}",
        note=None,
        # A P1's comms lead is interrupted; for lesser incidents the reminder waits for the
        # person's low-urgency rules (and their quiet hours).
        urgency="high" if incident.priority == 1 else "low",
        subject=subject,
        body=body,
        view_only=True,
    )
    timeline.add_event(
        session,
        incident.id,
        "update_overdue",
        f"A status update is overdue (due {late}): reminded {', '.join(names) or 'nobody'} "
        f"({ROLE_LABELS[role]})",
        now,
        after={"due_at": due.isoformat(), "reminded": holders[role], "role": role},
    )


def fire_role_notice(
    session: Session, timer: Timer, now: datetime, settings: Settings, links: Any
) -> None:
    """A role is a request to take part, not an alarm: the person's low-urgency rules (which
    also wait out their quiet hours), so it pages at high urgency only if they chose that."""
    timer.done_at = now
    incident = session.get(Incident, timer.incident_id)
    role, user_id = timer.payload.get("role"), timer.payload.get("user_id")
    if incident is None or role not in ROLE_LABELS or not isinstance(user_id, int):
        return
    holder = session.scalar(
        select(IncidentRole.user_id).where(
            IncidentRole.incident_id == incident.id, IncidentRole.role == role
        )
    )
    if holder != user_id:
        return  # given to someone else (or released) before the notice went out
    label = ROLE_LABELS[role]
    by = str(timer.payload.get("by") or "someone")
    page_users(
        session,
        incident,
        [user_id],
        now,
        kind="role",
        link_maker=links,
        key=f"role-{timer.id}",
        note=None,
        urgency="low",
        subject=f"You are now {label} of #{incident.id} {incident.title}",
        body=(
            f"{by} made you {label} of incident #{incident.id}: {incident.title} "
            f"(P{incident.priority}, {incident.status})."
        ),
        view_only=True,
    )


def fire_stakeholder_notice(
    session: Session, timer: Timer, now: datetime, settings: Settings, links: Any
) -> None:
    timer.done_at = now
    row = session.get(StatusUpdate, timer.payload.get("update_id"))
    if row is None or row.visibility != "public":
        return
    incident = session.get(Incident, row.incident_id)
    if incident is None:
        return
    notify_stakeholders(session, incident, row, now, settings, links)


# --- telling stakeholder lists ----------------------------------------------------------------


def _services_and_teams(
    session: Session, incident: Incident
) -> tuple[list[int], list[str], list[int]]:
    rows = session.execute(
        select(Service.id, Service.name, Service.team_id)
        .join(incident_services, incident_services.c.service_id == Service.id)
        .where(incident_services.c.incident_id == incident.id)
        .order_by(Service.name)
    ).all()
    return (
        [sid for sid, _, _ in rows],
        [name for _, name, _ in rows],
        sorted({tid for _, _, tid in rows if tid is not None}),
    )


def _already_sent(session: Session, incident_id: int, key: str) -> set[str]:
    return set(
        session.scalars(
            select(Notification.idempotency_key).where(
                Notification.incident_id == incident_id,
                Notification.kind == "stakeholder",
                Notification.idempotency_key.like(f"{key}-%"),
            )
        )
    )


def notify_stakeholders(
    session: Session,
    incident: Incident,
    row: StatusUpdate | None,
    now: datetime,
    settings: Settings,
    links: Any,
) -> int:
    """Tell every list of the incident's services and teams whose threshold its priority meets
    (about the incident having reached it, or about the public update `row`), each member
    once; returns how many members were told now."""
    service_ids, service_names, team_ids = _services_and_teams(session, incident)
    lists = [
        lst
        for lst in lists_for(session, service_ids, team_ids)
        if incident.priority <= lst.min_priority
    ]
    if not lists:
        return 0
    key = f"stk-i{incident.id}-reached" if row is None else f"stk-su{row.id}"
    sent = _already_sent(session, incident.id, key)
    facts = NoticeFacts(
        incident.id,
        incident.title,
        incident.priority,
        incident.status,
        incident.triggered_at,
        service_names,
        settings.base_url.rstrip("/") + "/status",
    )
    facts_of_update = (
        UpdateFacts(
            row.stage,
            row.message,
            row.impact,
            row.estimated_resolution_at,
            row.next_update_at,
        )
        if row is not None
        else None
    )
    by_list = {lst.id: lst for lst in lists}
    told: list[StakeholderList] = []
    count = 0
    seen_users: set[int] = set()
    for member in members_of(session, list(by_list)):
        lst = by_list[member.list_id]
        subject, body = stakeholder_notice(facts, facts_of_update, lst.name)
        if member.user_id is not None:
            prefix = f"{key}-u{member.user_id}"
            if member.user_id in seen_users or any(k.startswith(prefix + "-") for k in sent):
                continue
            seen_users.add(member.user_id)
            names = page_users(
                session,
                incident,
                [member.user_id],
                now,
                kind="stakeholder",
                link_maker=links,
                key=prefix,
                note=None,
                urgency="low",
                subject=subject,
                body=body,
                view_only=True,
            )
            count += len(names)
        else:
            member_key = f"{key}-m{member.id}"
            if member_key in sent or member.channel is None or member.address is None:
                continue
            session.add(
                Notification(
                    idempotency_key=member_key,
                    incident_id=incident.id,
                    stakeholder_member_id=member.id,
                    channel=member.channel,
                    target=member.address,
                    kind="stakeholder",
                    urgency="low",
                    subject=subject,
                    body=body,
                    links={"status": facts.status_page_url},
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            count += 1
        if lst not in told:
            told.append(lst)
    if count:
        why = (
            f"reached P{incident.priority}"
            if row is None
            else f"public update #{row.id} ({row.stage})"
        )
        timeline.add_event(
            session,
            incident.id,
            "stakeholders_notified",
            f"Told stakeholder list{'s' if len(told) != 1 else ''} "
            f"{', '.join(repr(t.name) for t in told)} ({count} recipient"
            f"{'s' if count != 1 else ''}): {why}",
            now,
            after={"list_ids": [t.id for t in told], "recipients": count},
        )
        wake_peers(session)
    return count


def fire_reporters_notice(
    session: Session, timer: Timer, now: datetime, settings: Settings, links: Any
) -> None:
    """The incident resolved: tell each of its reporters not yet told, once (reports merged
    into it included). A person in Warroom through their own contact methods (low urgency),
    else at their account's email; a public reporter at the address they left, if any."""
    timer.done_at = now
    incident = session.get(Incident, timer.incident_id)
    if incident is None or incident.status not in ("resolved", "closed"):
        return  # reopened before this fired: its next resolve writes another timer
    family = merged_family(session, [incident.id])
    reports = claim_resolution_notices(session, list(family), now)
    if not reports:
        return
    base = settings.base_url.rstrip("/")
    public = session.scalar(
        select(StatusUpdate.id)
        .where(StatusUpdate.incident_id == incident.id, StatusUpdate.visibility == "public")
        .limit(1)
    )
    status_url = f"{base}/status/incidents/{incident.id}" if public else f"{base}/status"
    user_ids = sorted({r.reporter_id for r in reports if r.reporter_id is not None})
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
    reachable = set(
        session.scalars(
            select(ContactMethod.user_id).where(
                ContactMethod.user_id.in_(user_ids), ContactMethod.disabled_at.is_(None)
            )
        )
    )
    told = 0
    for report in reports:
        subject, body = resolved_notice(
            incident.title, incident.resolved_at, status_url, report.description
        )
        user = users.get(report.reporter_id) if report.reporter_id is not None else None
        address = report.reporter_email
        if user is not None and user.active and user.id in reachable:
            page_users(
                session,
                incident,
                [user.id],
                now,
                kind=REPORTER_KIND,
                link_maker=links,
                key=f"rpt{report.id}",
                note=None,
                urgency="low",
                subject=subject,
                body=body,
                view_only=True,
            )
            told += 1
            continue
        if user is not None and user.active and user.email:
            address = user.email
        if not address:
            continue  # nobody to tell: no address was given
        session.add(
            Notification(
                idempotency_key=f"rpt{report.id}-resolved",
                incident_id=incident.id,
                user_id=user.id if user is not None else None,
                channel="email",
                target=address,
                kind=REPORTER_KIND,
                urgency="low",
                subject=subject,
                body=body,
                links={"status": status_url},
                next_attempt_at=now,
                created_at=now,
            )
        )
        told += 1
    if told:
        timeline.add_event(
            session,
            incident.id,
            "reporters_notified",
            f"Told {told} reporter{'s' if told != 1 else ''} that the problem they reported "
            "is resolved",
            now,
            after={"report_ids": [r.id for r in reports], "told": told},
        )
        wake_peers(session)
