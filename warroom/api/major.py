"""REST routes of major incidents: the installation's rules (everyone signed in reads, admins
set them), an incident's proposal, and the commander's accept or reject.

A major incident is internal: the public status page and its feeds never say so.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Request
from pydantic import Field
from sqlalchemy.orm import Session

from warroom.api.deps import Admin, ReadDB, Reader, Responder, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.params import PathId
from warroom.common.schemas import NONBLANK, Id, In, Out
from warroom.db.base import utcnow
from warroom.engine import paging
from warroom.engine.runner import action_links
from warroom.errors import responses
from warroom.incidents import major_store
from warroom.incidents.major import MAX_BURST_MINUTES, MajorPolicy
from warroom.incidents.service import Actor, get_incident

router = ApiRouter(prefix="/api/v1", tags=["major incidents"])


class MajorSettingsIn(In):
    on_tier_one: bool = Field(description="Propose when a tier-1 service is affected")
    on_priority_one: bool = Field(description="Propose when the priority is P1")
    alert_burst: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        description="Propose when more than this many alerts arrived within burst_minutes; "
        "null: never"
    )
    burst_minutes: int = Field(default=10, ge=1, le=MAX_BURST_MINUTES)
    escalation_policy_id: Id | None = Field(
        description="The policy whose first step is paged when a major incident is accepted "
        "(e.g. the incident commanders' rota); null: nobody more is paged"
    )


class MajorSettingsOut(Out):
    on_tier_one: bool
    on_priority_one: bool
    alert_burst: int | None
    burst_minutes: int
    escalation_policy_id: int | None


class ReasonOut(Out):
    kind: str = Field(description="tier_one | priority_one | alert_burst")
    text: str


class MajorOut(Out):
    incident_id: int
    major: bool
    proposed: bool
    reasons: list[ReasonOut] = Field(description="Why it is proposed now (empty: it is not)")


class MajorDecisionIn(In):
    accept: bool = Field(description="true: it is a major incident; false: reject the proposal")
    reason: str = Field(
        min_length=1, max_length=2000, pattern=NONBLANK, description="Why; kept on the timeline."
    )


class MajorDecisionOut(MajorOut):
    paged: list[str] = Field(description="Who the major-incident escalation policy paged")


def _settings_out(policy: MajorPolicy) -> MajorSettingsOut:
    return MajorSettingsOut(
        on_tier_one=policy.on_tier_one,
        on_priority_one=policy.on_priority_one,
        alert_burst=policy.alert_burst,
        burst_minutes=policy.burst_minutes,
        escalation_policy_id=policy.escalation_policy_id,
    )


def _major_out(session: Session, incident_id: int) -> MajorOut:
    incident = get_incident(session, incident_id)
    found = major_store.proposal(session, incident_id, major_store.load_policy(session))
    return MajorOut(
        incident_id=incident_id,
        major=incident.major,
        proposed=bool(found),
        reasons=[ReasonOut(kind=r.kind, text=r.text) for r in found],
    )


@router.get("/major-incidents/settings", response_model=MajorSettingsOut)
def get_major_settings(_: Reader, session: ReadDB) -> MajorSettingsOut:
    """When a major incident is proposed, and whom accepting one pages."""
    return _settings_out(major_store.load_policy(session))


@router.put("/major-incidents/settings", response_model=MajorSettingsOut)
def put_major_settings(body: MajorSettingsIn, _: Admin, session: WriteDB) -> MajorSettingsOut:
    """Set the major-incident rules as a whole."""
    policy = MajorPolicy(
        on_tier_one=body.on_tier_one,
        on_priority_one=body.on_priority_one,
        alert_burst=body.alert_burst,
        burst_minutes=body.burst_minutes,
        escalation_policy_id=body.escalation_policy_id,
    )
    return _settings_out(major_store.put_policy(session, policy, utcnow()))


@router.get("/incidents/{incident_id}/major", response_model=MajorOut, tags=["incidents"])
def get_major(incident_id: PathId, _: Reader, session: ReadDB) -> MajorOut:
    """Whether the incident is major, and whether (and why) it is proposed as one now."""
    return _major_out(session, incident_id)


@router.post(
    "/incidents/{incident_id}/major",
    response_model=MajorDecisionOut,
    responses=responses(409),
    tags=["incidents"],
)
def decide_major(
    request: Request,
    incident_id: PathId,
    body: MajorDecisionIn,
    principal: Responder,
    session: WriteDB,
) -> MajorDecisionOut:
    """Accept or reject the major-incident proposal (the incident's commander or an admin).

    Accepting marks the incident major and pages the first step of the major-incident escalation
    policy; rejecting records the reason, and the same reasons are not proposed again. 409 when
    nothing is proposed or the incident is already major."""
    now = utcnow()
    done = major_store.decide(
        session,
        incident_id,
        Actor(principal.id, principal.name or principal.username),
        now,
        is_admin=principal.role == "admin",
        accept=body.accept,
        reason=body.reason,
    )
    paged: list[str] = []
    if done.accepted:
        paged = paging.page_major(
            session,
            incident_id,
            done.escalation_policy_id,
            now,
            link_maker=action_links(request.app.state.settings, request.app.state.secret),
        )
    session.flush()
    out = _major_out(session, incident_id)
    return MajorDecisionOut(**out.model_dump(), paged=paged)
