"""REST routes of the catalog: teams, users, API tokens, services and integrations."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Annotated

from fastapi import BackgroundTasks, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from warroom.alerts import actions as alert_actions
from warroom.api.deps import Admin, ReadDB, Reader, Responder, ServiceManager, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.pagination import page
from warroom.api.params import Cursor, Limit, PathId, QueryId
from warroom.api.schemas import (
    IntegrationIn,
    IntegrationOut,
    IntegrationPatch,
    MappedEventOut,
    MappingIn,
    MappingOut,
    MappingTryIn,
    MappingTryOut,
    NewToken,
    Page,
    ServiceIn,
    ServiceOut,
    ServicePatch,
    TeamIn,
    TeamOut,
    TeamPatch,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserPatch,
)
from warroom.catalog import service as catalog
from warroom.catalog.models import ApiToken, Integration, Service, Team, User, service_dependencies
from warroom.db.base import utcnow
from warroom.errors import ApiError, responses
from warroom.intake import mapping as mappings
from warroom.monitors import archive
from warroom.statuspage import service as statuspage

router = ApiRouter(prefix="/api/v1")


def _team_out(team: Team) -> TeamOut:
    return TeamOut(
        id=team.id,
        name=team.name,
        description=team.description,
        member_ids=[m.id for m in team.members],
        created_at=team.created_at,
    )


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        name=user.name,
        email=user.email,
        time_zone=user.time_zone,
        role=user.role,
        active=user.active,
        team_ids=[t.id for t in user.teams],
    )


def _get(session: Session, model: type, ident: int, what: str):  # type: ignore[no-untyped-def]
    obj = session.get(model, ident)
    if obj is None:
        raise ApiError(404, f"{what} {ident} does not exist")
    return obj


def _conflict(exc: IntegrityError, what: str) -> ApiError:
    return ApiError(409, f"{what} conflicts with an existing one (names are unique)")


# --- teams -----------------------------------------------------------------------------------


@router.get("/teams", response_model=Page[TeamOut], tags=["teams"])
def list_teams(
    _: Reader, session: ReadDB, limit: Limit = 50, cursor: Cursor = None
) -> Page[TeamOut]:
    rows, nxt = page(session, select(Team), Team.id, limit, cursor)
    return Page(items=[_team_out(t) for t in rows], next_cursor=nxt)


@router.post(
    "/teams", response_model=TeamOut, status_code=201, tags=["teams"], responses=responses(409)
)
def create_team(body: TeamIn, _: Admin, session: WriteDB) -> TeamOut:
    team = Team(name=body.name, description=body.description)
    team.members = catalog.users_by_id(session, body.member_ids)
    session.add(team)
    try:
        session.flush()
    except IntegrityError as exc:
        raise _conflict(exc, "team") from None
    return _team_out(team)


@router.get("/teams/{team_id}", response_model=TeamOut, tags=["teams"])
def get_team(team_id: PathId, _: Reader, session: ReadDB) -> TeamOut:
    return _team_out(_get(session, Team, team_id, "team"))


@router.patch("/teams/{team_id}", response_model=TeamOut, tags=["teams"], responses=responses(409))
def update_team(team_id: PathId, body: TeamPatch, _: Admin, session: WriteDB) -> TeamOut:
    team = _get(session, Team, team_id, "team")
    # No autoflush: a clashing name must reach the flush below (409), not a member lookup (500).
    with session.no_autoflush:
        if body.name is not None:
            team.name = body.name
        if body.description is not None:
            team.description = body.description
        if body.member_ids is not None:
            team.members = catalog.users_by_id(session, body.member_ids)
    try:
        session.flush()
    except IntegrityError as exc:
        raise _conflict(exc, "team") from None
    return _team_out(team)


# --- users and tokens ------------------------------------------------------------------------


@router.get("/users", response_model=Page[UserOut], tags=["users"])
def list_users(
    _: Reader, session: ReadDB, limit: Limit = 50, cursor: Cursor = None
) -> Page[UserOut]:
    rows, nxt = page(session, select(User), User.id, limit, cursor)
    return Page(items=[_user_out(u) for u in rows], next_cursor=nxt)


@router.get("/users/me", response_model=UserOut, tags=["users"])
def me(principal: Reader, session: ReadDB) -> UserOut:
    return _user_out(_get(session, User, principal.id, "user"))


@router.patch("/users/me", response_model=UserOut, tags=["users"], responses=responses(403))
def update_me(body: UserPatch, principal: Reader, session: WriteDB) -> UserOut:
    """Change your own name, email or time zone (admins: any field, as on /users/{id})."""
    return update_user(principal.id, body, principal, session)


@router.post(
    "/users", response_model=UserOut, status_code=201, tags=["users"], responses=responses(409)
)
def create_user(body: UserIn, _: Admin, session: WriteDB) -> UserOut:
    try:
        user = catalog.create_user(session, **body.model_dump())
    except IntegrityError as exc:
        raise _conflict(exc, "user") from None
    return _user_out(user)


@router.get("/users/{user_id}", response_model=UserOut, tags=["users"])
def get_user(user_id: PathId, _: Reader, session: ReadDB) -> UserOut:
    return _user_out(_get(session, User, user_id, "user"))


@router.patch("/users/{user_id}", response_model=UserOut, tags=["users"], responses=responses(403))
def update_user(user_id: PathId, body: UserPatch, principal: Reader, session: WriteDB) -> UserOut:
    changes = body.model_dump(exclude_unset=True)
    return _user_out(catalog.update_user(session, user_id, changes, principal.id, principal.role))


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
def list_tokens(principal: Reader, session: ReadDB) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == principal.id).order_by(ApiToken.id)
        )
    )


@router.post("/tokens", response_model=NewToken, status_code=201, tags=["tokens"])
def create_token(body: TokenIn, principal: Reader, session: WriteDB) -> NewToken:
    token, row = catalog.create_token(session, principal.id, body.name)
    return NewToken(token=token, **TokenOut.model_validate(row).model_dump())


@router.delete("/tokens/{token_id}", status_code=204, tags=["tokens"])
def revoke_token(token_id: PathId, principal: Reader, session: WriteDB) -> Response:
    catalog.revoke_token(session, token_id, principal.id, principal.role, utcnow())
    return Response(status_code=204)


# --- services --------------------------------------------------------------------------------


def _service_outs(session: Session, services: list[Service]) -> list[ServiceOut]:
    ids = [s.id for s in services]
    deps: dict[int, list[int]] = defaultdict(list)
    dependants: dict[int, list[int]] = defaultdict(list)
    if ids:
        rows = session.execute(
            select(service_dependencies.c.service_id, service_dependencies.c.depends_on_id).where(
                service_dependencies.c.service_id.in_(ids)
                | service_dependencies.c.depends_on_id.in_(ids)
            )
        )
        for sid, dep in rows:
            deps[sid].append(dep)
            dependants[dep].append(sid)
    return [
        ServiceOut(
            id=s.id,
            name=s.name,
            description=s.description,
            team_id=s.team_id,
            tier=s.tier,
            grouping_window_seconds=s.grouping_window_seconds,
            auto_resolve=s.auto_resolve,
            flap_threshold=s.flap_threshold,
            flap_window_minutes=s.flap_window_minutes,
            depends_on_ids=sorted(deps[s.id]),
            dependant_ids=sorted(dependants[s.id]),
            created_at=s.created_at,
            archived_at=s.archived_at,
        )
        for s in services
    ]


@router.get("/services", response_model=Page[ServiceOut], tags=["services"])
def list_services(
    _: Reader,
    session: ReadDB,
    limit: Limit = 50,
    cursor: Cursor = None,
    team_id: QueryId = None,
    archived: Annotated[
        bool | None,
        Query(description="true: only archived services; false: only those in use; all if unset"),
    ] = None,
) -> Page[ServiceOut]:
    query = select(Service)
    if team_id is not None:
        query = query.where(Service.team_id == team_id)
    if archived is not None:
        query = query.where(
            Service.archived_at.is_not(None) if archived else Service.archived_at.is_(None)
        )
    rows, nxt = page(session, query, Service.id, limit, cursor)
    return Page(items=_service_outs(session, rows), next_cursor=nxt)


@router.post(
    "/services",
    response_model=ServiceOut,
    status_code=201,
    tags=["services"],
    responses=responses(409),
)
def create_service(body: ServiceIn, _: Admin, session: WriteDB) -> ServiceOut:
    try:
        svc = catalog.create_service(session, **body.model_dump())
    except IntegrityError as exc:
        raise _conflict(exc, "service") from None
    return _service_outs(session, [svc])[0]


@router.get("/services/{service_id}", response_model=ServiceOut, tags=["services"])
def get_service(service_id: PathId, _: Reader, session: ReadDB) -> ServiceOut:
    return _service_outs(session, [_get(session, Service, service_id, "service")])[0]


@router.patch(
    "/services/{service_id}",
    response_model=ServiceOut,
    tags=["services"],
    responses=responses(409),
)
def update_service(
    service_id: PathId, body: ServicePatch, principal: ServiceManager, session: WriteDB
) -> ServiceOut:
    """Admins change anything; a responder of the owning team all but the owner team."""
    changes = body.model_dump(exclude_unset=True)
    svc = catalog.get_service(session, service_id)
    catalog.check_service_manager(session, svc, principal.id, principal.role, changes)
    svc = catalog.update_service(session, service_id, changes)
    return _service_outs(session, [svc])[0]


@router.post(
    "/services/{service_id}/archive",
    response_model=ServiceOut,
    tags=["services"],
    responses=responses(404, 409),
)
def archive_service(request: Request, service_id: PathId, _: Admin, session: WriteDB) -> ServiceOut:
    """Admins only (ADR 10). Refused (409, the incidents named) while incidents on the service
    are open. Its integrations then refuse events with 409, its heartbeats, checks and log
    rules stop, pickers leave it out; its incidents, reviews and metrics stay."""
    svc = archive.archive_service(
        session, service_id, utcnow(), request.app.state.settings.priority_matrix
    )
    statuspage.touch(session)  # its components take no more problem reports
    return _service_outs(session, [svc])[0]


@router.post(
    "/services/{service_id}/unarchive",
    response_model=ServiceOut,
    tags=["services"],
    responses=responses(404, 409),
)
def unarchive_service(service_id: PathId, _: Admin, session: WriteDB) -> ServiceOut:
    """Its integrations accept events again, checks run at once, heartbeats from their next
    ping."""
    svc = archive.unarchive_service(session, service_id, utcnow())
    statuspage.touch(session)
    return _service_outs(session, [svc])[0]


# --- integrations ----------------------------------------------------------------------------


def _mail_domain(base_url: str) -> str:
    return base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]


def _integration_out(request: Request, integ: Integration, admin: bool) -> IntegrationOut:
    base = request.app.state.settings.base_url.rstrip("/")
    url = (
        f"{base}/v2/enqueue"
        if integ.type == "pagerduty"
        # Warroom's own monitors: no sender; their heartbeats and checks are on the service.
        else f"{base}/services/{integ.service_id}"
        if integ.type == "monitor"
        # Inbound email: the routing key is the recipient's local part.
        else f"mailto:{integ.routing_key if admin else '<routing key>'}@{_mail_domain(base)}"
        if integ.type == "email"
        else (
            f"{base}/integrations/{integ.type}/" + (integ.routing_key if admin else "<routing key>")
        )
    )
    return IntegrationOut(
        id=integ.id,
        service_id=integ.service_id,
        type=integ.type,
        name=integ.name,
        routing_key=integ.routing_key if admin else None,
        url=url,
        created_at=integ.created_at,
        rotated_at=integ.rotated_at,
        mapping=None if integ.mapping is None else MappingOut(**integ.mapping),
    )


def mapping_spec(body: MappingIn | None) -> mappings.MappingSpec | None:
    return None if body is None else mappings.MappingSpec.of(body.model_dump())


def forget_mapping(
    request: Request, routing_key: str, after_commit: BackgroundTasks | None = None
) -> None:
    """This process's intake applies a changed mapping from its next request. With
    `after_commit` also once more after the reply's commit: an event read between this call
    and the commit would otherwise keep the old mapping for the cache's few seconds."""
    cache = request.app.state.mappings
    cache.forget(routing_key)
    if after_commit is not None:
        after_commit.add_task(cache.forget, routing_key)


