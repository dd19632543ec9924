"""The one writer of the append-only incident timeline: single events and the bulk form.

Every timeline row written by alerts, incidents and the web goes through :func:`add_event` (one
row, in the caller's session) or :func:`add_events` (many rows, one executemany: the intake's
hot path). Nothing updates or deletes these rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert
from sqlalchemy.orm import Session

from warroom.incidents.models import TimelineEvent

TIMELINE = cast(Table, TimelineEvent.__table__)

# Written when an incident starts and its service has no escalation policy: said in one place so
# the declared path, the engine and the alert batch path cannot drift apart.
NOBODY_PAGED_KIND = "paging_warning"
NOBODY_PAGED = "Nobody is paged: the service has no escalation policy"


@dataclass(frozen=True)
class Actor:
    """Who made a change: a user, an integration (signals) or the system (rules, timers)."""

    id: int | None
    name: str
    type: str = "user"


SYSTEM = Actor(None, "Warroom", "system")


def event_row(
    incident_id: int,
    kind: str,
    message: str,
    now: datetime,
    *,
    actor: Actor = SYSTEM,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values of one timeline row, for :func:`add_events`."""
    return {
        "incident_id": incident_id,
        "at": now,
        "kind": kind,
        "actor_type": actor.type,
        "actor_id": actor.id,
        "actor_name": actor.name,
        "message": message,
        "before": before,
        "after": after,
    }


def add_event(
    session: Session,
    incident_id: int,
    kind: str,
    message: str,
    now: datetime,
    *,
    actor: Actor = SYSTEM,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one event in the session's transaction (flushed with the session's other rows)."""
    session.add(
        TimelineEvent(
            **event_row(incident_id, kind, message, now, actor=actor, before=before, after=after)
        )
    )


def add_events(conn: Connection | Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append many events (rows as :func:`event_row` makes them).

    On a Connection: one Core executemany (the intake's batch path). On a Session: added to the
    unit of work, so they keep their order among the session's other pending events.
    """
    if not rows:
        return
    if isinstance(conn, Session):
        conn.add_all(TimelineEvent(**row) for row in rows)
    else:
        conn.execute(insert(TIMELINE), list(rows))


def warn_nobody_paged(
    conn: Connection | Session, incident_ids: Iterable[int], now: datetime
) -> None:
    """Flag incidents whose paging could not start: their service has no escalation policy."""
    add_events(conn, [event_row(iid, NOBODY_PAGED_KIND, NOBODY_PAGED, now) for iid in incident_ids])
