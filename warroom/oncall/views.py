"""Views of on-call: who is on call at an instant and until when, shifts, the overview, and
the warnings that say where paging would reach nobody. Reads only; callers pass ``at``/``now``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog.models import Service
from warroom.common.zones import zone_named
from warroom.errors import ApiError
from warroom.oncall import schedule as sch
from warroom.oncall.models import (
    EscalationPolicy,
    Schedule,
)
from warroom.oncall.policies import policy_outs
from warroom.oncall.schedules import Loaded, Names, fetch, fmt_utc
from warroom.oncall.schemas import (
    GapOut,
    LayerOut,
    NextHandoff,
    OnCallOut,
    OnCallUser,
    RestrictionOut,
    ScheduleOut,
    ShiftOut,
    ShiftsOut,
)

# How far ahead schedules are checked for gaps in warnings.
WARNING_HORIZON = timedelta(days=7)
# The longest range GET .../shifts computes (a year, leap years included).
MAX_SHIFTS_RANGE = timedelta(days=366)
# "until" of an on-call stretch is looked up this far at most (then reported as null).
UNTIL_HORIZON = timedelta(days=366)
# Gaps listed one by one in a warning before the rest are counted.
GAPS_LISTED = 3


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
    return instant.astimezone(zone_named(zone)).strftime("%a %d %b %Y %H:%M %Z")


def overview_text(at: datetime, statuses: Sequence[OnCallOut], notes: Sequence[str]) -> str:
    """The overview as the ``warroom oncall`` command prints it (times in each schedule's zone)."""
    lines = [f"On call at {fmt_utc(at)}", ""]
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
        listed = ", ".join(f"{fmt_utc(a)} to {fmt_utc(b)}" for a, b in found[:GAPS_LISTED])
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
