"""The one zone helper: decisions get None for an unknown zone, display falls back to UTC once
warned."""

from __future__ import annotations

import logging

import pytest

from warroom.common.zones import known_zone, zone_named


@pytest.mark.parametrize("name", ["Mars/Base", "", "../../etc/passwd", None, 7])
def test_an_unknown_zone_is_none_for_decisions(name: object) -> None:
    assert known_zone(name) is None


def test_a_known_zone_is_itself() -> None:
    zone = known_zone("Asia/Kathmandu")
    assert zone is not None and zone.key == "Asia/Kathmandu"
    assert zone_named("Asia/Kathmandu").key == "Asia/Kathmandu"


def test_display_falls_back_to_utc_and_warns_once_per_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="warroom.zones"):
        first = zone_named("Atlantis/Capital")
        second = zone_named("Atlantis/Capital")
    assert first.key == second.key == "UTC"
    warned = [r.getMessage() for r in caplog.records if r.name == "warroom.zones"]
    assert warned == ["unknown time zone 'Atlantis/Capital': showing times in UTC instead"]
