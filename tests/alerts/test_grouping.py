"""Grouping rules, pure (alerts/grouping.py): the group key is Alertmanager's group_by over
Warroom's fields and labels, and precedence is a service's rules by position, then the global
ones; and plan_batch given rules: keys split and join incidents, windows, dependency joins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.alerts.grouping import (
    DEFAULT,
    FIELD_KEYS,
    AlertView,
    GroupingError,
    GroupingRule,
    GroupingRules,
    check_keys,
    group_key,
)
from warroom.alerts.logic import Grouping, ServiceRule, Signal, Submission, plan_batch
from warroom.alerts.matchers import matcher
from warroom.incidents.logic import IncidentState

SETTINGS = settings(max_examples=200, deadline=None, database=None)
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

label_names = st.sampled_from(["alertname", "cluster", "instance", "job", "severity"])
values = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
labels = st.dictionaries(label_names, values, max_size=5)
keys = st.lists(
    st.one_of(st.sampled_from(FIELD_KEYS), label_names.map(lambda n: f"labels.{n}")),
    min_size=1,
    max_size=4,
)


def view(labels: dict[str, str] | None = None, **fields: str) -> AlertView:
    base = {
        "service": "checkout-api",
        "integration": "am",
        "severity": "error",
        "summary": "down",
        "source": "host-1",
        "dedup_key": "k",
    }
    base.update(fields)
    return AlertView(labels=labels or {}, **base)


@st.composite
def alerts(draw: st.DrawFn) -> AlertView:
    return view(
        draw(labels),
        severity=draw(st.sampled_from(["critical", "error", "warning", "info"])),
        summary=draw(values),
        source=draw(values),
        dedup_key=draw(values),
    )


# --- the key ----------------------------------------------------------------------------------


@SETTINGS
@given(keys, alerts(), alerts())
def test_equal_values_of_the_keys_are_equal_keys_and_only_then(
    ks: list[str], a: AlertView, b: AlertView
) -> None:
    same = all(a.value(k) == b.value(k) for k in ks)
    assert (group_key(ks, a) == group_key(ks, b)) == same


@SETTINGS
@given(keys, alerts(), labels)
def test_what_is_not_a_key_does_not_matter(ks: list[str], a: AlertView, other: dict) -> None:
    keyed = {k.removeprefix("labels.") for k in ks if k.startswith("labels.")}
    changed = {n: v for n, v in other.items() if n not in keyed} | {
        n: v for n, v in a.labels.items() if n in keyed
    }
    b = AlertView(
        a.service,
        "another integration",
        a.severity,
        a.summary,
        a.source,
        a.dedup_key,
        changed,
    )
    if "integration" not in ks:
        assert group_key(ks, a) == group_key(ks, b)


@SETTINGS
@given(keys, alerts())
def test_the_key_ignores_order_and_repeats_of_the_names(ks: list[str], a: AlertView) -> None:
    assert group_key(ks, a) == group_key(list(reversed(ks)) + ks[:1], a)


def test_a_missing_label_groups_as_the_empty_value_like_alertmanager() -> None:
    ks = ["labels.cluster"]
    assert group_key(ks, view({})) == group_key(ks, view({"cluster": ""}))
    assert group_key(ks, view({})) != group_key(ks, view({"cluster": "eu-1"}))
    assert group_key(["labels.cluster", "severity"], view({"cluster": "eu-1"})) == (
        'labels.cluster="eu-1",severity="error"'
    )


def test_a_field_key_reads_the_field_and_a_label_key_the_label() -> None:
    a = view({"severity": "page"}, severity="critical")
    assert a.value("severity") == "critical"
    assert a.value("labels.severity") == "page"


@pytest.mark.parametrize(
    ("given_keys", "wrong"),
    [
        ([], "at least one key"),
        (["  "], "at least one key"),
        (["cluster"], "unknown key 'cluster'"),
        (["labels."], "unknown key"),
        (["labels.9lives"], "unknown key"),
        (["service"], "unknown key"),
        (["labels.a-b"], "unknown key"),
    ],
)
def test_bad_keys_are_refused_with_what_to_write(given_keys: list[str], wrong: str) -> None:
    with pytest.raises(GroupingError, match=wrong) as refused:
        check_keys(given_keys)
    assert refused.value.field == "keys"
    if "unknown" in wrong:
        assert "labels.<name>" in str(refused.value)


def test_keys_are_stripped_and_kept_once() -> None:
    assert check_keys([" labels.cluster", "severity", "labels.cluster"]) == (
        "labels.cluster",
        "severity",
    )


# --- precedence -------------------------------------------------------------------------------


def rule(rid: int, service: int | None, *ks: str, position: int = 0, **kw: object) -> GroupingRule:
    return GroupingRule(rid, service, ks, position=position, **kw)  # type: ignore[arg-type]


def test_a_services_rule_wins_over_a_global_one_and_position_orders_within() -> None:
    rules = GroupingRules.build(
        [
            rule(1, None, "severity", position=0),
            rule(2, 10, "labels.job", position=5),
            rule(3, 10, "labels.cluster", position=1),
        ]
    )
    assert rules.rule_for(10, view()).id == 3  # type: ignore[union-attr]
    assert rules.rule_for(20, view()).id == 1  # type: ignore[union-attr]


def test_the_first_rule_whose_matchers_match_applies_else_the_default() -> None:
    critical = (matcher("severity", "=", "critical"),)
    rules = GroupingRules.build(
        [
            rule(1, 10, "labels.cluster", matchers=critical, window_seconds=60),
            rule(2, None, "labels.job", matchers=(matcher("service", "=", "billing"),)),
        ]
    )
    hit = rules.group_of(10, view({"cluster": "eu"}, severity="critical"))
    assert (hit.rule_id, hit.key, hit.window_seconds) == (1, 'labels.cluster="eu"', 60)
    assert rules.group_of(10, view(severity="error")) == DEFAULT
    billing = rules.group_of(30, view({"job": "x"}, service="billing"))
    assert billing.rule_id == 2


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from([None, 10, 20]), st.integers(0, 3), st.booleans()),
        max_size=8,
    ),
    st.sampled_from([10, 20, 30]),
    alerts(),
)
def test_precedence_is_service_then_global_by_position_then_id(
    specs: list[tuple[int | None, int, bool]], service: int, a: AlertView
) -> None:
    # Each rule applies to critical alerts only, or to all.
    made = [
        rule(
            i + 1,
            scope,
            "severity",
            position=pos,
            matchers=(matcher("severity", "=", "critical"),) if narrow else (),
        )
        for i, (scope, pos, narrow) in enumerate(specs)
    ]
    # Matchers read the fields with the labels over them (a severity label wins).
    critical = a.fields()["severity"] == "critical"
    applicable = [r for r in made if not r.matchers or critical]

    def tried(scope: int | None) -> list[GroupingRule]:
        chosen = (r for r in applicable if r.service_id == scope)
        return sorted(chosen, key=lambda r: (r.position, r.id))

    own, common = tried(service), tried(None)
    expected = (own + common)[0] if own + common else None
    assert GroupingRules.build(made).rule_for(service, a) == expected


# --- the planner with rules -------------------------------------------------------------------

APP, DB = 10, 20  # checkout-api depends on payments-db
APP_INTEGRATION, DB_INTEGRATION = 1, 2
SERVICES = {APP: ServiceRule(2, 300, True, name="app"), DB: ServiceRule(1, 300, True, name="db")}


def fire(key: str, **labels: str) -> Signal:
    return Signal("trigger", key, summary=f"{key} down", labels=labels)


class Planner:
    """plan_batch over batches the way the store would load them between commits."""

    def __init__(self, rules: list[GroupingRule]) -> None:
        self.rules = GroupingRules.build(rules)
        self.incidents: dict[int, IncidentState] = {}
        self.services_of: dict[int, set[int]] = {}
        self.next_id = 1

    def send(self, integration: int, signals: list[Signal], now: datetime) -> list[int]:
        service = APP if integration == APP_INTEGRATION else DB
        sub = Submission(integration, "int", service, tuple(signals))
        groups = tuple(
            self.rules.group_of(
                service,
                AlertView("", "int", s.severity, s.summary, s.source, s.dedup_key, s.labels),
            )
            for s in signals
        )
        open_ = {i: inc for i, inc in self.incidents.items() if inc.status != "resolved"}
        by_key: dict[tuple[int, str], int] = {}
        latest: dict[int, int] = {}
        on_dependency: dict[int, int] = {}
        for i, inc in sorted(open_.items(), key=lambda kv: kv[1].last_alert_at or T0):
            assert inc.service_id is not None
            if inc.grouping_key:
                by_key[(inc.service_id, inc.grouping_key)] = i
            else:
                latest[inc.service_id] = i
            for sid in self.services_of[i]:
                on_dependency[sid] = i
        plan = plan_batch(
            [sub],
            {},
            dict(open_),
            latest,
            SERVICES,
            now,
            grouping=Grouping([groups], by_key, {APP: (DB,)}, on_dependency),
        )
        refs: dict[int, int] = {}
        for inc in plan.new_incidents:
            refs[inc.ref] = self.next_id
            inc.ref = self.next_id
            self.incidents[self.next_id] = inc
            self.services_of[self.next_id] = {inc.service_id or 0, *inc.joined_services}
            self.next_id += 1
        for inc in plan.changed_incidents:
            self.services_of[inc.ref].update(inc.joined_services)
            inc.joined_services = []
        return [refs.get(a.incident_ref or 0, a.incident_ref or 0) for a in plan.new_alerts]


def test_different_keys_open_different_incidents_and_equal_ones_join() -> None:
    p = Planner([rule(1, APP, "labels.cluster")])
    eu, us, eu2 = p.send(
        APP_INTEGRATION,
        [fire("a", cluster="eu"), fire("b", cluster="us"), fire("c", cluster="eu")],
        T0,
    )
    assert eu == eu2 != us
    # A later batch: the key's incident is found again.
    [later] = p.send(APP_INTEGRATION, [fire("d", cluster="us")], T0 + timedelta(minutes=1))
    assert later == us
    assert p.incidents[eu].grouping_key == 'labels.cluster="eu"'


def test_the_rules_window_overrides_the_services() -> None:
    p = Planner([rule(1, APP, "labels.cluster", window_seconds=60)])
    [first] = p.send(APP_INTEGRATION, [fire("a", cluster="eu")], T0)
    [inside] = p.send(APP_INTEGRATION, [fire("b", cluster="eu")], T0 + timedelta(seconds=60))
    [outside] = p.send(APP_INTEGRATION, [fire("c", cluster="eu")], T0 + timedelta(seconds=121))
    assert inside == first != outside


def test_a_dependants_alert_joins_the_dependencys_incident_within_the_window() -> None:
    p = Planner([rule(1, APP, "labels.alertname", dependency_aware=True)])
    [db_incident] = p.send(DB_INTEGRATION, [fire("db")], T0)
    [joined] = p.send(APP_INTEGRATION, [fire("app", alertname="Errors")], T0 + timedelta(minutes=2))
    assert joined == db_incident
    assert p.services_of[db_incident] == {DB, APP}
    assert p.incidents[db_incident].alert_count == 2
    # Outside the window (300 s since the incident's last alert): its own incident.
    [alone] = p.send(APP_INTEGRATION, [fire("app2", alertname="Slow")], T0 + timedelta(minutes=8))
    assert alone != db_incident


def test_without_dependency_awareness_the_catalog_link_stays() -> None:
    p = Planner([rule(1, APP, "labels.alertname")])
    [db_incident] = p.send(DB_INTEGRATION, [fire("db")], T0)
    [own] = p.send(APP_INTEGRATION, [fire("app", alertname="Errors")], T0 + timedelta(minutes=1))
    assert own != db_incident
    assert p.services_of[own] == {APP}
