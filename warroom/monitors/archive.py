"""Archiving a service and bringing it back (issue 9; who may: ADR 10, admins).

Archived, a service is out of use but not gone: every integration's routing key is refused with
409 by the alert batch path (the key probe reads the mark; nothing is stored), its heartbeats,
checks and log rules stop (heartbeat pings are refused, checks are not claimed, log rules are
not loaded), and the pages offer it in no picker. Its incidents, alerts, reviews and metrics
stay as they were and keep linking to it. This module sits at the monitors layer because
archiving stops both the alert path and Warroom's own monitors.

Archiving is refused (409, naming them) while incidents on the service are open: those still
page and are worked on, and an archived service could not receive the resolve events that end
them. Alerts still open without an incident (held by a silence, maintenance, an inhibition
rule or flapping) are resolved through the alert path first, so no release timer later opens
an incident for an archived service. Heartbeats go back to "new" and checks forget their
results: brought back, a heartbeat starts at its next ping (healthchecks.io's paused checks
do the same) and a check runs at once from scratch, so a silence that was expected while the
service was archived never pages after the fact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from warroom.alerts.logic import Signal
from warroom.alerts.models import Alert
from warroom.alerts.service import ingest_batch
from warroom.catalog.models import Integration, Service
from warroom.errors import ApiError
from warroom.incidents.logic import Matrix
from warroom.incidents.models import OPEN_STATUSES, Incident, incident_services
from warroom.monitors.models import Check, Heartbeat

# Incident numbers named in a refusal at most (the rest are counted).
NAMED_INCIDENTS = 20


@dataclass(frozen=True)
class _Resolves:
    """Resolve events for one integration's open alerts, as a tool would send them."""

    source_type: str
    routing_key: str
    signals: Sequence[Signal]


def _locked_service(session: Session, service_id: int) -> Service:
    query = select(Service).where(Service.id == service_id)
    if session.get_bind().dialect.name == "postgresql":
        # The batch path locks the service row too: an intake batch in flight finishes first.
        query = query.with_for_update()
    svc = session.scalars(query).first()
    if svc is None:
        raise ApiError(404, f"service {service_id} does not exist")
    return svc


def open_incident_ids(session: Session, service_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Incident.id)
            .join(incident_services, incident_services.c.incident_id == Incident.id)
            .where(
                incident_services.c.service_id == service_id,
                Incident.status.in_(OPEN_STATUSES),
            )
            .order_by(Incident.id)
        )
    )


def archive_service(session: Session, service_id: int, now: datetime, matrix: Matrix) -> Service:
    svc = _locked_service(session, service_id)
    if svc.archived_at is not None:
        raise ApiError(409, f"service {svc.name!r} is already archived")
    open_ids = open_incident_ids(session, service_id)
    if open_ids:
        named = ", ".join(f"#{i}" for i in open_ids[:NAMED_INCIDENTS])
        more = len(open_ids) - NAMED_INCIDENTS
        raise ApiError(
            409,
            f"service {svc.name!r} has open incidents ({named}"
            + (f" and {more} more" if more > 0 else "")
            + "): resolve them first, then archive it",
            [{"field": "incident_ids", "message": ",".join(map(str, open_ids))}],
        )
    _resolve_open_alerts(session, service_id, now, matrix)
    session.execute(
        update(Heartbeat)
        .where(Heartbeat.service_id == service_id)
        .values(status="new", alert_after=None, started_at=None)
    )
    session.execute(
        update(Check)
        .where(Check.service_id == service_id)
        .values(status="unknown", recent=[], claimed_until=None)
    )
    svc.archived_at = now
    session.flush()
    return svc


def unarchive_service(session: Session, service_id: int, now: datetime) -> Service:
    svc = _locked_service(session, service_id)
    if svc.archived_at is None:
        raise ApiError(409, f"service {svc.name!r} is not archived")
    svc.archived_at = None
    # Checks run at once; heartbeats wait for their next ping (they are "new").
    session.execute(update(Check).where(Check.service_id == service_id).values(next_run_at=now))
    session.flush()
    return svc


def _resolve_open_alerts(session: Session, service_id: int, now: datetime, matrix: Matrix) -> None:
    """The service's alerts not yet resolved (only held ones: it has no open incident), as
    resolve events through the alert path, so inhibition and flap memory follow as usual."""
    rows = session.execute(
        select(Integration.type, Integration.routing_key, Alert.dedup_key, Alert.severity)
        .join(Integration, Integration.id == Alert.integration_id)
        .where(Alert.service_id == service_id, Alert.status != "resolved")
        .order_by(Alert.id)
    ).all()
    if not rows:
        return
    by_key: dict[tuple[str, str], list[Signal]] = defaultdict(list)
    for type_, key, dedup_key, severity in rows:
        by_key[(type_, key)].append(
            Signal(
                action="resolve",
                dedup_key=dedup_key,
                severity=severity,
                summary="The service was archived",
                source="warroom",
            )
        )
    ingest_batch(
        session,
        [_Resolves(type_, key, signals) for (type_, key), signals in by_key.items()],
        now,
        matrix,
    )
