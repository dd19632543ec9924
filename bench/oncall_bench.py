"""Benchmark for warroom.oncall.schedule: who is on call across many schedules, and a year of
final shifts for one busy schedule.

Run with ``python bench/oncall_bench.py``. Targets: on_call_at for 1,000 schedules at one
instant <= 50 ms in total; a year of final shifts for a 3-layer schedule with overrides <= 50 ms.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import statistics
import sys
import time as clock
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from warroom.oncall.schedule import (  # noqa: E402 - needs the repository on sys.path
    Layer,
    OverlappingOverridesError,
    Override,
    Restriction,
    Rotation,
    Schedule,
    gaps,
    on_call_at,
    shifts,
    with_override,
)

ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Asia/Tokyo",
    "UTC",
]
ROTATIONS: list[Rotation | timedelta] = [
    Rotation.HOURLY,
    Rotation.DAILY,
    Rotation.WEEKLY,
    timedelta(hours=12),
    timedelta(hours=8),
    timedelta(days=3),
]
INSTANT = datetime(2024, 11, 3, 6, 15, tzinfo=UTC)  # inside New York's repeated hour
RUNS = 9


def random_schedule(rng: random.Random) -> Schedule:
    layers = []
    for _ in range(rng.randint(1, 3)):
        # Anchors up to ten years back: the rotation index must not cost more for old ones.
        anchor = datetime(2014, 1, 1, rng.randrange(24), rng.choice((0, 30))) + timedelta(
            days=rng.randrange(3650)
        )
        restrictions: tuple[Restriction, ...] = ()
        if rng.random() < 0.3:
            opens = time(rng.randrange(24))
            closes = time((opens.hour + rng.randint(1, 23)) % 24)
            restrictions = (
                Restriction(frozenset(rng.sample(range(7), rng.randint(1, 7))), opens, closes),
            )
        members = tuple(rng.sample(range(1, 500), rng.randint(1, 8)))
        layers.append(Layer(anchor, rng.choice(ROTATIONS), members, restrictions))
    schedule = Schedule(rng.choice(ZONES), tuple(layers))
    for _ in range(rng.randint(0, 3)):
        start = INSTANT + timedelta(hours=rng.randint(-72, 72))
        override = rng.choice(
            (
                Override.add(rng.randrange(1, 500), start, start + timedelta(hours=8)),
                Override.remove(rng.randrange(1, 500), start, start + timedelta(hours=8)),
                Override.replace(
                    rng.randrange(1, 250),
                    rng.randrange(250, 500),
                    start,
                    start + timedelta(hours=8),
                ),
            )
        )
        with contextlib.suppress(OverlappingOverridesError):  # keep only valid schedules
            schedule = with_override(schedule, override)
    return schedule


def busy_schedule(rng: random.Random) -> Schedule:
    """Weekly primary, a business-hours daily layer and a 12-hour night layer, 60 overrides."""
    weekdays = frozenset(range(5))
    layers = (
        Layer(datetime(2021, 1, 4, 9), Rotation.WEEKLY, (1, 2, 3, 4, 5, 6)),
        Layer(
            datetime(2022, 6, 1, 9),
            Rotation.DAILY,
            (11, 12, 13, 14),
            (Restriction(weekdays, time(9), time(17, 30)),),
        ),
        Layer(
            datetime(2023, 3, 1, 20),
            timedelta(hours=12),
            (21, 22, 23),
            (Restriction(frozenset(range(7)), time(22), time(6)),),
        ),
    )
    schedule = Schedule("America/New_York", layers)
    while len(schedule.overrides) < 60:
        start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=rng.randrange(366 * 24))
        end = start + timedelta(hours=rng.randint(1, 48))
        override = rng.choice(
            (
                Override.add(rng.choice((31, 32, 33)), start, end),
                Override.remove(rng.choice((1, 2, 11, 21)), start, end),
                Override.replace(rng.choice((3, 4, 12, 22)), rng.choice((41, 42, 43)), start, end),
            )
        )
        try:
            schedule = with_override(schedule, override)
        except OverlappingOverridesError:
            continue
    return schedule


def median_ms(run: Callable[[], object], prepare: Callable[[], None] | None = None) -> float:
    timings = []
    for _ in range(RUNS):
        if prepare is not None:
            prepare()
        started = clock.perf_counter()
        run()
        timings.append((clock.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    rng = random.Random(20240310)
    schedules = [random_schedule(rng) for _ in range(1000)]
    fresh: list[Schedule] = []

    def refresh() -> None:
        # New, equal schedule objects: nothing precomputed, validation included in the timing.
        fresh[:] = [replace(schedule) for schedule in schedules]

    def everyone_cold() -> None:
        for schedule in fresh:
            on_call_at(schedule, INSTANT)

    def everyone_warm() -> None:
        for schedule in schedules:
            on_call_at(schedule, INSTANT)

    everyone_warm()  # validates and prepares each schedule once
    cold = median_ms(everyone_cold, refresh)
    warm = median_ms(everyone_warm)

    busy = busy_schedule(rng)
    year = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    year_shifts = shifts(busy, *year)
    shifts_ms = median_ms(lambda: shifts(busy, *year))
    gaps_ms = median_ms(lambda: gaps(busy, *year))
    hourly = Schedule(
        "Europe/London", (Layer(datetime(2020, 1, 1), Rotation.HOURLY, (1, 2, 3, 4)),)
    )
    hourly_ms = median_ms(lambda: shifts(hourly, *year))

    print(
        f"machine: {platform.platform()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"median of {RUNS} runs")
    print(f"on_call_at, 1,000 schedules at one instant, fresh objects (validates): {cold:7.2f} ms")
    print(f"on_call_at, 1,000 schedules at one instant, prepared:                  {warm:7.2f} ms")
    print(
        f"shifts, one year, 3 layers + {len(busy.overrides)} overrides "
        f"({len(year_shifts)} shifts):          {shifts_ms:7.2f} ms"
    )
    print(f"gaps, same schedule and year:                                       {gaps_ms:7.2f} ms")
    print(
        f"shifts, one year of an hourly rotation (8,784 shifts):               {hourly_ms:7.2f} ms"
    )


if __name__ == "__main__":
    main()
