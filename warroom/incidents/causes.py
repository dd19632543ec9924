"""Incidents caused by an incident on a dependency (ADR 11), after the cause resolves.

A dependant's incident opened while a service it depends on had an open incident joins that one
as "caused by" and does not page. When the cause resolves, a `release_dependants` timer (written
in the resolving transaction, like a silence's release) lets the alerts side look at what the
dependants still have firing (alerts/release_timers.release_dependants); this module stores the
outcome: the link ends, a dependant still firing starts paging from its policy's first step, and
both timelines say so. A merge hands the cause's dependants to the incident that carries on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.orm import Session

from warroom.catalog.models import Service
from warroom.incidents.models import OPEN_STATUSES, Incident
from warroom.incidents.paging import escalation_timer_rows, wake_peers
from warroom.incidents.timeline import add_events, event_row, warn_nobody_paged
from warroom.timers.models import Timer

RELEASE_DEPENDANTS = "release_dependants"
INCIDENTS = cast(Table, Incident.__table__)
TIMERS = cast(Table, Timer.__table__)


@dataclass(frozen=True)
class Dependant:
    """An open incident caused by the resolved one, and how many of its alerts still fire
    (triggered: neither acknowledged nor resolved)."""

    incident_id: int
    firing: int


def schedule_release(
    conn: Connection | Session, resolved_ids: Sequence[int], now: datetime
) -> None:
    """A release timer due now for each resolved incident that has open dependants (an
    indexed look on `caused_by_id`; most incidents have none and get no timer)."""
    if not resolved_ids:
        return
    causes = sorted(
        set(
            conn.execute(
                select(INCIDENTS.c.caused_by_id).where(
                    INCIDENTS.c.caused_by_id.in_(list(resolved_ids)),
                    INCIDENTS.c.status.in_(OPEN_STATUSES),
                )
            ).scalars()
        )
    )
    if causes:
        conn.execute(
            insert(TIMERS),
            [
                {
                    "kind": RELEASE_DEPENDANTS,
                    "incident_id": cause,
                    "due_at": now,
                    "created_at": now,
                    "payload": {},
                }
                for cause in causes
            ],
        )
        wake_peers(conn)


def hand_over(session: Session, source_id: int, target_id: int) -> None:
    """A merge: the source's dependants are now caused by the incident that carries on (and
    the target itself, if it was one of them, is no longer caused by what it now contains)."""
    session.execute(
        update(Incident)
        .where(Incident.caused_by_id == source_id, Incident.id != target_id)
        .values(caused_by_id=target_id)
    )
    session.execute(
        update(Incident)
        .where(Incident.id == target_id, Incident.caused_by_id == source_id)
        .values(caused_by_id=None)
    )


def cause_is_over(session: Session, cause_id: int) -> bool:
    """Resolved or closed now (a reopen before the release timer fired keeps holding them)."""
    status = session.scalar(select(Incident.status).where(Incident.id == cause_id))
    return status in ("resolved", "closed")


def open_dependants(session: Session, cause_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Incident.id)
            .where(Incident.caused_by_id == cause_id, Incident.status.in_(OPEN_STATUSES))
            .order_by(Incident.id)
        )
    )


def release(
    session: Session, cause_id: int, dependants: Sequence[Dependant], now: datetime
) -> list[int]:
    """The cause resolved: each dependant stands on its own; those still triggered with alerts
    firing page now (their policy's first step), the others are only told. Returns the ids
    that started paging."""
    if not dependants:
        return []
    ids = [d.incident_id for d in dependants]
    rows = {
        i.id: i
        for i in session.scalars(select(Incident).where(Incident.id.in_(ids)).with_for_update())
    }
    events = []
    paging: list[tuple[int, int | None]] = []
    for d in dependants:
        inc = rows.get(d.incident_id)
        if inc is None or inc.caused_by_id != cause_id or inc.status not in OPEN_STATUSES:
            continue
        inc.caused_by_id = None
        inc.updated_at = now
        alerts = f"{d.firing} alert{'s' if d.firing != 1 else ''}"
        pages = inc.status == "triggered" and d.firing > 0
        if pages:
            if inc.escalation_policy_id is None and inc.service_id is not None:
                inc.escalation_policy_id = session.scalar(
                    select(Service.escalation_policy_id).where(Service.id == inc.service_id)
                )
            paging.append((inc.id, inc.escalation_policy_id))
            message = f"Cause #{cause_id} resolved; still firing ({alerts}): paging now"
        elif inc.status == "triggered":
            message = f"Cause #{cause_id} resolved; nothing here is firing any more: not paged"
        else:
            message = f"Cause #{cause_id} resolved; this incident is {inc.status}: not paged"
        events.append(
            event_row(
                inc.id,
                "cause_resolved",
                message,
                now,
                after={"caused_by_id": cause_id, "firing": d.firing, "paging": pages},
            )
        )
    session.flush()
    add_events(session, events)
    timers = escalation_timer_rows(paging, now)
    if timers:
        session.add_all(Timer(**row) for row in timers)
        wake_peers(session)
    warn_nobody_paged(session, [iid for iid, policy in paging if policy is None], now)
    if events:
        paged = [iid for iid, _ in paging]
        add_events(
            session,
            [
                event_row(
                    cause_id,
                    "dependants_released",
                    f"{len(events)} incident{'s' if len(events) != 1 else ''} caused by this "
                    f"one stand on their own now"
                    + (
                        f"; paging {', '.join(f'#{i}' for i in paged)} (still firing)"
                        if paged
                        else ""
                    ),
                    now,
                    after={"incident_ids": [e["incident_id"] for e in events], "paging": paged},
                )
            ],
        )
    return [iid for iid, _ in paging]
