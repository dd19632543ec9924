"""What the catalog pages read: services with open-incident counts, one service, teams, users."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from warroom.catalog.models import Integration, Service, Team, User
from warroom.errors import ApiError
from warroom.incidents.models import (
    OPEN_STATUSES,
    Incident,
    incident_services,
)
from warroom.web.queries.dashboard_data import DASHBOARD_LIMIT
from warroom.web.queries.refs import Ref
from warroom.web.queries.war_room_data import AffectedService, add_dependencies

# --- catalog ---------------------------------------------------------------------------------


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
        add_dependencies(session, found)
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


PAGE_SIZE = 50  # services on one page of /services


@dataclass(frozen=True)
class ServiceFilter:
    """What /services shows: a name search, whether archived services are listed too, a page."""

    q: str = ""
    archived: bool = False
    page: int = 1


@dataclass(frozen=True)
class ServiceLine:
    """The columns of a service the list shows (plain values: no ORM object per row)."""

    id: int
    name: str
    description: str
    tier: int
    archived_at: datetime | None


@dataclass
class ServiceListRow:
    service: ServiceLine
    team: Ref | None
    depends_on: list[Ref]
    dependants: list[Ref]
    open_incidents: int


@dataclass
class ServiceList:
    rows: list[ServiceListRow]
    total: int
    pages: int
    filter: ServiceFilter


def _mark_archived(session: Session, found: dict[int, AffectedService]) -> None:
    """Names an archived dependency or dependant as such (a link made before the archive)."""
    linked = {r.id for a in found.values() for r in (*a.depends_on, *a.dependants)}
    if not linked:
        return
    archived = set(
        session.scalars(
            select(Service.id).where(Service.id.in_(linked), Service.archived_at.is_not(None))
        )
    )
    if not archived:
        return
    for a in found.values():
        for refs_ in (a.depends_on, a.dependants):
            refs_[:] = [Ref(r.id, f"{r.name} (archived)") if r.id in archived else r for r in refs_]


def service_list(session: Session, f: ServiceFilter) -> ServiceList:
    """One page of services by tier and name. Paged: at 1,000 services the whole list (an ORM
    object per service, IN lists of every id for dependencies and open counts, 300 KB of
    HTML) took 80-200 ms; a page reads 50 rows and their links."""
    where: list[ColumnElement[bool]] = []
    if not f.archived:
        where.append(Service.archived_at.is_(None))
    if f.q:
        where.append(Service.name.contains(f.q, autoescape=True))
    total = session.scalar(select(func.count()).select_from(Service).where(*where)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(f.page, pages)
    rows = session.execute(
        select(
            Service.id,
            Service.name,
            Service.description,
            Service.tier,
            Service.archived_at,
            Team.id,
            Team.name,
        )
        .outerjoin(Team, Team.id == Service.team_id)
        .where(*where)
        .order_by(Service.tier, Service.name, Service.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    found = {
        r[0]: AffectedService(Ref(r[0], r[1]), r[3], Ref(r[5], r[6]) if r[5] is not None else None)
        for r in rows
    }
    if found:
        add_dependencies(session, found)
        _mark_archived(session, found)
    counts = _open_counts(session, found)
    return ServiceList(
        [
            ServiceListRow(
                ServiceLine(r[0], r[1], r[2], r[3], r[4]),
                found[r[0]].team,
                found[r[0]].depends_on,
                found[r[0]].dependants,
                counts.get(r[0], 0),
            )
            for r in rows
        ],
        total,
        pages,
        ServiceFilter(f.q, f.archived, page),
    )


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
