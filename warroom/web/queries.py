"""What the pages read: one query per kind of thing on a page, batched by id (never one per row).

Lists are bounded (a page shows at most a few hundred rows) and ordered along an index:
open incidents by (status, priority, triggered_at), timelines by (incident_id, id), alerts by id
and an incident's alerts by (incident_id, id).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, aliased

from warroom.alerts.models import Alert, of_incident
from warroom.catalog.models import Integration, Service, Team, User, service_dependencies
from warroom.errors import ApiError
from warroom.incidents.logic import ACTIONS, Lifecycle, TransitionError, transition
from warroom.incidents.models import (
    OPEN_STATUSES,
    Incident,
    IncidentRole,
    Task,
    TimelineEvent,
    incident_services,
)
from warroom.incidents.service import ROLE_LABELS, get_incident
from warroom.incidents.sla import Clock, clocks
from warroom.notify.models import Notification

DASHBOARD_LIMIT = 200
TIMELINE_LIMIT = 300
INCIDENT_ALERTS_LIMIT = 100
ALERTS_PAGE = 50


@dataclass(frozen=True)
class Ref:
    """A thing named on a page: its id and name."""

    id: int
    name: str


# --- dashboard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFilter:
    status: str = "open"  # "open" or one status
    service_id: int | None = None
    priority: int | None = None
    mine: bool = False
    # "I am on call": the page sets policy_ids (see on_call_policy_ids) from the session.
    on_call: bool = False
    policy_ids: frozenset[int] | None = None

    def statuses(self) -> tuple[str, ...]:
        return OPEN_STATUSES if self.status == "open" else (self.status,)


@dataclass
class IncidentRow:
    incident: Incident
    services: list[Ref]
    commander: Ref | None
    clocks: list[Clock]
    mine: bool


@dataclass
class Dashboard:
    rows: list[IncidentRow]
    counts: dict[int, int]  # priority -> incidents matching every filter but priority
    total: int  # rows matching every filter (more than len(rows) when capped)


def _priority_changes(session: Session, ids: Sequence[int]) -> dict[int, datetime]:
    """The last priority change of each incident: the SLA clocks restart there."""
    if not ids:
        return {}
    rows = session.execute(
        select(TimelineEvent.incident_id, func.max(TimelineEvent.at))
        .where(TimelineEvent.incident_id.in_(ids), TimelineEvent.kind == "priority_changed")
        .group_by(TimelineEvent.incident_id)
    ).all()
    return dict(rows)


def incident_clocks(
    incident: Incident, now: datetime, priority_changed_at: datetime | None
) -> list[Clock]:
    return clocks(
        incident.priority,
        incident.triggered_at,
        incident.acknowledged_at,
        incident.resolved_at,
        now,
        priority_changed_at,
    )


def _services_of(session: Session, ids: Sequence[int]) -> dict[int, list[Ref]]:
    found: dict[int, list[Ref]] = defaultdict(list)
    if ids:
        rows = session.execute(
            select(incident_services.c.incident_id, Service.id, Service.name)
            .join(Service, Service.id == incident_services.c.service_id)
            .where(incident_services.c.incident_id.in_(ids))
            .order_by(Service.name)
        ).all()
        for iid, sid, name in rows:
            found[iid].append(Ref(sid, name))
    return found


def _role_holders(session: Session, ids: Sequence[int], role: str) -> dict[int, Ref]:
    if not ids:
        return {}
    rows = session.execute(
        select(IncidentRole.incident_id, User.id, User.name, User.username)
        .join(User, User.id == IncidentRole.user_id)
        .where(IncidentRole.incident_id.in_(ids), IncidentRole.role == role)
    ).all()
    return {iid: Ref(uid, name or username) for iid, uid, name, username in rows}


def _filtered(
    query: Select[tuple[Incident]], f: DashboardFilter, user_id: int
) -> Select[tuple[Incident]]:
    query = query.where(Incident.status.in_(f.statuses()))
    if f.service_id is not None:
        query = query.where(
            Incident.id.in_(
                select(incident_services.c.incident_id).where(
                    incident_services.c.service_id == f.service_id
                )
            )
        )
    if f.mine:
        query = query.where(
            Incident.id.in_(select(IncidentRole.incident_id).where(IncidentRole.user_id == user_id))
        )
    if f.policy_ids is not None:
        query = query.where(_paged_through(list(f.policy_ids)))
    return query


def dashboard(
    session: Session, f: DashboardFilter, user_id: int, now: datetime, limit: int = DASHBOARD_LIMIT
) -> Dashboard:
    base = _filtered(select(Incident), f, user_id)
    counts = dict(
        session.execute(
            base.with_only_columns(Incident.priority, func.count()).group_by(Incident.priority)
        ).all()
    )
    if f.priority is not None:
        base = base.where(Incident.priority == f.priority)
    total = counts.get(f.priority, 0) if f.priority is not None else sum(counts.values())
    incidents: list[Incident] = list(
        session.scalars(
            base.order_by(Incident.priority, Incident.triggered_at, Incident.id).limit(limit)
        )
    )
    ids = [i.id for i in incidents]
    services = _services_of(session, ids)
    commanders = _role_holders(session, ids, "commander")
    changed = _priority_changes(session, ids)
    mine: set[int] = set()
    if ids:
        mine = set(
            session.scalars(
                select(IncidentRole.incident_id).where(
                    IncidentRole.incident_id.in_(ids), IncidentRole.user_id == user_id
                )
            )
        )
    rows = [
        IncidentRow(
            i,
            services[i.id],
            commanders.get(i.id),
            incident_clocks(i, now, changed.get(i.id)),
            i.id in mine,
        )
        for i in incidents
    ]
    return Dashboard(rows, counts, total)


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
    actions: list[str]  # the lifecycle actions the incident's status allows now
    people: list[Ref]  # active users who can hold a role or own a task
    creator: Ref | None


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
        _add_dependencies(session, found)
    return list(found.values())


def _add_dependencies(session: Session, found: dict[int, AffectedService]) -> None:
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


def people(session: Session) -> list[Ref]:
    rows = session.execute(
        select(User.id, User.name, User.username)
        .where(User.active.is_(True), User.role != "stakeholder")
        .order_by(User.name, User.username)
    ).all()
    return [Ref(uid, name or username) for uid, name, username in rows]


def _user_ref(session: Session, user_id: int | None) -> Ref | None:
    if user_id is None:
        return None
    row = session.execute(select(User.name, User.username).where(User.id == user_id)).first()
    return Ref(user_id, row[0] or row[1]) if row else None


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


def war_room(session: Session, incident_id: int, now: datetime) -> WarRoom:
    incident = get_incident(session, incident_id)
    alerts, alert_total = alerts_of(session, incident_id)
    changed = _priority_changes(session, [incident_id]).get(incident_id)
    return WarRoom(
        incident=incident,
        services=affected_services(session, incident_id),
        roles=roles_of(session, incident_id),
        tasks=tasks_of(session, incident_id),
        alerts=alerts,
        alert_total=alert_total,
        timeline=timeline_of(session, incident_id),
        timeline_total=timeline_count(session, incident_id),
        clocks=incident_clocks(incident, now, changed),
        actions=allowed_actions(incident, now),
        people=people(session),
        creator=_user_ref(session, incident.created_by_id),
    )


# --- alerts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFilter:
    q: str = ""
    status: str = ""
    severity: str = ""
    service_id: int | None = None
    incident_id: int | None = None
    before: int | None = None  # keyset: alerts with a smaller id


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_alerts(
    session: Session, f: AlertFilter, limit: int = ALERTS_PAGE
) -> tuple[list[AlertRow], int | None]:
    """Newest first; returns the rows and the id to pass as `before` for the next page."""
    query = select(Alert, Service.id, Service.name).join(Service, Service.id == Alert.service_id)
    if f.q:
        query = query.where(Alert.summary.ilike(_like_pattern(f.q), escape="\\"))
    if f.status:
        query = query.where(Alert.status == f.status)
    if f.severity:
        query = query.where(Alert.severity == f.severity)
    if f.service_id is not None:
        query = query.where(Alert.service_id == f.service_id)
    if f.incident_id is not None:
        query = of_incident(query, f.incident_id)
    if f.before is not None:
        query = query.where(Alert.id < f.before)
    rows = list(session.execute(query.order_by(Alert.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    found = [AlertRow(a, Ref(sid, name)) for a, sid, name in rows]
    return found, (found[-1].alert.id if more and found else None)


# --- catalog ---------------------------------------------------------------------------------


def service_refs(session: Session) -> list[Ref]:
    return [
        Ref(sid, name)
        for sid, name in session.execute(select(Service.id, Service.name).order_by(Service.name))
    ]


@dataclass
class ServiceRow:
    service: Service
    team: Ref | None
    depends_on: list[Ref]
    dependants: list[Ref]
    open_incidents: int


def _open_counts(session: Session, service_ids: Iterable[int]) -> dict[int, int]:
    ids = list(service_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(incident_services.c.service_id, func.count())
        .join(Incident, Incident.id == incident_services.c.incident_id)
        .where(incident_services.c.service_id.in_(ids), Incident.status.in_(OPEN_STATUSES))
        .group_by(incident_services.c.service_id)
    ).all()
    return dict(rows)


def services(session: Session, ids: list[int] | None = None) -> list[ServiceRow]:
    query = select(Service, Team.id, Team.name).outerjoin(Team, Team.id == Service.team_id)
    if ids is not None:
        query = query.where(Service.id.in_(ids))
    rows = list(session.execute(query.order_by(Service.tier, Service.name)))
    found = {
        svc.id: AffectedService(
            Ref(svc.id, svc.name), svc.tier, Ref(tid, tname) if tid is not None else None
        )
        for svc, tid, tname in rows
    }
    if found:
        _add_dependencies(session, found)
    counts = _open_counts(session, found)
    return [
        ServiceRow(
            svc,
            found[svc.id].team,
            found[svc.id].depends_on,
            found[svc.id].dependants,
            counts.get(svc.id, 0),
        )
        for svc, _tid, _tname in rows
    ]


@dataclass
class ServicePage:
    row: ServiceRow
    integrations: list[Integration]
    incidents: list[Incident]  # open incidents affecting the service


def service_page(session: Session, service_id: int) -> ServicePage:
    found = services(session, [service_id])
    if not found:
        raise ApiError(404, f"service {service_id} does not exist")
    integrations = list(
        session.scalars(
            select(Integration).where(Integration.service_id == service_id).order_by(Integration.id)
        )
    )
    incidents = list(
        session.scalars(
            select(Incident)
            .join(incident_services, incident_services.c.incident_id == Incident.id)
            .where(
                incident_services.c.service_id == service_id,
                Incident.status.in_(OPEN_STATUSES),
            )
            .order_by(Incident.priority, Incident.triggered_at)
            .limit(DASHBOARD_LIMIT)
        )
    )
    return ServicePage(found[0], integrations, incidents)


@dataclass
class TeamRow:
    team: Team
    members: list[User]
    services: list[Ref]


def teams(session: Session) -> list[TeamRow]:
    all_teams = list(session.scalars(select(Team).order_by(Team.name)))
    ids = [t.id for t in all_teams]
    members: dict[int, list[User]] = defaultdict(list)
    owned: dict[int, list[Ref]] = defaultdict(list)
    if ids:
        from warroom.catalog.models import team_members

        for tid, user in session.execute(
            select(team_members.c.team_id, User)
            .join(User, User.id == team_members.c.user_id)
            .where(team_members.c.team_id.in_(ids))
            .order_by(User.name)
        ):
            members[tid].append(user)
        for sid, name, tid in session.execute(
            select(Service.id, Service.name, Service.team_id)
            .where(Service.team_id.in_(ids))
            .order_by(Service.name)
        ):
            if tid is not None:
                owned[tid].append(Ref(sid, name))
    return [TeamRow(t, members[t.id], owned[t.id]) for t in all_teams]


def users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.active.desc(), User.username)))


# --- live version stamps (what the event stream compares) ---------------------------------------


def incident_version(session: Session, incident_id: int) -> tuple[object, ...] | None:
    """Changes whenever anything shown in the war room changes; None if the incident is gone.

    The event count is there because on PostgreSQL a transaction can commit a smaller id after a
    larger one is visible: the maximum alone would miss it.
    """
    row = session.execute(
        select(Incident.updated_at, Incident.status, Incident.alert_count).where(
            Incident.id == incident_id
        )
    ).first()
    if row is None:
        return None
    last, count = session.execute(
        select(func.max(TimelineEvent.id), func.count()).where(
            TimelineEvent.incident_id == incident_id
        )
    ).one()
    return (*row, last, count)


def dashboard_version(session: Session) -> tuple[object, ...]:
    """Changes when an incident is created or anything is recorded on any timeline."""
    last_event = session.scalar(select(func.max(TimelineEvent.id)))
    last_incident = session.scalar(select(func.max(Incident.id)))
    open_state = session.execute(
        select(func.count(), func.max(Incident.updated_at)).where(
            Incident.status.in_(OPEN_STATUSES)
        )
    ).one()
    return (last_event, last_incident, *open_state)


def version_tag(version: object) -> str:
    """A short opaque tag of a version stamp, to put in a page and compare with the stream's."""
    return hashlib.sha256(repr(version).encode()).hexdigest()[:16]


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
        )
        .outerjoin(User, User.id == Notification.user_id)
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


