"""The metrics against hand-computed cases: reopened, merged and unacknowledged incidents,
the fallbacks each definition names, SLA clocks, and out-of-hours pages across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from warroom.analytics import logic
from warroom.analytics.logic import IncidentFacts, PageFacts

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=5)


def facts(n: int, **kw: object) -> IncidentFacts:
    values: dict[str, object] = {"priority": 2, "title": f"incident {n}", "service_id": 1}
    values.update(kw)
    values.setdefault("triggered_at", T0)
    return IncidentFacts(id=n, **values)  # type: ignore[arg-type]


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


def test_mtta_counts_acknowledged_incidents_only() -> None:
    incidents = [
        facts(1, acknowledged_at=T0 + minutes(4)),
        facts(2, acknowledged_at=T0 + minutes(10)),
        # Resolved without anyone acknowledging: not a 0-minute acknowledgement.
        facts(3, resolved_at=T0 + minutes(30)),
    ]
    d = logic.mtta(incidents)
    assert (d.count, d.excluded) == (2, 1)
    assert d.mean == minutes(7) and d.median == minutes(7)


def test_mttr_of_a_reopened_incident_runs_to_the_last_resolve() -> None:
    # Resolved at +20 min, reopened (resolved_at cleared, as the lifecycle stores it), then
    # resolved again at +90 min: the stored resolve is the last one.
    reopened_and_resolved = facts(1, acknowledged_at=T0 + minutes(5), resolved_at=T0 + minutes(90))
    reopened_still_open = facts(2, acknowledged_at=T0 + minutes(5))
    other = facts(3, acknowledged_at=T0 + minutes(1), resolved_at=T0 + minutes(30))
    d = logic.mttr([reopened_and_resolved, reopened_still_open, other])
    assert (d.count, d.excluded) == (2, 1)
    assert d.mean == minutes(60)


def test_merged_incidents_are_not_counted() -> None:
    survivor = facts(1, acknowledged_at=T0 + minutes(2), resolved_at=T0 + minutes(40))
    duplicate = facts(2, merged_into_id=1, resolved_at=T0 + minutes(1))
    s = logic.summarise([survivor, duplicate], NOW)
    assert s.incidents == 1
    assert s.mttr.mean == minutes(40) and s.mttr.count == 1
    assert s.by_priority == {2: 1}


def test_mttm_falls_back_to_the_resolve_and_mttd_needs_an_impact_start() -> None:
    a = facts(
        1,
        impact_started_at=T0 - minutes(12),
        mitigated_at=T0 + minutes(10),
        resolved_at=T0 + minutes(50),
    )
    b = facts(2, resolved_at=T0 + minutes(30))  # never marked mitigated
    c = facts(3)  # still open, impact start unknown
    assert logic.mttm([a, b, c]).mean == minutes(20)
    d = logic.mttd([a, b, c])
    assert (d.count, d.excluded, d.mean) == (1, 2, minutes(12))
    # An impact start after the trigger is not a negative detection time.
    assert logic.mttd([facts(4, impact_started_at=T0 + minutes(1))]).count == 0


def test_no_incidents_no_means() -> None:
    s = logic.summarise([], NOW)
    assert s.incidents == 0 and s.mtta.mean is None and s.mtta.mean_seconds is None
    assert s.sla == []


def test_sla_compliance_per_priority_through_the_sla_clocks() -> None:
    incidents = [
        # P1: acknowledge within 15 min, resolve within 4 h.
        facts(1, priority=1, acknowledged_at=T0 + minutes(10), resolved_at=T0 + minutes(100)),
        facts(2, priority=1, acknowledged_at=T0 + minutes(20), resolved_at=T0 + timedelta(hours=5)),
        # Still open and past both deadlines at NOW: missed.
        facts(3, priority=1),
        # Open, within budget: not counted yet.
        facts(4, priority=1, triggered_at=NOW - minutes(5)),
        # P5 has no clock.
        facts(5, priority=5),
    ]
    shares = {(s.priority, s.kind): (s.met, s.missed) for s in logic.sla_compliance(incidents, NOW)}
    assert shares == {(1, "acknowledge"): (1, 2), (1, "resolve"): (1, 2)}
    first = logic.sla_compliance(incidents, NOW)[0]
    assert first.kind == "acknowledge" and abs((first.share or 0) - 1 / 3) < 1e-9


def test_out_of_hours_follows_each_persons_zone_across_dst() -> None:
    london, new_york = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
    # London moves to BST on Sunday 29 March 2026: 08:30 UTC is 08:30 on the Friday before
    # (out of hours) and 09:30 on the Monday after (in hours).
    assert logic.out_of_hours(datetime(2026, 3, 27, 8, 30, tzinfo=UTC), london)
    assert not logic.out_of_hours(datetime(2026, 3, 30, 8, 30, tzinfo=UTC), london)
    # New York moves to EDT on Sunday 8 March 2026: 13:30 UTC is 08:30 EST on Friday 6 March
    # and 09:30 EDT on Monday 9 March.
    assert logic.out_of_hours(datetime(2026, 3, 6, 13, 30, tzinfo=UTC), new_york)
    assert not logic.out_of_hours(datetime(2026, 3, 9, 13, 30, tzinfo=UTC), new_york)
    # The day of the change itself is a Sunday: out of hours all day.
    assert logic.out_of_hours(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), london)
    # London leaves BST on 25 October 2026: 17:30 UTC on Monday 26 October is 17:30 GMT (in
    # hours); on Friday 23 October it was 18:30 BST (out of hours).
    assert not logic.out_of_hours(datetime(2026, 10, 26, 17, 30, tzinfo=UTC), london)
    assert logic.out_of_hours(datetime(2026, 10, 23, 17, 30, tzinfo=UTC), london)


def test_on_call_load_counts_pages_per_person_in_their_zone() -> None:
    pages = [
        PageFacts(1, datetime(2026, 3, 27, 8, 30, tzinfo=UTC), "Europe/London"),  # out
        PageFacts(1, datetime(2026, 3, 30, 8, 30, tzinfo=UTC), "Europe/London"),  # in
        PageFacts(2, datetime(2026, 3, 30, 8, 30, tzinfo=UTC), "America/New_York"),  # 04:30 out
        PageFacts(1, datetime(2026, 3, 30, 23, 0, tzinfo=UTC), "Europe/London"),  # out
        PageFacts(3, datetime(2026, 3, 30, 12, 0, tzinfo=UTC), "Not/AZone"),  # read as UTC: in
    ]
    load = logic.on_call_load(pages)
    assert [(x.user_id, x.pages, x.out_of_hours) for x in load] == [(1, 3, 2), (2, 1, 1), (3, 1, 0)]


def test_recurring_incidents_share_a_service_and_a_signature() -> None:
    incidents = [
        facts(1, title="Disk 91% full on db-3"),
        facts(2, title="disk 95% full on db-7"),
        facts(3, title="Disk 91% full on db-3", service_id=2),  # another service
        facts(4, title="Checkout latency"),
        facts(5, title="Disk 99% full on db-1", merged_into_id=1),  # a duplicate
    ]
    found = logic.recurring(incidents)
    assert [(r.service_id, r.signature, r.incident_ids) for r in found] == [
        (1, "disk #% full on db-#", (1, 2))
    ]


def test_trend_and_previous_period() -> None:
    assert logic.trend(150.0, 100.0) == 0.5
    assert logic.trend(1.0, 0.0) is None and logic.trend(None, 3.0) is None
    since, until = T0, T0 + timedelta(days=30)
    assert logic.previous_period(since, until) == (T0 - timedelta(days=30), T0)


def test_feedback_summary() -> None:
    count, mean, spread = logic.feedback_summary([5, 4, 4, 1])
    assert (count, mean) == (4, 3.5)
    assert spread == {1: 1, 2: 0, 3: 0, 4: 2, 5: 1}
    assert logic.feedback_summary([]) == (0, None, {1: 0, 2: 0, 3: 0, 4: 0, 5: 0})


def test_noisy_signatures_rank_by_the_alerts_their_incidents_collected() -> None:
    incidents = [
        facts(1, title="Disk 91% full on db-3", alert_count=40),
        facts(2, title="disk 95% full on db-7", alert_count=5),
        facts(3, title="Checkout latency", alert_count=30),
        facts(4, title="Declared by hand", alert_count=0),
        facts(5, title="Disk 99% full on db-1", alert_count=100, merged_into_id=1),
    ]
    ranked = [(n.signature, n.alerts, n.incidents) for n in logic.noisy(incidents)]
    assert ranked == [("disk #% full on db-#", 45, 2), ("checkout latency", 30, 1)]
    assert logic.noisy(incidents, limit=1)[0].alerts == 45
