"""Warroom's generic JSON event format, for scripts and tools with a plain webhook.

One event, or a list of up to 1,000 events:
    {"summary": "...", "severity": "critical|error|warning|info",
     "action": "trigger|acknowledge|resolve", "dedup_key": "...", "source": "...",
     "details": {...}, "links": [{"href": ..., "text": ...}], "started_at": "2026-11-27T09:00:00Z"}
Only summary and severity are required for a trigger; dedup_key for acknowledge and resolve.
Unknown keys are refused so that a typo (e.g. "severty") never silently becomes a default.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from warroom.alerts.logic import Signal
from warroom.intake.common import (
    MAX_DEDUP_KEY,
    MAX_SOURCE,
    MAX_SUMMARY,
    SEVERITIES,
    IntakeError,
    ParsedRequest,
    Rejection,
    clean_links,
    parse_time,
    without_nul,
)

FIELDS = ("summary", "severity", "action", "dedup_key", "source", "details", "links", "started_at")
MAX_EVENTS = 1000


def parse(body: bytes, routing_key: str) -> ParsedRequest:
    try:
        data = orjson.loads(without_nul(body))
    except orjson.JSONDecodeError as exc:
        raise IntakeError(400, "Body is not valid JSON", [f"JSON parse error: {exc}"]) from None
    single = isinstance(data, dict)
    events = [data] if single else data
    if not isinstance(events, list) or not events:
        raise IntakeError(400, "Body must be an event object or a non-empty list of events", [])
    if len(events) > MAX_EVENTS:
        raise IntakeError(413, f"At most {MAX_EVENTS} events per request", [])
    signals: list[Signal] = []
    rejected: list[Rejection] = []
    for index, event in enumerate(events):
        errors: list[str] = []
        signal = _event(event, errors)
        if signal is None:
            key = event.get("dedup_key") if isinstance(event, dict) else None
            rejected.append(Rejection(index, key if isinstance(key, str) else None, errors))
        else:
            signals.append(signal)
    if not signals:
        prefix = "" if single else "events[{}]: "
        raise IntakeError(
            400,
            "Event is invalid" if single else "No valid event in the request",
            [prefix.format(r.index) + e for r in rejected for e in r.errors],
        )
    return ParsedRequest("generic", routing_key, signals, rejected)


def _event(event: Any, errors: list[str]) -> Signal | None:
    if not isinstance(event, dict):
        errors.append("event must be an object")
        return None
    unknown = sorted(set(event) - set(FIELDS))
    if unknown:
        errors.append(f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(FIELDS)}")
    action = event.get("action", "trigger")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("'action' must be one of trigger, acknowledge, resolve")
    key = event.get("dedup_key")
    if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_DEDUP_KEY):
        errors.append(f"'dedup_key' must be a string of 1 to {MAX_DEDUP_KEY} characters")
    if action in ("acknowledge", "resolve") and key is None:
        errors.append("'dedup_key' is required to acknowledge or resolve")
    summary = event.get("summary")
    severity = event.get("severity")
    if action == "trigger":
        if not isinstance(summary, str) or not summary.strip():
            errors.append("'summary' is required: a non-empty string")
        elif len(summary) > MAX_SUMMARY:
            errors.append(f"'summary' is longer than {MAX_SUMMARY} characters")
        if severity not in SEVERITIES:
            errors.append("'severity' is required: one of critical, error, warning, info")
    source = event.get("source", "")
    if not isinstance(source, str):
        errors.append("'source' must be a string")
    details = event.get("details", {})
    if not isinstance(details, dict):
        errors.append("'details' must be an object")
    links = clean_links(event.get("links"), "links", errors)
    started_at = parse_time(event.get("started_at"), "started_at", errors)
    if errors:
        return None
    return Signal(
        action=str(action),
        dedup_key=key if isinstance(key, str) else uuid.uuid4().hex,
        severity=str(severity) if severity in SEVERITIES else "error",
        summary=summary if isinstance(summary, str) else "",
        source=str(source)[:MAX_SOURCE],
        details=details,
        links=links,
        started_at=started_at,
    )
