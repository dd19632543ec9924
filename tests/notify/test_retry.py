"""Retry policy: full-jitter backoff bounds, the attempt limit, and falling back."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from warroom.notify.retry import (
    MAX_ATTEMPTS,
    RetryPolicy,
    after_failure,
    next_attempt_at,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BASE = timedelta(seconds=10)
CAP = timedelta(minutes=5)


class Extreme(random.Random):
    """A random source pinned to one end of [0, 1), to observe the ceiling exactly."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (60, 300), (10_000, 300)],
)
def test_ceiling_doubles_per_attempt_up_to_the_cap(attempt: int, ceiling: float) -> None:
    top = next_attempt_at(attempt, NOW, BASE, CAP, Extreme(1.0))
    assert top - NOW == timedelta(seconds=ceiling)
    assert next_attempt_at(attempt, NOW, BASE, CAP, Extreme(0.0)) == NOW


def test_full_jitter_spreads_delays_over_the_whole_range() -> None:
    rng = random.Random(1234)
    delays = [(next_attempt_at(4, NOW, BASE, CAP, rng) - NOW).total_seconds() for _ in range(500)]
    assert all(0 <= d < 80 for d in delays)
    assert min(delays) < 8 and max(delays) > 72  # not clustered at the ceiling
    assert len(set(delays)) > 450


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError):
        next_attempt_at(0, NOW)


def test_retryable_failure_is_retried_until_the_limit() -> None:
    policy = RetryPolicy(base=BASE, cap=CAP, max_attempts=3)
    first = after_failure(1, retryable=True, now=NOW, policy=policy, rng=Extreme(0.5))
    assert first.kind == "retry" and first.at == NOW + timedelta(seconds=5)
    second = after_failure(2, retryable=True, now=NOW, policy=policy, rng=Extreme(0.5))
    assert second.kind == "retry" and second.at == NOW + timedelta(seconds=10)
    last = after_failure(3, retryable=True, now=NOW, policy=policy)
    assert last.kind == "fallback" and last.at == NOW and "3 attempts" in last.reason


def test_permanent_failure_falls_back_at_once() -> None:
    step = after_failure(1, retryable=False, now=NOW)
    assert (step.kind, step.at) == ("fallback", NOW)


def test_default_policy_gives_up_within_minutes() -> None:
    worst = NOW
    for attempt in range(1, MAX_ATTEMPTS):
        step = after_failure(attempt, retryable=True, now=worst, rng=Extreme(1.0))
        assert step.kind == "retry"
        worst = step.at
    assert worst - NOW < timedelta(minutes=5)
    assert after_failure(MAX_ATTEMPTS, retryable=True, now=worst).kind == "fallback"


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(base=timedelta(0))
    with pytest.raises(ValueError):
        RetryPolicy(base=CAP, cap=BASE)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
