"""REST routes of incident communication: status updates (post, edit with history, list), the
update cadence, and stakeholder lists with their members."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import Request, Response
from pydantic import Field, field_validator
from sqlalchemy import select

from warroom.api.deps import Admin, Principal, ReadDB, Reader, Responder, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.params import PathId
from warroom.common.schemas import NONBLANK, Id, In, Instant, Out, Patch
from warroom.db.base import utcnow
from warroom.errors import ApiError, responses
from warroom.incidents import service as incidents
from warroom.incidents import updates
from warroom.incidents.comms import format_cadence
from warroom.incidents.models import StatusUpdateRevision
from warroom.notify import stakeholders

router = ApiRouter(prefix="/api/v1")

Stage = Literal["investigating", "identified", "monitoring", "resolved"]
Visibility = Literal["public", "internal"]
MESSAGE_MAX = 5000
IMPACT_MAX = 1000


def _actor(p: Principal) -> incidents.Actor:
    return incidents.Actor(p.id, p.name or p.username)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("give the time with its offset, e.g. 2026-11-27T10:00:00Z")
    return value


# --- status updates --------------------------------------------------------------------------


class StatusUpdateIn(In):
    visibility: Visibility = Field(description="public: on the status page and to stakeholders")
    stage: Stage = "investigating"
    message: str = Field(min_length=1, max_length=MESSAGE_MAX, pattern=NONBLANK)
    impact: str = Field("", max_length=IMPACT_MAX, description="Who is affected, in plain words")
    component_ids: list[Id] = Field(default_factory=list, max_length=100)
    estimated_resolution_at: Instant | None = None
    next_update_at: Instant | None = Field(
        None, description="When the next update will come (default: the priority's cadence)"
    )

    _aware = field_validator("estimated_resolution_at", "next_update_at")(_aware)


class StatusUpdatePatch(Patch):
    nullable = frozenset({"estimated_resolution_at", "next_update_at"})
    visibility: Visibility | None = Field(
        None, description="internal -> public publishes it; a public update stays public"
    )
    stage: Stage | None = None
    message: str | None = Field(None, min_length=1, max_length=MESSAGE_MAX, pattern=NONBLANK)
    impact: str | None = Field(None, max_length=IMPACT_MAX)
    component_ids: list[Id] | None = Field(None, max_length=100)
    estimated_resolution_at: Instant | None = None
    next_update_at: Instant | None = None

    _aware = field_validator("estimated_resolution_at", "next_update_at")(_aware)


class RevisionOut(Out):
    revision: int
    stage: str
    message: str
    impact: str
    estimated_resolution_at: datetime | None
    next_update_at: datetime | None
    replaced_at: datetime
    replaced_by_id: int | None


class StatusUpdateOut(Out):
    id: int
    incident_id: int
    visibility: str
    stage: str
    message: str
    impact: str
    component_ids: list[int]
    estimated_resolution_at: datetime | None
    next_update_at: datetime | None
    author_id: int | None
    author_name: str | None
    created_at: datetime
    edited_at: datetime | None
    revision: int
    revisions: list[RevisionOut] = Field(description="Earlier texts, newest first")


def _out(view: updates.UpdateView) -> StatusUpdateOut:
    u = view.update
    return StatusUpdateOut(
        id=u.id,
        incident_id=u.incident_id,
        visibility=u.visibility,
        stage=u.stage,
        message=u.message,
        impact=u.impact,
        component_ids=view.component_ids,
        estimated_resolution_at=u.estimated_resolution_at,
        next_update_at=u.next_update_at,
        author_id=u.author_id,
        author_name=view.author_name,
        created_at=u.created_at,
        edited_at=u.edited_at,
        revision=u.revision,
        revisions=[_revision(r) for r in view.revisions],
    )


def _revision(r: StatusUpdateRevision) -> RevisionOut:
    return RevisionOut.model_validate(r)


@router.get(
    "/incidents/{incident_id}/status-updates",
    response_model=list[StatusUpdateOut],
    tags=["status updates"],
)
def list_status_updates(
    incident_id: PathId, _: Reader, session: ReadDB, visibility: Visibility | None = None
) -> list[StatusUpdateOut]:
    """Newest first, each with its earlier texts."""
    incidents.get_incident(session, incident_id)
    return [_out(v) for v in updates.list_updates(session, incident_id, visibility)]


@router.post(
    "/incidents/{incident_id}/status-updates",
    response_model=StatusUpdateOut,
    status_code=201,
    tags=["status updates"],
    responses=responses(409),
)
def post_status_update(
    incident_id: PathId, body: StatusUpdateIn, principal: Responder, session: WriteDB
) -> StatusUpdateOut:
    """Post an update; a public one goes to the status page and the stakeholder lists."""
    row = updates.post_update(
        session,
        incident_id,
        _actor(principal),
        utcnow(),
        visibility=body.visibility,
        stage=body.stage,
        message=body.message,
        impact=body.impact,
        component_ids=body.component_ids,
        estimated_resolution_at=body.estimated_resolution_at,
        next_update_at=body.next_update_at,
    )
    session.flush()
    return _out(updates.get_update(session, incident_id, row.id))


@router.get(
    "/incidents/{incident_id}/status-updates/{update_id}",
    response_model=StatusUpdateOut,
    tags=["status updates"],
)
def get_status_update(
    incident_id: PathId, update_id: PathId, _: Reader, session: ReadDB
) -> StatusUpdateOut:
    return _out(updates.get_update(session, incident_id, update_id))


@router.patch(
    "/incidents/{incident_id}/status-updates/{update_id}",
    response_model=StatusUpdateOut,
    tags=["status updates"],
    responses=responses(409),
)
def edit_status_update(
    incident_id: PathId,
    update_id: PathId,
    body: StatusUpdatePatch,
    principal: Responder,
    session: WriteDB,
) -> StatusUpdateOut:
    """Change an update; the text before is kept in `revisions`."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise ApiError(422, "give at least one field to change")
    updates.edit_update(session, incident_id, update_id, _actor(principal), utcnow(), changes)
    session.flush()
    return _out(updates.get_update(session, incident_id, update_id))


