"""Oversight decisions on a fake clock: warnings at 50 % and 75 %, the breach, re-targeting
after a priority change, stale nudges once per stale period, and what a queued message's last
check cancels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from warroom.incidents.oversight import (
    BREACH_KIND,
    NUDGE_KIND,
    WARNING_KIND,
    Action,
    Rules,
    Watched,
    decide,
    describe,
    is_stale,
    retarget_message,
    unwanted,
)
from warroom.incidents.sla import TARGETS

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)
NO_STALE = Rules()
STALE = Rules.from_minutes({1: 30, 2: 120})


def p1(**kw: object) -> Watched:
    return Watched(priority=1, status="triggered", started_at=T0, **kw)  # type: ignore[arg-type]


def did(w: Watched, actions: list[Action]) -> Watched:
    """The state after acting: what the engine records on the timeline."""
    done = set(w.done)
    nudge = w.last_nudge_at
    for a in actions:
        if a.kind == NUDGE_KIND:
            nudge = T0  # replaced below by the caller's now when it matters
        else:
            assert a.clock is not None and a.share is not None
            done.add((a.priority, a.clock, a.share))
    return Watched(
        w.priority,
        w.status,
        w.started_at,
        w.acknowledged_at,
        w.resolved_at,
        w.merged,
        w.last_activity_at,
        nudge,
        frozenset(done),
    )


def test_a_p1_warns_at_half_and_three_quarters_of_its_response_budget_then_breaches() -> None:
    w = p1()
    d = decide(w, T0, NO_STALE)
    assert d.actions == [] and d.next_look_at == T0 + 7 * MIN + 30 * SEC  # 50 % of 15 min
    d = decide(w, T0 + 7 * MIN + 30 * SEC, NO_STALE)
    assert [(a.kind, a.clock, a.share) for a in d.actions] == [(WARNING_KIND, "acknowledge", 0.5)]
    w = did(w, d.actions)
    assert d.next_look_at == T0 + 11 * MIN + 15 * SEC  # 75 %
    d = decide(w, T0 + 11 * MIN + 15 * SEC, NO_STALE)
    assert [(a.kind, a.share) for a in d.actions] == [(WARNING_KIND, 0.75)]
    w = did(w, d.actions)
    assert d.next_look_at == T0 + 15 * MIN + SEC  # just past the deadline
    assert decide(w, T0 + 15 * MIN, NO_STALE).actions == []  # at the deadline: within budget
    d = decide(w, T0 + 15 * MIN + SEC, NO_STALE)
    assert [(a.kind, a.clock, a.share) for a in d.actions] == [(BREACH_KIND, "acknowledge", 1.0)]
    w = did(w, d.actions)
    # The response clock is done with; the resolution clock's 50 % (2 h) is next.
    assert d.next_look_at == T0 + 2 * 60 * MIN
    assert "breached" in describe(d.actions[0], T0 + 15 * MIN + SEC)


def test_a_late_look_acts_once_on_the_highest_share_crossed() -> None:
    d = decide(p1(), T0 + 20 * MIN, NO_STALE)
    assert [(a.kind, a.clock, a.share) for a in d.actions] == [(BREACH_KIND, "acknowledge", 1.0)]


def test_acknowledging_stops_the_response_clock_not_the_resolution_clock() -> None:
    w = Watched(1, "acknowledged", T0, acknowledged_at=T0 + 5 * MIN)
    d = decide(w, T0 + 20 * MIN, NO_STALE)
    assert d.actions == [] and d.next_look_at == T0 + 2 * 60 * MIN
    d = decide(w, T0 + 3 * 60 * MIN, NO_STALE)
    assert [(a.clock, a.share) for a in d.actions] == [("resolve", 0.75)]


def test_resolved_merged_and_planning_incidents_are_not_watched() -> None:
    assert decide(Watched(1, "resolved", T0), T0 + 9 * 60 * MIN, STALE).next_look_at is None
    assert decide(Watched(1, "closed", T0), T0, STALE).next_look_at is None
    assert decide(Watched(1, "triggered", T0, merged=True), T0, STALE).next_look_at is None
    assert decide(Watched(5, "triggered", T0), T0 + 9 * 60 * MIN, STALE).next_look_at is None


def test_a_priority_change_re_targets_from_the_start_without_warning_twice() -> None:
    # P2 for 9 minutes (30 % of 30 min: nothing yet), then raised to P1: 60 % of 15 min.
    w = Watched(1, "triggered", T0)
    d = decide(w, T0 + 9 * MIN, NO_STALE)
    assert [(a.priority, a.share) for a in d.actions] == [(1, 0.5)]
    w = did(w, d.actions)
    # Lowered to P2 at 10 minutes: 33 % of P2's budget, its 50 % is at 15 minutes.
    w2 = Watched(2, "triggered", T0, done=w.done)
    d = decide(w2, T0 + 10 * MIN, NO_STALE)
    assert d.actions == [] and d.next_look_at == T0 + 15 * MIN
    # Back to P1 at 11 minutes: its 50 % was already told; 75 % comes at 11m15s.
    d = decide(w, T0 + 11 * MIN, NO_STALE)
    assert d.actions == [] and d.next_look_at == T0 + 11 * MIN + 15 * SEC


def test_an_incident_goes_stale_without_a_persons_activity_and_is_nudged_once_per_period() -> None:
    w = Watched(2, "acknowledged", T0, acknowledged_at=T0 + MIN, last_activity_at=T0 + MIN)
    d = decide(w, T0 + 60 * MIN, STALE)
    assert d.actions == [] and d.next_look_at == T0 + 121 * MIN
    d = decide(w, T0 + 121 * MIN, STALE)
    assert [a.kind for a in d.actions] == [NUDGE_KIND]
    assert d.actions[0].idle_since == T0 + MIN
    assert is_stale("acknowledged", 2, T0, T0 + MIN, T0 + 121 * MIN, STALE) == 120 * MIN
    nudged = Watched(
        2,
        "acknowledged",
        T0,
        acknowledged_at=T0 + MIN,
        last_activity_at=T0 + MIN,
        last_nudge_at=T0 + 121 * MIN,
    )
    # Not again within the period; again once another period passed without activity.
    assert decide(nudged, T0 + 200 * MIN, STALE).actions == []
    again = decide(nudged, T0 + 241 * MIN, STALE).actions
    assert NUDGE_KIND in [a.kind for a in again]  # (with the resolution SLA's 50 % at 4 h)
    # Activity clears it: the next stale time counts from the person's last event.
    active = Watched(
        2,
        "acknowledged",
        T0,
        acknowledged_at=T0 + MIN,
        last_activity_at=T0 + 130 * MIN,
        last_nudge_at=T0 + 121 * MIN,
    )
    d = decide(active, T0 + 200 * MIN, STALE)
    assert d.actions == [] and d.next_look_at == T0 + 240 * MIN  # the 4 h SLA warning first
    assert is_stale("acknowledged", 2, T0, T0 + 130 * MIN, T0 + 200 * MIN, STALE) is None
    assert is_stale("acknowledged", 3, T0, None, T0 + 9000 * MIN, STALE) is None  # no rule
    assert is_stale("resolved", 1, T0, None, T0 + 9000 * MIN, STALE) is None


@given(
    priority=st.integers(1, 4),
    looks=st.lists(st.integers(0, 6 * 24 * 60), min_size=1, max_size=12),
)
def test_each_share_is_told_at_most_once_and_never_before_it_is_due(
    priority: int, looks: list[int]
) -> None:
    """However the engine's looks fall (late, early, repeated), no share is acted on twice,
    none before its instant, and the breach comes only past the deadline."""
    w = Watched(priority, "triggered", T0)
    told: list[tuple[str, float]] = []
    for minutes in sorted(looks):
        now = T0 + minutes * MIN
        d = decide(w, now, NO_STALE)
        for a in d.actions:
            assert a.clock is not None and a.share is not None
            target = TARGETS[priority][0 if a.clock == "acknowledge" else 1]
            assert now >= T0 + target * a.share
            if a.kind == BREACH_KIND:
                assert now > T0 + target
            told.append((a.clock, a.share))
        w = did(w, d.actions)
        if d.next_look_at is not None:
            assert d.next_look_at > now
    assert len(told) == len(set(told))
    for kind in ("acknowledge", "resolve"):
        shares = [s for k, s in told if k == kind]
        assert shares == sorted(shares)


def test_the_last_check_cancels_what_the_incident_moved_past() -> None:
    response = {"priority": 1, "clock": "acknowledge", "share": 0.5}
    resolution = {"priority": 1, "clock": "resolve", "share": 0.5}
    common = {"priority": 1, "merged_into_id": None, "last_activity_at": None}
    assert unwanted(WARNING_KIND, response, status="triggered", **common) is None  # type: ignore[arg-type]
    assert unwanted(WARNING_KIND, response, status="acknowledged", **common) == (  # type: ignore[arg-type]
        "the incident is acknowledged"
    )
    assert unwanted(BREACH_KIND, resolution, status="acknowledged", **common) is None  # type: ignore[arg-type]
    assert (
        unwanted(BREACH_KIND, resolution, status="resolved", **common) == "the incident is resolved"
    )  # type: ignore[arg-type]
    assert (
        unwanted(
            WARNING_KIND,
            resolution,
            status="mitigated",
            priority=2,
            merged_into_id=None,
            last_activity_at=None,
        )
        == "the SLA was re-targeted to P2"
    )
    assert (
        unwanted(
            WARNING_KIND,
            resolution,
            status="triggered",
            priority=1,
            merged_into_id=7,
            last_activity_at=None,
        )
        == "the incident was merged into #7"
    )
    nudge = {"priority": 1, "idle_since": T0.isoformat()}
    assert (
        unwanted(
            NUDGE_KIND,
            nudge,
            status="triggered",
            priority=1,
            merged_into_id=None,
            last_activity_at=T0,
        )
        is None
    )
    assert (
        unwanted(
            NUDGE_KIND,
            nudge,
            status="triggered",
            priority=1,
            merged_into_id=None,
            last_activity_at=T0 + MIN,
        )
        == "someone worked on the incident since"
    )


def test_the_retarget_message_names_the_new_deadlines_from_the_start() -> None:
    message, after = retarget_message(3, 1, T0, T0 + 20 * MIN)
    assert "P3 → P1" in message and "respond by 09:15:00 (breached)" in message
    assert after["respond_by"] == (T0 + 15 * MIN).isoformat()
    assert after["resolve_by"] == (T0 + 4 * 60 * MIN).isoformat()
    message, after = retarget_message(1, 5, T0, T0)
    assert "no SLA" in message and after["respond_by"] is None
