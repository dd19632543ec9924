"""PagerDuty Events API v2 (POST /v2/enqueue): parsing, validation and PagerDuty's own replies."""

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
    clean_links,
    parse_time,
    without_nul,
)

ACTIONS = ("trigger", "acknowledge", "resolve")
MAX_BYTES = 512 * 1024


def unrecognized() -> IntakeError:
    return IntakeError(400, "Event object format is unrecognized", ["JSON parse error"])


def parse(body: bytes) -> ParsedRequest:
    try:
        event = orjson.loads(without_nul(body))
    except orjson.JSONDecodeError:
        raise unrecognized() from None
    if not isinstance(event, dict):
        raise unrecognized()
    errors: list[str] = []
    routing_key = event.get("routing_key")
    if routing_key is None:
        errors.append("'routing_key' is missing")
    elif not isinstance(routing_key, str) or not routing_key:
        errors.append("'routing_key' must be a non-empty string")
    action = event.get("event_action")
    if action is None:
        errors.append("'event_action' is missing")
    elif action not in ACTIONS:
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or not dedup_key):
        errors.append("'dedup_key' must be a non-empty string")
        dedup_key = None
    elif isinstance(dedup_key, str) and len(dedup_key) > MAX_DEDUP_KEY:
        errors.append(f"'dedup_key' is longer than {MAX_DEDUP_KEY} characters")
    if action in ("acknowledge", "resolve") and event.get("dedup_key") is None:
        errors.append("'dedup_key' is missing")

    signal_fields: dict[str, Any] = {}
    if action == "trigger":
        signal_fields = _payload(event.get("payload"), errors)
        links = clean_links(event.get("links"), "links", errors)
        images = event.get("images")
        if images is not None and not isinstance(images, list):
            errors.append("'images' must be a list")
        signal_fields["links"] = links
    if errors:
        raise IntakeError(400, "Event object is invalid", errors)
    assert isinstance(routing_key, str) and isinstance(action, str)
    # Like PagerDuty: a trigger without a key gets a fresh one, returned to the client.
    key = dedup_key if isinstance(dedup_key, str) else uuid.uuid4().hex
    signal = Signal(action=action, dedup_key=key, **signal_fields)
    return ParsedRequest("pagerduty", routing_key, [signal])


def _payload(payload: Any, errors: list[str]) -> dict[str, Any]:
    if payload is None:
        errors.append("'payload' is missing")
        return {}
    if not isinstance(payload, dict):
        errors.append("'payload' must be an object")
        return {}
    summary = payload.get("summary")
    source = payload.get("source")
    severity = payload.get("severity")
    for name, value in (("summary", summary), ("source", source), ("severity", severity)):
        if value is None:
            errors.append(f"'payload.{name}' is missing")
        elif not isinstance(value, str):
            errors.append(f"'payload.{name}' must be a string")
    if isinstance(summary, str) and len(summary) > MAX_SUMMARY:
        errors.append(f"'payload.summary' is longer than {MAX_SUMMARY} characters")
    if isinstance(severity, str) and severity not in SEVERITIES:
        errors.append("'payload.severity' must be one of critical, error, warning, info")
    started_at = parse_time(payload.get("timestamp"), "payload.timestamp", errors)
    details: dict[str, Any] = {}
    custom = payload.get("custom_details")
    if custom is not None:
        # PagerDuty takes any JSON here; a scalar is kept under one key.
        details = custom if isinstance(custom, dict) else {"details": custom}
    labels = {
        name: payload[name]
        for name in ("component", "group", "class")
        if isinstance(payload.get(name), str)
    }
    return {
        "summary": summary if isinstance(summary, str) else "",
        "source": source[:MAX_SOURCE] if isinstance(source, str) else "",
        "severity": severity if isinstance(severity, str) else "error",
        "details": details,
        "labels": labels,
        "started_at": started_at,
    }


def success_body(dedup_key: str) -> dict[str, str]:
    return {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


def error_body(err: IntakeError) -> dict[str, Any]:
    status = "Unrecognized object" if err.message.endswith("unrecognized") else "invalid event"
    return {"status": status, "message": err.message, "errors": err.errors}
