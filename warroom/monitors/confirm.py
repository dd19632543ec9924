"""Pure N-of-M confirmation for checks: one blip does not page, a real outage does.

A check goes down when at least `failures` of its last `window` results failed, and comes back
up when its last `failures` results all passed (so the way back needs as much evidence as the
way down, and a flapping target does not open and resolve an alert on every run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Confirmation:
    recent: tuple[bool, ...]
    status: str  # unknown | up | down
    action: str | None  # trigger | resolve | None


def confirm(
    recent: Sequence[bool], status: str, passed: bool, failures: int, window: int
) -> Confirmation:
    """Add one result to the last `window` results and decide the check's status."""
    kept = (*recent, passed)[-window:]
    failed = sum(1 for r in kept if not r)
    if status != "down" and failed >= failures:
        return Confirmation(kept, "down", "trigger")
    if status == "down":
        tail = kept[-failures:]
        if len(tail) == failures and all(tail):
            # The failures that opened the alert are history now: forget them, or they
            # would count towards the next alert.
            return Confirmation(tuple(tail), "up", "resolve")
        return Confirmation(kept, "down", None)
    return Confirmation(kept, "up" if passed or status == "up" else status, None)
