"""System logs in: the syslog receiver (UDP, TCP with octet counting or LF framing), JSON log
lines from HTTP, the rules store, and what a firing rule sends.

The receiver runs on a thread and event loop of its own in the API process (`warroom serve`,
roles all and api), so a flood of lines costs the API CPU time but never blocks its loop. Lines
are counted in memory (monitors/logrules.py, pure) and are not stored: only the decisions are,
as alerts with sample lines, through the group committer like any intake request. Rules are
reloaded from the database every few seconds; the windows of unchanged rules carry over.
With several API processes each counts the lines it receives (send one source to one process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.actions import open_dedup_keys
from warroom.alerts.logic import Signal
from warroom.catalog import service as catalog
from warroom.catalog.models import Service
from warroom.catalog.service import MONITOR_INTEGRATION
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.incidents.logic import Matrix
from warroom.intake.common import ParsedRequest
from warroom.monitors.logrules import Condition, Decision, Rule, RuleSet, condition_problem
from warroom.monitors.models import LogRule
from warroom.monitors.signals import send as send_signals
from warroom.monitors.syslog import MAX_LINE_BYTES, Framer, LogLine, parse

log = logging.getLogger("warroom.monitors.logs")
RELOAD_SECONDS = 5.0
TICK_SECONDS = 1.0
MAX_CONDITIONS = 10


# --- the rules store ------------------------------------------------------------------------


def validate_conditions(conditions: list[dict[str, str]]) -> list[Condition]:
    if not conditions or len(conditions) > MAX_CONDITIONS:
        raise ApiError(422, f"a rule has 1 to {MAX_CONDITIONS} conditions")
    parsed = []
    for i, c in enumerate(conditions):
        condition = Condition(c["field"], c["op"], c["value"])
        problem = condition_problem(condition)
        if problem:
            raise ApiError(422, problem, [{"field": f"conditions[{i}]", "message": problem}])
        parsed.append(condition)
    return parsed


def create_rule(session: Session, **fields: Any) -> LogRule:
    validate_conditions(fields["conditions"])
    integration = catalog.monitor_integration(session, fields["service_id"])
    rule = LogRule(integration_id=integration.id, **fields)
    session.add(rule)
    session.flush()
    return rule


def resolve_rule_alerts(session: Session, row: LogRule, now: datetime, matrix: Matrix) -> int:
    """Resolve the open alerts the rule raised (one per group key) through the alert path, so
    their incidents auto-resolve as on any resolve event; returns how many were open.

    Deleted or disabled, the rule is never counted again, so nothing else would ever clear
    them (a receiver that still counts it resolves its own at its next reload)."""
    keys = open_dedup_keys(session, row.integration_id, rule_key(row.id, ""))
    send_signals(
        session,
        [
            (
                row.integration_id,
                Signal(
                    action="resolve",
                    dedup_key=key,
                    severity=row.severity,
                    summary=f"Log rule '{row.name}' was deleted or disabled",
                    source="warroom logs",
                ),
            )
            for key in keys
        ],
        now,
        matrix,
    )
    return len(keys)


def delete_rule(session: Session, row: LogRule, now: datetime, matrix: Matrix) -> None:
    resolve_rule_alerts(session, row, now, matrix)
    session.delete(row)
    session.flush()


def set_rule_enabled(
    session: Session, row: LogRule, enabled: bool, now: datetime, matrix: Matrix
) -> None:
    """Disabling resolves what the rule raised; enabling starts it with empty windows."""
    if row.enabled and not enabled:
        resolve_rule_alerts(session, row, now, matrix)
    if row.enabled != enabled:
        row.enabled, row.updated_at = enabled, now
        session.flush()


def rule_of(row: LogRule) -> Rule:
    return Rule(
        id=row.id,
        name=row.name,
        conditions=tuple(Condition(c["field"], c["op"], c["value"]) for c in row.conditions),
        threshold=row.threshold,
        window_seconds=row.window_seconds,
        group_by=row.group_by,
        service_id=row.service_id,
        integration_id=row.integration_id,
        severity=row.severity,
    )


def load_rules(session: Session) -> tuple[list[Rule], dict[int, str]]:
    """The enabled rules of services in use, and the routing key of each rule's integration."""
    rows = list(
        session.scalars(
            select(LogRule)
            .join(Service, Service.id == LogRule.service_id)
            .where(LogRule.enabled.is_(True), Service.archived_at.is_(None))
        )
    )
    keys = catalog.routing_keys(session, sorted({r.integration_id for r in rows}))
    return [rule_of(r) for r in rows], keys


def rule_key(rule_id: int, key: str) -> str:
    return f"logrule:{rule_id}:{key}"[:255]


def signal_of(decision: Decision) -> Signal:
    rule = decision.rule
    scope = f" ({rule.group_by}={decision.key})" if rule.group_by else ""
    summary = (
        f"Log rule '{rule.name}'{scope}: {decision.count} matching lines "
        f"within {rule.window_seconds} s"
    )
    return Signal(
        action=decision.action,
        dedup_key=rule_key(rule.id, decision.key),
        severity=rule.severity,
        summary=summary[:1024],
        source="warroom logs",
        details={
            "rule_id": rule.id,
            "rule": rule.name,
            "key": decision.key,
            "count": decision.count,
            "threshold": rule.threshold,
            "window_seconds": rule.window_seconds,
            "sample_lines": list(decision.samples),
        },
    )


