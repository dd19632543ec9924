"""A monitor's decision becomes a signal through the alerts batch path, in the caller's transaction.

The same function the group committer runs (`alerts.service.ingest_batch`): dedup, grouping,
urgency, incidents and paging are one code path whatever the source. The monitor's state change
and its alert commit together, so a crash can neither lose the alert nor send it twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from warroom.alerts.logic import Signal
from warroom.alerts.service import IngestResult, ingest_batch
from warroom.catalog import service as catalog
from warroom.catalog.service import MONITOR_INTEGRATION
from warroom.incidents.logic import Matrix


@dataclass(frozen=True)
class MonitorRequest:
    """What intake's ParsedRequest is for a tool: the signals of one integration."""

    routing_key: str
    signals: Sequence[Signal]
    source_type: str = MONITOR_INTEGRATION


def send(
    session: Session, signals: Sequence[tuple[int, Signal]], now: datetime, matrix: Matrix
) -> list[IngestResult]:
    """Store (integration id, signal) pairs as alerts in the session's transaction."""
    if not signals:
        return []
    by_integration: dict[int, list[Signal]] = defaultdict(list)
    for integration_id, signal in signals:
        by_integration[integration_id].append(signal)
    keys = catalog.routing_keys(session, sorted(by_integration))
    requests = [
        MonitorRequest(keys[integration_id], items)
        for integration_id, items in sorted(by_integration.items())
        if integration_id in keys
    ]
    return ingest_batch(session, requests, now, matrix)
