"""Load-decide-store for the catalog: users, tokens, services, dependencies, integrations."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from warroom.catalog.models import (
    ApiToken,
    Integration,
    Service,
    Team,
    User,
    service_dependencies,
)
from warroom.errors import ApiError
from warroom.security import hash_password, new_api_token, new_routing_key, token_digest


def users_by_id(session: Session, ids: list[int]) -> list[User]:
    users = list(session.scalars(select(User).where(User.id.in_(ids)))) if ids else []
    missing = sorted(set(ids) - {u.id for u in users})
    if missing:
        raise ApiError(422, f"unknown user id(s): {', '.join(map(str, missing))}")
    return users


def create_user(
    session: Session,
    *,
    username: str,
    name: str = "",
    email: str = "",
    time_zone: str = "UTC",
    role: str = "responder",
    password: str | None = None,
) -> User:
    user = User(
        username=username,
        name=name or username,
        email=email,
        time_zone=time_zone,
        role=role,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    return user


def create_token(session: Session, user_id: int, name: str) -> tuple[str, ApiToken]:
    token = new_api_token()
    row = ApiToken(user_id=user_id, name=name, token_hash=token_digest(token), prefix=token[:8])
    session.add(row)
    session.flush()
    return token, row


def create_service(
    session: Session,
    *,
    name: str,
    description: str = "",
    team_id: int | None = None,
    tier: int = 2,
    grouping_window_seconds: int = 3600,
    auto_resolve: bool = True,
    depends_on_ids: list[int] | None = None,
) -> Service:
    if team_id is not None and session.get(Team, team_id) is None:
        raise ApiError(422, f"team {team_id} does not exist")
    svc = Service(
        name=name,
        description=description,
        team_id=team_id,
        tier=tier,
        grouping_window_seconds=grouping_window_seconds,
        auto_resolve=auto_resolve,
    )
    session.add(svc)
    session.flush()
    if depends_on_ids:
        set_dependencies(session, svc, depends_on_ids)
    return svc


def set_dependencies(session: Session, svc: Service, depends_on_ids: list[int]) -> None:
    wanted = list(dict.fromkeys(depends_on_ids))
    if svc.id in wanted:
        raise ApiError(422, "a service cannot depend on itself")
    known = (
        set(session.scalars(select(Service.id).where(Service.id.in_(wanted)))) if wanted else set()
    )
    missing = sorted(set(wanted) - known)
    if missing:
        raise ApiError(422, f"unknown service id(s): {', '.join(map(str, missing))}")
    edges: dict[int, set[int]] = defaultdict(set)
    for sid, dep in session.execute(select(service_dependencies)):
        if sid != svc.id:
            edges[sid].add(dep)
    edges[svc.id] = set(wanted)
    cycle = _find_path(edges, wanted, svc.id)
    if cycle:
        raise ApiError(422, "dependency cycle: " + " → ".join(map(str, [svc.id, *cycle])))
    session.execute(delete(service_dependencies).where(service_dependencies.c.service_id == svc.id))
    if wanted:
        session.execute(
            insert(service_dependencies),
            [{"service_id": svc.id, "depends_on_id": d} for d in wanted],
        )


def _find_path(edges: dict[int, set[int]], starts: list[int], target: int) -> list[int] | None:
    """A path from any start to target through the dependency edges, if one exists."""
    stack = [(s, [s]) for s in starts]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if node == target:
            return path
        if node in seen:
            continue
        seen.add(node)
        stack.extend((nxt, [*path, nxt]) for nxt in edges.get(node, ()))
    return None


def create_integration(session: Session, service_id: int, type_: str, name: str) -> Integration:
    integ = Integration(
        service_id=service_id, type=type_, name=name or type_, routing_key=new_routing_key()
    )
    session.add(integ)
    session.flush()
    return integ


def rotate_key(integ: Integration, now: datetime) -> None:
    """The old key stops working at once; the sender must be given the new one."""
    integ.routing_key = new_routing_key()
    integ.rotated_at = now


MONITOR_INTEGRATION = "monitor"


def monitor_integration(session: Session, service_id: int) -> Integration:
    """The service's integration for Warroom's own monitors, made on first use."""
    if session.get(Service, service_id) is None:
        raise ApiError(422, f"service {service_id} does not exist")
    found = session.scalars(
        select(Integration)
        .where(Integration.service_id == service_id, Integration.type == MONITOR_INTEGRATION)
        .order_by(Integration.id)
        .limit(1)
    ).first()
    if found is not None:
        return found
    return create_integration(session, service_id, MONITOR_INTEGRATION, "Warroom monitors")


def routing_keys(session: Session, integration_ids: list[int]) -> dict[int, str]:
    if not integration_ids:
        return {}
    rows = session.execute(
        select(Integration.id, Integration.routing_key).where(Integration.id.in_(integration_ids))
    )
    return {row.id: row.routing_key for row in rows}
