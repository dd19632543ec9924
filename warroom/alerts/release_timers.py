"""Release timers: when a silence or maintenance occurrence that held alerts back ends, the
engine plans those alerts again (:func:`warroom.alerts.service.release_held`) and the ones still
firing page. One timer per distinct end time; a timer at a time that no longer ends anything
finds nothing to release.

When an incident that others were caused by resolves (incidents/causes.py writes the timer),
:func:`release_dependants` counts what those still have firing and hands it to incidents: the
ones still firing page now, and their alerts are no longer shown as inhibited."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, func, insert, select, update
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert
from warroom.incidents import causes
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


def release_dependants(session: Session, cause_id: int, now: datetime) -> list[int]:
    """The incident `cause_id` resolved: its open dependants stand on their own, and those
    with alerts still triggered page now. Returns the incidents that started paging."""
    if not causes.cause_is_over(session, cause_id):
        return []  # reopened before the timer fired: its next resolve writes another
    ids = causes.open_dependants(session, cause_id)
    if not ids:
        return []
    firing = dict(
        session.execute(
            select(Alert.incident_id, func.count())
            .where(Alert.incident_id.in_(ids), Alert.status == "triggered")
            .group_by(Alert.incident_id)
        ).all()
    )
    session.execute(
        update(Alert)
        .where(
            Alert.incident_id.in_(ids),
            Alert.status != "resolved",
            Alert.suppression == "inhibited",
        )
        .values(suppression=None, suppressed_by=None)
    )
    return causes.release(
        session, cause_id, [causes.Dependant(i, int(firing.get(i, 0))) for i in ids], now
    )
