"""The status page's pure decisions, against cases computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.statuspage import logic

DAY = 86_400.0
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # today is half over
CREATED = datetime(2026, 1, 1, tzinfo=UTC)  # long before the 90 days


def at(day_offset: int, hour: float) -> datetime:
    """A time `day_offset` days before today, at `hour` UTC."""
    midnight = datetime(2026, 12, 2, tzinfo=UTC) - timedelta(days=day_offset)
    return midnight + timedelta(hours=hour)


def test_manual_status_wins_then_incidents_then_maintenance() -> None:
    d = logic.derive_status("partial_outage", "DNS provider", [(1, "triggered")], True)
    assert (d.status, d.source, d.reason) == ("partial_outage", "manual", "DNS provider")
    assert logic.derive_status(None, "", [(3, "triggered"), (1, "acknowledged")], True).status == (
        "major_outage"
    )
    assert logic.derive_status(None, "", [(2, "triggered")], False).status == "partial_outage"
    assert logic.derive_status(None, "", [(3, "triggered")], False).status == "degraded_performance"
    # P4/P5 leave the component alone; maintenance shows then.
    assert logic.derive_status(None, "", [(4, "triggered")], True).status == "under_maintenance"
    assert logic.derive_status(None, "", [(5, "triggered")], False).status == "operational"
    # A mitigated P1 is contained: degraded performance at worst.
    assert logic.derive_status(None, "", [(1, "mitigated")], False).status == (
        "degraded_performance"
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], ("none", "All Systems Operational")),
        (["operational", "under_maintenance"], ("maintenance", "Service Under Maintenance")),
        (["degraded_performance", "under_maintenance"], ("minor", "Minor Service Outage")),
        (["partial_outage", "operational"], ("major", "Partial System Outage")),
        (["major_outage", "partial_outage"], ("critical", "Major System Outage")),
    ],
)
def test_overall_status(statuses: list[str], expected: tuple[str, str]) -> None:
    assert logic.overall(statuses) == expected


def test_a_quiet_component_is_fully_up_and_today_counts_up_to_now() -> None:
    days = logic.uptime_days([(CREATED, "operational")], CREATED, NOW)
    assert len(days) == 90 and days[-1].day == NOW.date()
    assert days[-1].counted == DAY / 2
    assert all(d.uptime == 1.0 and d.worst == "operational" for d in days)
    assert logic.uptime_percent(days) == 100.0


def test_hand_computed_outage_partial_and_maintenance() -> None:
    changes = [
        (CREATED, "operational"),
        # Yesterday: 6 h of major outage (06:00-12:00).
        (at(1, 6), "major_outage"),
        (at(1, 12), "operational"),
        # Two days ago: 4 h of partial outage (counts half) and 2 h degraded (counts up).
        (at(2, 0), "partial_outage"),
        (at(2, 4), "degraded_performance"),
        (at(2, 6), "operational"),
        # Three days ago: 12 h of maintenance (left out), then 1 h of major outage.
        (at(3, 0), "under_maintenance"),
        (at(3, 12), "major_outage"),
        (at(3, 13), "operational"),
    ]
    days = logic.uptime_days(sorted(changes), CREATED, NOW)
    yesterday, two, three = days[-2], days[-3], days[-4]
    assert yesterday.worst == "major_outage" and yesterday.uptime == pytest.approx(18 / 24)
    assert two.worst == "partial_outage" and two.uptime == pytest.approx(1 - 2 / 24)
    assert three.worst == "major_outage"
    assert three.counted == 12 * 3600 and three.uptime == pytest.approx(11 / 12)
    # 90 days: 89.5 days counted minus 12 h maintenance = 89 days; down 6 h + 2 h + 1 h = 9 h.
    counted = 89 * 24
    assert logic.uptime_percent(days) == pytest.approx(100 * (1 - 9 / counted))


def test_before_creation_there_is_no_data_and_it_does_not_count() -> None:
    created = at(1, 18)  # yesterday 18:00
    days = logic.uptime_days([(created, "operational")], created, NOW)
    assert all(d.worst is None and d.uptime is None for d in days[:-2])
    assert days[-2].counted == 6 * 3600 and days[-1].counted == 12 * 3600
    assert logic.uptime_percent(days) == 100.0
    # A component under maintenance all along has nothing counted: no percentage at all.
    held = logic.uptime_days([(created, "under_maintenance")], created, NOW)
    assert logic.uptime_percent(held) is None


def test_an_outage_running_over_midnight_is_split_between_the_days() -> None:
    changes = [(CREATED, "operational"), (at(1, 22), "major_outage"), (at(0, 2), "operational")]
    days = logic.uptime_days(changes, CREATED, NOW)
    assert days[-2].down == 2 * 3600 and days[-1].down == 2 * 3600
    assert days[-1].uptime == pytest.approx(10 / 12)
