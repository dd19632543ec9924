"""Release timers: when a silence or maintenance occurrence that held alerts back ends, the
engine plans those alerts again (:func:`warroom.alerts.service.release_held`) and the ones still
firing page. One timer per distinct end time; a timer at a time that no longer ends anything
finds nothing to release."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, insert, select

from warroom.incidents.paging import wake_peers
from warroom.timers.models import Timer

RELEASE_HELD = "release_held"
TIMERS = cast(Table, Timer.__table__)


def schedule_releases(conn: Connection, ends: Iterable[datetime], now: datetime) -> None:
    """A release timer due at each end time, unless one is already pending for that time."""
    wanted = sorted({max(e, now) for e in ends})
    if not wanted:
        return
    t = TIMERS.c
    have = set(
        conn.execute(
            select(t.due_at).where(
                t.kind == RELEASE_HELD, t.done_at.is_(None), t.due_at.in_(wanted)
            )
        ).scalars()
    )
    rows = [
        {"kind": RELEASE_HELD, "due_at": due, "payload": {}, "created_at": now}
        for due in wanted
        if due not in have
    ]
    if rows:
        conn.execute(insert(TIMERS), rows)
        wake_peers(conn)
