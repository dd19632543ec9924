"""plan_batch, pure: dedup semantics, grouping window, urgency, auto-resolve; and properties over
random signal sequences fed through several batches the way the database would between commits."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warroom.alerts.logic import (
    OPEN_INCIDENT,
    AlertState,
    IncidentState,
    Plan,
    ServiceRule,
    Signal,
    Submission,
    plan_batch,
)
from warroom.incidents.logic import DEFAULT_MATRIX, SEVERITY_RANK, urgency_for_severity

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SERVICE, OTHER_SERVICE = 10, 20
INTEGRATION, OTHER_INTEGRATION = 1, 2
SERVICE_OF = {INTEGRATION: SERVICE, OTHER_INTEGRATION: OTHER_SERVICE}
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def trigger(key: str, severity: str = "error", summary: str = "") -> Signal:
    return Signal("trigger", key, severity=severity, summary=summary or f"{key} is broken")


def ack(key: str) -> Signal:
    return Signal("acknowledge", key)


def resolve(key: str) -> Signal:
    return Signal("resolve", key)


def _fresh(alert: AlertState) -> AlertState:
    """A row as the loader builds it: a new object, not yet marked as changed."""
    loaded = copy.copy(alert)
    loaded.changed = False
    return loaded


@dataclass
class Store:
    """What the database holds between batches; loads what ingest_batch would load."""

    rules: dict[int, ServiceRule]
    alerts: dict[int, AlertState] = field(default_factory=dict)
    incidents: dict[int, IncidentState] = field(default_factory=dict)
    next_id: int = 100
    new_alert_ids: list[int] = field(default_factory=list)  # of the last batch, in plan order

    def run(self, now: datetime, *batch: tuple[int, list[Signal]]) -> Plan:
        subs = [
            Submission(integ, f"integration {integ}", SERVICE_OF[integ], tuple(sigs))
            for integ, sigs in batch
        ]
        open_alerts = {
            (a.integration_id, a.dedup_key): _fresh(a)
            for a in self.alerts.values()
            if a.status != "resolved"
        }
        wanted = {a.incident_ref for a in open_alerts.values() if a.incident_ref is not None}
        latest: dict[int, int] = {}
        for service in {s.service_id for s in subs}:
            candidates = [
                i
                for i in self.incidents.values()
                if i.service_id == service and i.status in OPEN_INCIDENT
            ]
            if candidates:
                best = max(candidates, key=lambda i: (i.last_alert_at or T0, i.ref))
                latest[service] = best.ref
                wanted.add(best.ref)
        loaded: dict[int, IncidentState] = {}
        for ref in wanted:
            inc = copy.copy(self.incidents[ref])
            inc.changed = False
            mine = [a for a in self.alerts.values() if a.incident_ref == ref]
            inc.open_alerts = sum(a.status != "resolved" for a in mine)
            inc.triggered_alerts = sum(a.status == "triggered" for a in mine)
            loaded[ref] = inc
        originals = {ref: copy.copy(inc) for ref, inc in loaded.items()}
        plan = plan_batch(subs, open_alerts, loaded, latest, self.rules, now, DEFAULT_MATRIX)
        self._store(plan, loaded, originals)
        return plan

    def _store(
        self, plan: Plan, loaded: dict[int, IncidentState], originals: dict[int, IncidentState]
    ) -> None:
        persisted = (
            "status",
            "severity",
            "urgency",
            "priority",
            "alert_count",
            "last_alert_at",
            "impact_started_at",
            "acknowledged_at",
            "resolved_at",
        )
        changed_refs = {inc.ref for inc in plan.changed_incidents}
        for ref, inc in loaded.items():
            if ref < 0:
                continue
            differs = any(getattr(inc, f) != getattr(originals[ref], f) for f in persisted)
            # A change the plan does not list would be lost by the bulk UPDATE.
            assert not differs or ref in changed_refs, f"unlisted change to incident {ref}"
        new_ids: dict[int, int] = {}
        self.new_alert_ids = []
        for inc in plan.new_incidents:
            assert inc.ref < 0
            self.next_id += 1
            new_ids[inc.ref] = self.next_id
            stored = copy.copy(inc)
            stored.ref = self.next_id
            self.incidents[stored.ref] = stored
        for inc in plan.changed_incidents:
            target = self.incidents[inc.ref]
            for f in persisted:
                setattr(target, f, getattr(inc, f))
        for alert in plan.new_alerts:
            assert alert.id is None
            self.next_id += 1
            stored = copy.copy(alert)
            stored.id = self.next_id
            if stored.incident_ref is not None:
                stored.incident_ref = new_ids.get(stored.incident_ref, stored.incident_ref)
            self.alerts[stored.id] = stored
            self.new_alert_ids.append(stored.id)
        for alert in plan.changed_alerts:
            assert alert.id is not None
            self.alerts[alert.id] = copy.copy(alert)
        for ev in plan.timeline:
            ref = ev["incident_ref"]
            assert ref in self.incidents or ref in new_ids, "timeline event for no incident"

    def open_alerts(self) -> list[AlertState]:
        return [a for a in self.alerts.values() if a.status != "resolved"]

    def only_incident(self) -> IncidentState:
        [inc] = self.incidents.values()
        return inc


def store(window: int = 300, auto_resolve: bool = True, tier: int = 2) -> Store:
    rule = ServiceRule(tier, window, auto_resolve)
    return Store({SERVICE: rule, OTHER_SERVICE: rule})


def outcomes(plan: Plan) -> list[tuple[str, str]]:
    return [(o.dedup_key, o.result) for per_sub in plan.outcomes for o in per_sub]


# --- dedup -----------------------------------------------------------------------------------


def test_trigger_on_an_open_key_updates_and_counts_it() -> None:
    s = store()
    s.run(T0, (INTEGRATION, [trigger("disk", summary="Disk 90%")]))
    plan = s.run(T0 + timedelta(seconds=30), (INTEGRATION, [trigger("disk", summary="Disk 95%")]))
    assert outcomes(plan) == [("disk", "updated")]
    assert plan.new_alerts == [] and plan.new_incidents == []
    [alert] = s.alerts.values()
    assert alert.event_count == 2 and alert.summary == "Disk 95%"
    assert alert.last_event_at == T0 + timedelta(seconds=30)
    assert s.only_incident().alert_count == 1


def test_the_same_key_twice_in_one_batch_is_one_alert() -> None:
    s = store()
    plan = s.run(T0, (INTEGRATION, [trigger("disk"), trigger("disk"), trigger("disk")]))
    assert outcomes(plan) == [("disk", "opened"), ("disk", "updated"), ("disk", "updated")]
    [alert] = plan.new_alerts
    assert alert.event_count == 3


def test_after_resolve_the_same_key_opens_a_new_alert() -> None:
    s = store()
    s.run(T0, (INTEGRATION, [trigger("disk")]))
    s.run(T0 + timedelta(minutes=1), (INTEGRATION, [resolve("disk")]))
    plan = s.run(T0 + timedelta(minutes=2), (INTEGRATION, [trigger("disk")]))
    assert outcomes(plan) == [("disk", "opened")]
    assert sorted(a.status for a in s.alerts.values()) == ["resolved", "triggered"]
    # In one batch too: resolve frees the key at once.
    plan = s.run(T0 + timedelta(minutes=3), (INTEGRATION, [resolve("disk"), trigger("disk")]))
    assert outcomes(plan) == [("disk", "resolved"), ("disk", "opened")]


def test_keys_are_per_integration() -> None:
    s = store()
    plan = s.run(T0, (INTEGRATION, [trigger("disk")]), (OTHER_INTEGRATION, [trigger("disk")]))
    assert outcomes(plan) == [("disk", "opened"), ("disk", "opened")]
    assert len(plan.new_alerts) == 2


@pytest.mark.parametrize("signal", [ack("nope"), resolve("nope")])
def test_ack_or_resolve_of_an_unknown_key_is_ignored(signal: Signal) -> None:
    s = store()
    plan = s.run(T0, (INTEGRATION, [signal]))
    assert outcomes(plan) == [("nope", "ignored")]
    assert plan.new_alerts == plan.changed_alerts == plan.new_incidents == []
    assert plan.timeline == []


@pytest.mark.parametrize("signal", [ack("disk"), resolve("disk")])
def test_ack_or_resolve_of_a_resolved_key_is_ignored(signal: Signal) -> None:
    s = store()
    s.run(T0, (INTEGRATION, [trigger("disk")]))
    s.run(T0 + timedelta(minutes=1), (INTEGRATION, [resolve("disk")]))
    before = copy.deepcopy((s.alerts, s.incidents))
    plan = s.run(T0 + timedelta(minutes=2), (INTEGRATION, [signal]))
    assert outcomes(plan) == [("disk", "ignored")]
    assert plan.changed_alerts == [] and plan.changed_incidents == [] and plan.timeline == []
    assert (s.alerts, s.incidents) == before


def test_acknowledging_twice_is_ignored_the_second_time() -> None:
    s = store()
    s.run(T0, (INTEGRATION, [trigger("disk")]))
    plan = s.run(T0 + timedelta(minutes=1), (INTEGRATION, [ack("disk"), ack("disk")]))
    assert outcomes(plan) == [("disk", "acknowledged"), ("disk", "ignored")]
    [alert] = s.alerts.values()
    assert alert.acknowledged_at == T0 + timedelta(minutes=1)


def test_the_source_acknowledging_all_its_alerts_acknowledges_the_incident() -> None:
    s = store()
    s.run(T0, (INTEGRATION, [trigger("a"), trigger("b")]))
    s.run(T0 + timedelta(minutes=1), (INTEGRATION, [ack("a")]))
    assert s.only_incident().status == "triggered"  # b still needs someone
    s.run(T0 + timedelta(minutes=2), (INTEGRATION, [ack("b")]))
    inc = s.only_incident()
    assert inc.status == "acknowledged" and inc.acknowledged_at == T0 + timedelta(minutes=2)


def test_ack_one_and_resolve_the_other_leaves_the_incident_acknowledged() -> None:
    # Everything the source raised is acknowledged or resolved, in whichever order it says so.
    for order in ([ack("a"), resolve("b")], [resolve("b"), ack("a")]):
        s = store()
        s.run(T0, (INTEGRATION, [trigger("a"), trigger("b")]))
        for minute, signal in enumerate(order, start=1):
            s.run(T0 + timedelta(minutes=minute), (INTEGRATION, [signal]))
        inc = s.only_incident()
        assert inc.status == "acknowledged", order
        assert inc.acknowledged_at is not None


# --- grouping --------------------------------------------------------------------------------


def test_an_alert_inside_the_window_joins_the_open_incident() -> None:
    s = store(window=300)
    s.run(T0, (INTEGRATION, [trigger("a")]))
    plan = s.run(T0 + timedelta(seconds=300), (INTEGRATION, [trigger("b")]))
    assert plan.new_incidents == []
    inc = s.only_incident()
    assert inc.alert_count == 2 and inc.last_alert_at == T0 + timedelta(seconds=300)
    assert {a.incident_ref for a in s.alerts.values()} == {inc.ref}
    [grouped] = [e for e in plan.timeline if e["kind"] == "alerts_grouped"]
    assert grouped["message"] == "1 alert grouped into this incident"
    # The window runs from the newest alert: a third one 9 minutes after the first still joins.
    s.run(T0 + timedelta(seconds=540), (INTEGRATION, [trigger("c")]))
    assert s.only_incident().alert_count == 3


def test_an_alert_outside_the_window_opens_a_new_incident() -> None:
    s = store(window=300)
    s.run(T0, (INTEGRATION, [trigger("a")]))
    plan = s.run(T0 + timedelta(seconds=301), (INTEGRATION, [trigger("b")]))
    [new] = plan.new_incidents
    assert new.alert_count == 1 and new.title == "b is broken"
    assert len(s.incidents) == 2
    # Updates of the old alert do not keep its incident's window open.
    s2 = store(window=300)
    s2.run(T0, (INTEGRATION, [trigger("a")]))
    s2.run(T0 + timedelta(seconds=200), (INTEGRATION, [trigger("a")]))
    s2.run(T0 + timedelta(seconds=400), (INTEGRATION, [trigger("b")]))
    assert len(s2.incidents) == 2


def test_window_zero_opens_one_incident_per_alert() -> None:
    s = store(window=0)
    plan = s.run(T0, (INTEGRATION, [trigger("a"), trigger("b"), trigger("c")]))
    assert len(plan.new_incidents) == 3
    assert len({a.incident_ref for a in plan.new_alerts}) == 3


def test_alerts_of_another_service_never_join() -> None:
    s = store(window=3600)
    plan = s.run(T0, (INTEGRATION, [trigger("a")]), (OTHER_INTEGRATION, [trigger("a")]))
    assert sorted(i.service_id for i in plan.new_incidents) == [SERVICE, OTHER_SERVICE]


def test_a_resolved_incident_is_not_joined() -> None:
    s = store(window=3600)
    s.run(T0, (INTEGRATION, [trigger("a")]))
    s.run(T0 + timedelta(seconds=10), (INTEGRATION, [resolve("a")]))
    plan = s.run(T0 + timedelta(seconds=20), (INTEGRATION, [trigger("b")]))
    assert len(plan.new_incidents) == 1


# --- urgency ---------------------------------------------------------------------------------


def test_a_more_severe_joining_alert_raises_urgency_and_priority() -> None:
    s = store(tier=2)
    s.run(T0, (INTEGRATION, [trigger("a", "warning")]))
    inc = s.only_incident()
    assert (inc.impact, inc.urgency, inc.priority) == (2, 2, 3)
    plan = s.run(T0 + timedelta(seconds=5), (INTEGRATION, [trigger("b", "critical")]))
    inc = s.only_incident()
    assert (inc.urgency, inc.priority, inc.severity) == (1, 2, "critical")
    [event] = [e for e in plan.timeline if e["kind"] == "priority_changed"]
    assert event["before"] == {"urgency": 2, "priority": 3}
    assert event["after"] == {"urgency": 1, "priority": 2}
    # A milder one does not lower it.
    s.run(T0 + timedelta(seconds=10), (INTEGRATION, [trigger("c", "info")]))
    inc = s.only_incident()
    assert (inc.urgency, inc.priority, inc.severity) == (1, 2, "critical")


def test_a_manual_priority_is_not_changed_by_alerts() -> None:
    s = store(tier=2)
    s.run(T0, (INTEGRATION, [trigger("a", "info")]))
    inc = s.only_incident()
    inc.priority_source, inc.urgency, inc.priority = "manual", 3, 4
    plan = s.run(
        T0 + timedelta(seconds=5),
        (INTEGRATION, [trigger("b", "critical"), trigger("a", "critical")]),
    )
    inc = s.only_incident()
    assert (inc.urgency, inc.priority) == (3, 4)
    assert not [e for e in plan.timeline if e["kind"] == "priority_changed"]
    assert inc.severity == "critical"  # the technical state still shows


def test_an_open_alert_turning_critical_raises_its_incident() -> None:
    s = store(tier=1)
    s.run(T0, (INTEGRATION, [trigger("a", "info")]))
    assert s.only_incident().priority == 3  # impact 1 x urgency 3
    s.run(T0 + timedelta(seconds=5), (INTEGRATION, [trigger("a", "error")]))
    inc = s.only_incident()
    assert (inc.urgency, inc.priority, inc.severity) == (1, 1, "error")


# --- auto-resolve ----------------------------------------------------------------------------


@pytest.mark.parametrize("auto_resolve", [True, False])
def test_the_last_alert_resolving_resolves_the_incident_only_with_auto_resolve(
    auto_resolve: bool,
) -> None:
    s = store(auto_resolve=auto_resolve)
    s.run(T0, (INTEGRATION, [trigger("a"), trigger("b")]))
    s.run(T0 + timedelta(minutes=1), (INTEGRATION, [resolve("a")]))
    assert s.only_incident().status == "triggered"
    plan = s.run(T0 + timedelta(minutes=2), (INTEGRATION, [resolve("b")]))
    inc = s.only_incident()
    if auto_resolve:
        assert inc.status == "resolved" and inc.resolved_at == T0 + timedelta(minutes=2)
        [event] = [e for e in plan.timeline if e["kind"] == "status_changed"]
        assert event["after"] == {"status": "resolved"}
        assert "last open alert resolved" in event["message"]
    else:
        assert inc.status == "triggered" and inc.resolved_at is None
        assert not [e for e in plan.timeline if e["kind"] == "status_changed"]


def test_resolving_inside_one_batch_aggregates_the_timeline() -> None:
    s = store()
    keys = [f"k{i}" for i in range(15)]
    s.run(T0, (INTEGRATION, [trigger(k) for k in keys]))
    plan = s.run(T0 + timedelta(minutes=1), (INTEGRATION, [resolve(k) for k in keys]))
    [resolved] = [e for e in plan.timeline if e["kind"] == "alerts_resolved"]
    assert resolved["message"] == "15 alerts resolved by the source"
    assert resolved["after"]["count"] == 15 and len(resolved["after"]["summaries"]) == 10
    assert s.only_incident().status == "resolved"


# --- properties ------------------------------------------------------------------------------

KEYS = ("a", "b", "c")
SEVERITIES = ("critical", "error", "warning", "info")

signal_st = st.builds(
    Signal,
    action=st.sampled_from(("trigger", "trigger", "acknowledge", "resolve")),
    dedup_key=st.sampled_from(KEYS),
    severity=st.sampled_from(SEVERITIES),
)
request_st = st.tuples(
    st.sampled_from((INTEGRATION, OTHER_INTEGRATION)), st.lists(signal_st, min_size=1, max_size=5)
)
batch_st = st.tuples(st.integers(0, 400), st.lists(request_st, min_size=1, max_size=3))
history_st = st.lists(batch_st, min_size=1, max_size=8)


@dataclass
class Model:
    """A plain-dict model of PagerDuty's dedup rules: the expected outcome of each signal."""

    open: dict[tuple[int, str], str] = field(default_factory=dict)

    def apply(self, integ: int, sig: Signal) -> str:
        key = (integ, sig.dedup_key)
        status = self.open.get(key)
        if sig.action == "trigger":
            self.open.setdefault(key, "triggered")
            return "updated" if status else "opened"
        if status is None or (sig.action == "acknowledge" and status != "triggered"):
            return "ignored"
        if sig.action == "acknowledge":
            self.open[key] = "acknowledged"
            return "acknowledged"
        del self.open[key]
        return "resolved"


