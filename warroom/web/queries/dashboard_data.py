"""What the dashboard reads: open incidents filtered and bounded, their SLA clocks, services
and commanders in batched queries, and the "I am on call" filter asked as paging would."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from warroom.catalog.models import Service, User
from warroom.incidents import oversight_store
from warroom.incidents.comms import next_update_due, overdue
from warroom.incidents.models import (
    OPEN_STATUSES,
    Incident,
    IncidentRole,
    incident_services,
)
from warroom.incidents.oversight import CLOCK_LABELS, DEFAULT_STALE_MINUTES, is_stale
from warroom.incidents.sla import Clock, clocks
from warroom.incidents.updates import last_updates
from warroom.web.queries.refs import Ref

DASHBOARD_LIMIT = 200


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
    oversight: Oversight
    update_due: datetime | None = None  # when the next status update is owed
    update_overdue: bool = False


@dataclass
class Dashboard:
    rows: list[IncidentRow]
    counts: dict[int, int]  # priority -> incidents matching every filter but priority
    total: int  # rows matching every filter (more than len(rows) when capped)


def incident_clocks(incident: Incident, now: datetime) -> list[Clock]:
    """Both SLA clocks at the current priority, from the incident's start (incidents/sla.py)."""
    return clocks(
        incident.priority,
        incident.triggered_at,
        incident.acknowledged_at,
        incident.resolved_at,
        now,
    )


@dataclass(frozen=True)
class Oversight:
    """What oversight flags on an incident: SLA clocks past budget, and idle time if stale."""

    breached: list[str]  # "response", "resolution"
    stale_for: timedelta | None


def oversight_flags(
    session: Session,
    incidents: Sequence[Incident],
    now: datetime,
    stale_defaults: Mapping[int, int],
    incident_clocks_of: Mapping[int, list[Clock]],
) -> dict[int, Oversight]:
    """Breach and stale flags of each incident: stale by its team's rules (a few queries)."""
    if not incidents:
        return {}
    config = oversight_store.load_config(session, stale_defaults)
    activity = oversight_store.last_activity(session, [i.id for i in incidents])
    service_ids = {i.service_id for i in incidents if i.service_id is not None}
    teams: dict[int, int | None] = {}
    if service_ids:
        query = select(Service.id, Service.team_id).where(Service.id.in_(service_ids))
        teams = {sid: tid for sid, tid in session.execute(query)}
    flags = {}
    for i in incidents:
        breached = [CLOCK_LABELS[c.kind] for c in incident_clocks_of.get(i.id, []) if c.breached]
        stale_for = is_stale(
            i.status,
            i.priority,
            i.triggered_at,
            activity.get(i.id),
            now,
            config.rules(teams.get(i.service_id) if i.service_id else None),
        )
        flags[i.id] = Oversight(breached, stale_for)
    return flags


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
    session: Session,
    f: DashboardFilter,
    user_id: int,
    now: datetime,
    limit: int = DASHBOARD_LIMIT,
    cadence: Mapping[int, timedelta] | None = None,
    stale_defaults: Mapping[int, int] = DEFAULT_STALE_MINUTES,
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
    clocks_of = {i.id: incident_clocks(i, now) for i in incidents}
    flags = oversight_flags(session, incidents, now, stale_defaults, clocks_of)
    mine: set[int] = set()
    if ids:
        mine = set(
            session.scalars(
                select(IncidentRole.incident_id).where(
                    IncidentRole.incident_id.in_(ids), IncidentRole.user_id == user_id
                )
            )
        )
    last = last_updates(session, ids)
    rows = []
    for i in incidents:
        due = next_update_due(i.priority, cadence or {}, i.triggered_at, last.get(i.id))
        rows.append(
            IncidentRow(
                i,
                services[i.id],
                commanders.get(i.id),
                clocks_of[i.id],
                i.id in mine,
                flags[i.id],
                due if i.status in OPEN_STATUSES else None,
                overdue(due, now, i.status in OPEN_STATUSES),
            )
        )
    return Dashboard(rows, counts, total)


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
