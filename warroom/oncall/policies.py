"""Escalation policies: storing their steps and targets, who a step pages at an instant, and
the API views of policies with their warnings."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from warroom.catalog.models import Service, Team, User, team_members
from warroom.errors import ApiError
from warroom.oncall import schedule as sch
from warroom.oncall.models import (
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    Schedule,
)
from warroom.oncall.schedules import Names, check_team, flush_named, load_schedules
from warroom.oncall.schemas import (
    PolicyIn,
    PolicyOut,
    PolicyPatch,
    StepIn,
    StepOut,
    TargetOut,
)

log = logging.getLogger("warroom.oncall")


# --- escalation: who a step pages --------------------------------------------------------------


class Target(NamedTuple):
    """What an escalation step pages: ``type`` is "user", "schedule" or "team"."""

    type: str
    id: int


TargetLike = Target | tuple[str, int] | EscalationTarget


def _as_target(value: TargetLike) -> Target:
    if isinstance(value, EscalationTarget):
        return Target(value.target_type, value.target_id)
    return Target(*value)


def resolve_steps(
    session: Session, steps: Sequence[Iterable[TargetLike]], at: datetime
) -> list[list[int]]:
    """:func:`resolve_targets` for several steps at once, with one batch of queries."""
    wanted = [[_as_target(t) for t in step] for step in steps]
    by_type: dict[str, set[int]] = defaultdict(set)
    for step in wanted:
        for target in step:
            by_type[target.type].add(target.id)
    unknown = set(by_type) - {"user", "schedule", "team"}
    if unknown:
        raise ValueError(f"unknown target type(s): {', '.join(sorted(unknown))}")
    on_call: dict[int, list[int]] = {}
    if by_type["schedule"]:
        for sid, schedule in load_schedules(
            session, by_type["schedule"], overrides_since=at
        ).items():
            try:
                on_call[sid] = sorted(sch.on_call_at(schedule, at))
            except sch.ScheduleError as exc:
                # A stored schedule that cannot be computed (say its zone left tzdata) must not
                # stop paging the other targets; warnings() reports it.
                log.warning("schedule %s cannot be computed: %s", sid, exc)
    members: dict[int, list[int]] = defaultdict(list)
    if by_type["team"]:
        for team_id, uid in session.execute(
            select(team_members.c.team_id, team_members.c.user_id)
            .where(team_members.c.team_id.in_(by_type["team"]))
            .order_by(team_members.c.user_id)
        ):
            members[team_id].append(uid)
    candidates = (
        by_type["user"]
        | {u for users in on_call.values() for u in users}
        | {u for users in members.values() for u in users}
    )
    active = (
        set(session.scalars(select(User.id).where(User.id.in_(candidates), User.active)))
        if candidates
        else set()
    )
    result: list[list[int]] = []
    for step in wanted:
        users: dict[int, None] = {}
        for target in step:
            if target.type == "user":
                found = [target.id]
            elif target.type == "schedule":
                found = on_call.get(target.id, [])
            else:
                found = members.get(target.id, [])
            users.update((u, None) for u in found if u in active)
        result.append(list(users))
    return result


def resolve_targets(
    session: Session, step_targets: Iterable[TargetLike], at: datetime
) -> list[int]:
    """The ids of the people one escalation step pages at the instant ``at``.

    ``step_targets`` are ``(type, id)`` pairs (or :class:`Target`, or ``EscalationTarget``
    rows): a ``"user"`` is that user; a ``"schedule"`` is whoever is on call on it at ``at``
    (final schedule, overrides included); a ``"team"`` is all its members.

    Only active users are returned; deactivated, deleted and unknown ones (and unknown
    schedules and teams) are left out silently, so an empty list means "this step pages
    nobody now". Each user appears once, in the order of the targets (users of one schedule
    or team by id). Runs a handful of queries in the caller's session and writes nothing.
    Raises ValueError for a target type other than user, schedule or team.
    """
    return resolve_steps(session, [list(step_targets)], at)[0]


# --- escalation policies -----------------------------------------------------------------------


def _check_targets(session: Session, steps: list[StepIn]) -> None:
    ids: dict[str, set[int]] = defaultdict(set)
    for step in steps:
        for target in step.targets:
            ids[target.type].add(target.id)
    users = (
        dict(session.execute(select(User.id, User.active).where(User.id.in_(ids["user"]))).all())
        if ids["user"]
        else {}
    )
    known = {
        "schedule": set(
            session.scalars(select(Schedule.id).where(Schedule.id.in_(ids["schedule"])))
        )
        if ids["schedule"]
        else set(),
        "team": set(session.scalars(select(Team.id).where(Team.id.in_(ids["team"]))))
        if ids["team"]
        else set(),
    }
    problems: list[tuple[int, int, str]] = []
    for s_index, step in enumerate(steps):
        for t_index, target in enumerate(step.targets):
            if target.type == "user" and target.id in users and not users[target.id]:
                problems.append((s_index, t_index, f"user {target.id} is deactivated"))
            elif target.id not in (users if target.type == "user" else known[target.type]):
                problems.append((s_index, t_index, f"{target.type} {target.id} does not exist"))
    if problems:
        raise ApiError(
            422,
            "invalid escalation policy: "
            + "; ".join(f"step {s + 1}: {message}" for s, _, message in problems),
            [{"field": f"steps.{s}.targets.{t}", "message": message} for s, t, message in problems],
        )


def _store_steps(session: Session, policy_id: int, steps: list[StepIn]) -> None:
    for position, step in enumerate(steps):
        row = EscalationStep(
            policy_id=policy_id, position=position, delay_seconds=step.delay_seconds
        )
        session.add(row)
        session.flush()
        # A target named twice in one step is one target.
        unique = dict.fromkeys((t.type, t.id) for t in step.targets)
        session.add_all(
            EscalationTarget(step_id=row.id, target_type=kind, target_id=ident)
            for kind, ident in unique
        )


def create_policy(session: Session, body: PolicyIn) -> EscalationPolicy:
    check_team(session, body.team_id)
    _check_targets(session, body.steps)
    row = EscalationPolicy(
        name=body.name, description=body.description, team_id=body.team_id, repeat=body.repeat
    )
    session.add(row)
    flush_named(session, "escalation policy", body.name)
    _store_steps(session, row.id, body.steps)
    session.flush()
    return row


def get_policy(session: Session, policy_id: int) -> EscalationPolicy:
    row = session.get(EscalationPolicy, policy_id)
    if row is None:
        raise ApiError(404, f"escalation policy {policy_id} does not exist")
    return row


def update_policy(session: Session, policy_id: int, body: PolicyPatch) -> EscalationPolicy:
    """Change fields; ``steps`` replaces every step (with its targets)."""
    row = get_policy(session, policy_id)
    changes = body.model_dump(exclude_unset=True, exclude={"steps"})
    for name, value in changes.items():
        if value is None and name != "team_id":
            raise ApiError(422, f"'{name}' cannot be null")
    check_team(session, changes.get("team_id"))
    if body.steps is not None:
        _check_targets(session, body.steps)
    with session.no_autoflush:
        for name, value in changes.items():
            setattr(row, name, value)
    flush_named(session, "escalation policy", row.name)
    if body.steps is not None:
        # Targets go with their steps (ON DELETE CASCADE).
        session.execute(delete(EscalationStep).where(EscalationStep.policy_id == row.id))
        _store_steps(session, row.id, body.steps)
        session.flush()
    return row


def delete_policy(session: Session, policy_id: int) -> None:
    """Refused (409) while services use it: their incidents would silently page nobody."""
    row = get_policy(session, policy_id)
    services = list(
        session.scalars(
            select(Service.name)
            .where(Service.escalation_policy_id == row.id)
            .order_by(Service.name)
        )
    )
    if services:
        raise ApiError(
            409,
            f"escalation policy {row.name!r} is used by service(s) "
            f"{', '.join(repr(s) for s in services)}; give them another policy first",
        )
    session.delete(row)


def set_service_policy(session: Session, service_id: int, policy_id: int | None) -> Service:
    svc = session.get(Service, service_id)
    if svc is None:
        raise ApiError(404, f"service {service_id} does not exist")
    if policy_id is not None and session.get(EscalationPolicy, policy_id) is None:
        raise ApiError(
            422,
            f"escalation policy {policy_id} does not exist",
            [{"field": "escalation_policy_id", "message": "unknown escalation policy"}],
        )
    svc.escalation_policy_id = policy_id
    return svc


def policy_outs(
    session: Session, policies: Sequence[EscalationPolicy], now: datetime
) -> list[PolicyOut]:
    """API views of policies, with warnings: targets deactivated or deleted since, and steps
    that resolve to nobody at ``now``. A fixed number of queries for any number of policies."""
    ids = [p.id for p in policies]
    steps: dict[int, list[EscalationStep]] = defaultdict(list)
    targets: dict[int, list[EscalationTarget]] = defaultdict(list)
    services: dict[int, list[int]] = defaultdict(list)
    if ids:
        for step in session.scalars(
            select(EscalationStep)
            .where(EscalationStep.policy_id.in_(ids))
            .order_by(EscalationStep.policy_id, EscalationStep.position)
        ):
            steps[step.policy_id].append(step)
        step_ids = [s.id for group in steps.values() for s in group]
        if step_ids:
            for target in session.scalars(
                select(EscalationTarget)
                .where(EscalationTarget.step_id.in_(step_ids))
                .order_by(EscalationTarget.id)
            ):
                targets[target.step_id].append(target)
        for sid, pid in session.execute(
            select(Service.id, Service.escalation_policy_id)
            .where(Service.escalation_policy_id.in_(ids))
            .order_by(Service.id)
        ):
            if pid is not None:
                services[pid].append(sid)
    every = [t for group in targets.values() for t in group]
    by_type: dict[str, set[int]] = defaultdict(set)
    for target in every:
        by_type[target.target_type].add(target.target_id)
    names = Names(session, by_type["user"])
    schedule_names = (
        dict(
            session.execute(
                select(Schedule.id, Schedule.name).where(Schedule.id.in_(by_type["schedule"]))
            ).all()
        )
        if by_type["schedule"]
        else {}
    )
    team_names = (
        dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(by_type["team"]))).all())
        if by_type["team"]
        else {}
    )
    all_steps = [s for p in policies for s in steps[p.id]]
    resolved = dict(
        zip(
            [s.id for s in all_steps],
            resolve_steps(session, [targets[s.id] for s in all_steps], now),
            strict=True,
        )
    )

    def target_out(target: EscalationTarget) -> TargetOut:
        kind, ident = target.target_type, target.target_id
        name = {
            "user": names.name.get(ident, ""),
            "schedule": schedule_names.get(ident, ""),
            "team": team_names.get(ident, ""),
        }[kind]
        return TargetOut(type=kind, id=ident, name=name)

    outs: list[PolicyOut] = []
    for policy in policies:
        notes: list[str] = []
        for step in steps[policy.id]:
            label = f"step {step.position + 1}"
            for target in targets[step.id]:
                kind, ident = target.target_type, target.target_id
                if kind == "user" and ident not in names.active:
                    notes.append(f"{label}: user {ident} no longer exists")
                elif kind == "user" and not names.active[ident]:
                    notes.append(f"{label}: {names.of(ident)} (user {ident}) is deactivated")
                elif kind == "schedule" and ident not in schedule_names:
                    notes.append(f"{label}: schedule {ident} no longer exists")
                elif kind == "team" and ident not in team_names:
                    notes.append(f"{label}: team {ident} no longer exists")
            if not resolved[step.id]:
                notes.append(f"{label} would page nobody now")
        outs.append(
            PolicyOut(
                id=policy.id,
                name=policy.name,
                description=policy.description,
                team_id=policy.team_id,
                repeat=policy.repeat,
                created_at=policy.created_at,
                service_ids=services[policy.id],
                steps=[
                    StepOut(
                        id=step.id,
                        position=step.position,
                        delay_seconds=step.delay_seconds,
                        targets=[target_out(t) for t in targets[step.id]],
                    )
                    for step in steps[policy.id]
                ],
                warnings=notes,
            )
        )
    return outs