@PROPERTY_SETTINGS
@given(history=history_st, window=st.sampled_from((0, 120, 3600)), auto_resolve=st.booleans())
def test_any_signal_sequence_keeps_the_dedup_and_incident_invariants(
    history: list[tuple[int, list[tuple[int, list[Signal]]]]], window: int, auto_resolve: bool
) -> None:
    s = store(window=window, auto_resolve=auto_resolve)
    model = Model()
    severities: dict[int, list[str]] = {}  # alert id -> severity of every trigger it took
    now = T0
    for step, requests in history:
        now += timedelta(seconds=step)
        expected = [model.apply(integ, sig) for integ, sigs in requests for sig in sigs]
        current = {(a.integration_id, a.dedup_key): a.id for a in s.open_alerts()}
        plan = s.run(now, *requests)
        got = outcomes(plan)
        assert [r for _, r in got] == expected
        # Alerts opened = triggers that found no open alert for their key.
        assert len(plan.new_alerts) == expected.count("opened")
        assert len(plan.outcomes) == len(requests)

        # At most one open alert per key, and exactly the keys the model has open.
        open_keys = [(a.integration_id, a.dedup_key) for a in s.open_alerts()]
        assert len(open_keys) == len(set(open_keys))
        assert {(a.integration_id, a.dedup_key): a.status for a in s.open_alerts()} == model.open

        signals = [(integ, sig) for integ, sigs in requests for sig in sigs]
        outs = [o for per_sub in plan.outcomes for o in per_sub]
        for (integ, sig), o in zip(signals, outs, strict=True):
            key = (integ, sig.dedup_key)
            if o.result == "opened":
                assert o.alert_ref is not None
                current[key] = s.new_alert_ids[o.alert_ref]
                severities[s.new_alert_ids[o.alert_ref]] = [sig.severity]
            elif o.result == "updated":
                severities[current[key] or 0].append(sig.severity)
            elif o.result == "resolved":
                del current[key]

        for inc in s.incidents.values():
            mine = [a for a in s.alerts.values() if a.incident_ref == inc.ref]
            assert inc.alert_count == len(mine) >= 1
            assert {a.service_id for a in mine} == {inc.service_id}
            open_mine = [a for a in mine if a.status != "resolved"]
            if open_mine:
                assert inc.status in OPEN_INCIDENT
            if inc.status in OPEN_INCIDENT:
                assert inc.resolved_at is None
                if auto_resolve:
                    assert open_mine, "an auto-resolving incident stays open with no alert"
            else:
                assert inc.status == "resolved" and auto_resolve and not open_mine
                assert inc.resolved_at is not None and inc.resolved_at >= inc.triggered_at
            if inc.status == "acknowledged":
                assert inc.acknowledged_at is not None
            if inc.status == "triggered" and open_mine:
                assert any(a.status == "triggered" for a in open_mine), (
                    "the source acknowledged every open alert but the incident still pages"
                )
            # Severity: the worst any of its alerts reported; urgency follows the most severe.
            sent = [sev for a in mine for sev in severities[a.id or 0]]
            assert inc.severity == min(sent, key=SEVERITY_RANK.__getitem__)
            assert inc.urgency == min(urgency_for_severity(sev) for sev in sent)
            assert inc.priority == DEFAULT_MATRIX[inc.impact - 1][inc.urgency - 1]
            assert inc.triggered_at is not None and inc.last_alert_at is not None
            assert inc.triggered_at <= inc.last_alert_at <= now
        if window == 0:
            # No grouping: every alert has its own incident.
            assert len(s.incidents) == len(s.alerts)
