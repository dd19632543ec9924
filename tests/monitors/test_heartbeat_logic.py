"""Heartbeat state with a fake clock: up, late, down, started, overrunning; cron in a zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from warroom.monitors.heartbeat import (
    Beat,
    Schedule,
    alert_after,
    cron_problem,
    next_expected,
    on_ping,
    on_silence,
    state_at,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
HOURLY = Schedule(period_seconds=3600, cron=None, time_zone="UTC", grace_seconds=600)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_new_heartbeat_never_alerts() -> None:
    beat = Beat("new")
    assert state_at(HOURLY, beat, at(10_000)) == "new"
    assert alert_after(HOURLY, beat) is None
    assert on_silence(HOURLY, beat, at(10_000)).action is None


def test_up_then_late_then_down_after_the_grace_and_the_next_success_resolves() -> None:
    beat = on_ping(HOURLY, Beat("new"), "success", at(0)).beat
    assert state_at(HOURLY, beat, at(59)) == "up"
    assert state_at(HOURLY, beat, at(61)) == "late"
    assert alert_after(HOURLY, beat) == at(70)
    assert on_silence(HOURLY, beat, at(69.9)).action is None
    down = on_silence(HOURLY, beat, at(70))
    assert down.action == "trigger" and down.beat.status == "down"
    assert "no ping since" in down.reason
    # Silence while down sends nothing more; the next success resolves.
    assert alert_after(HOURLY, down.beat) is None
    back = on_ping(HOURLY, down.beat, "success", at(90))
    assert back.action == "resolve" and state_at(HOURLY, back.beat, at(91)) == "up"


def test_start_measures_the_run_and_an_overrun_goes_down() -> None:
    beat = on_ping(HOURLY, Beat("new"), "success", at(0)).beat
    started = on_ping(HOURLY, beat, "start", at(30)).beat
    assert state_at(HOURLY, started, at(31)) == "started"
    done = on_ping(HOURLY, started, "success", at(32))
    assert done.duration == 120 and done.action is None and done.beat.started_at is None
    # A run that started and never finished: down after the grace, before the period is over.
    started = on_ping(HOURLY, done.beat, "start", at(35)).beat
    assert alert_after(HOURLY, started) == at(45)
    assert state_at(HOURLY, started, at(45)) == "down"
    overrun = on_silence(HOURLY, started, at(45))
    assert overrun.action == "trigger" and "has not finished" in overrun.reason


def test_fail_and_exit_status() -> None:
    beat = on_ping(HOURLY, Beat("new"), "success", at(0)).beat
    failed = on_ping(HOURLY, beat, "success", at(1), exit_status=3)
    assert failed.action == "trigger" and failed.beat.status == "down"
    assert "exit status 3" in failed.reason
    assert on_ping(HOURLY, failed.beat, "fail", at(2)).action is None  # already down
    assert on_ping(HOURLY, failed.beat, "success", at(3), exit_status=0).action == "resolve"


def test_cron_in_a_zone_across_the_spring_change() -> None:
    nightly = Schedule(None, "30 2 * * *", "Europe/London", grace_seconds=900)
    # 2026-03-29: 01:00 GMT jumps to 02:00 BST; 02:30 local exists (BST), 01:30 UTC.
    last = datetime(2026, 3, 28, 2, 30, tzinfo=UTC)
    assert next_expected(nightly, last) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert cron_problem("30 2 * * *", "Europe/London") is None
    assert cron_problem("not cron", "UTC") is not None
    assert cron_problem("* * * * *", "Mars/Olympus") is not None


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    grace = draw(st.integers(60, 7 * 86400))
    if draw(st.booleans()):
        return Schedule(draw(st.integers(60, 30 * 86400)), None, "UTC", grace)
    minute = draw(st.integers(0, 59))
    hour = draw(st.sampled_from(["*", "3", "*/6", "9-17"]))
    zone = draw(st.sampled_from(["UTC", "Europe/London", "America/New_York", "Asia/Kathmandu"]))
    return Schedule(None, f"{minute} {hour} * * *", zone, grace)


PINGS = st.lists(
    st.tuples(st.sampled_from(["success", "start", "fail", "silence"]), st.integers(0, 3 * 86400)),
    max_size=20,
)


@given(schedules(), PINGS)
def test_state_follows_a_reference_model(schedule: Schedule, events: list[tuple[str, int]]) -> None:
    """Whatever happens: never down before its deadline, always down at it; a trigger only
    from not-down, a resolve only from down, and they alternate."""
    beat = Beat("new")
    now = T0
    open_alert = False
    for kind, gap in events:
        now = now + timedelta(seconds=gap)
        deadline = alert_after(schedule, beat)
        if deadline is not None and deadline > now:
            assert state_at(schedule, beat, now) != "down"
        outcome = (
            on_silence(schedule, beat, now)
            if kind == "silence"
            else on_ping(schedule, beat, kind, now)
        )
        if outcome.action == "trigger":
            assert not open_alert
            open_alert = True
        elif outcome.action == "resolve":
            assert open_alert
            open_alert = False
        assert (outcome.beat.status == "down") == open_alert
        if outcome.duration is not None:
            assert outcome.duration >= 0
        beat = outcome.beat
        deadline = alert_after(schedule, beat)
        if deadline is not None:
            assert deadline > now or beat.started_at is not None
            assert state_at(schedule, beat, deadline) == "down"
            assert on_silence(schedule, beat, deadline).action == "trigger"


@given(schedules(), st.integers(0, 400 * 86400))
def test_next_expected_is_after_the_ping(schedule: Schedule, offset: int) -> None:
    last = T0 + timedelta(seconds=offset)
    assert next_expected(schedule, last) > last
