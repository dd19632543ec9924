"""What every intake format shares: the parsed request, rejections, and field checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from warroom.alerts.logic import Signal

SEVERITIES = ("critical", "error", "warning", "info")
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
# The alerts.source column width; a longer source is cut, not refused (no sender documents a limit).
MAX_SOURCE = 255


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
    # Events kept as unmapped alerts because the integration's mapping failed on them.
    unmapped: int = 0


def parse_time(value: Any, name: str, errors: list[str]) -> datetime | None:
    """ISO 8601 (nanoseconds allowed, truncated); Go's zero time means "not set"."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.append(f"'{name}' must be an ISO 8601 timestamp string")
        return None
    parsed = _parse_iso(value)
    if isinstance(parsed, str):
        errors.append(f"'{name}' {parsed}: {value[:64]!r}")
        return None
    return parsed


# The alerts of one Alertmanager group mostly share their startsAt: parse each text once.
@lru_cache(maxsize=4096)
def _parse_iso(value: str) -> datetime | None | str:
    """The UTC time, None for Go's zero time, or why the text is not a time."""
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
        return "is not a valid ISO 8601 timestamp"
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is in the year 10000 in UTC
        return "is out of range"


# A JSON "\\u0000" escape: preceded by an even number of backslashes (zero or escaped pairs).
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def without_nul(body: bytes) -> bytes:
    """The body with every "\\u0000" escape (a NUL character in a string) removed.

    PostgreSQL text and jsonb cannot store NUL: kept, one event would fail its whole group
    commit. A raw NUL byte is not valid JSON, so the escape is the only way in.
    """
    if b"\\u0000" not in body:
        return body
    return _NUL_ESCAPE.sub(rb"\1", body)


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
