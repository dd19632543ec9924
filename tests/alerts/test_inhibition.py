"""Inhibition rules (pure): Alertmanager's documented behaviour on a table of cases, the index
agreeing with the reference decision, and plan_batch holding targets and releasing them when
their source resolves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.alerts.inhibition import InhibitionIndex, Rule, Source, inhibited_by
from warroom.alerts.logic import AlertState, ServiceRule, Signal, Submission, plan_batch
from warroom.alerts.matchers import matcher
from warroom.alerts.suppression import Suppression, next_mark

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SERVICE = 1
NAMES = {SERVICE: "checkout-api"}
RULES = {SERVICE: ServiceRule(tier=2, grouping_window_seconds=3600, auto_resolve=True)}


def rule(
    source: tuple[tuple[str, str, str], ...],
    target: tuple[tuple[str, str, str], ...],
    equal: tuple[str, ...] = (),
    id_: int = 1,
) -> Rule:
    return Rule(
        id_,
        f"rule {id_}",
        tuple(matcher(*m) for m in source),
        tuple(matcher(*m) for m in target),
        equal,
    )


def src(key: str, **labels: str) -> Source:
    return Source(10, key, labels, f"{key} firing")


# The case Alertmanager's documentation gives: a critical alert mutes warnings of the same
# alertname and instance.
CRITICAL_MUTES_WARNING = rule(
    (("severity", "=", "critical"),), (("severity", "=", "warning"),), ("alertname", "instance")
)
CASES = [
    # (why, rule, firing sources, target labels, inhibited)
    (
        "same alertname and instance: muted",
        CRITICAL_MUTES_WARNING,
        [src("c", severity="critical", alertname="Disk", instance="db-1")],
        {"severity": "warning", "alertname": "Disk", "instance": "db-1"},
        True,
    ),
    (
        "another instance: not muted",
        CRITICAL_MUTES_WARNING,
        [src("c", severity="critical", alertname="Disk", instance="db-1")],
        {"severity": "warning", "alertname": "Disk", "instance": "db-2"},
        False,
    ),
    (
        "the target side does not match (a critical is not a warning)",
        CRITICAL_MUTES_WARNING,
        [src("c", severity="critical", alertname="Disk", instance="db-1")],
        {"severity": "critical", "alertname": "Disk", "instance": "db-1"},
        False,
    ),
    (
        "no source fires: not muted",
        CRITICAL_MUTES_WARNING,
        [src("w", severity="warning", alertname="Disk", instance="db-1")],
        {"severity": "warning", "alertname": "Disk", "instance": "db-1"},
        False,
    ),
    (
        "equal labels missing on both sides count as equal",
        CRITICAL_MUTES_WARNING,
        [src("c", severity="critical")],
        {"severity": "warning"},
        True,
    ),
    (
        "an equal label missing on one side only is not equal",
        CRITICAL_MUTES_WARNING,
        [src("c", severity="critical", alertname="Disk")],
        {"severity": "warning"},
        False,
    ),
    (
        "an empty value is the same as a missing label",
        CRITICAL_MUTES_WARNING,
        [src("c", severity="critical", alertname="", instance="db-1")],
        {"severity": "warning", "instance": "db-1"},
        True,
    ),
    (
        "no equal labels: any firing source mutes every target",
        rule((("alertname", "=", "DatacenterDown"),), (("team", "=~", "web|api"),)),
        [src("dc", alertname="DatacenterDown")],
        {"team": "api", "alertname": "Latency"},
        True,
    ),
    (
        "an alert matching both sides does not inhibit itself",
        rule((("alertname", "=", "Down"),), (("alertname", "=", "Down"),), ("job",)),
        [src("self", alertname="Down", job="api")],
        {"alertname": "Down", "job": "api"},
        False,
    ),
    (
        "two-sided: another alert matching both sides does not inhibit it either",
        rule((("alertname", "=~", "Down.*"),), (("alertname", "=~", "Down.*"),), ("job",)),
        [src("other", alertname="DownHard", job="api")],
        {"alertname": "DownSoft", "job": "api"},
        False,
    ),
    (
        "two-sided target, a source matching only the source side: muted",
        rule(
            (("alertname", "=~", "Down.*"),),
            (("alertname", "=~", "Down.*"), ("severity", "!=", "critical")),
            ("job",),
        ),
        [src("root", alertname="DownHard", severity="critical", job="api")],
        {"alertname": "DownSoft", "severity": "warning", "job": "api"},
        True,
    ),
    (
        "regex source matcher, anchored: 'Node' does not match 'NodeDownX' as a prefix",
        rule((("alertname", "=~", "NodeDown"),), (("severity", "=", "warning"),)),
        [src("n", alertname="NodeDownX")],
        {"severity": "warning"},
        False,
    ),
]


@pytest.mark.parametrize(
    ("why", "the_rule", "sources", "target", "inhibited"), CASES, ids=[c[0] for c in CASES]
)
def test_alertmanager_documented_cases(
    why: str, the_rule: Rule, sources: list[Source], target: dict[str, str], inhibited: bool
) -> None:
    assert (inhibited_by([the_rule], sources, target) is not None) is inhibited, why
    assert (InhibitionIndex([the_rule], sources).find(target) is not None) is inhibited, why


LABELS = st.dictionaries(
    st.sampled_from(["alertname", "severity", "job", "instance"]),
    st.sampled_from(["", "a", "b", "critical", "warning"]),
    max_size=4,
)
MATCHERS = st.lists(
    st.tuples(
        st.sampled_from(["alertname", "severity", "job"]),
        st.sampled_from(["=", "!=", "=~", "!~"]),
        st.sampled_from(["a", "b", "critical", "warning", "a|b", ".+"]),
    ),
    min_size=1,
    max_size=3,
)
RULE = st.builds(
    lambda s, t, e: (s, t, e),
    MATCHERS,
    MATCHERS,
    st.lists(st.sampled_from(["alertname", "job", "instance"]), max_size=2, unique=True),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(RULE, min_size=1, max_size=4),
    st.lists(LABELS, max_size=6),
    LABELS,
    st.lists(st.integers(0, 5), max_size=3),
)
def test_the_index_agrees_with_checking_every_source(
    specs: list[tuple[list[tuple[str, str, str]], list[tuple[str, str, str]], list[str]]],
    source_labels: list[dict[str, str]],
    target: dict[str, str],
    resolved: list[int],
) -> None:
    rules = [rule(tuple(s), tuple(t), tuple(e), i + 1) for i, (s, t, e) in enumerate(specs)]
    firing = [Source(10, f"k{i}", labels) for i, labels in enumerate(source_labels)]
    index = InhibitionIndex(rules, firing)
    for i in resolved:  # sources resolving as the batch goes
        index.remove(10, f"k{i}")
    still = [s for s in firing if int(s.dedup_key[1:]) not in resolved]
    expected = inhibited_by(rules, still, target)
    found = index.find(target)
    assert (found is None) == (expected is None)
    if found is not None and expected is not None:
        assert found[0].id == expected[0].id
        # The source named is one that really inhibits the target under that rule.
        assert inhibited_by([found[0]], [found[1]], target) is not None


def am(key: str, action: str = "trigger", **labels: str) -> Signal:
    return Signal(action, key, severity="warning", summary=f"{key} summary", labels=labels)


def plan(supp: Suppression, *signals: Signal, open_alerts: dict | None = None):  # type: ignore[no-untyped-def, type-arg]
    return plan_batch(
        [Submission(10, "am", SERVICE, signals)],
        open_alerts or {},
        {},
        {},
        dict(RULES),
        T0,
        suppression=supp,
    )


def node_rule() -> Suppression:
    return Suppression(
        service_names=NAMES,
        inhibition=InhibitionIndex(
            [
                rule(
                    (("alertname", "=", "NodeDown"),),
                    (("alertname", "!=", "NodeDown"),),
                    ("node",),
                )
            ]
        ),
    )


def test_a_source_in_the_same_batch_holds_later_targets_and_is_marked_as_a_source() -> None:
    p = plan(
        node_rule(),
        am("down", alertname="NodeDown", node="n1"),
        am("pod-a", alertname="PodCrash", node="n1"),
        am("pod-b", alertname="PodCrash", node="n2"),
    )
    down, a, b = p.new_alerts
    assert down.inhibits and down.incident_ref is not None
    assert (a.suppression, a.incident_ref) == ("inhibited", None)
    assert a.suppressed_by == {
        "rule_id": 1,
        "rule": "rule 1",
        "source_alert_id": None,
        "source_integration_id": 10,
        "source_dedup_key": "down",
        "source_summary": "down summary",
    }
    assert b.suppression is None and b.incident_ref is not None  # another node
    assert [o.result for o in p.outcomes[0]] == ["opened", "suppressed", "opened"]
    # Looked at again at the next 5-minute mark even if nothing resolves it through intake.
    assert p.release_at == {next_mark(T0)} and next_mark(T0) == T0 + timedelta(minutes=5)


def test_a_source_resolving_releases_at_once_and_no_longer_holds_new_targets() -> None:
    supp = node_rule()
    source = AlertState(
        id=5,
        integration_id=10,
        service_id=SERVICE,
        dedup_key="down",
        status="triggered",
        severity="critical",
        incident_ref=None,
        labels={"alertname": "NodeDown", "node": "n1"},
        inhibits=True,
        created_at=T0 - timedelta(hours=1),
    )
    supp.inhibition.add(Source(10, "down", {"alertname": "NodeDown", "node": "n1"}, "", 5))
    p = plan(
        supp,
        am("down", "resolve"),
        am("pod-a", alertname="PodCrash", node="n1"),
        open_alerts={(10, "down"): source},
    )
    assert T0 in p.release_at  # the held targets of earlier batches are planned again now
    [pod] = p.new_alerts
    assert pod.suppression is None and pod.incident_ref is not None
