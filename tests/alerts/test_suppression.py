"""plan_batch with what holds alerts back (pure): silences, maintenance, incidents on
dependencies; the index of silences agrees with checking every silence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.alerts.logic import (
    AlertState,
    IncidentState,
    ServiceRule,
    Signal,
    Submission,
    plan_batch,
)
from warroom.alerts.matchers import matcher, matches_all
from warroom.alerts.suppression import (
    ActiveSilence,
    SilenceIndex,
    Suppression,
    dependency_closure,
    silence_state,
)
from warroom.maintenance.occurrences import Occurrence

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
DB, API, WEB = 1, 2, 3  # services: API depends on DB, WEB on API
RULES = {s: ServiceRule(tier=2, grouping_window_seconds=3600, auto_resolve=True) for s in (1, 2, 3)}
NAMES = {DB: "payments-db", API: "checkout-api", WEB: "web"}


def sub(service: int, *signals: Signal) -> Submission:
    return Submission(service * 10, f"integration {service}", service, signals)


def fire(key: str, **labels: str) -> Signal:
    return Signal("trigger", key, summary=f"{key} failing", labels=labels)


def silence(id_: int, ends: datetime, *specs: tuple[str, str, str]) -> ActiveSilence:
    return ActiveSilence(id_, tuple(matcher(*s) for s in specs), ends)


def held_plan(supp: Suppression, *subs: Submission, open_alerts: dict | None = None):  # type: ignore[no-untyped-def, type-arg]
    return plan_batch(list(subs), open_alerts or {}, {}, {}, dict(RULES), T0, suppression=supp)


def test_a_silenced_alert_is_stored_in_no_incident_and_released_when_the_silence_ends() -> None:
    ends = T0 + timedelta(hours=2)
    supp = Suppression(
        silences=SilenceIndex.build([silence(7, ends, ("alertname", "=", "Deploy"))]),
        service_names=NAMES,
    )
    plan = held_plan(supp, sub(API, fire("a", alertname="Deploy"), fire("b", alertname="Other")))
    silenced, paging = plan.new_alerts
    assert (silenced.suppression, silenced.suppressed_by, silenced.incident_ref) == (
        "silenced",
        {"silence_id": 7},
        None,
    )
    assert paging.suppression is None and paging.incident_ref is not None
    assert [o.result for o in plan.outcomes[0]] == ["suppressed", "opened"]
    assert len(plan.new_incidents) == 1 and plan.release_at == {ends}

    # Another event while silenced: still held, counted.
    silenced.id = 500
    opened = {(API * 10, "a"): silenced}
    again = held_plan(supp, sub(API, fire("a", alertname="Deploy")), open_alerts=opened)
    assert again.changed_alerts == [silenced] and silenced.event_count == 2
    assert silenced.incident_ref is None and not again.new_incidents

    # The silence ended: the release signal opens an incident for the still-firing alert.
    released = plan_batch(
        [sub(API, Signal("release", "a", summary="a failing", labels={"alertname": "Deploy"}))],
        opened,
        {},
        {},
        dict(RULES),
        ends,
        suppression=Suppression(service_names=NAMES),
    )
    assert len(released.new_incidents) == 1
    assert silenced.incident_ref == released.new_incidents[0].ref
    assert silenced.suppression is None and silenced.event_count == 2  # a release is no event


def test_a_release_of_an_alert_that_resolved_meanwhile_is_ignored() -> None:
    plan = plan_batch(
        [sub(API, Signal("release", "gone"))], {}, {}, {}, dict(RULES), T0, suppression=None
    )
    assert [o.result for o in plan.outcomes[0]] == ["ignored"] and not plan.new_alerts


def test_a_silenced_alert_that_resolves_never_pages() -> None:
    supp = Suppression(
        silences=SilenceIndex.build(
            [silence(1, T0 + timedelta(hours=1), ("service", "=", "checkout-api"))]
        ),
        service_names=NAMES,
    )
    opened: dict[tuple[int, str], AlertState] = {}
    plan = plan_batch(
        [sub(API, fire("a"), Signal("resolve", "a"))],
        opened,
        {},
        {},
        dict(RULES),
        T0,
        suppression=supp,
    )
    [alert] = plan.new_alerts
    assert alert.status == "resolved" and alert.incident_ref is None and not plan.new_incidents


def test_maintenance_holds_alerts_of_its_services_until_the_occurrence_ends() -> None:
    until = T0 + timedelta(minutes=30)
    supp = Suppression(maintenance={API: Occurrence(4, "DB upgrade", T0, until)})
    plan = held_plan(supp, sub(API, fire("a")), sub(DB, fire("b")))
    held, paged = plan.new_alerts
    assert held.suppression == "maintenance" and held.suppressed_by == {
        "window_id": 4,
        "title": "DB upgrade",
    }
    assert paged.incident_ref is not None and plan.release_at == {until}


def test_an_incident_on_a_dependency_absorbs_its_dependants_new_incidents() -> None:
    closure = dependency_closure([(API, DB), (WEB, API)], [API, WEB])
    assert closure == {API: (DB,), WEB: (API, DB)}
    # DB already has open incident 900; API and WEB alerts arrive.
    supp = Suppression(depends_on=closure, upstream={DB: 900}, service_names=NAMES)
    plan = held_plan(supp, sub(API, fire("a")), sub(WEB, fire("w")))
    api_inc, web_inc = plan.new_incidents
    assert api_inc.caused_by_ref == 900 and web_inc.caused_by_ref == 900
    assert all(a.suppression == "inhibited" for a in plan.new_alerts)
    joined = [e for e in plan.timeline if e["kind"] == "dependants_joined"]
    assert [e["incident_ref"] for e in joined] == [900, 900]  # one per integration
    assert "caused by the open incident on payments-db" in plan.timeline[0]["message"]


def test_a_dependency_incident_opened_in_the_same_batch_is_the_cause_and_the_root_wins() -> None:
    closure = dependency_closure([(API, DB), (WEB, API)], [DB, API, WEB])
    supp = Suppression(depends_on=closure, service_names=NAMES)
    plan = held_plan(supp, sub(DB, fire("d")), sub(API, fire("a")), sub(WEB, fire("w")))
    db_inc, api_inc, web_inc = plan.new_incidents
    assert db_inc.caused_by_ref is None
    assert api_inc.caused_by_ref == db_inc.ref and web_inc.caused_by_ref == db_inc.ref


def test_a_resolved_dependency_incident_causes_nothing() -> None:
    closure = {API: (DB,)}
    resolved = IncidentState(5, DB, "resolved", 2, 1, 3, "auto", "error", 1, 0, 0, T0)
    plan = plan_batch(
        [sub(API, fire("a"))],
        {},
        {5: resolved},
        {DB: 5},
        dict(RULES),
        T0,
        suppression=Suppression(depends_on=closure),
    )
    assert plan.new_incidents[0].caused_by_ref is None


def test_dependency_cycles_end_the_walk() -> None:
    assert dependency_closure([(1, 2), (2, 1), (2, 3)], [1]) == {1: (2, 3)}


def test_silence_states() -> None:
    assert silence_state(T0, T0 + timedelta(hours=1), T0 - timedelta(seconds=1)) == "pending"
    assert silence_state(T0, T0 + timedelta(hours=1), T0) == "active"
    assert silence_state(T0, T0 + timedelta(hours=1), T0 + timedelta(hours=1)) == "expired"


SPEC = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(["=", "!=", "=~", "!~"]),
    st.sampled_from(["", "x", "y", "x|y", ".*", "x.*", "xy?", "y+"]),
)


@settings(max_examples=200, deadline=None, database=None)
@given(
    silences=st.lists(st.lists(SPEC, min_size=1, max_size=3), max_size=8),
    labels=st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.sampled_from(["", "x", "y", "xy", "xx", "yy"])
    ),
)
def test_the_index_finds_a_matching_silence_exactly_when_one_matches(
    silences: list[list[tuple[str, str, str]]], labels: dict[str, str]
) -> None:
    active = [silence(i, T0 + timedelta(minutes=i), *specs) for i, specs in enumerate(silences)]
    found = SilenceIndex.build(active).first_match(labels)
    matching = [s for s in active if matches_all(s.matchers, labels)]
    if not matching:
        assert found is None
    else:
        # The one that lasts longest.
        assert found is not None and found.ends_at == max(s.ends_at for s in matching)


def test_impact_accounts_for_the_blast_radius_and_explains_itself() -> None:
    from warroom.incidents.logic import Dependant, catalog_impact

    assert catalog_impact("wiki", 3) == (3, "tier-3 wiki affected")
    impact, why = catalog_impact(
        "payments-db",
        2,
        (Dependant("checkout-api", 1), Dependant("web", 1), Dependant("reports", 3)),
    )
    assert impact == 1
    assert why == (
        "tier-2 payments-db affected; 3 services depend on it, 2 of them tier 1 "
        "(impact raised to high)"
    )
    assert catalog_impact("search", 3, (Dependant("a", 2),))[0] == 3  # one tier-2 dependant
    assert catalog_impact("search", 3, tuple(Dependant(n, 3) for n in "abc"))[0] == 2
    # In the planner: the new incident's priority and its first event say why.
    supp = Suppression(
        service_names=NAMES, dependants={DB: (Dependant("checkout-api", 1), Dependant("web", 2))}
    )
    plan = held_plan(supp, sub(DB, fire("d")))
    [inc] = plan.new_incidents
    assert (inc.impact, inc.priority) == (1, 1)
    assert plan.timeline[0]["message"].endswith(
        "P1: tier-2 payments-db affected; 2 services depend on it, 1 of them tier 1 "
        "(impact raised to high)"
    )
