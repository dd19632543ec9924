"""Load-decide-store for on-call: schedules, overrides, escalation policies, who to page, and
the warnings that say where paging would reach nobody.

Rows become a pure :class:`warroom.oncall.schedule.Schedule` in one place (:func:`load_schedules`,
a few queries for any number of schedules); every question about who is on call is then asked
of the pure module at an explicit instant. Nothing here reads the clock: callers pass ``now``
or ``at``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from warroom.catalog.models import Service, Team, User, team_members
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
    GapOut,
    LayerIn,
    LayerOut,
    NextHandoff,
    OnCallOut,
    OnCallUser,
    OverrideIn,
    PolicyIn,
    PolicyOut,
    PolicyPatch,
    RestrictionOut,
    ScheduleIn,
    ScheduleOut,
    SchedulePatch,
    ShiftOut,
    ShiftsOut,
    StepIn,
    StepOut,
    TargetOut,
)

log = logging.getLogger("warroom.oncall")

# How far ahead schedules are checked for gaps in warnings.
WARNING_HORIZON = timedelta(days=7)
# The longest range GET .../shifts computes (a year, leap years included).
MAX_SHIFTS_RANGE = timedelta(days=366)
# Instants outside these years are refused: the pure module steps up to a year past them and
# Python datetimes end in 9999.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)
# "until" of an on-call stretch is looked up this far at most (then reported as null).
UNTIL_HORIZON = timedelta(days=366)
# Gaps listed one by one in a warning before the rest are counted.
GAPS_LISTED = 3

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


def _fmt(instant: datetime) -> str:
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
            tuple(_override(o) for o in self.overrides[schedule_id]),
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


def _override(row: ScheduleOverride) -> sch.Override:
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


def _check_team(session: Session, team_id: int | None) -> None:
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


def _flush_named(session: Session, what: str, name: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        raise ApiError(409, f"a {what} named {name!r} already exists") from None


def create_schedule(session: Session, body: ScheduleIn) -> Schedule:
    """A schedule with its layers and members, all stored or none (the caller's transaction)."""
    _check_team(session, body.team_id)
    drafts = _drafts(session, body.time_zone, body.layers)
    row = Schedule(
        name=body.name, description=body.description, time_zone=body.time_zone, team_id=body.team_id
    )
    session.add(row)
    _flush_named(session, "schedule", body.name)
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
    _check_team(session, changes.get("team_id"))
    # A new zone alone needs no check beyond the schema's (known IANA name): the layers are
    # wall-clock times, valid in any zone.
    if body.layers is not None:
        drafts = _drafts(session, changes.get("time_zone", row.time_zone), body.layers)
    with session.no_autoflush:
        for name, value in changes.items():
            setattr(row, name, value)
    _flush_named(session, "schedule", row.name)
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


# --- who is on call ----------------------------------------------------------------------------


def stretch_ends(
    schedule: sch.Schedule, at: datetime, users: Iterable[int]
) -> dict[int, datetime | None]:
    """For users on call at ``at``: when each one's uninterrupted stretch ends.

    A stretch runs on across back-to-back shifts of one person (say a layer shift followed by
    an override). None when it lasts beyond :data:`UNTIL_HORIZON`. Pure.
    """
    pending = set(users)
    ends: dict[int, datetime | None] = {}
    window = timedelta(days=7)
    while pending:
        stop = at + window
        pieces: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for shift in sch.shifts(schedule, at, stop):
            if shift.user_id in pending:
                pieces[shift.user_id].append((shift.start, shift.end))
        for user in list(pending):
            reach = at
            for start, end in sorted(pieces[user]):
                if start > reach:
                    break
                reach = max(reach, end)
            if reach < stop:
                ends[user] = reach
                pending.discard(user)
        if window >= UNTIL_HORIZON:
            ends.update(dict.fromkeys(pending))
            break
        # Most stretches end within days; a long one costs a few wider passes.
        window = min(window * 4, UNTIL_HORIZON)
    return ends


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


def _on_call_users(
    schedule: sch.Schedule, at: datetime, users: Iterable[int], names: Names
) -> list[OnCallUser]:
    ordered = sorted(users)
    ends = stretch_ends(schedule, at, ordered)
    return [OnCallUser(user_id=u, name=names.of(u), until=ends[u]) for u in ordered]


def on_call(row: Schedule, schedule: sch.Schedule, at: datetime, names: Names) -> OnCallOut:
    """Who is on call on one schedule at ``at``, until when, and the next handoff."""
    now_on = sch.on_call_at(schedule, at)
    following = sch.next_on_call(schedule, at)
    nxt = None
    if following is not None:
        handoff, users = following
        nxt = NextHandoff(at=handoff, users=_on_call_users(schedule, handoff, users, names))
    return OnCallOut(
        schedule_id=row.id,
        schedule_name=row.name,
        time_zone=row.time_zone,
        at=at,
        on_call=_on_call_users(schedule, at, now_on, names),
        next=nxt,
    )


def schedule_on_call(session: Session, schedule_id: int, at: datetime) -> OnCallOut:
    loaded = fetch(session, [schedule_id], overrides_since=at)
    if schedule_id not in loaded.rows:
        raise ApiError(404, f"schedule {schedule_id} does not exist")
    return on_call(
        loaded.rows[schedule_id], loaded.pure(schedule_id), at, Names(session, loaded.user_ids())
    )


def overview(session: Session, at: datetime) -> tuple[list[OnCallOut], list[str]]:
    """Who is on call at ``at`` on every schedule, and every warning (see :func:`warnings`)."""
    loaded = fetch(session, overrides_since=at)
    names = Names(session, loaded.user_ids())
    statuses: list[OnCallOut] = []
    for sid, row in sorted(loaded.rows.items(), key=lambda item: item[1].name):
        try:
            statuses.append(on_call(row, loaded.pure(sid), at, names))
        except sch.ScheduleError:
            continue  # reported by warnings()
    return statuses, warnings(session, at, loaded=loaded, names=names)


def _local(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%a %d %b %Y %H:%M %Z")


def overview_text(at: datetime, statuses: Sequence[OnCallOut], notes: Sequence[str]) -> str:
    """The overview as the ``warroom oncall`` command prints it (times in each schedule's zone)."""
    lines = [f"On call at {_fmt(at)}", ""]
    if not statuses:
        lines.append("No schedules yet: create one with POST /api/v1/schedules.")
    for status in statuses:
        zone = status.time_zone
        lines.append(f"{status.schedule_name} ({zone})")
        now_on = [
            f"{u.name} until {_local(u.until, zone) if u.until else 'further than a year'}"
            for u in status.on_call
        ]
        lines.append("  now:  " + ("; ".join(now_on) if now_on else "NOBODY (a gap)"))
        if status.next is not None:
            who = ", ".join(u.name for u in status.next.users) or "NOBODY (a gap starts)"
            lines.append(f"  next: {who} from {_local(status.next.at, zone)}")
    if notes:
        lines += ["", "Warnings:", *(f"  ! {note}" for note in notes)]
    return "\n".join(lines)


def schedule_shifts(
    session: Session, schedule_id: int, since: datetime, until: datetime
) -> ShiftsOut:
    """The final shifts of one schedule over ``[since, until)`` and the gaps between them."""
    if until <= since:
        raise ApiError(422, "'until' must be after 'since'")
    if until - since > MAX_SHIFTS_RANGE:
        raise ApiError(422, "ask for at most 366 days of shifts at a time")
    loaded = fetch(session, [schedule_id], overrides_since=since)
    if schedule_id not in loaded.rows:
        raise ApiError(404, f"schedule {schedule_id} does not exist")
    schedule = loaded.pure(schedule_id)
    names = Names(session, loaded.user_ids())
    return ShiftsOut(
        schedule_id=schedule_id,
        since=since,
        until=until,
        shifts=[
            ShiftOut(
                user_id=s.user_id,
                name=names.of(s.user_id),
                start=s.start,
                end=s.end,
                layer=s.layer_index,
            )
            for s in sch.shifts(schedule, since, until)
        ],
        gaps=[GapOut(start=a, end=b) for a, b in sch.gaps(schedule, since, until)],
    )


# --- warnings ----------------------------------------------------------------------------------


def schedule_warnings(
    row: Schedule, schedule: sch.Schedule, now: datetime, names: Names
) -> list[str]:
    """Gaps in the next :data:`WARNING_HORIZON` and deactivated or deleted members."""
    try:
        found = sch.gaps(schedule, now, now + WARNING_HORIZON)
    except sch.ScheduleError as exc:
        return [f"schedule {row.name!r} cannot be computed: {'; '.join(exc.problems)}"]
    result: list[str] = []
    if found:
        listed = ", ".join(f"{_fmt(a)} to {_fmt(b)}" for a, b in found[:GAPS_LISTED])
        more = f" and {len(found) - GAPS_LISTED} more" if len(found) > GAPS_LISTED else ""
        result.append(
            f"schedule {row.name!r} has nobody on call in the next "
            f"{WARNING_HORIZON.days} days: {listed}{more}"
        )
    members = sorted({u for layer in schedule.layers for u in layer.members})
    for uid in members:
        if uid not in names.active:
            result.append(f"schedule {row.name!r}: user {uid} no longer exists")
        elif not names.active[uid]:
            result.append(
                f"schedule {row.name!r}: {names.of(uid)} (user {uid}) is deactivated; "
                "their shifts page nobody"
            )
    return result


def warnings(
    session: Session, now: datetime, *, loaded: Loaded | None = None, names: Names | None = None
) -> list[str]:
    """Everything that would make a page reach nobody: services without an escalation policy,
    schedules with gaps in the next 7 days (or deactivated members), and policy steps that
    resolve to nobody at ``now``."""
    result = [
        f"service {name!r} has no escalation policy: its incidents page nobody"
        for name in session.scalars(
            select(Service.name)
            .where(Service.escalation_policy_id.is_(None))
            .order_by(Service.name)
        )
    ]
    loaded = loaded or fetch(session, overrides_since=now)
    names = names or Names(session, loaded.user_ids())
    for sid, row in sorted(loaded.rows.items(), key=lambda item: item[1].name):
        result.extend(schedule_warnings(row, loaded.pure(sid), now, names))
    policies = list(session.scalars(select(EscalationPolicy).order_by(EscalationPolicy.name)))
    for out in policy_outs(session, policies, now):
        result.extend(f"policy {out.name!r}: {w}" for w in out.warnings)
    return result


def schedule_outs(session: Session, rows: Sequence[Schedule], now: datetime) -> list[ScheduleOut]:
    loaded = fetch(session, [r.id for r in rows], overrides_since=now)
    names = Names(session, loaded.user_ids())
    outs: list[ScheduleOut] = []
    for row in rows:
        layers = loaded.layers[row.id]
        outs.append(
            ScheduleOut(
                id=row.id,
                name=row.name,
                description=row.description,
                time_zone=row.time_zone,
                team_id=row.team_id,
                created_at=row.created_at,
                layers=[
                    LayerOut(
                        id=layer.id,
                        position=layer.position,
                        name=layer.name,
                        rotation=layer.rotation,
                        shift_seconds=layer.shift_seconds,
                        start=layer.start_local,
                        end=layer.end_local,
                        member_ids=loaded.members[layer.id],
                        restrictions=[RestrictionOut(**r) for r in layer.restrictions or ()],
                    )
                    for layer in layers
                ],
                warnings=schedule_warnings(row, loaded.pure(row.id), now, names),
            )
        )
    return outs


# --- overrides ---------------------------------------------------------------------------------


def _describe_override(row: ScheduleOverride, names: Names) -> str:
    who = {
        "add": f"adds {names.of(row.user_id)}",
        "remove": f"removes {names.of(row.user_id)}",
        "replace": f"replaces {names.of(row.user_id)} with {names.of(row.replacement_id or 0)}",
    }[row.kind]
    return f"override {row.id} ({who}, {_fmt(row.start_at)} to {_fmt(row.end_at)})"


def add_override(
    session: Session, schedule_id: int, body: OverrideIn, created_by: int | None
) -> ScheduleOverride:
    """Store an override; 409 naming every existing override it would overlap.

    Overlap is the pure module's rule (intersecting intervals that involve a common user).
    """
    get_schedule(session, schedule_id, lock=True)
    check_instant(body.start, "start")
    check_instant(body.end, "end")
    if body.kind == "replace" and body.replacement_id is None:
        raise ApiError(422, "a replace override needs replacement_id: who covers instead")
    wanted = {body.user_id} | ({body.replacement_id} if body.replacement_id is not None else set())
    names = Names(session, wanted)
    problems = [
        f"user {uid} does not exist" if uid not in names.active else f"user {uid} is deactivated"
        for uid in sorted(wanted)
        if not names.active.get(uid)
    ]
    if problems:
        raise ApiError(422, "; ".join(problems))
    new = sch.Override(
        sch.OverrideKind(body.kind), body.user_id, body.start, body.end, body.replacement_id
    )
    try:
        sch.with_override(sch.Schedule("UTC", ()), new)
    except sch.ScheduleError as exc:
        # Messages of a lone override's own problems ("override 0: ...") without the index.
        raise ApiError(
            422, "; ".join(p.removeprefix("override 0: ") for p in exc.problems)
        ) from None
    candidates = list(
        session.scalars(
            select(ScheduleOverride)
            .where(
                ScheduleOverride.schedule_id == schedule_id,
                ScheduleOverride.start_at < body.end,
                ScheduleOverride.end_at > body.start,
            )
            .order_by(ScheduleOverride.start_at)
        )
    )
    clashes: list[ScheduleOverride] = []
    for row in candidates:
        try:
            sch.with_override(sch.Schedule("UTC", (), (_override(row),)), new)
        except sch.OverlappingOverridesError:
            clashes.append(row)
    if clashes:
        names = Names(
            session, wanted | {u for r in clashes for u in (r.user_id, r.replacement_id) if u}
        )
        raise ApiError(
            409,
            "this override overlaps "
            + "; ".join(_describe_override(r, names) for r in clashes)
            + ": overrides of one schedule that involve the same person cannot overlap",
            [{"override_id": r.id} for r in clashes],
        )
    row = ScheduleOverride(
        schedule_id=schedule_id,
        kind=body.kind,
        user_id=body.user_id,
        replacement_id=body.replacement_id,
        start_at=body.start,
        end_at=body.end,
        note=body.note,
        created_by_id=created_by,
    )
    session.add(row)
    session.flush()
    return row


def list_overrides(
    session: Session, schedule_id: int, since: datetime, until: datetime | None
) -> list[ScheduleOverride]:
    get_schedule(session, schedule_id)
    query = select(ScheduleOverride).where(
        ScheduleOverride.schedule_id == schedule_id, ScheduleOverride.end_at > since
    )
    if until is not None:
        query = query.where(ScheduleOverride.start_at < until)
    return list(session.scalars(query.order_by(ScheduleOverride.start_at, ScheduleOverride.id)))


def delete_override(session: Session, schedule_id: int, override_id: int) -> None:
    row = session.get(ScheduleOverride, override_id)
    if row is None or row.schedule_id != schedule_id:
        raise ApiError(404, f"override {override_id} of schedule {schedule_id} does not exist")
    session.delete(row)


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
    _check_team(session, body.team_id)
    _check_targets(session, body.steps)
    row = EscalationPolicy(
        name=body.name, description=body.description, team_id=body.team_id, repeat=body.repeat
    )
    session.add(row)
    _flush_named(session, "escalation policy", body.name)
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
    _check_team(session, changes.get("team_id"))
    if body.steps is not None:
        _check_targets(session, body.steps)
    with session.no_autoflush:
        for name, value in changes.items():
            setattr(row, name, value)
    _flush_named(session, "escalation policy", row.name)
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
