"""Load-decide-store for heartbeats: create, record a ping, sweep the silent ones, delete.

Each call runs in the caller's transaction; a state change and the signal it sends commit
together (`monitors/signals.py`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from warroom.alerts.logic import Signal
from warroom.alerts.service import IngestResult
from warroom.catalog import service as catalog
from warroom.catalog.models import Service
from warroom.errors import ApiError
from warroom.incidents.logic import Matrix
from warroom.monitors import heartbeat as logic
from warroom.monitors.models import Heartbeat, HeartbeatPing
from warroom.monitors.signals import send

# Pings kept per heartbeat (the newest); each ping's body is kept up to this many characters.
KEEP_PINGS = 100
PING_BODY_CHARS = 10_000
# Heartbeats the sweep turns down per transaction (the rest wait for the next pass).
SWEEP_BATCH = 500
# Old pings (past the newest KEEP_PINGS) are deleted at every PRUNE_EVERY-th ping.
PRUNE_EVERY = 20


def new_ping_key() -> str:
    return secrets.token_urlsafe(16)


def schedule_of(hb: Heartbeat) -> logic.Schedule:
    return logic.Schedule(hb.period_seconds, hb.cron, hb.time_zone, hb.grace_seconds)


def beat_of(hb: Heartbeat) -> logic.Beat:
    return logic.Beat(hb.status, hb.last_ping_at, hb.started_at)


def heartbeat_key(hb_id: int) -> str:
    return f"heartbeat:{hb_id}"


def create_heartbeat(
    session: Session,
    *,
    service_id: int,
    name: str,
    period_seconds: int | None,
    cron: str | None,
    time_zone: str,
    grace_seconds: int,
    severity: str,
) -> Heartbeat:
    if (period_seconds is None) == (cron is None):
        raise ApiError(422, "give either 'period_seconds' or 'cron', not both or neither")
    if cron is not None:
        problem = logic.cron_problem(cron, time_zone)
        if problem is not None:
            raise ApiError(422, problem, [{"field": "cron", "message": problem}])
    integration = catalog.monitor_integration(session, service_id)
    hb = Heartbeat(
        service_id=service_id,
        integration_id=integration.id,
        name=name,
        ping_key=new_ping_key(),
        period_seconds=period_seconds,
        cron=cron,
        time_zone=time_zone,
        grace_seconds=grace_seconds,
        severity=severity,
        status="new",
    )
    session.add(hb)
    session.flush()
    return hb


@dataclass(frozen=True)
class Ping:
    kind: str  # success | start | fail
    exit_status: int | None = None
    method: str = "GET"
    remote_addr: str = ""
    user_agent: str = ""
    body: str = ""
    body_truncated: bool = False


def _signal(hb: Heartbeat, action: str, reason: str, now: datetime) -> Signal:
    details: dict[str, Any] = {
        "heartbeat_id": hb.id,
        "heartbeat": hb.name,
        "reason": reason,
        "last_ping_at": hb.last_ping_at.isoformat() if hb.last_ping_at else None,
        "schedule": hb.cron or f"every {hb.period_seconds} s",
        "grace_seconds": hb.grace_seconds,
    }
    return Signal(
        action=action,
        dedup_key=heartbeat_key(hb.id),
        severity=hb.severity,
        summary=f"Heartbeat '{hb.name}' is down: {reason}"[:1024],
        source="warroom heartbeat",
        details=details,
    )


def record_ping(
    session: Session, ping_key: str, ping: Ping, now: datetime, matrix: Matrix
) -> Heartbeat | None:
    """Store a ping and what it decides; None (nothing stored) for an unknown key, 409
    (nothing stored) when the heartbeat's service is archived."""
    query = (
        select(Heartbeat, Service.name, Service.archived_at)
        .join(Service, Service.id == Heartbeat.service_id)
        .where(Heartbeat.ping_key == ping_key)
    )
    if session.get_bind().dialect.name == "postgresql":
        # One ping or sweep decides at a time; archiving locks the service row.
        query = query.with_for_update()
    found = session.execute(query).first()
    if found is None:
        return None
    hb, service_name, archived_at = found
    if archived_at is not None:
        raise ApiError(
            409,
            f"heartbeat {hb.name!r} belongs to service {service_name!r}, which is archived: "
            "the ping was not recorded; it is watched again from its first ping after an "
            "admin unarchives the service",
        )
    outcome = logic.on_ping(schedule_of(hb), beat_of(hb), ping.kind, now, ping.exit_status)
    kind = ping.kind
    if ping.exit_status is not None:
        kind = "success" if ping.exit_status == 0 else "fail"
    session.add(
        HeartbeatPing(
            heartbeat_id=hb.id,
            at=now,
            kind=kind,
            exit_status=ping.exit_status,
            method=ping.method[:8],
            remote_addr=ping.remote_addr[:64],
            user_agent=ping.user_agent[:200],
            body=ping.body[:PING_BODY_CHARS],
            body_truncated=ping.body_truncated or len(ping.body) > PING_BODY_CHARS,
            duration_seconds=outcome.duration,
        )
    )
    _store(hb, outcome, now)
    if kind != "start":
        hb.last_ping_kind = kind
    hb.pings += 1
    session.flush()
    if hb.pings % PRUNE_EVERY == 0:  # the newest KEEP_PINGS stay; pruned now and then
        _prune_pings(session, hb.id)
    if outcome.action is not None:
        send(
            session,
            [(hb.integration_id, _signal(hb, outcome.action, outcome.reason, now))],
            now,
            matrix,
        )
    return hb


