"""Load-decide-store for checks: create, claim the due ones, record results and their signals.

A run is claimed by moving the check's `next_run_at` one interval on and setting a short claim
in the same conditional update (healthchecks' way): on PostgreSQL several engines may run
checks, and each due check is run by exactly one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from warroom.alerts.logic import Signal
from warroom.alerts.service import IngestResult
from warroom.catalog import service as catalog
from warroom.catalog.models import Service
from warroom.errors import ApiError
from warroom.incidents.logic import Matrix
from warroom.monitors.confirm import confirm
from warroom.monitors.models import Check, CheckResult
from warroom.monitors.probe import (
    CheckSpec,
    ProbeResult,
    regex_problem,
    split_host_port,
    status_problem,
)
from warroom.monitors.signals import send

KEEP_RESULTS = 200
PRUNE_EVERY = 20


def check_key(check_id: int) -> str:
    return f"check:{check_id}"


def validate(fields: dict[str, Any]) -> None:
    """422 for a check that could never run as meant."""
    kind, target = fields.get("kind"), str(fields.get("target", ""))
    if kind == "tcp" and split_host_port(target) is None:
        raise ApiError(422, "a TCP check's target is host:port", [{"field": "target"}])
    if kind == "http" and not target.lower().startswith(("http://", "https://")):
        raise ApiError(422, "an HTTP check's target is an http:// or https:// URL")
    problem = status_problem(str(fields.get("expected_status", "2xx")))
    if problem:
        raise ApiError(422, problem, [{"field": "expected_status", "message": problem}])
    regex = fields.get("body_regex") or ""
    problem = regex_problem(regex) if regex else None
    if problem:
        raise ApiError(422, problem, [{"field": "body_regex", "message": problem}])
    if fields.get("confirm_failures", 2) > fields.get("confirm_window", 3):
        raise ApiError(422, "confirm_failures cannot be more than confirm_window")


def create_check(session: Session, now: datetime, **fields: Any) -> Check:
    validate(fields)
    integration = catalog.monitor_integration(session, fields["service_id"])
    check = Check(integration_id=integration.id, next_run_at=now, status="unknown", **fields)
    session.add(check)
    session.flush()
    return check


def spec_of(check: Check) -> CheckSpec:
    return CheckSpec(
        kind=check.kind,
        target=check.target,
        method=check.method,
        expected_status=check.expected_status,
        body_contains=check.body_contains,
        body_regex=check.body_regex,
        max_response_ms=check.max_response_ms,
        cert_expiry_days=check.cert_expiry_days,
        timeout_seconds=check.timeout_seconds,
    )


@dataclass(frozen=True)
class Claimed:
    check_id: int
    spec: CheckSpec


def claim_due(session: Session, now: datetime, limit: int) -> list[Claimed]:
    if limit <= 0:
        return []
    query = (
        select(Check)
        .join(Service, Service.id == Check.service_id)
        .where(
            Check.enabled.is_(True),
            Check.next_run_at <= now,
            or_(Check.claimed_until.is_(None), Check.claimed_until <= now),
            Service.archived_at.is_(None),
        )
        .order_by(Check.next_run_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed: list[Claimed] = []
    for check in session.scalars(query):
        check.next_run_at = now + timedelta(seconds=check.interval_seconds)
        # The run's own time budget and some slack; a crashed engine's claim runs out.
        check.claimed_until = now + timedelta(seconds=check.timeout_seconds * 2 + 30)
        claimed.append(Claimed(check.id, spec_of(check)))
    session.flush()
    return claimed


def _signal(check: Check, action: str, result: ProbeResult) -> Signal:
    what = f"{check.kind.upper()} check '{check.name}'"
    return Signal(
        action=action,
        dedup_key=check_key(check.id),
        severity=check.severity,
        summary=f"{what} is failing: {result.error}"[:1024],
        source="warroom check",
        details={
            "check_id": check.id,
            "target": check.target,
            "error": result.error,
            "status_code": result.status_code,
            "latency_ms": result.latency_ms,
            "confirmation": f"{check.confirm_failures} of {check.confirm_window}",
        },
    )


def record_results(
    session: Session,
    results: list[tuple[int, ProbeResult]],
    now: datetime,
    matrix: Matrix,
) -> list[IngestResult]:
    """Store finished runs, confirm N-of-M and send what changed, in one transaction."""
    if not results:
        return []
    ids = [check_id for check_id, _ in results]
    checks = {
        c.id: c
        for c in session.scalars(
            select(Check)
            .join(Service, Service.id == Check.service_id)
            # Archived while it ran: the result is dropped, as for a disabled check.
            .where(Check.id.in_(ids), Service.archived_at.is_(None))
        )
    }
    signals: list[tuple[int, Signal]] = []
    rows: list[dict[str, Any]] = []
    for check_id, result in results:
        check = checks.get(check_id)
        if check is None or not check.enabled:
            continue  # deleted or disabled while it ran
        decided = confirm(
            check.recent or [],
            check.status,
            result.ok,
            check.confirm_failures,
            check.confirm_window,
        )
        check.recent = list(decided.recent)
        check.status = decided.status
        check.claimed_until = None
        check.last_run_at = now
        check.last_result = {
            "ok": result.ok,
            "latency_ms": result.latency_ms,
            "status_code": result.status_code,
            "error": result.error,
            "cert_days_left": result.cert_days_left,
            "at": now.isoformat(),
        }
        rows.append(
            {
                "check_id": check_id,
                "at": now,
                "ok": result.ok,
                "latency_ms": result.latency_ms,
                "status_code": result.status_code,
                "error": result.error[:2000],
            }
        )
        if decided.action is not None:
            signals.append((check.integration_id, _signal(check, decided.action, result)))
    if rows:
        session.execute(insert(CheckResult), rows)
    session.flush()
    for check_id, check in checks.items():
        # Past the newest KEEP_RESULTS; pruned at one run in PRUNE_EVERY (spread over checks).
        if (check_id + int(now.timestamp() // max(check.interval_seconds, 1))) % PRUNE_EVERY == 0:
            _prune(session, check_id)
    return send(session, signals, now, matrix)


def _prune(session: Session, check_id: int) -> None:
    oldest_kept = session.scalar(
        select(CheckResult.id)
        .where(CheckResult.check_id == check_id)
        .order_by(CheckResult.id.desc())
        .offset(KEEP_RESULTS - 1)
        .limit(1)
    )
    if oldest_kept is not None:
        session.execute(
            delete(CheckResult).where(
                CheckResult.check_id == check_id, CheckResult.id < oldest_kept
            )
        )


def next_run(session: Session) -> datetime | None:
    return session.scalar(
        select(Check.next_run_at)
        .join(Service, Service.id == Check.service_id)
        .where(Check.enabled.is_(True), Service.archived_at.is_(None))
        .order_by(Check.next_run_at)
        .limit(1)
    )


def delete_check(session: Session, check: Check, now: datetime, matrix: Matrix) -> None:
    if check.status == "down":
        send(
            session,
            [(check.integration_id, _signal(check, "resolve", ProbeResult(True)))],
            now,
            matrix,
        )
    session.delete(check)
    session.flush()


def set_enabled(
    session: Session, check: Check, enabled: bool, now: datetime, matrix: Matrix
) -> None:
    """Disabling a down check resolves its alert (a disabled check never runs, so nothing
    else would) and forgets its results: enabled again, it starts from unknown."""
    values: dict[str, Any] = {"enabled": enabled, "next_run_at": now, "claimed_until": None}
    if check.enabled and not enabled:
        if check.status == "down":
            send(
                session,
                [(check.integration_id, _signal(check, "resolve", ProbeResult(True)))],
                now,
                matrix,
            )
        values |= {"status": "unknown", "recent": []}
    session.execute(update(Check).where(Check.id == check.id).values(**values))


def recent_results(session: Session, check_id: int, limit: int = 20) -> list[CheckResult]:
    return list(
        session.scalars(
            select(CheckResult)
            .where(CheckResult.check_id == check_id)
            .order_by(CheckResult.id.desc())
            .limit(limit)
        )
    )
