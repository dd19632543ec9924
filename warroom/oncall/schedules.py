"""Schedules: storing them (layers, members) and turning their rows into the pure model.

Rows become a pure :class:`warroom.oncall.schedule.Schedule` in one place (:func:`load_schedules`,
a few queries for any number of schedules); every question about who is on call is then asked
of the pure module at an explicit instant. Nothing here reads the clock: callers pass ``now``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from warroom.catalog.models import Team, User
from warroom.errors import ApiError
from warroom.oncall import schedule as sch
from warroom.oncall.models import (
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    LayerMember,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
)
from warroom.oncall.schemas import (
    MIN_SHIFT_SECONDS,
    LayerIn,
    ScheduleIn,
    SchedulePatch,
)

# Instants outside these years are refused: the pure module steps up to a year past them and
# Python datetimes end in 9999.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)

_ROTATIONS = {
    "hourly": sch.Rotation.HOURLY,
    "daily": sch.Rotation.DAILY,
    "weekly": sch.Rotation.WEEKLY,
}


def check_instant(value: datetime, name: str) -> datetime:
    """An aware instant within the years schedules are computed for, or ApiError 422."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ApiError(422, f"'{name}' needs a time zone, e.g. 2026-11-27T09:00:00Z")
    if not EARLIEST <= value < LATEST:
        raise ApiError(422, f"'{name}' must be between 1970 and 2200")
    return value.astimezone(UTC)


def fmt_utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- rows -> the pure model -------------------------------------------------------------------


@dataclass
class Loaded:
    """The rows of some schedules, fetched together; ``pure`` builds the computable model."""

    rows: dict[int, Schedule]
    layers: dict[int, list[ScheduleLayer]] = field(default_factory=lambda: defaultdict(list))
    members: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    overrides: dict[int, list[ScheduleOverride]] = field(default_factory=lambda: defaultdict(list))

    def pure(self, schedule_id: int) -> sch.Schedule:
        row = self.rows[schedule_id]
        return sch.Schedule(
            row.time_zone,
            tuple(_layer(layer, self.members[layer.id]) for layer in self.layers[schedule_id]),
            tuple(pure_override(o) for o in self.overrides[schedule_id]),
        )

    def user_ids(self) -> set[int]:
        """Everyone the loaded schedules mention (for one query of names)."""
        found = {u for members in self.members.values() for u in members}
        for overrides in self.overrides.values():
            for o in overrides:
                found.add(o.user_id)
                if o.replacement_id is not None:
                    found.add(o.replacement_id)
        return found


def fetch(
    session: Session, ids: Collection[int] | None = None, *, overrides_since: datetime | None = None
) -> Loaded:
    """The rows of the schedules ``ids`` (all when None) in four queries, however many.

    With ``overrides_since`` only overrides still running after it are loaded: past ones
    cannot change an answer about later instants, and they pile up over the years.
    """
    query = select(Schedule).order_by(Schedule.id)
    if ids is not None:
        if not ids:
            return Loaded({})
        query = query.where(Schedule.id.in_(list(ids)))
    loaded = Loaded({row.id: row for row in session.scalars(query)})
    if not loaded.rows:
        return loaded
    wanted = list(loaded.rows)
    layer_ids: list[int] = []
    for layer in session.scalars(
        select(ScheduleLayer)
        .where(ScheduleLayer.schedule_id.in_(wanted))
        .order_by(ScheduleLayer.schedule_id, ScheduleLayer.position)
    ):
        loaded.layers[layer.schedule_id].append(layer)
        layer_ids.append(layer.id)
    if layer_ids:
        for layer_id, user_id in session.execute(
            select(LayerMember.layer_id, LayerMember.user_id)
            .where(LayerMember.layer_id.in_(layer_ids))
            .order_by(LayerMember.layer_id, LayerMember.position)
        ):
            loaded.members[layer_id].append(user_id)
    override_query = select(ScheduleOverride).where(ScheduleOverride.schedule_id.in_(wanted))
    if overrides_since is not None:
        override_query = override_query.where(ScheduleOverride.end_at > overrides_since)
    for override in session.scalars(override_query.order_by(ScheduleOverride.start_at)):
        loaded.overrides[override.schedule_id].append(override)
    return loaded


def load_schedules(
    session: Session, ids: Collection[int] | None = None, *, overrides_since: datetime | None = None
) -> dict[int, sch.Schedule]:
    """Schedule id -> the pure schedule, for ``ids`` (all schedules when None).

    The one way rows become a computable schedule; unknown ids are simply absent. Pass
    ``overrides_since`` (usually the earliest instant you will ask about) to skip old overrides.
    """
    loaded = fetch(session, ids, overrides_since=overrides_since)
    return {sid: loaded.pure(sid) for sid in loaded.rows}


