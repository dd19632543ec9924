"""Storing maintenance windows for services, and which services are in one now.

Windows are shared with the status page (components, announcements: issue 8); this module
writes the services side and answers the alert batch path's question.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select
from sqlalchemy.orm import Session

from warroom.common.zones import known_zone
from warroom.maintenance import windows
from warroom.maintenance.models import MaintenanceWindow, maintenance_services
from warroom.maintenance.occurrences import (
    Occurrence,
    RecurrenceError,
    WindowSpec,
    check_recurrence,
    in_maintenance,
    next_occurrence,
)

TITLE_MAX = 200


class WindowError(ValueError):
    """A window that cannot be saved or changed; the message says why."""


@dataclass(frozen=True)
class WindowIn:
    title: str
    starts_at: datetime
    ends_at: datetime
    service_ids: Sequence[int]
    description: str = ""
    rrule: str | None = None
    recur_until: datetime | None = None
    time_zone: str = "UTC"
    public: bool = False


def _spec(w: MaintenanceWindow, services: Sequence[int]) -> WindowSpec:
    return WindowSpec(
        w.id,
        w.title,
        w.starts_at,
        w.ends_at,
        w.rrule,
        w.recur_until,
        w.time_zone,
        w.cancelled_at,
        frozenset(services),
    )


def create_window(session: Session, data: WindowIn, user_id: int | None) -> MaintenanceWindow:
    title = data.title.strip()
    if not title or len(title) > TITLE_MAX:
        raise WindowError(f"a window needs a title of 1 to {TITLE_MAX} characters")
    if data.ends_at <= data.starts_at:
        raise WindowError("the window must end after it starts")
    if not data.service_ids:
        raise WindowError("name at least one service whose paging the window suppresses")
    if known_zone(data.time_zone) is None:
        raise WindowError(f"unknown time zone {data.time_zone!r}")
    rule = (data.rrule or "").strip() or None
    if rule is not None:
        if rule.upper().startswith("RRULE:"):
            rule = rule[6:]
        try:
            check_recurrence(rule, data.starts_at, data.time_zone)
        except RecurrenceError as exc:
            raise WindowError(str(exc)) from None
        if data.recur_until is not None and data.recur_until <= data.starts_at:
            raise WindowError("the recurrence must end (recur_until) after the first start")
    elif data.recur_until is not None:
        raise WindowError("recur_until needs an rrule")
    window = MaintenanceWindow(
        title=title,
        description=data.description,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        rrule=rule,
        recur_until=data.recur_until if rule else None,
        time_zone=data.time_zone,
        public=data.public,
        created_by_id=user_id,
    )
    session.add(window)
    session.flush()
    session.execute(
        insert(maintenance_services),
        [{"window_id": window.id, "service_id": sid} for sid in sorted(set(data.service_ids))],
    )
    return window


def cancel_window(session: Session, window_id: int, now: datetime) -> MaintenanceWindow:
    window = session.get(MaintenanceWindow, window_id, with_for_update=True)
    if window is None:
        raise LookupError("no such maintenance window")
    if window.cancelled_at is not None:
        raise WindowError("the window is already cancelled")
    window.cancelled_at = now
    # The status page's notices for it stop, and its subscribers hear it was cancelled.
    windows.announce_cancel(session, window, now)
    return window


def window_services(session: Session | Connection, ids: Sequence[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    if ids:
        t = maintenance_services.c
        for wid, sid in session.execute(
            select(t.window_id, t.service_id).where(t.window_id.in_(ids)).order_by(t.service_id)
        ):
            found[wid].append(sid)
    return found


def specs(session: Session, windows: Sequence[MaintenanceWindow]) -> list[WindowSpec]:
    services = window_services(session, [w.id for w in windows])
    return [_spec(w, services.get(w.id, [])) for w in windows]


def next_of(spec: WindowSpec, now: datetime) -> Occurrence | None:
    return next_occurrence(spec, now)


def live_windows(conn: Connection, service_ids: Sequence[int], now: datetime) -> list[WindowSpec]:
    """Windows naming any of these services that may be in progress at `now` (not cancelled,
    started; one-off ones not ended)."""
    if not service_ids:
        return []
    w = MaintenanceWindow.__table__.c
    s = maintenance_services.c
    rows = conn.execute(
        select(
            w.id,
            w.title,
            w.starts_at,
            w.ends_at,
            w.rrule,
            w.recur_until,
            w.time_zone,
            s.service_id,
        )
        .join(maintenance_services, s.window_id == w.id)
        .where(
            s.service_id.in_(service_ids),
            w.cancelled_at.is_(None),
            w.starts_at <= now,
            or_(w.rrule.is_not(None), w.ends_at > now),
        )
    ).all()
    by_window: dict[int, list[int]] = defaultdict(list)
    first: dict[int, Any] = {}
    for r in rows:
        by_window[r.id].append(r.service_id)
        first.setdefault(r.id, r)
    return [
        WindowSpec(
            r.id,
            r.title,
            r.starts_at,
            r.ends_at,
            r.rrule,
            r.recur_until,
            r.time_zone,
            None,
            frozenset(by_window[wid]),
        )
        for wid, r in first.items()
    ]


def maintenance_now(
    conn: Connection, service_ids: Sequence[int], now: datetime
) -> dict[int, Occurrence]:
    """Service id -> the maintenance occurrence suppressing its paging at `now`."""
    windows = live_windows(conn, service_ids, now)
    if not windows:
        return {}
    found: dict[int, Occurrence] = {}
    for sid in service_ids:
        occ = in_maintenance(windows, sid, now)
        if occ is not None:
            found[sid] = occ
    return found
