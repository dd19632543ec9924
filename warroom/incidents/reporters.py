"""Telling the people who reported an incident that it resolved: the timer a resolve writes.

User reports (warroom/reports, above incidents) attach to an incident or raise one. The
resolving transaction writes one `reporters_notice` timer when the incident, or one merged into
it, has reports whose reporters were not yet told; the engine's handler (engine/comms.py)
claims them and writes the outbox rows. The reports table is named here, not imported (it sits
above incidents), as updates.py names the status page's components.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, column, insert, select, table
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident
from warroom.incidents.paging import wake_peers
from warroom.timers.models import Timer

REPORTERS_NOTICE = "reporters_notice"
_REPORTS = table("user_reports", column("incident_id"), column("told_resolved_at"))
INCIDENTS = cast(Table, Incident.__table__)
TIMERS = cast(Table, Timer.__table__)


def merged_family(conn: Connection | Session, incident_ids: Sequence[int]) -> dict[int, int]:
    """Each of these incidents and those merged into them (at any depth) -> the one of
    `incident_ids` it ended up in."""
    family = {i: i for i in incident_ids}
    frontier = list(incident_ids)
    while frontier:
        rows = conn.execute(
            select(INCIDENTS.c.id, INCIDENTS.c.merged_into_id).where(
                INCIDENTS.c.merged_into_id.in_(frontier)
            )
        ).all()
        frontier = [r[0] for r in rows if r[0] not in family]
        for r in rows:
            family.setdefault(r[0], family[r[1]])
    return family


def schedule_notice(conn: Connection | Session, resolved_ids: Sequence[int], now: datetime) -> None:
    """A timer due now for each resolved incident with reporters still to tell."""
    if not resolved_ids:
        return
    family = merged_family(conn, resolved_ids)
    waiting = conn.execute(
        select(_REPORTS.c.incident_id)
        .where(
            _REPORTS.c.incident_id.in_(list(family)),
            _REPORTS.c.told_resolved_at.is_(None),
        )
        .distinct()
    ).scalars()
    incidents = sorted({family[i] for i in waiting})
    if incidents:
        conn.execute(
            insert(TIMERS),
            [
                {
                    "kind": REPORTERS_NOTICE,
                    "incident_id": iid,
                    "due_at": now,
                    "created_at": now,
                    "payload": {},
                }
                for iid in incidents
            ],
        )
        wake_peers(conn)
