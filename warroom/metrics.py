"""Prometheus metrics: events, rejections, alerts and incidents by state, request latency."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from warroom.alerts.models import Alert
from warroom.db.engine import Database
from warroom.incidents.models import INCIDENT_STATUSES, Incident


class _StateCollector(Collector):
    """Counts read from the database at scrape time, so every process reports the same truth."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        incidents = GaugeMetricFamily("warroom_incidents", "Incidents by status", labels=["status"])
        alerts = GaugeMetricFamily("warroom_alerts", "Alerts by status", labels=["status"])
        with self.db.read_session() as session:
            by_state = dict(
                session.execute(
                    select(Incident.status, func.count()).group_by(Incident.status)
                ).all()
            )
            alert_states = dict(
                session.execute(select(Alert.status, func.count()).group_by(Alert.status)).all()
            )
        for status in INCIDENT_STATUSES:
            incidents.add_metric([status], by_state.get(status, 0))
        for status in ("triggered", "acknowledged", "resolved"):
            alerts.add_metric([status], alert_states.get(status, 0))
        yield incidents
        yield alerts


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
        self.request_latency = Histogram(
            "warroom_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.registry.register(_StateCollector(db))


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
