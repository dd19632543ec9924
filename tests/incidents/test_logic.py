"""Pure incident rules: the ITIL priority matrix, severity -> urgency, and the lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.config import Settings
from warroom.incidents.logic import (
    ACTIONS,
    DEFAULT_MATRIX,
    PRIORITY_NAMES,
    Lifecycle,
    TransitionError,
    impact_for_tier,
    priority_for,
    transition,
    urgency_for_severity,
    worst_severity,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
STATUSES = ("triggered", "acknowledged", "mitigated", "resolved", "closed")

# product.md, "Priority matrix" (ServiceNow's default), impact x urgency -> (P, name).
PRODUCT_MATRIX = {
    (1, 1): (1, "critical"),
    (1, 2): (2, "high"),
    (1, 3): (3, "moderate"),
    (2, 1): (2, "high"),
    (2, 2): (3, "moderate"),
    (2, 3): (4, "low"),
    (3, 1): (3, "moderate"),
    (3, 2): (4, "low"),
    (3, 3): (4, "low"),
}


@pytest.mark.parametrize(("impact", "urgency"), sorted(PRODUCT_MATRIX))
def test_every_cell_of_the_documented_priority_matrix(impact: int, urgency: int) -> None:
    priority, name = PRODUCT_MATRIX[(impact, urgency)]
    assert priority_for(impact, urgency) == priority
    assert PRIORITY_NAMES[priority] == name


def test_the_default_settings_use_the_documented_matrix() -> None:
    assert Settings().priority_matrix == DEFAULT_MATRIX
    assert PRIORITY_NAMES[5] == "planning"


def test_a_custom_matrix_is_used_cell_by_cell() -> None:
    # A stricter shop: anything high-impact is P1, low impact never above P4, P5 for the rest.
    custom = [[1, 1, 2], [2, 3, 4], [4, 5, 5]]
    for impact in (1, 2, 3):
        for urgency in (1, 2, 3):
            assert priority_for(impact, urgency, custom) == custom[impact - 1][urgency - 1]
    assert priority_for(1, 3, custom) == 2 and priority_for(1, 3) == 3
    assert priority_for(3, 3, custom) == 5


def test_a_custom_matrix_from_the_environment_is_validated() -> None:
    assert Settings(priority_matrix="[[1,1,2],[2,3,4],[4,5,5]]").priority_matrix[2] == [4, 5, 5]
    for bad in ("[[1,2,3],[2,3,4]]", "[[1,2,3],[2,3,4],[3,4,6]]", "[[0,2,3],[2,3,4],[3,4,4]]"):
        with pytest.raises(ValueError, match="3 rows of 3 priorities between 1 and 5"):
            Settings(priority_matrix=bad)


@pytest.mark.parametrize(("impact", "urgency"), [(0, 1), (4, 1), (1, 0), (1, 4)])
def test_impact_and_urgency_outside_one_to_three_are_refused(impact: int, urgency: int) -> None:
    with pytest.raises(ValueError, match="1 \\(high\\) to 3 \\(low\\)"):
        priority_for(impact, urgency)


def test_severity_to_urgency() -> None:
    # critical and error page now (high urgency); warning and info do not.
    assert urgency_for_severity("critical") == 1
    assert urgency_for_severity("error") == 1
    assert urgency_for_severity("warning") > 1
    assert urgency_for_severity("info") == 3
    assert urgency_for_severity("warning") <= urgency_for_severity("info")


def test_worst_severity_and_tier_impact() -> None:
    assert worst_severity(None, "info") == "info"
    assert worst_severity("warning", "critical") == "critical"
    assert worst_severity("critical", "info") == "critical"
    assert [impact_for_tier(t) for t in (1, 2, 3)] == [1, 2, 3]


# --- lifecycle -------------------------------------------------------------------------------

NEXT = {
    ("triggered", "acknowledge"): "acknowledged",
    ("triggered", "mitigate"): "mitigated",
    ("triggered", "resolve"): "resolved",
    ("acknowledged", "mitigate"): "mitigated",
    ("acknowledged", "resolve"): "resolved",
    ("mitigated", "resolve"): "resolved",
    ("resolved", "reopen"): "acknowledged",
    ("resolved", "close"): "closed",
}
STAMP = {
    "acknowledge": "acknowledged_at",
    "mitigate": "mitigated_at",
    "resolve": "resolved_at",
    "close": "closed_at",
}


def at_status(status: str) -> Lifecycle:
    """A realistic lifecycle in `status`, its timestamps set by the path that led there."""
    t = [T0 + timedelta(minutes=m) for m in range(5)]
    return {
        "triggered": Lifecycle("triggered"),
        "acknowledged": Lifecycle("acknowledged", t[1]),
        "mitigated": Lifecycle("mitigated", t[1], t[2]),
        "resolved": Lifecycle("resolved", t[1], t[2], t[3]),
        "closed": Lifecycle("closed", t[1], t[2], t[3], t[4]),
    }[status]


@pytest.mark.parametrize(("status", "action"), [(s, a) for s in STATUSES for a in ACTIONS])
def test_every_status_and_action(status: str, action: str) -> None:
    now = T0 + timedelta(hours=1)
    current = at_status(status)
    expected = NEXT.get((status, action))
    if expected is None:
        with pytest.raises(TransitionError) as err:
            transition(current, action, now)
        message = str(err.value)
        assert message.startswith(f"cannot {action}: ")
        assert status in message  # it says what state stands in the way
        return
    after = transition(current, action, now)
    assert after.status == expected
    if action in STAMP:
        assert getattr(after, STAMP[action]) == now
    if action == "reopen":
        # Someone is on it again: acknowledged (keeping when it was first acknowledged), no
        # longer mitigated or resolved.
        assert after.acknowledged_at == current.acknowledged_at
        assert after.mitigated_at is None and after.resolved_at is None
    if action == "close":
        assert after.resolved_at == current.resolved_at  # MTTR keeps its end


@pytest.mark.parametrize(
    ("status", "action", "says"),
    [
        ("acknowledged", "acknowledge", "already acknowledged"),
        ("resolved", "resolve", "already resolved"),
        ("closed", "close", "already closed"),
        ("closed", "reopen", "declare a new incident"),
        ("resolved", "acknowledge", "reopen it first"),
        ("triggered", "close", "only a resolved incident can be closed"),
        ("mitigated", "reopen", "only a resolved incident can be reopened"),
    ],
)
def test_refusals_say_what_to_do(status: str, action: str, says: str) -> None:
    with pytest.raises(TransitionError, match=says):
        transition(at_status(status), action, T0)


def test_an_unknown_action_lists_the_known_ones() -> None:
    with pytest.raises(TransitionError, match="expected one of acknowledge, mitigate, resolve"):
        transition(at_status("triggered"), "snooze", T0)


def test_reopen_of_a_never_acknowledged_incident_stamps_acknowledgement() -> None:
    resolved = transition(Lifecycle("triggered"), "resolve", T0)
    assert resolved.acknowledged_at is None
    reopened = transition(resolved, "reopen", T0 + timedelta(minutes=5))
    assert reopened.status == "acknowledged"
    assert reopened.acknowledged_at == T0 + timedelta(minutes=5)


@settings(max_examples=300, deadline=None, database=None)
@given(
    actions=st.lists(st.sampled_from(ACTIONS + ("snooze",)), max_size=25),
    gaps=st.lists(st.integers(0, 3600), min_size=25, max_size=25),
)
def test_any_sequence_of_actions_keeps_timestamps_consistent(
    actions: list[str], gaps: list[int]
) -> None:
    state = Lifecycle("triggered")
    now = T0
    for action, gap in zip(actions, gaps, strict=False):
        now += timedelta(seconds=gap)
        try:
            after = transition(state, action, now)
        except TransitionError as exc:
            assert str(exc).startswith(
                f"cannot {action}: " if action in ACTIONS else "unknown action"
            )
            continue  # a refused action changes nothing
        assert (state.status, action) in NEXT
        state = after
        assert state.status in STATUSES
        # resolved_at is set exactly while resolved or closed; closed_at exactly while closed.
        assert (state.resolved_at is not None) == (state.status in ("resolved", "closed"))
        assert (state.closed_at is not None) == (state.status == "closed")
        if state.status in ("acknowledged", "mitigated") and state.mitigated_at is None:
            assert state.status == "acknowledged"
        if state.status == "mitigated":
            assert state.mitigated_at is not None
        if state.status == "acknowledged":
            assert state.acknowledged_at is not None and state.mitigated_at is None
        # Nothing is stamped in the future, and the stamps come in lifecycle order.
        stamps = [state.acknowledged_at, state.mitigated_at, state.resolved_at, state.closed_at]
        assert all(s <= now for s in stamps if s is not None)
        if state.resolved_at and state.mitigated_at:
            assert state.mitigated_at <= state.resolved_at
        if state.closed_at:
            assert state.resolved_at is not None and state.resolved_at <= state.closed_at
        if state.acknowledged_at and state.mitigated_at:
            assert state.acknowledged_at <= state.mitigated_at
