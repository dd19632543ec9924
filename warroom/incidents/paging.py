"""Starting and stopping an incident's paging: the escalation timer a new or reopened incident
gets, and the timers and unsent pages an acknowledgement or resolution cancels.

Part of the incident's own transition (same transaction), so it lives with incidents; the engine
fires the timers and delivers the outbox (warroom.engine).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select, text, update
from sqlalchemy.orm import Session

from warroom.catalog.models import Service
from warroom.incidents import oversight, oversight_store
from warroom.incidents.models import Incident
from warroom.incidents.timeline import warn_nobody_paged
from warroom.notify.models import Notification
from warroom.timers.models import Timer

ESCALATE = "escalate"
# The outbox kinds that are paging (stopped by an acknowledgement); reminders, role and
# stakeholder notices and the status page's mails are not.
PAGING_KINDS = ("page", "mobilise", "fyi")


def wake_peers(conn: Connection | Session) -> None:
    """Other engine processes LISTEN on this channel (PostgreSQL only; sent at commit)."""
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify('warroom_wake', '')"))


def escalation_timer_rows(
    incidents: Iterable[tuple[int, int | None]], now: datetime
) -> list[dict[str, Any]]:
    """Timer rows that start paging at once for (incident id, policy id) pairs with a policy."""
    return [
        {
            "kind": ESCALATE,
            "incident_id": iid,
            "due_at": now,
            "created_at": now,
            "payload": {"policy_id": pid, "level": 0, "cycle": 0},
        }
        for iid, pid in incidents
        if pid is not None
    ]


def start_escalation(session: Session, incident: Incident, now: datetime) -> None:
    """Page from the first step of the incident's policy (declared incidents, reopen)."""
    if incident.escalation_policy_id is None and incident.service_id is not None:
        incident.escalation_policy_id = session.scalar(
            select(Service.escalation_policy_id).where(Service.id == incident.service_id)
        )
    rows = escalation_timer_rows([(incident.id, incident.escalation_policy_id)], now)
    for row in rows:
        session.add(Timer(**row))
    if not rows:
        warn_nobody_paged(session, [incident.id], now)
    # Oversight (SLA warnings, stale nudges) watches every open incident, paged or not.
    session.add_all(Timer(**row) for row in oversight_store.look_rows([incident.id], now))
    wake_peers(session)


def cancel_paging(session: Session | Connection, incident_ids: list[int], now: datetime) -> None:
    """Acknowledged or resolved: stop escalating and drop pages not yet sent; oversight
    messages the new state makes unwanted are cancelled by their own rule (settle).

    Claimed rows are cancelled too: the engine delivering one sees it at its last check
    before sending, and one already on the wire is still recorded as sent (it keeps its lease
    token for that), but never retried or fallen back."""
    if not incident_ids:
        return
    timers = cast(Table, Timer.__table__)
    notes = cast(Table, Notification.__table__)
    session.execute(
        update(timers)
        .where(
            timers.c.incident_id.in_(incident_ids),
            timers.c.kind == ESCALATE,
            timers.c.done_at.is_(None),
        )
        .values(done_at=now)
    )
    session.execute(
        update(notes)
        .where(
            notes.c.incident_id.in_(incident_ids),
            notes.c.kind.in_(PAGING_KINDS),
            notes.c.status == "pending",
            notes.c.kind.not_in(oversight.OUTBOX_KINDS),
        )
        .values(status="cancelled", last_error="incident acknowledged or resolved")
    )
    oversight_store.settle(session, incident_ids, now)
