"""Flap detection (pure): an alert key whose state changes (firing <-> resolved) more than N
times within M minutes is flapping; it is held (stored, not paging) until it has been stable for
M minutes, and then, if it still fires, pages once.

A key's recent changes are a small record, ``{"t": [epoch seconds, ...], "since": epoch |
None}``: the change times still inside the window (at most :data:`KEEP` of them) and when the
key started flapping. The record rides on the open alert's row (`alerts.flap`, only when the key
had changes before it opened) and, between a resolve and the next trigger, in `alert_flaps`;
the intake reads it with the key probe it makes anyway, so detection costs no query per alert.

Hysteresis: a key starts flapping when more than `threshold` changes fall within the window, and
stays flapping until `window` has passed without a change (fewer changes alone do not end it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# Global defaults, used by every service that does not set its own.
DEFAULT_THRESHOLD = 5
DEFAULT_WINDOW_MINUTES = 60
THRESHOLD_MAX = 50
WINDOW_MAX_MINUTES = 24 * 60
# Change times kept per key: enough to count any threshold allowed and say how many.
KEEP = 64


@dataclass(frozen=True)
class FlapRule:
    threshold: int = DEFAULT_THRESHOLD  # 0: never flapping
    window: timedelta = timedelta(minutes=DEFAULT_WINDOW_MINUTES)

    @classmethod
    def of(cls, threshold: int | None, window_minutes: int | None) -> FlapRule:
        return cls(
            DEFAULT_THRESHOLD if threshold is None else threshold,
            timedelta(minutes=DEFAULT_WINDOW_MINUTES if window_minutes is None else window_minutes),
        )


@dataclass(frozen=True)
class Record:
    """A key's recent change times (ascending) and when it started flapping."""

    changes: tuple[datetime, ...] = ()
    since: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "t": [int(c.timestamp()) for c in self.changes],
            "since": None if self.since is None else int(self.since.timestamp()),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> Record | None:
        if not value:
            return None
        try:
            times = tuple(sorted(datetime.fromtimestamp(int(t), UTC) for t in value.get("t", ())))
            since = value.get("since")
            return cls(times, None if since is None else datetime.fromtimestamp(int(since), UTC))
        except (TypeError, ValueError, OverflowError):
            return None  # unreadable: start afresh rather than fail the batch


@dataclass(frozen=True)
class Flapping:
    """A key that is flapping now: how many changes in the window, since when, and when its
    hold ends if nothing changes any more."""

    changes: int
    window_minutes: int
    since: datetime
    until: datetime

    def summary(self) -> str:
        return f"flapping: {self.changes} changes in {self.window_minutes} min"

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": self.changes,
            "window_minutes": self.window_minutes,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "summary": self.summary(),
        }


def _in_window(changes: Sequence[datetime], now: datetime, window: timedelta) -> list[datetime]:
    return [c for c in changes if now - window < c <= now]


def state(record: Record | None, now: datetime, rule: FlapRule) -> Flapping | None:
    """Whether the key is flapping at `now` by its record (no change added)."""
    if record is None or rule.threshold <= 0 or not record.changes:
        return None
    last = record.changes[-1]
    if now - last >= rule.window:
        return None  # stable for a whole window: the hold is over
    recent = _in_window(record.changes, now, rule.window)
    if record.since is None and len(recent) <= rule.threshold:
        return None
    since = record.since or now
    return Flapping(len(recent), int(rule.window.total_seconds() // 60), since, last + rule.window)


def changed(record: Record | None, at: datetime, rule: FlapRule) -> Record:
    """The record after one more state change at `at`: old changes outside the window dropped
    (at most KEEP kept), `since` set when this change makes the key flap and cleared when the
    key had been stable for a window before it."""
    before = record or Record()
    was = state(before, at, rule) if before.changes else None
    kept = [*_in_window(before.changes, at, rule.window), at][-KEEP:]
    after = Record(tuple(kept), was.since if was is not None else None)
    if after.since is None and rule.threshold > 0 and len(kept) > rule.threshold:
        after = Record(after.changes, at)
    return after


def record_of(flap: Mapping[str, Any] | None, opened_at: datetime | None) -> Record:
    """An open alert's record: the one stored on its row, else only its own opening."""
    found = Record.from_json(flap)
    if found is not None:
        return found
    return Record(() if opened_at is None else (opened_at,))
