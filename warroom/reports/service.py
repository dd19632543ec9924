"""Load-decide-store for user reports: store, cluster, attach to an incident or raise one.

Raising is a signal on the service's "Warroom monitors" integration through the alerts batch
path (like every other source); attaching writes a timeline event through
incidents/timeline.py. Both happen in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from warroom.alerts.logic import Signal
from warroom.catalog import service as catalog
from warroom.catalog.models import Service
from warroom.errors import ApiError
from warroom.incidents import timeline
from warroom.incidents.logic import Matrix
from warroom.incidents.models import OPEN_STATUSES, Incident, incident_services
from warroom.monitors.signals import send
from warroom.reports import logic
from warroom.reports.models import UserReport

WINDOW_SECONDS = 900
RAISE_AFTER = 3


def _open_incident(session: Session, service_id: int) -> int | None:
    return session.scalar(
        select(Incident.id)
        .join(incident_services, incident_services.c.incident_id == Incident.id)
        .where(incident_services.c.service_id == service_id, Incident.status.in_(OPEN_STATUSES))
        .order_by(Incident.triggered_at.desc())
        .limit(1)
    )


def submit_report(
    session: Session,
    *,
    service_id: int,
    description: str,
    reporter_id: int | None,
    reporter_name: str,
    source: str,
    now: datetime,
    matrix: Matrix,
    reporter_email: str = "",
) -> UserReport:
    if session.get(Service, service_id) is None:
        raise ApiError(422, f"service {service_id} does not exist", [{"field": "service_id"}])
    catalog.refuse_archived(session, [service_id], "service_id")
    report = UserReport(
        service_id=service_id,
        reporter_id=reporter_id,
        description=description,
        source=source,
        reporter_email=reporter_email,
        created_at=now,
    )
    session.add(report)
    session.flush()
    since = now - timedelta(seconds=WINDOW_SECONDS)
    recent = [
        logic.Report(r.id, r.service_id, r.description, r.created_at, r.incident_id)
        for r in session.scalars(
            select(UserReport).where(
                UserReport.service_id == service_id,
                UserReport.created_at >= since,
                UserReport.incident_id.is_(None),
            )
        )
    ]
    decision = logic.decide(
        logic.Report(report.id, service_id, description, now),
        recent,
        _open_incident(session, service_id),
        now,
        window_seconds=WINDOW_SECONDS,
        raise_after=RAISE_AFTER,
    )
    if decision.action == "attach" and decision.incident_id is not None:
        report.incident_id = decision.incident_id
        timeline.add_event(
            session,
            decision.incident_id,
            "user_report",
            f"{reporter_name} reported: {description[:500]}",
            now,
            actor=timeline.Actor(reporter_id, reporter_name),
        )
    elif decision.action == "raise":
        texts = {r.id: r.text for r in recent} | {report.id: description}
        integration = catalog.monitor_integration(session, service_id)
        signal = Signal(
            action="trigger",
            dedup_key=f"reports:{service_id}:{decision.cluster[0]}",
            severity="error",
            summary=f"{len(decision.cluster)} people report a problem: {description[:200]}",
            source="warroom user reports",
            details={"reports": [texts.get(i, "")[:500] for i in decision.cluster]},
        )
        results = send(session, [(integration.id, signal)], now, matrix)
        opened = [i for r in results for i in r.opened_incidents]
        incident_id = opened[0] if opened else _open_incident(session, service_id)
        if incident_id is not None:
            session.execute(
                update(UserReport)
                .where(UserReport.id.in_(decision.cluster))
                .values(incident_id=incident_id)
            )
            session.refresh(report)
    return report


def claim_resolution_notices(
    session: Session, incident_ids: Sequence[int], now: datetime
) -> list[UserReport]:
    """The reports of these incidents whose reporters were not yet told of a resolution,
    marked told in the same statement: a conditional update, so two engines (or two resolve
    timers) never both claim one report."""
    if not incident_ids:
        return []
    claimed = session.scalars(
        update(UserReport)
        .where(
            UserReport.incident_id.in_(list(incident_ids)),
            UserReport.told_resolved_at.is_(None),
        )
        .values(told_resolved_at=now)
        .returning(UserReport.id)
    ).all()
    if not claimed:
        return []
    return list(
        session.scalars(
            select(UserReport)
            .where(UserReport.id.in_(claimed))
            .order_by(UserReport.id)
            .execution_options(populate_existing=True)
        )
    )