# --- cadence ---------------------------------------------------------------------------------


class CadenceOut(Out):
    minutes: dict[str, int] = Field(description="Minutes between updates, per priority")
    text: str = Field(description='The same as text, e.g. "1=30,2=60"')


class CadenceIn(In):
    minutes: dict[Literal["1", "2", "3", "4", "5"], int] = Field(
        description="Minutes between updates per priority (1..1440); priorities left out get "
        "no reminders"
    )


def _cadence_out(cadence: dict[int, timedelta]) -> CadenceOut:
    minutes = {str(p): int(d.total_seconds() // 60) for p, d in sorted(cadence.items())}
    return CadenceOut(minutes=minutes, text=format_cadence(cadence))


@router.get("/update-cadence", response_model=CadenceOut, tags=["status updates"])
def get_cadence(request: Request, _: Reader, session: ReadDB) -> CadenceOut:
    configured = request.app.state.settings.update_cadence
    return _cadence_out(updates.load_cadence(session, configured))


@router.put("/update-cadence", response_model=CadenceOut, tags=["status updates"])
def put_cadence(body: CadenceIn, _: Admin, session: WriteDB) -> CadenceOut:
    """Store this installation's cadence (it takes precedence over WARROOM_UPDATE_CADENCE)."""
    text = ",".join(f"{p}={m}" for p, m in sorted(body.minutes.items()))
    return _cadence_out(updates.store_cadence(session, text))


# --- stakeholder lists -----------------------------------------------------------------------


class StakeholderListIn(In):
    name: str = Field(min_length=1, max_length=120, pattern=NONBLANK)
    service_id: Id | None = None
    team_id: Id | None = None
    min_priority: int = Field(
        stakeholders.DEFAULT_THRESHOLD,
        ge=1,
        le=5,
        description="Incidents of this priority or higher (1 is highest) are told",
    )


class StakeholderListPatch(Patch):
    nullable = frozenset({"service_id", "team_id"})
    name: str | None = Field(None, min_length=1, max_length=120, pattern=NONBLANK)
    service_id: Id | None = None
    team_id: Id | None = None
    min_priority: int | None = Field(None, ge=1, le=5)


class MemberIn(In):
    user_id: Id | None = Field(None, description="A person in Warroom (their own rules)")
    channel: Literal["email", "webhook", "apprise"] | None = None
    address: str | None = Field(None, min_length=1, max_length=2000, pattern=NONBLANK)


class MemberOut(Out):
    id: int
    list_id: int
    user_id: int | None
    channel: str | None
    address: str | None
    created_at: datetime


class NewMemberOut(MemberOut):
    secret: str | None = Field(
        description="Webhooks: the signing secret, shown only now (Warroom-Signature)"
    )


class StakeholderListOut(Out):
    id: int
    name: str
    service_id: int | None
    team_id: int | None
    min_priority: int
    created_at: datetime
    members: list[MemberOut]


def _list_out(session: ReadDB, lst: stakeholders.StakeholderList) -> StakeholderListOut:
    members = stakeholders.members_of(session, [lst.id])
    return StakeholderListOut(
        id=lst.id,
        name=lst.name,
        service_id=lst.service_id,
        team_id=lst.team_id,
        min_priority=lst.min_priority,
        created_at=lst.created_at,
        members=[MemberOut.model_validate(m) for m in members],
    )


@router.get(
    "/stakeholder-lists", response_model=list[StakeholderListOut], tags=["stakeholder lists"]
)
def list_stakeholder_lists(_: Admin, session: ReadDB) -> list[StakeholderListOut]:
    """Admins only: the members' addresses are personal data and webhook URLs."""
    rows = session.scalars(
        select(stakeholders.StakeholderList).order_by(stakeholders.StakeholderList.id)
    )
    return [_list_out(session, lst) for lst in rows]


@router.post(
    "/stakeholder-lists",
    response_model=StakeholderListOut,
    status_code=201,
    tags=["stakeholder lists"],
)
def create_stakeholder_list(
    body: StakeholderListIn, _: Admin, session: WriteDB
) -> StakeholderListOut:
    lst = stakeholders.create_list(
        session,
        utcnow(),
        name=body.name,
        service_id=body.service_id,
        team_id=body.team_id,
        min_priority=body.min_priority,
    )
    return _list_out(session, lst)


@router.get(
    "/stakeholder-lists/{list_id}",
    response_model=StakeholderListOut,
    tags=["stakeholder lists"],
)
def get_stakeholder_list(list_id: PathId, _: Admin, session: ReadDB) -> StakeholderListOut:
    return _list_out(session, stakeholders.get_list(session, list_id))


@router.patch(
    "/stakeholder-lists/{list_id}",
    response_model=StakeholderListOut,
    tags=["stakeholder lists"],
)
def update_stakeholder_list(
    list_id: PathId, body: StakeholderListPatch, _: Admin, session: WriteDB
) -> StakeholderListOut:
    changes = body.model_dump(exclude_unset=True)
    return _list_out(session, stakeholders.update_list(session, list_id, changes))


@router.delete("/stakeholder-lists/{list_id}", status_code=204, tags=["stakeholder lists"])
def delete_stakeholder_list(list_id: PathId, _: Admin, session: WriteDB) -> Response:
    stakeholders.delete_list(session, list_id)
    return Response(status_code=204)


@router.post(
    "/stakeholder-lists/{list_id}/members",
    response_model=NewMemberOut,
    status_code=201,
    tags=["stakeholder lists"],
)
def add_stakeholder(
    request: Request, list_id: PathId, body: MemberIn, _: Admin, session: WriteDB
) -> NewMemberOut:
    """A person (`user_id`) or an address of a channel, checked as contact methods are
    (internal addresses refused unless WARROOM_OUTBOUND_ALLOW_NETWORKS allows them)."""
    member = stakeholders.add_member(
        session,
        list_id,
        utcnow(),
        user_id=body.user_id,
        channel=body.channel,
        address=body.address,
        allowed_networks=request.app.state.settings.outbound_allow_networks,
    )
    return NewMemberOut.model_validate(member)


@router.delete(
    "/stakeholder-lists/{list_id}/members/{member_id}",
    status_code=204,
    tags=["stakeholder lists"],
)
def remove_stakeholder(list_id: PathId, member_id: PathId, _: Admin, session: WriteDB) -> Response:
    stakeholders.remove_member(session, list_id, member_id)
    return Response(status_code=204)
