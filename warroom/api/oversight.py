"""REST routes of oversight settings: who is paged at an SLA breach, when an incident is stale.

Everyone signed in reads; admins set the installation's settings and each team's. A team's
field left null inherits the installation's, whose null fields inherit the WARROOM_* settings.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Request
from pydantic import Field
from sqlalchemy import select

from warroom.api.deps import Admin, ReadDB, Reader, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.params import PathId
from warroom.catalog.models import Team
from warroom.common.schemas import Id, In, Out
from warroom.db.base import utcnow
from warroom.errors import ApiError
from warroom.incidents import oversight_store
from warroom.incidents.models import OversightSetting
from warroom.incidents.sla import TARGETS, WARNINGS

router = ApiRouter(prefix="/api/v1", tags=["oversight"])

PriorityKey = Literal["1", "2", "3", "4", "5"]
Minutes = Annotated[int, Field(ge=0, le=525_600)]


class OversightIn(In):
    escalation_policy_id: Id | None = Field(
        description="The policy whose first step is paged at an SLA breach (e.g. the incident "
        "managers' rota); null inherits (a team: the installation's; the installation: none, "
        "and the commander or on-call responder is told instead)"
    )
    stale_minutes: dict[PriorityKey, Minutes] | None = Field(
        default=None,
        description="Minutes without a person's timeline activity until an open incident of "
        'that priority is stale, e.g. {"1": 30, "2": 120}; 0 never; a priority left out (or '
        "null for all) inherits",
    )


class OversightScopeOut(Out):
    team_id: int | None
    escalation_policy_id: int | None
    stale_minutes: dict[str, int] | None


class EffectiveOut(Out):
    escalation_policy_id: int | None
    escalation_policy_from: str  # "team" | "installation"
    stale_minutes: dict[str, int]


class TeamOversightOut(Out):
    setting: OversightScopeOut
    effective: EffectiveOut


class SlaTargetOut(Out):
    response_seconds: int
    resolution_seconds: int


class OversightOut(Out):
    installation: OversightScopeOut
    effective: EffectiveOut
    teams: list[OversightScopeOut]
    defaults: dict[str, int] = Field(description="WARROOM_STALE_MINUTES")
    sla_targets: dict[str, SlaTargetOut]
    warn_at: list[float] = Field(description="Shares of an SLA budget that warn; 1.0 breaches")


def _scope_out(row: OversightSetting | None, team_id: int | None) -> OversightScopeOut:
    if row is None:
        return OversightScopeOut(team_id=team_id, escalation_policy_id=None, stale_minutes=None)
    return OversightScopeOut(
        team_id=row.team_id,
        escalation_policy_id=row.escalation_policy_id,
        stale_minutes=dict(row.stale_minutes) if row.stale_minutes is not None else None,
    )


def _effective(config: oversight_store.OversightConfig, team_id: int | None) -> EffectiveOut:
    policy_id, source = config.policy(team_id)
    return EffectiveOut(
        escalation_policy_id=policy_id,
        escalation_policy_from=source,
        stale_minutes={str(p): m for p, m in config.stale_minutes(team_id).items()},
    )


def _rows(session: ReadDB) -> dict[int | None, OversightSetting]:
    return {r.team_id: r for r in session.scalars(select(OversightSetting))}


def _put(session: WriteDB, team_id: int | None, body: OversightIn) -> None:
    stale = {int(p): m for p, m in body.stale_minutes.items()} if body.stale_minutes else None
    oversight_store.put_settings(
        session,
        team_id,
        utcnow(),
        escalation_policy_id=body.escalation_policy_id,
        stale_minutes=stale,
    )


def _overview(request: Request, session: ReadDB) -> OversightOut:
    rows = _rows(session)
    defaults = request.app.state.settings.stale_minutes
    config = oversight_store.load_config(session, defaults)
    return OversightOut(
        installation=_scope_out(rows.get(None), None),
        effective=_effective(config, None),
        teams=[
            _scope_out(r, tid)
            for tid, r in sorted(rows.items(), key=lambda kv: kv[0] or 0)
            if tid is not None
        ],
        defaults={str(p): m for p, m in sorted(defaults.items())},
        sla_targets={
            str(p): SlaTargetOut(
                response_seconds=int(t[0].total_seconds()),
                resolution_seconds=int(t[1].total_seconds()),
            )
            for p, t in TARGETS.items()
        },
        warn_at=[*WARNINGS, 1.0],
    )


@router.get("/oversight", response_model=OversightOut)
def get_oversight(request: Request, _: Reader, session: ReadDB) -> OversightOut:
    """The installation's and every team's oversight settings, what applies, the SLA targets."""
    return _overview(request, session)


@router.put("/oversight", response_model=OversightOut)
def put_oversight(request: Request, body: OversightIn, _: Admin, session: WriteDB) -> OversightOut:
    """Set the installation's oversight settings as a whole."""
    _put(session, None, body)
    return _overview(request, session)


def _team(request: Request, session: ReadDB, team_id: int) -> TeamOversightOut:
    if session.get(Team, team_id) is None:
        raise ApiError(404, f"team {team_id} does not exist")
    config = oversight_store.load_config(session, request.app.state.settings.stale_minutes)
    return TeamOversightOut(
        setting=_scope_out(_rows(session).get(team_id), team_id),
        effective=_effective(config, team_id),
    )


@router.get("/teams/{team_id}/oversight", response_model=TeamOversightOut)
def get_team_oversight(
    request: Request, team_id: PathId, _: Reader, session: ReadDB
) -> TeamOversightOut:
    """A team's own oversight settings and what applies to its services' incidents."""
    return _team(request, session, team_id)


@router.put("/teams/{team_id}/oversight", response_model=TeamOversightOut)
def put_team_oversight(
    request: Request, team_id: PathId, body: OversightIn, _: Admin, session: WriteDB
) -> TeamOversightOut:
    """Set a team's oversight settings as a whole (null fields inherit the installation's)."""
    _put(session, team_id, body)
    return _team(request, session, team_id)
