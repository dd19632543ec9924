"""What the service page shows of Warroom's own monitors: heartbeats with their last pings and
status at the time of reading, checks with their last results."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.monitors import heartbeat as heartbeat_logic
from warroom.monitors import service as heartbeat_service
from warroom.monitors.models import Check, CheckResult, Heartbeat, HeartbeatPing

SHOWN = 5


@dataclass
class HeartbeatRow:
    heartbeat: Heartbeat
    state: str
    pings: list[HeartbeatPing] = field(default_factory=list)


@dataclass
class CheckRow:
    check: Check
    results: list[CheckResult] = field(default_factory=list)


@dataclass
class ServiceMonitors:
    heartbeats: list[HeartbeatRow]
    checks: list[CheckRow]


def _newest(session: Session, model: Any, column: str, ids: list[int]) -> dict[int, list[Any]]:
    """The SHOWN newest rows of each owner in one query (at most 100-200 are kept per owner)."""
    found: dict[int, list[Any]] = defaultdict(list)
    if not ids:
        return found
    owner = getattr(model, column)
    rows: list[Any] = list(
        session.scalars(select(model).where(owner.in_(ids)).order_by(owner, model.id.desc()))
    )
    for row in rows:
        bucket = found[getattr(row, column)]
        if len(bucket) < SHOWN:
            bucket.append(row)
    return found


def service_monitors(session: Session, service_id: int, now: datetime) -> ServiceMonitors:
    heartbeats = list(
        session.scalars(
            select(Heartbeat).where(Heartbeat.service_id == service_id).order_by(Heartbeat.name)
        )
    )
    checks = list(
        session.scalars(select(Check).where(Check.service_id == service_id).order_by(Check.name))
    )
    pings = _newest(session, HeartbeatPing, "heartbeat_id", [h.id for h in heartbeats])
    results = _newest(session, CheckResult, "check_id", [c.id for c in checks])
    return ServiceMonitors(
        [
            HeartbeatRow(
                h,
                heartbeat_logic.state_at(
                    heartbeat_service.schedule_of(h), heartbeat_service.beat_of(h), now
                ),
                pings.get(h.id, []),
            )
            for h in heartbeats
        ],
        [CheckRow(c, results.get(c.id, [])) for c in checks],
    )
