"""What the war room (one incident's page) reads: the incident, its services with their
dependencies and blast radius, a major-incident proposal, roles, tasks, alerts, a bounded
timeline, participants, sent messages, merge targets and mobilise choices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from warroom.alerts.models import Alert, of_incident
from warroom.catalog import blast_radius
from warroom.catalog.models import Service, Team, User, service_dependencies
from warroom.incidents import major_store
from warroom.incidents.logic import ACTIONS, Lifecycle, TransitionError, transition
from warroom.incidents.major import Reason
from warroom.incidents.models import (
    OPEN_STATUSES,
    Incident,
    IncidentRole,
    Task,
    TimelineEvent,
    incident_services,
)
from warroom.incidents.oversight import DEFAULT_STALE_MINUTES
from warroom.incidents.service import ROLE_LABELS, get_incident
from warroom.incidents.sla import Clock
from warroom.notify.models import Notification
from warroom.notify.stakeholders import StakeholderList, StakeholderMember
from warroom.web.queries.dashboard_data import Oversight, incident_clocks, oversight_flags
from warroom.web.queries.refs import Ref, people, user_ref

TIMELINE_LIMIT = 300
INCIDENT_ALERTS_LIMIT = 100


# --- the war room ----------------------------------------------------------------------------


@dataclass
class AffectedService:
    service: Ref
    tier: int
    team: Ref | None
    depends_on: list[Ref] = field(default_factory=list)
    dependants: list[Ref] = field(default_factory=list)


@dataclass
class RoleSeat:
    role: str
    label: str
    holder: Ref | None
    assigned_at: datetime | None


@dataclass
class TaskRow:
    task: Task
    owner: Ref | None


@dataclass
class AlertRow:
    alert: Alert
    service: Ref


@dataclass
class WarRoom:
    incident: Incident
    services: list[AffectedService]
    roles: list[RoleSeat]
    tasks: list[TaskRow]
    alerts: list[AlertRow]
    alert_total: int
    timeline: list[TimelineEvent]
    timeline_total: int
    clocks: list[Clock]
    oversight: Oversight
    actions: list[str]  # the lifecycle actions the incident's status allows now
    people: list[Ref]  # active users who can hold a role or own a task
    creator: Ref | None
    blast: blast_radius.BlastRadius = field(default_factory=blast_radius.BlastRadius)
    major_proposal: tuple[Reason, ...] = ()  # why it is proposed as a major incident now


def allowed_actions(incident: Incident, now: datetime) -> list[str]:
    """Asks the state machine itself, so the buttons never offer what it would refuse."""
    state = Lifecycle(
        incident.status,
        incident.acknowledged_at,
        incident.mitigated_at,
        incident.resolved_at,
        incident.closed_at,
    )
    allowed = []
    for action in ACTIONS:
        try:
            transition(state, action, now)
        except TransitionError:
            continue
        allowed.append(action)
    return allowed


def affected_services(session: Session, incident_id: int) -> list[AffectedService]:
    rows = session.execute(
        select(Service.id, Service.name, Service.tier, Team.id, Team.name)
        .join(incident_services, incident_services.c.service_id == Service.id)
        .outerjoin(Team, Team.id == Service.team_id)
        .where(incident_services.c.incident_id == incident_id)
        .order_by(Service.name)
    ).all()
    found = {
        sid: AffectedService(Ref(sid, name), tier, Ref(tid, tname) if tid is not None else None)
        for sid, name, tier, tid, tname in rows
    }
    if found:
        add_dependencies(session, found)
    return list(found.values())


def add_dependencies(session: Session, found: dict[int, AffectedService]) -> None:
    ids = list(found)
    dep = aliased(Service)
    rows = session.execute(
        select(
            service_dependencies.c.service_id,
            service_dependencies.c.depends_on_id,
            Service.name,
            dep.name,
        )
        .join(Service, Service.id == service_dependencies.c.service_id)
        .join(dep, dep.id == service_dependencies.c.depends_on_id)
        .where(
            service_dependencies.c.service_id.in_(ids)
            | service_dependencies.c.depends_on_id.in_(ids)
        )
        .order_by(dep.name, Service.name)
    ).all()
    for sid, did, sname, dname in rows:
        if sid in found:
            found[sid].depends_on.append(Ref(did, dname))
        if did in found:
            found[did].dependants.append(Ref(sid, sname))


def roles_of(session: Session, incident_id: int) -> list[RoleSeat]:
    holders = {
        role: (Ref(uid, name or username), at)
        for role, uid, name, username, at in session.execute(
            select(IncidentRole.role, User.id, User.name, User.username, IncidentRole.assigned_at)
            .join(User, User.id == IncidentRole.user_id)
            .where(IncidentRole.incident_id == incident_id)
        ).all()
    }
    return [
        RoleSeat(role, label, *(holders.get(role) or (None, None)))
        for role, label in ROLE_LABELS.items()
    ]


def tasks_of(session: Session, incident_id: int) -> list[TaskRow]:
    rows = session.execute(
        select(Task, User.id, User.name, User.username)
        .outerjoin(User, User.id == Task.owner_id)
        .where(Task.incident_id == incident_id)
        .order_by(Task.status.desc(), Task.due_at.is_(None), Task.due_at, Task.id)
    ).all()
    return [
        TaskRow(task, Ref(uid, name or username) if uid is not None else None)
        for task, uid, name, username in rows
    ]


def alerts_of(session: Session, incident_id: int) -> tuple[list[AlertRow], int]:
    """The newest alerts of an incident and how many it has.

    A storm has tens of thousands: the rows are a LIMITed walk down (incident_id, id) (see
    of_incident), and the total is the incident's stored alert_count, never a count over the
    alerts table. Below the limit the rows are all of them, so the total is exact there (an
    incident merged into another keeps its old alert_count but no longer has the alerts).
    """
    query = select(Alert, Service.id, Service.name).join(Service, Service.id == Alert.service_id)
    rows = session.execute(
        of_incident(query, incident_id).order_by(Alert.id.desc()).limit(INCIDENT_ALERTS_LIMIT)
    ).all()
    found = [AlertRow(a, Ref(sid, name)) for a, sid, name in rows]
    if len(found) < INCIDENT_ALERTS_LIMIT:
        return found, len(found)
    stored = session.scalar(select(Incident.alert_count).where(Incident.id == incident_id)) or 0
    return found, max(int(stored), len(found))


def timeline_of(
    session: Session, incident_id: int, after: int | None = None, limit: int = TIMELINE_LIMIT
) -> list[TimelineEvent]:
    """Oldest first: the last `limit` events, or every event after the id `after`."""
    query = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
    if after is not None:
        query = query.where(TimelineEvent.id > after)
        return list(session.scalars(query.order_by(TimelineEvent.id).limit(limit)))
    newest = list(session.scalars(query.order_by(TimelineEvent.id.desc()).limit(limit)))
    return newest[::-1]


def timeline_count(session: Session, incident_id: int) -> int:
    return int(
        session.scalar(select(func.count()).where(TimelineEvent.incident_id == incident_id)) or 0
    )


def war_room(
    session: Session,
    incident_id: int,
    now: datetime,
    stale_defaults: Mapping[int, int] = DEFAULT_STALE_MINUTES,
) -> WarRoom:
    incident = get_incident(session, incident_id)
    alerts, alert_total = alerts_of(session, incident_id)
    clocks = incident_clocks(incident, now)
    flags = oversight_flags(session, [incident], now, stale_defaults, {incident.id: clocks})
    services = affected_services(session, incident_id)
    return WarRoom(
        incident=incident,
        services=services,
        roles=roles_of(session, incident_id),
        tasks=tasks_of(session, incident_id),
        alerts=alerts,
        alert_total=alert_total,
        timeline=timeline_of(session, incident_id),
        timeline_total=timeline_count(session, incident_id),
        clocks=clocks,
        oversight=flags[incident.id],
        actions=allowed_actions(incident, now),
        people=people(session),
        creator=user_ref(session, incident.created_by_id),
        blast=blast_radius.load(session, [s.service.id for s in services]),
        major_proposal=major_store.proposal(session, incident_id, major_store.load_policy(session)),
    )


# --- the war room: people, sent messages, merge targets, mobilise choices ------------------------

MESSAGES_LIMIT = 100
MERGE_TARGETS_LIMIT = 100
# Timeline events whose `after` names the people a page went to (even those with no contact
# method, who get no notification row).
_PAGING_EVENTS = ("escalated", "mobilised")


@dataclass
class Participant:
    """Someone involved in an incident, and how."""

    person: Ref
    roles: list[str] = field(default_factory=list)  # labels of the roles they hold
    tasks: int = 0  # tasks they own
    acted: bool = False  # did something recorded on the timeline
    paged: bool = False  # was paged or mobilised


def participants(session: Session, incident_id: int) -> list[Participant]:
    """Role holders first (in the order of the roles), then everyone else by name."""
    found: dict[int, Participant] = {}

    def of(uid: int) -> Participant:
        if uid not in found:
            found[uid] = Participant(Ref(uid, ""))
        return found[uid]

    for uid, role in session.execute(
        select(IncidentRole.user_id, IncidentRole.role).where(
            IncidentRole.incident_id == incident_id
        )
    ):
        of(uid).roles.append(role)
    for owner, count in session.execute(
        select(Task.owner_id, func.count())
        .where(Task.incident_id == incident_id, Task.owner_id.is_not(None))
        .group_by(Task.owner_id)
    ):
        if owner is not None:
            of(owner).tasks = int(count)
    for actor in session.scalars(
        select(TimelineEvent.actor_id)
        .where(
            TimelineEvent.incident_id == incident_id,
            TimelineEvent.actor_type == "user",
            TimelineEvent.actor_id.is_not(None),
        )
        .distinct()
    ):
        if actor is not None:
            of(actor).acted = True
    paged: set[int] = set(
        session.scalars(
            select(Notification.user_id)
            .where(Notification.incident_id == incident_id, Notification.user_id.is_not(None))
            .distinct()
        )
    )
    for after in session.scalars(
        select(TimelineEvent.after).where(
            TimelineEvent.incident_id == incident_id, TimelineEvent.kind.in_(_PAGING_EVENTS)
        )
    ):
        ids = (after or {}).get("user_ids") or []
        paged.update(u for u in ids if isinstance(u, int))
    for uid in paged:
        of(uid).paged = True
    if not found:
        return []
    names = {
        uid: name or username
        for uid, name, username in session.execute(
            select(User.id, User.name, User.username).where(User.id.in_(list(found)))
        )
    }
    order = list(ROLE_LABELS)
    ranked: list[tuple[int, str, int, Participant]] = []
    for uid, p in found.items():
        if uid not in names:
            continue  # a timeline actor whose user was deleted since: the timeline names them
        roles = sorted(p.roles, key=order.index)
        p.person = Ref(uid, names[uid])
        p.roles = [ROLE_LABELS[r] for r in roles]
        rank = order.index(roles[0]) if roles else len(order)
        ranked.append((rank, names[uid].lower(), uid, p))
    ranked.sort(key=lambda item: item[:3])
    return [p for *_, p in ranked]


@dataclass(frozen=True)
class MessageRow:
    """One notification of an incident as the page shows it: never its address, text or
    action links (signed links that act as the person they were sent to)."""

    id: int
    person: Ref | None
    channel: str
    kind: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime
    list_name: str | None = None  # an address on this stakeholder list (no person)


def messages_of(
    session: Session, incident_id: int, limit: int = MESSAGES_LIMIT
) -> tuple[list[MessageRow], int]:
    """The newest notifications of an incident (along ix_notifications_incident) and the total."""
    total = session.scalar(select(func.count()).where(Notification.incident_id == incident_id))
    rows = session.execute(
        select(
            Notification.id,
            Notification.user_id,
            User.name,
            User.username,
            Notification.channel,
            Notification.kind,
            Notification.status,
            Notification.attempts,
            Notification.last_error,
            Notification.created_at,
            Notification.sent_at,
            Notification.next_attempt_at,
            StakeholderList.name.label("list_name"),
        )
        .outerjoin(User, User.id == Notification.user_id)
        .outerjoin(StakeholderMember, StakeholderMember.id == Notification.stakeholder_member_id)
        .outerjoin(StakeholderList, StakeholderList.id == StakeholderMember.list_id)
        .where(Notification.incident_id == incident_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    ).all()
    found = [
        MessageRow(
            r.id,
            Ref(r.user_id, r.name or r.username) if r.username is not None else None,
            r.channel,
            r.kind,
            r.status,
            r.attempts,
            r.last_error,
            r.created_at,
            r.sent_at,
            r.next_attempt_at,
            r.list_name,
        )
        for r in rows
    ]
    return found, int(total or 0)


def merge_targets(
    session: Session, incident_id: int, limit: int = MERGE_TARGETS_LIMIT
) -> list[Ref]:
    """Open incidents other than this one, newest first: where a duplicate can be merged."""
    return [
        Ref(iid, title)
        for iid, title in session.execute(
            select(Incident.id, Incident.title)
            .where(Incident.status.in_(OPEN_STATUSES), Incident.id != incident_id)
            .order_by(Incident.id.desc())
            .limit(limit)
        )
    ]


@dataclass(frozen=True)
class ScheduleChoice:
    """A schedule to mobilise, with who it would page now (None: it cannot be computed)."""

    schedule: Ref
    on_call: list[str] | None


def schedule_choices(session: Session, now: datetime) -> list[ScheduleChoice]:
    """Every schedule and who is on call on it now, in the on-call service's few queries."""
    from warroom.oncall import schedule as sch
    from warroom.oncall import schedules

    loaded = schedules.fetch(session, overrides_since=now)
    names = schedules.Names(session, loaded.user_ids())
    choices: list[ScheduleChoice] = []
    for sid, row in sorted(loaded.rows.items(), key=lambda item: item[1].name.lower()):
        try:
            users: list[str] | None = [
                names.of(u) for u in sorted(sch.on_call_at(loaded.pure(sid), now))
            ]
        except sch.ScheduleError:
            users = None
        choices.append(ScheduleChoice(Ref(sid, row.name), users))
    return choices
