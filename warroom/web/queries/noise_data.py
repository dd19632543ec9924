"""What the silences page (and its inhibition rules), a service's maintenance panel, the
dashboard's maintenance line and the war room's "caused by" links read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts import silences
from warroom.alerts.models import Alert, InhibitRule, Silence
from warroom.catalog.models import Service
from warroom.incidents.models import Incident
from warroom.maintenance import service as maintenance
from warroom.maintenance.models import MaintenanceWindow, maintenance_services
from warroom.maintenance.occurrences import Occurrence, WindowSpec

EXPIRED_SHOWN = 50


@dataclass(frozen=True)
class SilenceRow:
    silence: Silence
    state: str
    matchers: str  # as Alertmanager writes them
    held: int  # open alerts it holds now


def silences_page(session: Session, now: datetime) -> list[SilenceRow]:
    """Pending and active silences (ending soonest first), then the last expired ones."""
    live = session.scalars(
        select(Silence).where(Silence.ends_at > now).order_by(Silence.ends_at, Silence.id)
    ).all()
    expired = session.scalars(
        select(Silence)
        .where(Silence.ends_at <= now)
        .order_by(Silence.ends_at.desc())
        .limit(EXPIRED_SHOWN)
    ).all()
    held: dict[int, int] = {}
    if live:
        for by in session.scalars(
            select(Alert.suppressed_by).where(
                Alert.suppression == "silenced",
                Alert.incident_id.is_(None),
                Alert.status != "resolved",
            )
        ):
            if by and "silence_id" in by:
                held[by["silence_id"]] = held.get(by["silence_id"], 0) + 1
    rows = []
    for s in [*live, *expired]:
        try:
            text = ", ".join(str(m) for m in silences.matchers_of(s))
        except ValueError:
            text = str(s.matchers)
        rows.append(SilenceRow(s, silences.state_of(s, now), text, held.get(s.id, 0)))
    return rows


@dataclass(frozen=True)
class RuleRow:
    rule: InhibitRule
    source: str  # as Alertmanager writes matchers
    target: str
    held: int  # open alerts it holds now


def _text(items: list[dict[str, Any]]) -> str:
    try:
        return ", ".join(str(m) for m in silences.matchers_from_row(items))
    except ValueError:
        return str(items)


def inhibit_rules_page(session: Session) -> list[RuleRow]:
    """Every inhibition rule, oldest first, with how many open alerts each holds now."""
    rules = session.scalars(select(InhibitRule).order_by(InhibitRule.id)).all()
    held: dict[int, int] = {}
    if rules:
        for by in session.scalars(
            select(Alert.suppressed_by).where(
                Alert.suppression == "inhibited",
                Alert.incident_id.is_(None),
                Alert.status != "resolved",
            )
        ):
            if by and "rule_id" in by:
                held[by["rule_id"]] = held.get(by["rule_id"], 0) + 1
    return [
        RuleRow(r, _text(r.source_matchers), _text(r.target_matchers), held.get(r.id, 0))
        for r in rules
    ]


@dataclass(frozen=True)
class WindowRow:
    window: MaintenanceWindow
    spec: WindowSpec
    next: Occurrence | None
    in_progress: bool


def service_windows(session: Session, service_id: int, now: datetime) -> list[WindowRow]:
    """The service's windows in progress or to come, soonest first."""
    s = maintenance_services.c
    windows = session.scalars(
        select(MaintenanceWindow)
        .join(maintenance_services, s.window_id == MaintenanceWindow.id)
        .where(s.service_id == service_id, MaintenanceWindow.cancelled_at.is_(None))
        .order_by(MaintenanceWindow.starts_at)
        .limit(200)
    ).all()
    rows = []
    for w, spec in zip(windows, maintenance.specs(session, windows), strict=True):
        occ = maintenance.next_of(spec, now)
        if occ is not None:
            rows.append(WindowRow(w, spec, occ, occ.starts_at <= now))
    return sorted(rows, key=lambda r: r.next.starts_at if r.next else now)


@dataclass(frozen=True)
class InMaintenance:
    service_id: int
    service_name: str
    title: str
    ends_at: datetime


def in_maintenance_now(session: Session, now: datetime) -> list[InMaintenance]:
    """Services in a maintenance window at `now` (for the dashboard)."""
    names = {r[0]: r[1] for r in session.execute(select(Service.id, Service.name))}
    if not names:
        return []
    current = maintenance.maintenance_now(session.connection(), sorted(names), now)
    return sorted(
        (InMaintenance(sid, names[sid], occ.title, occ.ends_at) for sid, occ in current.items()),
        key=lambda m: m.service_name,
    )


@dataclass(frozen=True)
class CausedRow:
    id: int
    title: str
    status: str
    service: str


def caused_here(session: Session, incident_id: int) -> list[CausedRow]:
    """Incidents of dependent services that joined this one as caused by it."""
    rows = session.execute(
        select(Incident.id, Incident.title, Incident.status, Service.name)
        .outerjoin(Service, Service.id == Incident.service_id)
        .where(Incident.caused_by_id == incident_id)
        .order_by(Incident.id)
        .limit(200)
    ).all()
    return [CausedRow(r[0], r[1], r[2], r[3] or "") for r in rows]
