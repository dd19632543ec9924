"""Load-decide-store for the catalog: users, tokens, services, dependencies, integrations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from warroom.catalog.models import (
    ApiToken,
    Integration,
    Service,
    Team,
    User,
    service_dependencies,
    team_members,
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
    flap_threshold: int | None = None,
    flap_window_minutes: int | None = None,
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
        flap_threshold=flap_threshold,
        flap_window_minutes=flap_window_minutes,
    )
    session.add(svc)
    flush_unique(session, "service")
    if depends_on_ids:
        set_dependencies(session, svc, depends_on_ids)
    return svc


def refuse_archived(
    session: Session, service_ids: Iterable[int], field: str, keep: Iterable[int] = ()
) -> None:
    """422 naming the archived services among these (but those in `keep`: a link that existed
    before the archive may stay, a new one may not be made)."""
    wanted = set(service_ids) - set(keep)
    if not wanted:
        return
    names = list(
        session.scalars(
            select(Service.name)
            .where(Service.id.in_(wanted), Service.archived_at.is_not(None))
            .order_by(Service.name)
        )
    )
    if names:
        listed = ", ".join(repr(n) for n in names)
        raise ApiError(
            422,
            f"archived service(s) {listed} cannot be chosen: unarchive first",
            [{"field": field, "message": f"archived: {listed}"}],
        )


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
    current = session.scalars(
        select(service_dependencies.c.depends_on_id).where(
            service_dependencies.c.service_id == svc.id
        )
    )
    refuse_archived(session, wanted, "depends_on_ids", keep=current)
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


# --- changes people make (the REST API and the web forms call these) ---------------------------

# A responder of a service's owning team may change these on their own service (ADR 10);
# the owner team itself, creating and archiving services stay with admins (archiving takes the
# service out of other teams' pickers and dependencies and stops all of its paging).
TEAM_EDITABLE = frozenset(
    {
        "name",
        "description",
        "tier",
        "grouping_window_seconds",
        "auto_resolve",
        "depends_on_ids",
        "flap_threshold",
        "flap_window_minutes",
    }
)
# PATCH fields where null means "none" or "the default".
NULLABLE = frozenset({"team_id", "flap_threshold", "flap_window_minutes"})


def owning_team_member(session: Session, service: Service, user_id: int) -> bool:
    """Whether the person is a member of the team that owns the service."""
    if service.team_id is None:
        return False
    return (
        session.scalar(
            select(team_members.c.user_id).where(
                team_members.c.team_id == service.team_id, team_members.c.user_id == user_id
            )
        )
        is not None
    )


def check_service_manager(
    session: Session, service: Service, user_id: int, role: str, fields: Iterable[str] = ()
) -> None:
    """Refuses (403) unless the person may change this service's setup: an admin, or a
    responder of its owning team for the fields in TEAM_EDITABLE, its integrations and its
    escalation policy."""
    if role == "admin":
        return
    if role == "responder" and owning_team_member(session, service, user_id):
        beyond = sorted(set(fields) - TEAM_EDITABLE)
        if beyond:
            raise ApiError(403, f"only admins may change a service's {', '.join(beyond)}")
        return
    raise ApiError(
        403,
        "this needs the admin role, or the responder role in the team that owns "
        f"service {service.name!r}",
    )


def key_holders(session: Session, service_ids: set[int], user_id: int, role: str) -> set[int]:
    """Of these services, those whose routing keys the person may see: all for admins, their
    own team's for responders (they set up the senders), none for stakeholders."""
    if role == "admin":
        return set(service_ids)
    if role != "responder" or not service_ids:
        return set()
    return set(
        session.scalars(
            select(Service.id)
            .join(team_members, team_members.c.team_id == Service.team_id)
            .where(Service.id.in_(service_ids), team_members.c.user_id == user_id)
        )
    )


def get_service(session: Session, service_id: int) -> Service:
    svc = session.get(Service, service_id)
    if svc is None:
        raise ApiError(404, f"service {service_id} does not exist")
    return svc


def update_service(session: Session, service_id: int, changes: dict[str, Any]) -> Service:
    """Applies a PATCH's fields (unset ones left out of `changes`); 409 on a taken name."""
    svc = get_service(session, service_id)
    changes = dict(changes)
    deps = changes.pop("depends_on_ids", None)
    # Checked before any change: a pending unknown team_id would be autoflushed by the next
    # query and fail on the foreign key (500). 422 as when creating a service.
    if changes.get("team_id") is not None and session.get(Team, changes["team_id"]) is None:
        raise ApiError(
            422,
            f"team {changes['team_id']} does not exist",
            [{"field": "team_id", "message": "unknown team"}],
        )
    # No autoflush: a clashing name must reach the flush below (409), not the dependency
    # queries (500).
    with session.no_autoflush:
        for name, value in changes.items():
            if value is None and name not in NULLABLE:
                raise ApiError(422, f"'{name}' cannot be null")
            setattr(svc, name, value)
        if deps is not None:
            set_dependencies(session, svc, deps)
    flush_unique(session, "service")
    return svc


def flush_unique(session: Session, what: str) -> None:
    """Flushes; a unique name taken by another row is a 409."""
    try:
        session.flush()
    except IntegrityError:
        raise ApiError(
            409,
            f"{what} conflicts with an existing one (names are unique)",
            [{"field": "name", "message": "already taken"}],
        ) from None


PERSONAL_FIELDS = frozenset({"name", "email", "time_zone"})


def update_user(
    session: Session, user_id: int, changes: dict[str, Any], actor_id: int, actor_role: str
) -> User:
    """A person changes their own name, email and time zone; admins any field of anyone's
    (but never deactivate or demote themselves: someone must remain who can undo it)."""
    user = session.get(User, user_id)
    if user is None:
        raise ApiError(404, f"user {user_id} does not exist")
    if actor_role != "admin" and (user.id != actor_id or set(changes) - PERSONAL_FIELDS):
        raise ApiError(403, "you may change only your own name, email and time zone")
    for name, value in changes.items():
        if value is None:
            raise ApiError(422, f"'{name}' cannot be null")
    if user.id == actor_id and (
        changes.get("active") is False or changes.get("role", actor_role) != actor_role
    ):
        raise ApiError(409, "you cannot deactivate yourself or change your own role")
    for name, value in changes.items():
        setattr(user, name, value)
    return user


def revoke_token(
    session: Session, token_id: int, actor_id: int, actor_role: str, now: datetime
) -> ApiToken:
    """Someone else's token is not even shown to exist (404), except to admins."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != actor_id and actor_role != "admin"):
        raise ApiError(404, f"token {token_id} does not exist")
    row.revoked_at = row.revoked_at or now
    return row


MONITOR_INTEGRATION = "monitor"


def monitor_integration(session: Session, service_id: int) -> Integration:
    """The service's integration for Warroom's own monitors, made on first use."""
    svc = session.get(Service, service_id)
    if svc is None:
        raise ApiError(422, f"service {service_id} does not exist")
    if svc.archived_at is not None:
        raise ApiError(409, f"service {svc.name!r} is archived: unarchive it first")
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
