"""Announcing maintenance windows on the status page: create, edit and cancel them, and schedule
the timers that tell the status page's subscribers when a window is announced, starts and ends.

The timers (kind `status_page_maintenance`, payload `{"window_id", "event"}`) are written in the
same transaction as the window; the engine hands them to the status page. Editing a window's
times replaces its pending start/end timers; cancelling marks them done and announces the
cancellation. A timer whose window moved or was cancelled meanwhile does nothing.

A recurring window (an RRULE, see occurrences.py) is announced once, with its rule in words,
and again when edited or cancelled; its occurrences starting and ending are shown on the page
but mailed to nobody (a weekly window would otherwise mail every subscriber twice a week).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from warroom.catalog.models import Service
from warroom.common.zones import known_zone
from warroom.errors import ApiError
from warroom.maintenance.models import (
    MaintenanceWindow,
    maintenance_components,
    maintenance_services,
)
from warroom.maintenance.occurrences import RecurrenceError, WindowSpec, check_recurrence, current
from warroom.timers.models import Timer

MAINTENANCE_NOTICE = "status_page_maintenance"
EVENTS = ("announced", "updated", "started", "ended", "cancelled")


def _component_ids_exist(session: Session, ids: Sequence[int]) -> None:
    # The components table belongs to the status page (above this domain): named, not imported.
    from sqlalchemy import column, table

    components = table("components", column("id"))
    found = set(session.scalars(select(components.c.id).where(components.c.id.in_(ids))))
    missing = sorted(set(ids) - found)
    if missing:
        raise ApiError(422, f"component {missing[0]} does not exist")


def _service_ids_exist(session: Session, ids: Sequence[int]) -> None:
    found = set(session.scalars(select(Service.id).where(Service.id.in_(ids))))
    missing = sorted(set(ids) - found)
    if missing:
        raise ApiError(422, f"service {missing[0]} does not exist")


def component_ids(session: Session, window_id: int) -> list[int]:
    return list(
        session.scalars(
            select(maintenance_components.c.component_id)
            .where(maintenance_components.c.window_id == window_id)
            .order_by(maintenance_components.c.component_id)
        )
    )


def service_ids(session: Session, window_id: int) -> list[int]:
    return list(
        session.scalars(
            select(maintenance_services.c.service_id)
            .where(maintenance_services.c.window_id == window_id)
            .order_by(maintenance_services.c.service_id)
        )
    )


def _set_links(
    session: Session,
    window_id: int,
    components: Sequence[int] | None,
    services: Sequence[int] | None,
) -> None:
    if components is not None:
        _component_ids_exist(session, components)
        session.execute(
            delete(maintenance_components).where(maintenance_components.c.window_id == window_id)
        )
        if components:
            session.execute(
                insert(maintenance_components),
                [{"window_id": window_id, "component_id": c} for c in sorted(set(components))],
            )
    if services is not None:
        _service_ids_exist(session, services)
        session.execute(
            delete(maintenance_services).where(maintenance_services.c.window_id == window_id)
        )
        if services:
            session.execute(
                insert(maintenance_services),
                [{"window_id": window_id, "service_id": s} for s in sorted(set(services))],
            )


def _timer(session: Session, window: MaintenanceWindow, event: str, due: datetime) -> None:
    session.add(
        Timer(
            kind=MAINTENANCE_NOTICE,
            due_at=due,
            payload={"window_id": window.id, "event": event},
        )
    )


def _pending_timers(session: Session, window_id: int) -> list[Timer]:
    timers = session.scalars(
        select(Timer).where(Timer.kind == MAINTENANCE_NOTICE, Timer.done_at.is_(None))
    )
    return [t for t in timers if t.payload.get("window_id") == window_id]


def _schedule(session: Session, window: MaintenanceWindow, now: datetime, event: str) -> None:
    """The notices of a public window: `event` now, and its start and end when they come."""
    if not window.public:
        return
    _timer(session, window, event, now)
    if window.rrule is not None:
        return  # announced once: its occurrences are not mailed
    if window.starts_at > now:
        _timer(session, window, "started", window.starts_at)
    if window.ends_at > now:
        _timer(session, window, "ended", window.ends_at)


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise ApiError(422, "a maintenance window must end after it starts")


def _check_recurrence(
    rrule: str | None, recur_until: datetime | None, time_zone: str, starts_at: datetime
) -> str | None:
    """The rule as stored (without an 'RRULE:' prefix), or None for a one-off window; 422 with
    what to change otherwise."""
    if known_zone(time_zone) is None:
        raise ApiError(422, f"unknown time zone {time_zone!r}: use an IANA name (Europe/Berlin)")
    rule = (rrule or "").strip() or None
    if rule is None:
        if recur_until is not None:
            raise ApiError(422, "recur_until needs an rrule")
        return None
    if rule.upper().startswith("RRULE:"):
        rule = rule[6:]
    try:
        check_recurrence(rule, starts_at, time_zone)
    except RecurrenceError as exc:
        raise ApiError(422, f"rrule: {exc}") from None
    if recur_until is not None and recur_until <= starts_at:
        raise ApiError(422, "recur_until must be after the first occurrence starts")
    return rule


def create(
    session: Session,
    *,
    title: str,
    description: str,
    starts_at: datetime,
    ends_at: datetime,
    component_ids: Sequence[int],
    service_ids: Sequence[int],
    public: bool,
    created_by_id: int | None,
    now: datetime,
    rrule: str | None = None,
    recur_until: datetime | None = None,
    time_zone: str = "UTC",
) -> MaintenanceWindow:
    """A window from `starts_at` to `ends_at`, or, with `rrule`, the first occurrence of a
    series read in `time_zone` (each occurrence as long as the first)."""
    _check_times(starts_at, ends_at)
    rule = _check_recurrence(rrule, recur_until, time_zone, starts_at)
    window = MaintenanceWindow(
        title=title,
        description=description,
        starts_at=starts_at,
        ends_at=ends_at,
        rrule=rule,
        recur_until=recur_until if rule else None,
        time_zone=time_zone,
        public=public,
        created_by_id=created_by_id,
        created_at=now,
    )
    session.add(window)
    session.flush()
    _set_links(session, window.id, component_ids, service_ids)
    _schedule(session, window, now, "announced")
    return window


def get(session: Session, window_id: int) -> MaintenanceWindow:
    window = session.get(MaintenanceWindow, window_id)
    if window is None:
        raise ApiError(404, f"maintenance window {window_id} does not exist")
    return window


def update(
    session: Session,
    window: MaintenanceWindow,
    now: datetime,
    *,
    title: str | None = None,
    description: str | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    component_ids: Sequence[int] | None = None,
    service_ids: Sequence[int] | None = None,
    public: bool | None = None,
) -> MaintenanceWindow:
    if window.cancelled_at is not None:
        raise ApiError(409, "the maintenance window was cancelled")
    if window.ends_at <= now and window.rrule is None:
        raise ApiError(409, "the maintenance window is over")
    new_start = starts_at or window.starts_at
    new_end = ends_at or window.ends_at
    _check_times(new_start, new_end)
    if window.starts_at <= now and new_start != window.starts_at:
        raise ApiError(409, "the maintenance window has started: only its end can move")
    window.title = title if title is not None else window.title
    window.description = description if description is not None else window.description
    window.starts_at, window.ends_at = new_start, new_end
    if public is not None:
        window.public = public
    _set_links(session, window.id, component_ids, service_ids)
    for timer in _pending_timers(session, window.id):
        timer.done_at = now
    _schedule(session, window, now, "updated")
    return window


def cancel(session: Session, window: MaintenanceWindow, now: datetime) -> MaintenanceWindow:
    if window.cancelled_at is not None:
        return window
    if window.ends_at <= now and window.rrule is None:
        raise ApiError(409, "the maintenance window is over")
    window.cancelled_at = now
    announce_cancel(session, window, now)
    return window


def announce_cancel(session: Session, window: MaintenanceWindow, now: datetime) -> None:
    """A window was cancelled (here or by `service.cancel_window`): its pending notices stop and
    subscribers of a public one are told."""
    for timer in _pending_timers(session, window.id):
        timer.done_at = now
    if window.public:
        _timer(session, window, "cancelled", now)


def spec_of(window: MaintenanceWindow) -> WindowSpec:
    """What the occurrence math reads of a window (its services are not needed here)."""
    return WindowSpec(
        window.id,
        window.title,
        window.starts_at,
        window.ends_at,
        window.rrule,
        window.recur_until,
        window.time_zone,
        window.cancelled_at,
    )


def active_component_ids(session: Session, now: datetime) -> set[int]:
    """Components of windows in progress at `now`: one-off windows between their start and
    end, recurring ones during an occurrence (occurrences.current)."""
    w = MaintenanceWindow
    rows = session.execute(
        select(maintenance_components.c.component_id, w.rrule, w.id)
        .join(w, w.id == maintenance_components.c.window_id)
        .where(
            w.cancelled_at.is_(None),
            w.starts_at <= now,
            w.rrule.is_not(None) | (w.ends_at > now),
        )
    ).all()
    found = {cid for cid, rule, _ in rows if rule is None}
    recurring = {wid for _, rule, wid in rows if rule is not None}
    if recurring:
        running = {
            window.id
            for window in session.scalars(select(w).where(w.id.in_(recurring)))
            if current(spec_of(window), now) is not None
        }
        found |= {cid for cid, rule, wid in rows if rule is not None and wid in running}
    return found