def team_refs(session: Session) -> list[Ref]:
    return [
        Ref(tid, name)
        for tid, name in session.execute(select(Team.id, Team.name).order_by(Team.name))
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


# --- "I am on call" ------------------------------------------------------------------------------


def on_call_policy_ids(session: Session, user_id: int, now: datetime) -> frozenset[int]:
    """Escalation policies with a step that would page this user now: one naming them, a team
    of theirs, or a schedule they are on call on (overrides included).

    Asked of the on-call service's resolve_steps, so it answers exactly as paging would.
    """
    from warroom.oncall.models import EscalationStep, EscalationTarget
    from warroom.oncall.policies import resolve_steps

    steps = session.execute(
        select(EscalationStep.id, EscalationStep.policy_id).order_by(EscalationStep.id)
    ).all()
    if not steps:
        return frozenset()
    targets: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for step_id, kind, ident in session.execute(
        select(EscalationTarget.step_id, EscalationTarget.target_type, EscalationTarget.target_id)
    ):
        targets[step_id].append((kind, ident))
    resolved = resolve_steps(session, [targets[step_id] for step_id, _ in steps], now)
    return frozenset(
        policy_id for (_, policy_id), users in zip(steps, resolved, strict=True) if user_id in users
    )


def _paged_through(policy_ids: list[int]) -> ColumnElement[bool]:
    """Incidents paging through one of these policies, or affecting a service that does."""
    return Incident.escalation_policy_id.in_(policy_ids) | Incident.id.in_(
        select(incident_services.c.incident_id)
        .join(Service, Service.id == incident_services.c.service_id)
        .where(Service.escalation_policy_id.in_(policy_ids))
    )
