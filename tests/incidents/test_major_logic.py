"""The major-incident rules as pure functions: which rules an incident meets, the busiest
window of alert arrivals, and that a rejected reason never proposes again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from warroom.incidents.major import (
    ALERT_BURST,
    PRIORITY_ONE,
    REASON_KINDS,
    TIER_ONE,
    MajorFacts,
    MajorPolicy,
    busiest_window,
    describe,
    propose,
    reasons,
)

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

arrivals = st.lists(
    st.tuples(st.integers(0, 240).map(lambda m: T0 + timedelta(minutes=m)), st.integers(0, 30)),
    max_size=40,
)


def _brute(items: list[tuple[datetime, int]], minutes: int) -> int:
    span = timedelta(minutes=minutes)
    return max(
        (sum(c for t, c in items if start <= t <= start + span) for start, _ in items), default=0
    )


@given(arrivals, st.integers(1, 120))
def test_the_busiest_window_is_the_most_alerts_in_any_span(
    items: list[tuple[datetime, int]], minutes: int
) -> None:
    assert busiest_window(items, minutes) == _brute(items, minutes)


def test_a_p1_on_a_tier_one_service_is_proposed_and_says_why() -> None:
    facts = MajorFacts("triggered", 1, False, tier_one=("checkout-api",))
    found = propose(facts, MajorPolicy())
    assert [r.kind for r in found] == [TIER_ONE, PRIORITY_ONE]
    assert describe(found) == "tier-1 checkout-api affected; priority P1"


def test_more_than_n_alerts_within_the_window_is_proposed_exactly_n_is_not() -> None:
    policy = MajorPolicy(on_tier_one=False, on_priority_one=False, alert_burst=20, burst_minutes=5)
    burst = ((T0, 1), (T0 + timedelta(minutes=2), 10), (T0 + timedelta(minutes=5), 9))
    assert propose(MajorFacts("acknowledged", 3, False, arrivals=burst), policy) == ()
    more = (*burst, (T0 + timedelta(minutes=5), 1))
    found = propose(MajorFacts("acknowledged", 3, False, arrivals=more), policy)
    assert [(r.kind, r.text) for r in found] == [
        (ALERT_BURST, "21 alerts within 5 min (more than 20)")
    ]
    # Spread over more than the window, the same 21 alerts are no burst.
    spread = ((T0, 11), (T0 + timedelta(minutes=6), 10))
    assert propose(MajorFacts("triggered", 3, False, arrivals=spread), policy) == ()


def test_rules_switched_off_propose_nothing() -> None:
    off = MajorPolicy(on_tier_one=False, on_priority_one=False, alert_burst=None)
    facts = MajorFacts("triggered", 1, False, ("a",), ((T0, 10_000),))
    assert propose(facts, off) == ()


facts_strategy = st.builds(
    MajorFacts,
    status=st.sampled_from(["triggered", "acknowledged", "mitigated", "resolved", "closed"]),
    priority=st.integers(1, 5),
    major=st.booleans(),
    tier_one=st.lists(st.sampled_from(["db", "api", "web"]), max_size=3, unique=True).map(tuple),
    arrivals=arrivals.map(tuple),
    rejected=st.frozensets(st.sampled_from(REASON_KINDS)),
)
policies = st.builds(
    MajorPolicy,
    on_tier_one=st.booleans(),
    on_priority_one=st.booleans(),
    alert_burst=st.none() | st.integers(1, 50),
    burst_minutes=st.integers(1, 60),
)


@given(facts_strategy, policies)
def test_a_proposal_is_the_rules_met_minus_the_rejected_on_open_incidents_not_yet_major(
    facts: MajorFacts, policy: MajorPolicy
) -> None:
    found = propose(facts, policy)
    assert not {r.kind for r in found} & facts.rejected
    if facts.major or facts.status in ("resolved", "closed"):
        assert found == ()
    else:
        met = reasons(facts, policy)
        assert found == tuple(r for r in met if r.kind not in facts.rejected)
    if found and policy.on_priority_one and facts.priority == 1:
        assert PRIORITY_ONE in {r.kind for r in found} or PRIORITY_ONE in facts.rejected