@router.get("/integrations", response_model=list[IntegrationOut], tags=["integrations"])
def list_integrations(
    request: Request, principal: Reader, session: ReadDB, service_id: QueryId = None
) -> list[IntegrationOut]:
    query = select(Integration).order_by(Integration.id)
    if service_id is not None:
        query = query.where(Integration.service_id == service_id)
    rows = list(session.scalars(query))
    shown = catalog.key_holders(session, {i.service_id for i in rows}, principal.id, principal.role)
    return [_integration_out(request, i, i.service_id in shown) for i in rows]


@router.post(
    "/integrations",
    response_model=IntegrationOut,
    status_code=201,
    tags=["integrations"],
    responses=responses(404),
)
def create_integration(
    request: Request, body: IntegrationIn, principal: Responder, session: WriteDB
) -> IntegrationOut:
    """A generic integration may carry a mapping: checked (and tried on its sample) first;
    one that fails is refused (422, naming the field) and nothing is created."""
    svc = catalog.get_service(session, body.service_id)
    catalog.check_service_manager(session, svc, principal.id, principal.role)
    integ = catalog.create_integration(session, body.service_id, body.type, body.name)
    mappings.set_mapping(session, integ, mapping_spec(body.mapping))
    return _integration_out(request, integ, True)


@router.get("/integrations/{integration_id}", response_model=IntegrationOut, tags=["integrations"])
def get_integration(
    request: Request, integration_id: PathId, principal: Reader, session: ReadDB
) -> IntegrationOut:
    integ = _get(session, Integration, integration_id, "integration")
    shown = catalog.key_holders(session, {integ.service_id}, principal.id, principal.role)
    return _integration_out(request, integ, integ.service_id in shown)