# --- JSON log lines ---------------------------------------------------------------------------


def json_line(item: Any) -> LogLine | None:
    """One JSON object: its "message" (or "msg") and its other fields, as text."""
    if not isinstance(item, dict):
        return None
    message = item.get("message", item.get("msg", ""))
    fields = {
        str(k)[:64]: (v if isinstance(v, str) else str(v))[:MAX_LINE_BYTES]
        for k, v in item.items()
        if k not in ("message", "msg") and v is not None
    }
    return LogLine(str(message)[:MAX_LINE_BYTES], fields)


# --- the receiver -----------------------------------------------------------------------------


Submit = Callable[[ParsedRequest], Awaitable[Any]]


@dataclass
class Counts:
    lines: int = 0
    malformed: int = 0
    oversized: int = 0
    decisions: int = 0
    dropped_connections: int = 0


class LogReceiver:
    def __init__(
        self,
        db: Database,
        submit: Submit,
        *,
        host: str = "127.0.0.1",
        udp_port: int | None = None,
        tcp_port: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.submit = submit
        self.host = host
        self.udp_port = udp_port
        self.tcp_port = tcp_port
        self.clock = clock
        self.counts = Counts()
        self.rules = RuleSet([])
        self.keys: dict[int, str] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None

    # --- lines -> decisions (any thread) -------------------------------------------------

    def reload(self) -> list[Decision]:
        """Load the rules again; the windows of unchanged rules carry over. A rule that was
        firing here and is gone (deleted, disabled) or changed resolves its alerts: sent on the
        receiver's loop when it runs, and returned."""
        with self.db.read_session() as session:
            rules, keys = load_rules(session)
        fresh = RuleSet(rules)
        with self._lock:
            cleared = fresh.carry_over(self.rules, lambda a, b: a == b)
            # The old keys too: a deleted rule's integration may have no rule left.
            self.rules, self.keys = fresh, {**self.keys, **keys}
        loop = self._loop
        if cleared and loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self.send(cleared), loop)
        return cleared

    def observe(self, lines: Iterable[LogLine]) -> list[Decision]:
        now = self.clock()
        decisions: list[Decision] = []
        with self._lock:
            rules = self.rules
            for line in lines:
                self.counts.lines += 1
                if line.malformed:
                    self.counts.malformed += 1
                if rules.rules:
                    decisions.extend(rules.observe(line, now))
        return decisions

    def tick(self) -> list[Decision]:
        with self._lock:
            return self.rules.tick(self.clock())

    def requests_for(self, decisions: list[Decision]) -> list[ParsedRequest]:
        by_key: dict[str, list[Signal]] = {}
        for d in decisions:
            key = self.keys.get(d.rule.integration_id)
            if key is not None:
                by_key.setdefault(key, []).append(signal_of(d))
        self.counts.decisions += len(decisions)
        return [ParsedRequest(MONITOR_INTEGRATION, k, s) for k, s in by_key.items()]

    async def send(self, decisions: list[Decision]) -> None:
        for request in self.requests_for(decisions):
            try:
                await self.submit(request)
            except Exception:
                log.exception("a log rule's alert could not be stored")

    def _received(self, data: bytes) -> None:
        decisions = self.observe([parse(data)])
        if decisions and self._loop is not None:
            self._loop.create_task(self.send(decisions))

    # --- the thread and its event loop ---------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="syslog", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # the bind failed: start() reports it
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stopping = asyncio.Event()
        self.reload()
        transports: list[Any] = []
        server = None
        if self.udp_port is not None:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(self.host, self.udp_port)
            )
            self.udp_port = transport.get_extra_info("sockname")[1]
            transports.append(transport)
        if self.tcp_port is not None:
            server = await loop.create_server(lambda: _Tcp(self), self.host, self.tcp_port)
            self.tcp_port = server.sockets[0].getsockname()[1]
        log.info("syslog receiver on %s: udp %s, tcp %s", self.host, self.udp_port, self.tcp_port)
        self._ready.set()
        last_reload = self.clock()
        try:
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), TICK_SECONDS)
                try:
                    if self.clock() - last_reload >= RELOAD_SECONDS:
                        last_reload = self.clock()
                        await asyncio.to_thread(self.reload)
                    cleared = self.tick()
                    if cleared:
                        await self.send(cleared)
                except Exception:
                    log.exception("syslog receiver upkeep failed")
        finally:
            for t in transports:
                t.close()
            if server is not None:
                server.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, receiver: LogReceiver) -> None:
        self.receiver = receiver

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.receiver._received(data)


class _Tcp(asyncio.Protocol):
    def __init__(self, receiver: LogReceiver) -> None:
        self.receiver = receiver
        self.framer = Framer()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        framer = self.framer
        before = framer.oversized
        for message in framer.feed(data):
            self.receiver._received(message)
        self.receiver.counts.oversized += framer.oversized - before
        if framer.broken and self.transport is not None:
            # Neither octet counting nor lines (binary junk): nothing after it can be framed.
            self.receiver.counts.dropped_connections += 1
            self.transport.close()
