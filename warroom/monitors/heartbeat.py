"""Pure heartbeat decisions (healthchecks' semantics): what a ping or silence does, and when.

A heartbeat expects a success ping every `period` (or at each time of a cron expression in a
time zone), plus `grace`. Past the expected time it is *late*; past expected + grace it is
*down*, and an alert opens. A `/start` ping begins a run: if its success does not come within
the grace the run is *overrunning* and the heartbeat goes down too. A `/fail` ping (or a
non-zero exit status) is down at once. The next success resolves. A heartbeat that was never
pinged is *new* and never alerts. Nothing here reads a clock: `now` is always a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

# A cron expression that never fires in this many tries (e.g. "0 0 30 2 *") is refused.
MAX_CRON_LOOKAHEAD_YEARS = 5


@dataclass(frozen=True)
class Schedule:
    period_seconds: int | None
    cron: str | None
    time_zone: str
    grace_seconds: int


@dataclass(frozen=True)
class Beat:
    """What is stored about a heartbeat's pings."""

    status: str  # new | up | down
    last_ping_at: datetime | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    beat: Beat
    # "trigger" | "resolve" | None: the signal this decision sends.
    action: str | None
    # Run time of a success that ended a started run, in seconds.
    duration: float | None = None
    # Why it went down, for the alert's summary.
    reason: str = ""


def cron_problem(expression: str, time_zone: str) -> str | None:
    """Why `expression` cannot be used, or None."""
    try:
        zone = ZoneInfo(time_zone)
    except (KeyError, ValueError):
        return f"unknown time zone {time_zone!r}"
    try:
        it = CronSim(expression, datetime(2026, 1, 1, tzinfo=zone))
        first = next(it)
    except (CronSimError, StopIteration, ValueError) as exc:
        return f"invalid cron expression: {exc}"
    if first.year > 2026 + MAX_CRON_LOOKAHEAD_YEARS:
        return "the cron expression never fires"
    return None


def next_expected(schedule: Schedule, after: datetime) -> datetime:
    """When the next success ping is due after one at `after` (without the grace)."""
    if schedule.period_seconds is not None:
        return after + timedelta(seconds=schedule.period_seconds)
    assert schedule.cron is not None
    zone = ZoneInfo(schedule.time_zone)
    local = after.astimezone(zone)
    return next(CronSim(schedule.cron, local)).astimezone(after.tzinfo)


def alert_after(schedule: Schedule, beat: Beat) -> datetime | None:
    """The instant silence turns this heartbeat down; None if silence changes nothing."""
    if beat.status == "down":
        return None
    grace = timedelta(seconds=schedule.grace_seconds)
    deadlines: list[datetime] = []
    if beat.status == "up" and beat.last_ping_at is not None:
        deadlines.append(next_expected(schedule, beat.last_ping_at) + grace)
    if beat.started_at is not None:
        deadlines.append(beat.started_at + grace)
    return min(deadlines) if deadlines else None


def state_at(schedule: Schedule, beat: Beat, now: datetime) -> str:
    """What a person sees: new, up, started, late, overrunning or down."""
    if beat.status == "down":
        return "down"
    deadline = alert_after(schedule, beat)
    if deadline is not None and now >= deadline:
        return "down"
    if beat.started_at is not None:
        return "started"
    if beat.status == "new" or beat.last_ping_at is None:
        return "new"
    if now >= next_expected(schedule, beat.last_ping_at):
        return "late"
    return "up"


def on_ping(
    schedule: Schedule, beat: Beat, kind: str, now: datetime, exit_status: int | None = None
) -> Outcome:
    """A ping arrived: kind is success, start or fail (an exit status decides success/fail)."""
    if exit_status is not None:
        kind = "success" if exit_status == 0 else "fail"
    if kind == "start":
        return Outcome(replace(beat, started_at=now), None)
    duration = None
    if beat.started_at is not None and beat.started_at <= now:
        duration = (now - beat.started_at).total_seconds()
    if kind == "fail":
        reason = "the job reported a failure" + (
            f" (exit status {exit_status})" if exit_status is not None else ""
        )
        action = None if beat.status == "down" else "trigger"
        return Outcome(Beat("down", now, None), action, duration, reason)
    # success
    action = "resolve" if beat.status == "down" else None
    return Outcome(Beat("up", now, None), action, duration)


def on_silence(schedule: Schedule, beat: Beat, now: datetime) -> Outcome:
    """The sweep looked at this heartbeat at `now`: down if its deadline has passed."""
    deadline = alert_after(schedule, beat)
    if deadline is None or now < deadline:
        return Outcome(beat, None)
    if (
        beat.started_at is not None
        and beat.started_at + timedelta(seconds=schedule.grace_seconds) <= now
        and (beat.last_ping_at is None or beat.last_ping_at < beat.started_at)
    ):
        reason = f"a run started at {beat.started_at:%Y-%m-%d %H:%M:%S} UTC has not finished"
    elif beat.last_ping_at is not None:
        reason = f"no ping since {beat.last_ping_at:%Y-%m-%d %H:%M:%S} UTC"
    else:
        reason = "no ping"
    return Outcome(replace(beat, status="down", started_at=None), "trigger", reason=reason)