@router.patch(
    "/integrations/{integration_id}",
    response_model=IntegrationOut,
    tags=["integrations"],
    responses=responses(404),
)
def update_integration(
    request: Request,
    integration_id: PathId,
    body: IntegrationPatch,
    _: ServiceManager,
    session: WriteDB,
    after_commit: BackgroundTasks,
) -> IntegrationOut:
    """Rename, or set the mapping (null removes it). A mapping that does not compile or fails
    on its sample payload is refused (422, naming the field); the old one stays."""
    integ = _get(session, Integration, integration_id, "integration")
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes:
        integ.name = body.name or integ.type
    if "mapping" in changes:
        mappings.set_mapping(session, integ, mapping_spec(body.mapping))
        forget_mapping(request, integ.routing_key, after_commit)
    return _integration_out(request, integ, True)


@router.post(
    "/integrations/{integration_id}/mapping/try",
    response_model=MappingTryOut,
    tags=["integrations"],
    responses=responses(404),
)
def try_integration_mapping(
    integration_id: PathId, body: MappingTryIn, _: ServiceManager, session: ReadDB
) -> MappingTryOut:
    """What a payload becomes with the integration's mapping (or the one sent along, to try
    it before saving): summary, severity, dedup key, action, labels, or the errors and the
    fallback intake would store. Nothing is stored."""
    integ = _get(session, Integration, integration_id, "integration")
    return MappingTryOut(events=try_on(integ, mapping_spec(body.mapping), body.payload))


