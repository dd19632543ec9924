"""Retry policy for notification deliveries: when to try again, and when to give up on a method.

Pure functions of (attempt count, outcome, now, random source): the caller stores attempts and
times; nothing here sleeps, reads the clock or touches the database.

Backoff is exponential with "full jitter" (delay drawn uniformly from [0, min(cap, base * 2^n))):
when a provider comes back after an outage, the queued retries of many incidents are spread out
instead of arriving together. The cap is short because a page that arrives an hour late is
worthless; after `max_attempts`, or at once on a permanent failure, the person is reached through
their next contact method instead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

__all__ = [
    "DEFAULT_BASE",
    "DEFAULT_CAP",
    "MAX_ATTEMPTS",
    "NextStep",
    "RetryPolicy",
    "after_failure",
    "next_attempt_at",
]

DEFAULT_BASE = timedelta(seconds=15)
DEFAULT_CAP = timedelta(minutes=10)
# Worst case with the defaults: 15 + 30 + 60 + 120 s of backoff, under four minutes, before
# the next contact method takes over.
MAX_ATTEMPTS = 5

_rng = random.Random()
# 2**60 base periods is far beyond any sane cap; clamping keeps huge attempt counts finite.
_MAX_EXPONENT = 60


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: timedelta = DEFAULT_BASE
    cap: timedelta = DEFAULT_CAP
    max_attempts: int = MAX_ATTEMPTS

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("need 0 < base <= cap")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


def next_attempt_at(
    attempt: int,
    now: datetime,
    base: timedelta = DEFAULT_BASE,
    cap: timedelta = DEFAULT_CAP,
    rng: random.Random | None = None,
) -> datetime:
    """When to make the next attempt after `attempt` attempts (1 = the first one) have failed."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    # Float seconds: timedelta arithmetic would overflow long before the cap applies.
    exponent = min(attempt - 1, _MAX_EXPONENT)
    ceiling = min(cap.total_seconds(), base.total_seconds() * 2.0**exponent)
    return now + timedelta(seconds=ceiling * (rng or _rng).random())


@dataclass(frozen=True, slots=True)
class NextStep:
    """What to do after a failed attempt: retry this method at `at`, or fall back now."""

    kind: Literal["retry", "fallback"]
    at: datetime
    reason: str


def after_failure(
    attempt: int,
    *,
    retryable: bool,
    now: datetime,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
) -> NextStep:
    """Decide between retrying the same contact method and falling back to the next one.

    `attempt` is how many attempts have been made with this method, the failed one included.
    """
    policy = policy or RetryPolicy()
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not retryable:
        return NextStep("fallback", now, "permanent failure")
    if attempt >= policy.max_attempts:
        return NextStep("fallback", now, f"gave up after {attempt} attempts")
    at = next_attempt_at(attempt, now, policy.base, policy.cap, rng)
    return NextStep("retry", at, f"attempt {attempt} of {policy.max_attempts} failed")
