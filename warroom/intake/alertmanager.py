"""Prometheus Alertmanager webhook receiver: each alert of a group acts by its own status."""

from __future__ import annotations

from typing import Any

import orjson

from warroom.alerts.logic import Signal
from warroom.intake.common import (
    MAX_DEDUP_KEY,
    MAX_SOURCE,
    MAX_SUMMARY,
    IntakeError,
    ParsedRequest,
    Rejection,
    parse_time,
    without_nul,
)

# Alertmanager's severity label is free text; map the common spellings and page on the rest,
# because dropping an alert over a label spelling is worse than paging for it.
SEVERITY_LABELS = {
    "critical": "critical",
    "page": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "error": "error",
    "high": "error",
    "major": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "info": "info",
    "informational": "info",
    "low": "info",
    "none": "info",
}
DEFAULT_SEVERITY = "error"


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's own fingerprint (FNV-1a 64 over sorted labels), for senders that omit it."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        # The separator is the single byte 0xff (Go's model.SeparatorByte), not UTF-8 "\xff".
        for part in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in part:
                h ^= byte
                h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def parse(body: bytes, routing_key: str) -> ParsedRequest:
    try:
        message = orjson.loads(without_nul(body))
    except orjson.JSONDecodeError as exc:
        raise IntakeError(400, "Body is not valid JSON", [f"JSON parse error: {exc}"]) from None
    if not isinstance(message, dict):
        raise IntakeError(400, "Body must be an Alertmanager webhook object", ["not an object"])
    alerts = message.get("alerts")
    if not isinstance(alerts, list):
        raise IntakeError(400, "Not an Alertmanager webhook message", ["'alerts' must be a list"])
    group_key = message.get("groupKey") if isinstance(message.get("groupKey"), str) else None
    external_url = message.get("externalURL")
    signals: list[Signal] = []
    rejected: list[Rejection] = []
    for index, alert in enumerate(alerts):
        errors: list[str] = []
        signal = _alert(alert, group_key, external_url, errors)
        if signal is None or errors:
            key = alert.get("fingerprint") if isinstance(alert, dict) else None
            rejected.append(Rejection(index, key if isinstance(key, str) else None, errors))
        else:
            signals.append(signal)
    if alerts and not signals:
        raise IntakeError(400, "No valid alert in the message", _flatten(rejected))
    return ParsedRequest("alertmanager", routing_key, signals, rejected)


def _flatten(rejected: list[Rejection]) -> list[str]:
    return [f"alerts[{r.index}]: {e}" for r in rejected for e in r.errors]


def _alert(
    alert: Any, group_key: str | None, external_url: Any, errors: list[str]
) -> Signal | None:
    if not isinstance(alert, dict):
        errors.append("alert must be an object")
        return None
    status = alert.get("status")
    if status not in ("firing", "resolved"):
        errors.append("'status' must be 'firing' or 'resolved'")
    labels = alert.get("labels")
    # JSON object keys are always strings; only the values need checking.
    if not isinstance(labels, dict) or not all(type(v) is str for v in labels.values()):
        errors.append("'labels' must be an object of strings")
        labels = {}
    annotations = alert.get("annotations") or {}
    if not isinstance(annotations, dict):
        errors.append("'annotations' must be an object")
        annotations = {}
    key = alert.get("fingerprint")
    if key is None and labels:
        key = fingerprint(labels)
    if not isinstance(key, str) or not key:
        errors.append("'fingerprint' must be a non-empty string")
    elif len(key) > MAX_DEDUP_KEY:
        errors.append(f"'fingerprint' is longer than {MAX_DEDUP_KEY} characters")
    started_at = parse_time(alert.get("startsAt"), "startsAt", errors)
    if errors:
        return None
    assert isinstance(key, str)
    severity = SEVERITY_LABELS.get(labels.get("severity", "").lower(), DEFAULT_SEVERITY)
    summary = str(
        annotations.get("summary")
        or annotations.get("description")
        or " ".join(v for v in (labels.get("alertname"), labels.get("instance")) if v)
        or "Alertmanager alert"
    )[:MAX_SUMMARY]
    links: list[dict[str, Any]] = []
    generator = alert.get("generatorURL")
    if isinstance(generator, str) and generator:
        links.append({"href": generator, "text": "Source"})
    runbook = annotations.get("runbook_url")
    if isinstance(runbook, str) and runbook:
        links.append({"href": runbook, "text": "Runbook"})
    details: dict[str, Any] = {"annotations": annotations}
    if isinstance(external_url, str):
        details["alertmanager_url"] = external_url
    return Signal(
        action="trigger" if status == "firing" else "resolve",
        dedup_key=key,
        severity=severity,
        summary=summary,
        source=(labels.get("instance") or labels.get("job") or "")[:MAX_SOURCE],
        details=details,
        links=links,
        labels=labels,
        group_key=group_key,
        started_at=started_at,
    )


def reply(parsed: ParsedRequest) -> dict[str, Any]:
    return {
        "status": "success",
        "accepted": len(parsed.signals),
        "rejected": [
            {"index": r.index, "fingerprint": r.key, "errors": r.errors} for r in parsed.rejected
        ],
    }