def try_on(
    integ: Integration, spec: mappings.MappingSpec | None, payload: object
) -> list[MappedEventOut]:
    """The try-it answer, shared with the integration's settings page."""
    if integ.type not in mappings.MAPPABLE_TYPES:
        raise ApiError(
            422,
            f"a {integ.type} integration takes no mapping: only generic JSON integrations do",
            [{"field": "mapping", "message": "only for generic integrations"}],
        )
    if spec is None:
        if integ.mapping is None:
            raise ApiError(
                422,
                f"integration {integ.id} has no mapping: send one in 'mapping' to try it",
                [{"field": "mapping", "message": "required: the integration has none saved"}],
            )
        spec = mappings.MappingSpec.of(integ.mapping)
    built = mappings.validate(replace(spec, sample=None))
    return [
        MappedEventOut(
            action=e.action,  # type: ignore[arg-type]
            summary=e.summary,
            severity=e.severity,
            dedup_key=e.dedup_key,
            source=e.source,
            labels=e.labels,
            unmapped=e.unmapped,
            errors=e.errors,
        )
        for e in mappings.try_mapping(built, payload)
    ]


@router.post(
    "/integrations/{integration_id}/rotate", response_model=IntegrationOut, tags=["integrations"]
)
def rotate_integration_key(
    request: Request, integration_id: PathId, _: ServiceManager, session: WriteDB
) -> IntegrationOut:
    integ = _get(session, Integration, integration_id, "integration")
    catalog.rotate_key(integ, utcnow())
    return _integration_out(request, integ, True)


@router.delete(
    "/integrations/{integration_id}",
    status_code=204,
    tags=["integrations"],
    responses=responses(409),
)
def delete_integration(integration_id: PathId, _: ServiceManager, session: WriteDB) -> Response:
    alert_actions.delete_integration(session, integration_id)
    return Response(status_code=204)
