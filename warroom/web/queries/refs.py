"""Names and ids the pages share: people, services and teams as (id, name) references."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog.models import Service, Team, User


@dataclass(frozen=True)
class Ref:
    """A thing named on a page: its id and name."""

    id: int
    name: str


def people(session: Session) -> list[Ref]:
    rows = session.execute(
        select(User.id, User.name, User.username)
        .where(User.active.is_(True), User.role != "stakeholder")
        .order_by(User.name, User.username)
    ).all()
    return [Ref(uid, name or username) for uid, name, username in rows]


def user_ref(session: Session, user_id: int | None) -> Ref | None:
    if user_id is None:
        return None
    row = session.execute(select(User.name, User.username).where(User.id == user_id)).first()
    return Ref(user_id, row[0] or row[1]) if row else None


def service_refs(session: Session, *, archived: bool = False) -> list[Ref]:
    """Services to choose from: those in use, and with `archived` the archived ones too (for
    filters over history: alerts, metrics), each then marked in its name."""
    query = select(Service.id, Service.name, Service.archived_at).order_by(Service.name)
    if not archived:
        query = query.where(Service.archived_at.is_(None))
    return [
        Ref(sid, name if when is None else f"{name} (archived)")
        for sid, name, when in session.execute(query)
    ]


def team_refs(session: Session) -> list[Ref]:
    return [
        Ref(tid, name)
        for tid, name in session.execute(select(Team.id, Team.name).order_by(Team.name))
    ]