def _layer(row: ScheduleLayer, members: list[int]) -> sch.Layer:
    rotation: sch.Rotation | timedelta = (
        timedelta(seconds=row.shift_seconds or 0)
        if row.rotation == "custom"
        else _ROTATIONS[row.rotation]
    )
    return sch.Layer(
        start=datetime.fromisoformat(row.start_local),
        rotation=rotation,
        members=tuple(members),
        restrictions=tuple(_restriction(r) for r in row.restrictions or ()),
        end=datetime.fromisoformat(row.end_local) if row.end_local else None,
    )


def _restriction(raw: dict[str, Any]) -> sch.Restriction:
    return sch.Restriction(
        frozenset(raw["weekdays"]), time.fromisoformat(raw["start"]), time.fromisoformat(raw["end"])
    )


def pure_override(row: ScheduleOverride) -> sch.Override:
    return sch.Override(
        sch.OverrideKind(row.kind), row.user_id, row.start_at, row.end_at, row.replacement_id
    )


# --- writing schedules -------------------------------------------------------------------------


def _wall_clock(value: str, where: str, problems: list[str]) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        problems.append(f"{where}: {value!r} is not a date and time like 2026-01-05T09:00")
        return None
    if parsed.tzinfo is not None:
        problems.append(
            f"{where}: {value!r} has an offset; give wall-clock time in the schedule's time "
            "zone, like 2026-01-05T09:00"
        )
        return None
    if not EARLIEST.year <= parsed.year < LATEST.year:
        problems.append(f"{where}: {value!r} must be between 1970 and 2200")
        return None
    return parsed


@dataclass
class _Draft:
    """A layer as requested, checked and converted, ready to store."""

    body: LayerIn
    layer: sch.Layer
    start: str
    end: str | None
    restrictions: list[dict[str, Any]]


def _drafts(session: Session, time_zone: str, layers: list[LayerIn]) -> list[_Draft]:
    """Check layers against each other, the users table and the pure rules; 422 lists all."""
    problems: list[str] = []
    drafts: list[_Draft] = []
    for index, body in enumerate(layers):
        where = f"layer {index}"
        rotation: sch.Rotation | timedelta
        if body.rotation == "custom":
            seconds = body.shift_seconds
            if seconds is None:
                problems.append(f"{where}: a custom rotation needs shift_seconds")
            elif seconds <= 0:
                problems.append(f"{where}: shift_seconds must be positive, got {seconds}")
            elif seconds < MIN_SHIFT_SECONDS:
                # Minute-long shifts are a typo, and a year of them is millions of shifts.
                problems.append(f"{where}: custom shifts last at least an hour, got {seconds} s")
            # A placeholder when invalid, so the pure check does not repeat the problem.
            rotation = timedelta(seconds=seconds if seconds and seconds > 0 else 3600)
        else:
            if body.shift_seconds is not None:
                problems.append(f"{where}: only custom rotations take shift_seconds")
            rotation = _ROTATIONS[body.rotation]
        start = _wall_clock(body.start, f"{where} start", problems)
        end = _wall_clock(body.end, f"{where} end", problems) if body.end is not None else None
        restrictions = [
            sch.Restriction(
                frozenset(r.weekdays), time.fromisoformat(r.start), time.fromisoformat(r.end)
            )
            for r in body.restrictions
        ]
        layer = sch.Layer(
            start=start or datetime(2000, 1, 1),
            rotation=rotation,
            members=tuple(body.member_ids),
            restrictions=tuple(restrictions),
            end=end,
        )
        drafts.append(
            _Draft(
                body,
                layer,
                start.isoformat() if start else "",
                end.isoformat() if end else None,
                [
                    {"weekdays": sorted(set(r.weekdays)), "start": r.start, "end": r.end}
                    for r in body.restrictions
                ],
            )
        )
    problems.extend(sch.validate(sch.Schedule(time_zone, tuple(d.layer for d in drafts))))
    problems.extend(_member_problems(session, layers))
    if problems:
        raise ApiError(
            422,
            "invalid schedule: " + "; ".join(problems),
            [{"field": _field_of(p), "message": p} for p in problems],
        )
    return drafts


def draft_schedule(session: Session, time_zone: str, layers: list[LayerIn]) -> sch.Schedule:
    """The pure schedule these layers would make, checked as create and update check them
    (ApiError 422 listing every problem), nothing stored: the preview before saving."""
    drafts = _drafts(session, time_zone, layers)
    return sch.Schedule(time_zone, tuple(d.layer for d in drafts))


def _field_of(problem: str) -> str:
    # The pure module's messages start with "layer N..."; point the client at that layer.
    words = problem.split()
    if len(words) > 1 and words[0] == "layer" and words[1].rstrip(":").isdigit():
        return f"layers.{words[1].rstrip(':')}"
    if problem.startswith("unknown time zone"):
        return "time_zone"
    return ""


