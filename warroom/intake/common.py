"""What every intake format shares: the parsed request, rejections, and field checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from warroom.alerts.logic import Signal

SEVERITIES = ("critical", "error", "warning", "info")
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255


class IntakeError(Exception):
    """The whole request is refused; `errors` lists what is wrong, for the client to fix."""

    def __init__(self, status: int, message: str, errors: list[str]) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


@dataclass(frozen=True)
class Rejection:
    index: int
    key: str | None
    errors: list[str]


@dataclass
class ParsedRequest:
    """The valid signals of one request and the items refused (for batch formats)."""

    source_type: str
    routing_key: str
    signals: list[Signal]
    rejected: list[Rejection] = field(default_factory=list)


def parse_time(value: Any, name: str, errors: list[str]) -> datetime | None:
    """ISO 8601 (nanoseconds allowed, truncated); Go's zero time means "not set"."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.append(f"'{name}' must be an ISO 8601 timestamp string")
        return None
    if value.startswith("0001-01-01"):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Go and many tools send nanoseconds; datetime takes at most microseconds.
    dot = text.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        text = text[: dot + 1] + text[dot + 1 : end][:6] + text[end:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        errors.append(f"'{name}' is not a valid ISO 8601 timestamp: {value[:64]!r}")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def clean_links(value: Any, name: str, errors: list[str]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(f"'{name}' must be a list of {{href, text}} objects")
        return []
    links: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("href"), str):
            errors.append(f"'{name}[{i}].href' must be a string")
            continue
        text = item.get("text", "")
        links.append({"href": item["href"], "text": text if isinstance(text, str) else ""})
    return links