def _store(hb: Heartbeat, outcome: logic.Outcome, now: datetime) -> None:
    hb.status = outcome.beat.status
    hb.last_ping_at = outcome.beat.last_ping_at
    hb.started_at = outcome.beat.started_at
    if outcome.duration is not None:
        hb.last_duration_seconds = outcome.duration
    hb.alert_after = logic.alert_after(schedule_of(hb), outcome.beat)


def _prune_pings(session: Session, heartbeat_id: int) -> None:
    oldest_kept = session.scalar(
        select(HeartbeatPing.id)
        .where(HeartbeatPing.heartbeat_id == heartbeat_id)
        .order_by(HeartbeatPing.id.desc())
        .offset(KEEP_PINGS - 1)
        .limit(1)
    )
    if oldest_kept is not None:
        session.execute(
            delete(HeartbeatPing).where(
                HeartbeatPing.heartbeat_id == heartbeat_id, HeartbeatPing.id < oldest_kept
            )
        )


def sweep_heartbeats(
    session: Session, now: datetime, matrix: Matrix, limit: int = SWEEP_BATCH
) -> tuple[int, list[IngestResult]]:
    """Turn down every heartbeat whose deadline has passed; (how many, their alerts)."""
    query = (
        select(Heartbeat)
        .where(Heartbeat.alert_after <= now)
        .order_by(Heartbeat.alert_after)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    signals: list[tuple[int, Signal]] = []
    heartbeats = list(session.scalars(query))
    for hb in heartbeats:
        outcome = logic.on_silence(schedule_of(hb), beat_of(hb), now)
        _store(hb, outcome, now)
        if outcome.action is not None:
            signals.append((hb.integration_id, _signal(hb, outcome.action, outcome.reason, now)))
    session.flush()
    return len(heartbeats), send(session, signals, now, matrix)


def next_deadline(session: Session) -> datetime | None:
    return session.scalar(
        select(Heartbeat.alert_after)
        .where(Heartbeat.alert_after.is_not(None))
        .order_by(Heartbeat.alert_after)
        .limit(1)
    )


def delete_heartbeat(session: Session, hb: Heartbeat, now: datetime, matrix: Matrix) -> None:
    """Its open alert is resolved first: nothing would ever resolve it afterwards."""
    if hb.status == "down":
        send(session, [(hb.integration_id, _signal(hb, "resolve", "deleted", now))], now, matrix)
    session.delete(hb)
    session.flush()


def recent_pings(session: Session, heartbeat_id: int, limit: int = 20) -> list[HeartbeatPing]:
    return list(
        session.scalars(
            select(HeartbeatPing)
            .where(HeartbeatPing.heartbeat_id == heartbeat_id)
            .order_by(HeartbeatPing.id.desc())
            .limit(limit)
        )
    )