def _member_problems(session: Session, layers: list[LayerIn]) -> list[str]:
    wanted = {uid for layer in layers for uid in layer.member_ids}
    if not wanted:
        return []
    found = dict(session.execute(select(User.id, User.active).where(User.id.in_(wanted))).all())
    problems: list[str] = []
    for index, layer in enumerate(layers):
        for uid in dict.fromkeys(layer.member_ids):
            if uid not in found:
                problems.append(f"layer {index}: user {uid} does not exist")
            elif not found[uid]:
                problems.append(f"layer {index}: user {uid} is deactivated")
    return problems


def check_team(session: Session, team_id: int | None) -> None:
    if team_id is not None and session.get(Team, team_id) is None:
        raise ApiError(
            422, f"team {team_id} does not exist", [{"field": "team_id", "message": "unknown team"}]
        )


def _store_layers(session: Session, schedule_id: int, drafts: list[_Draft]) -> None:
    for position, draft in enumerate(drafts):
        row = ScheduleLayer(
            schedule_id=schedule_id,
            position=position,
            name=draft.body.name,
            rotation=draft.body.rotation,
            shift_seconds=draft.body.shift_seconds,
            start_local=draft.start,
            end_local=draft.end,
            restrictions=draft.restrictions,
        )
        session.add(row)
        session.flush()
        session.add_all(
            LayerMember(layer_id=row.id, position=p, user_id=u)
            for p, u in enumerate(draft.body.member_ids)
        )


def flush_named(session: Session, what: str, name: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        raise ApiError(409, f"a {what} named {name!r} already exists") from None


def create_schedule(session: Session, body: ScheduleIn) -> Schedule:
    """A schedule with its layers and members, all stored or none (the caller's transaction)."""
    check_team(session, body.team_id)
    drafts = _drafts(session, body.time_zone, body.layers)
    row = Schedule(
        name=body.name, description=body.description, time_zone=body.time_zone, team_id=body.team_id
    )
    session.add(row)
    flush_named(session, "schedule", body.name)
    _store_layers(session, row.id, drafts)
    session.flush()
    return row


def get_schedule(session: Session, schedule_id: int, *, lock: bool = False) -> Schedule:
    query = select(Schedule).where(Schedule.id == schedule_id)
    if lock:
        # Serialises writers of one schedule on PostgreSQL (SQLite writers are serial anyway).
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise ApiError(404, f"schedule {schedule_id} does not exist")
    return row


def update_schedule(session: Session, schedule_id: int, body: SchedulePatch) -> Schedule:
    """Change fields; ``layers`` replaces every layer. The result is validated as a whole."""
    row = get_schedule(session, schedule_id, lock=True)
    changes = body.model_dump(exclude_unset=True, exclude={"layers"})
    for name, value in changes.items():
        if value is None and name != "team_id":
            raise ApiError(422, f"'{name}' cannot be null")
    check_team(session, changes.get("team_id"))
    # A new zone alone needs no check beyond the schema's (known IANA name): the layers are
    # wall-clock times, valid in any zone.
    if body.layers is not None:
        drafts = _drafts(session, changes.get("time_zone", row.time_zone), body.layers)
    with session.no_autoflush:
        for name, value in changes.items():
            setattr(row, name, value)
    flush_named(session, "schedule", row.name)
    if body.layers is not None:
        # Members go with their layers (ON DELETE CASCADE).
        session.execute(delete(ScheduleLayer).where(ScheduleLayer.schedule_id == row.id))
        _store_layers(session, row.id, drafts)
        session.flush()
    return row


def delete_schedule(session: Session, schedule_id: int) -> None:
    """Refused (409) while an escalation policy pages it: that step would page nobody."""
    row = get_schedule(session, schedule_id, lock=True)
    policies = _policies_targeting(session, "schedule", row.id)
    if policies:
        raise ApiError(
            409,
            f"schedule {row.name!r} is paged by escalation policy "
            f"{', '.join(repr(n) for n in policies)}; remove it from those steps first",
        )
    session.delete(row)


def _policies_targeting(session: Session, target_type: str, target_id: int) -> list[str]:
    return list(
        session.scalars(
            select(EscalationPolicy.name)
            .join(EscalationStep, EscalationStep.policy_id == EscalationPolicy.id)
            .join(EscalationTarget, EscalationTarget.step_id == EscalationStep.id)
            .where(
                EscalationTarget.target_type == target_type, EscalationTarget.target_id == target_id
            )
            .distinct()
            .order_by(EscalationPolicy.name)
        )
    )


class Names:
    """User id -> display name and active flag, fetched once for a response."""

    def __init__(self, session: Session, ids: Iterable[int]) -> None:
        wanted = set(ids)
        self.name: dict[int, str] = {}
        self.active: dict[int, bool] = {}
        if wanted:
            for uid, name, username, active in session.execute(
                select(User.id, User.name, User.username, User.active).where(User.id.in_(wanted))
            ):
                self.name[uid] = name or username
                self.active[uid] = active

    def of(self, uid: int) -> str:
        return self.name.get(uid, f"user {uid}")
