"""Prometheus metrics: events, rejections, open alerts and incidents, request latency, and the
engine's health (outbox and timer lag, outbox counts, timer failures, committer queue depth)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from warroom.alerts.models import Alert
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.incidents.models import Incident
from warroom.notify.models import Notification
from warroom.timers.models import Timer

# Only open states are counted at scrape time: each is a range of an index whose size is the
# number of open rows, however long the history grows (counting resolved alerts read every
# alert ever stored on each scrape).
OPEN_INCIDENT_STATUSES = ("triggered", "acknowledged", "mitigated")
OPEN_ALERT_STATUSES = ("triggered", "acknowledged")


class _StateCollector(Collector):
    """Read from the database at scrape time, so every process reports the same truth; every
    query is an indexed range read or a min() at one end of an index."""

    def __init__(self, db: Database, metrics: Metrics) -> None:
        self.db = db
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        incidents = GaugeMetricFamily(
            "warroom_incidents", "Open incidents by status", labels=["status"]
        )
        alerts = GaugeMetricFamily("warroom_alerts", "Open alerts by status", labels=["status"])
        outbox = GaugeMetricFamily(
            "warroom_outbox_notifications",
            "Outbox rows: pending (waiting), claimed (being delivered), failed (kept until "
            "retention prunes them)",
            labels=["state"],
        )
        now = utcnow()
        with self.db.read_session() as session:

            def count(*where: Any) -> int:
                return int(session.scalar(select(func.count()).where(*where)) or 0)

            for status in OPEN_INCIDENT_STATUSES:
                incidents.add_metric([status], count(Incident.status == status))
            for status in OPEN_ALERT_STATUSES:
                alerts.add_metric([status], count(Alert.status == status))
            pending = Notification.status == "pending"
            outbox.add_metric(["pending"], count(pending, Notification.lease_token.is_(None)))
            outbox.add_metric(["claimed"], count(pending, Notification.lease_token.is_not(None)))
            outbox.add_metric(["failed"], count(Notification.status == "failed"))
            oldest_note = session.scalar(
                select(func.min(Notification.next_attempt_at)).where(
                    pending, Notification.next_attempt_at <= now, Notification.lease_token.is_(None)
                )
            )
            live_timer = Timer.done_at.is_(None)
            oldest_timer = session.scalar(
                select(func.min(Timer.due_at)).where(live_timer, Timer.due_at <= now)
            )
            failing = count(live_timer, Timer.attempts > 0)
        yield incidents
        yield alerts
        yield outbox
        yield GaugeMetricFamily(
            "warroom_outbox_lag_seconds",
            "Age of the oldest notification that is due and not yet sent or being sent",
            value=_age(now, oldest_note),
        )
        yield GaugeMetricFamily(
            "warroom_timer_lag_seconds",
            "Age of the oldest timer that is due and has not fired",
            value=_age(now, oldest_timer),
        )
        yield GaugeMetricFamily(
            "warroom_timers_failing",
            "Timers that raised and wait for their retry",
            value=failing,
        )
        committer = self.metrics.committer
        yield GaugeMetricFamily(
            "warroom_committer_queue_depth",
            "Intake requests queued for the group commit",
            value=int(getattr(committer, "depth", 0) or 0),
        )


def _age(now: Any, oldest: Any) -> float:
    return max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


class Metrics:
    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.events_received = Counter(
            "warroom_events_received",
            "Events accepted and committed, by source format",
            ["source"],
            registry=self.registry,
        )
        self.events_rejected = Counter(
            "warroom_events_rejected",
            "Events refused, by source format and reason",
            ["source", "reason"],
            registry=self.registry,
        )
        self.events_unmapped = Counter(
            "warroom_events_unmapped",
            "Events kept as unmapped alerts because their integration's mapping failed on them",
            ["source"],
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "warroom_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.timer_failures = Counter(
            "warroom_timer_failures",
            "Timers that raised when fired by this process's engine, by kind",
            ["kind"],
            registry=self.registry,
        )
        # The intake's group committer, once the app has one (its `depth` is read at scrape).
        self.committer: object | None = None
        self.registry.register(_StateCollector(db, self))

    def watch_committer(self, committer: object) -> None:
        self.committer = committer


class LatencyMiddleware:
    """Times every request by its route template (never the raw path: it may hold a key)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.metrics.request_latency.labels(scope["method"], template).observe(
                time.perf_counter() - start
            )
