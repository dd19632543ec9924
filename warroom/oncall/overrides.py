"""Schedule overrides: adding (refusing overlaps), listing and removing them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.errors import ApiError
from warroom.oncall import schedule as sch
from warroom.oncall.models import (
    ScheduleOverride,
)
from warroom.oncall.schedules import Names, check_instant, fmt_utc, get_schedule, pure_override
from warroom.oncall.schemas import (
    OverrideIn,
)

# --- overrides ---------------------------------------------------------------------------------


def _describe_override(row: ScheduleOverride, names: Names) -> str:
    who = {
        "add": f"adds {names.of(row.user_id)}",
        "remove": f"removes {names.of(row.user_id)}",
        "replace": f"replaces {names.of(row.user_id)} with {names.of(row.replacement_id or 0)}",
    }[row.kind]
    return f"override {row.id} ({who}, {fmt_utc(row.start_at)} to {fmt_utc(row.end_at)})"


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
            sch.with_override(sch.Schedule("UTC", (), (pure_override(row),)), new)
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
