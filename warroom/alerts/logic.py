"""Pure intake decisions: dedup signals into alerts and group new alerts into incidents.

`plan_batch` takes one group commit's signals and the rows they touch, and returns every row to
insert or update. It reads no clock and no database, so the rules (PagerDuty's dedup semantics,
time-window grouping, grouping rules' keys and dependency-aware joins, auto-resolve) are tested
as plain data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from warroom.alerts import flapping
from warroom.alerts.flapping import FlapRule, Record
from warroom.alerts.grouping import DEFAULT as DEFAULT_GROUP
from warroom.alerts.grouping import Group
from warroom.alerts.inhibition import Source
from warroom.alerts.suppression import Held, Suppression
from warroom.incidents.logic import (
    DEFAULT_MATRIX,
    IncidentState,
    Matrix,
    catalog_impact,
    impact_for_tier,
    priority_for,
    urgency_for_severity,
    worst_severity,
)

OPEN_INCIDENT = ("triggered", "acknowledged", "mitigated")
# How many alert summaries one aggregated timeline event keeps.
TIMELINE_SAMPLE = 10


@dataclass(frozen=True)
class Signal:
    """One normalised event from any source format."""

    # trigger | acknowledge | resolve; release: not an event but the planner asked again about
    # an alert a silence or maintenance held back (its hold ended), without counting an event.
    action: str
    dedup_key: str
    severity: str = "error"
    summary: str = ""
    source: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    group_key: str | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class Submission:
    """The valid signals of one request, for one integration."""

    integration_id: int
    integration_name: str
    service_id: int
    signals: tuple[Signal, ...]


@dataclass(frozen=True)
class ServiceRule:
    tier: int
    grouping_window_seconds: int
    auto_resolve: bool
    flap: FlapRule = FlapRule()
    name: str = ""  # for grouping rules' `service` matcher field


@dataclass
class AlertState:
    """An open alert, loaded (id set) or opened in this batch (id None)."""

    id: int | None
    integration_id: int
    service_id: int
    dedup_key: str
    status: str
    severity: str
    incident_ref: int | None
    event_count: int = 1
    summary: str = ""
    source: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    group_key: str | None = None
    started_at: datetime | None = None
    created_at: datetime | None = None
    last_event_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    # Why it does not page (silenced | maintenance | inhibited | flapping) and by what.
    suppression: str | None = None
    suppressed_by: dict[str, Any] | None = None
    # A possible source of inhibition rules (matched a rule's source side when it arrived).
    inhibits: bool = False
    # The key's changes before this alert opened (flapping.Record JSON); None: none.
    flap: dict[str, Any] | None = None
    changed: bool = False
    # What the store loaded (status, severity, summary, details, links, labels, incident_ref,
    # suppression, suppressed_by; None: opened in this batch): it writes only what the plan
    # changed. Plans replace an alert's values and never mutate them in place, so this keeps
    # the loaded ones without a copy.
    loaded: tuple[Any, ...] | None = None

    @property
    def held(self) -> bool:
        """Held back by a silence or maintenance: stored, in no incident, paging later."""
        return self.incident_ref is None and self.suppression is not None


@dataclass(frozen=True)
class Outcome:
    dedup_key: str
    # opened | updated | acknowledged | resolved | ignored | suppressed (stored, not paging)
    result: str
    alert_ref: int | None = None  # index into plan.new_alerts, for a new alert


@dataclass
class Plan:
    new_incidents: list[IncidentState] = field(default_factory=list)
    changed_incidents: list[IncidentState] = field(default_factory=list)
    new_alerts: list[AlertState] = field(default_factory=list)
    changed_alerts: list[AlertState] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[list[Outcome]] = field(default_factory=list)
    # When holds on alerts of this batch end: the store schedules a release timer for each.
    release_at: set[datetime] = field(default_factory=set)
    # Keys whose alert resolved: (integration id, dedup key, flapping.Record JSON, expires at),
    # remembered for the key's next alert.
    flap_memory: list[tuple[int, str, dict[str, Any], datetime]] = field(default_factory=list)


@dataclass(frozen=True)
class Grouping:
    """What grouping rules decided for a batch, and the open incidents their keys point to
    (plain data, loaded with the batch; see alerts/grouping.py).

    groups: per submission, per signal, the alert's group (None: an acknowledge or resolve);
    latest: (service id, group key) -> its open incident with the newest alert, for the keys
    other than "" (those are `latest_open_incident`); direct: service id -> the services it
    depends on directly, for the services whose alerts may join a dependency's incident;
    on_dependency: service id -> the open incident listing it with the newest alert."""

    groups: Sequence[Sequence[Group | None]] = ()
    latest: Mapping[tuple[int, str], int] = field(default_factory=dict)
    direct: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    on_dependency: Mapping[int, int] = field(default_factory=dict)


@dataclass
class _Aggregate:
    incident_ref: int
    kind: str
    integration_id: int
    integration_name: str
    summaries: list[str] = field(default_factory=list)
    count: int = 0


def plan_batch(
    submissions: list[Submission],
    open_alerts: dict[tuple[int, str], AlertState],
    incidents: dict[int, IncidentState],
    latest_open_incident: dict[int, int],
    services: dict[int, ServiceRule],
    now: datetime,
    matrix: Matrix = DEFAULT_MATRIX,
    suppression: Suppression | None = None,
    flap_memory: dict[tuple[int, str], Record] | None = None,
    grouping: Grouping | None = None,
) -> Plan:
    """Decide what a batch of signals does, in arrival order.

    open_alerts: the open alerts for the batch's keys; incidents: the incidents those alerts and
    the batch's services point to, with their open/triggered alert counts; latest_open_incident:
    service id -> id of its open incident with the newest alert; suppression: the silences,
    maintenance, inhibition rules and catalog dependencies in effect (None: nothing holds alerts
    back); flap_memory: the recent state changes of the batch's keys whose last alert resolved
    (a key flapping more than its service allows is held as flapping); grouping: the group of
    each alert by the grouping rules and the incidents of their keys and of dependencies (None:
    every alert groups by its service and window alone). The inputs
    are mutated as the batch goes (they are the batch's working state), so pass copies if you
    need the originals.
    """
    plan = Plan()
    suppress = suppression if suppression is not None and not suppression.empty else None
    aggregates: dict[tuple[int, str, int], _Aggregate] = {}
    new_incident_seq = 0
    # (service, group key) -> the open incident alerts of that key join; "" is the default.
    by_key: dict[tuple[int, str], int] = {(s, ""): r for s, r in latest_open_incident.items()}
    on_dependency: dict[int, int] = {}
    if grouping is not None:
        by_key.update(grouping.latest)
        on_dependency.update(grouping.on_dependency)

    def note(inc: IncidentState | int, kind: str, sub: Submission, summary: str) -> None:
        ref = inc if isinstance(inc, int) else inc.ref
        agg = aggregates.get((ref, kind, sub.integration_id))
        if agg is None:
            agg = _Aggregate(ref, kind, sub.integration_id, sub.integration_name)
            aggregates[(ref, kind, sub.integration_id)] = agg
        agg.count += 1
        if len(agg.summaries) < TIMELINE_SAMPLE:
            agg.summaries.append(summary)

    def status_event(inc: IncidentState, sub: Submission, before: str, why: str) -> None:
        plan.timeline.append(
            _event(
                inc.ref,
                now,
                "status_changed",
                sub,
                why,
                before={"status": before},
                after={"status": inc.status},
            )
        )

    def touch(inc: IncidentState) -> None:
        if not inc.is_new and not inc.changed:
            inc.changed = True
            plan.changed_incidents.append(inc)

    for sub_index, sub in enumerate(submissions):
        rule = services[sub.service_id]
        outcomes: list[Outcome] = []
        groups = grouping.groups[sub_index] if grouping is not None and grouping.groups else ()
        for sig_index, sig in enumerate(sub.signals):
            key = (sub.integration_id, sig.dedup_key)
            alert = open_alerts.get(key)
            if sig.action == "release" and (
                alert is None or not (alert.held and alert.status == "triggered")
            ):
                outcomes.append(Outcome(sig.dedup_key, "ignored"))
                continue
            if sig.action in ("trigger", "release"):
                if alert is not None and not (alert.held and alert.status == "triggered"):
                    alert.event_count += 1
                    alert.last_event_at = now
                    alert.summary, alert.severity = sig.summary, sig.severity
                    alert.details, alert.links, alert.labels = sig.details, sig.links, sig.labels
                    if alert.id is not None and not alert.changed:
                        alert.changed = True
                        plan.changed_alerts.append(alert)
                    outcomes.append(Outcome(sig.dedup_key, "updated"))
                    # An open alert that turns more severe weighs on its incident like a new
                    # alert of that severity would: worst severity, and urgency raised.
                    inc = (
                        incidents.get(alert.incident_ref)
                        if alert.incident_ref is not None
                        else None
                    )
                    if (
                        inc is not None
                        and inc.status in OPEN_INCIDENT
                        and (
                            worst_severity(inc.severity, sig.severity) != inc.severity
                            or urgency_for_severity(sig.severity) < inc.urgency
                        )
                    ):
                        touch(inc)
                        inc.severity = worst_severity(inc.severity, sig.severity)
                        _raise_urgency(inc, sig.severity, matrix, sub, now, plan)
                    continue
                held: Held | None = None
                fields: dict[str, str] | None = None
                if suppress is not None:
                    if suppress.needs_fields:
                        fields = suppress.fields(
                            sub.service_id,
                            sub.integration_name,
                            sig.severity,
                            sig.summary,
                            sig.source,
                            sig.dedup_key,
                            sig.labels,
                        )
                    held = suppress.hold(
                        sub.service_id,
                        sub.integration_name,
                        sig.severity,
                        sig.summary,
                        sig.source,
                        sig.dedup_key,
                        sig.labels,
                        fields=fields,
                        now=now,
                    )
                # Flapping: a new alert is a change of its key (resolved -> firing); a held
                # one is judged by the changes it opened with.
                flap_json: dict[str, Any] | None = None
                record: Record | None = None
                if alert is None:
                    remembered = flap_memory.get(key) if flap_memory else None
                    if remembered is not None and rule.flap.threshold > 0:
                        record = flapping.changed(remembered, now, rule.flap)
                        flap_json = record.to_json()
                elif alert.suppression == "flapping" or alert.flap is not None:
                    record = flapping.record_of(alert.flap, alert.created_at)
                if held is None and record is not None:
                    flaps = flapping.state(record, now, rule.flap)
                    if flaps is not None:
                        held = Held("flapping", flaps.to_json(), flaps.until)
                was_flapping = (
                    alert.suppressed_by
                    if alert is not None and alert.suppression == "flapping"
                    else None
                )
                if alert is not None:
                    # An alert held back earlier: a new event, or its hold ended.
                    if sig.action == "trigger":
                        alert.event_count += 1
                        alert.last_event_at = now
                        alert.summary, alert.severity = sig.summary, sig.severity
                        alert.details, alert.links = sig.details, sig.links
                        alert.labels = sig.labels
                    if alert.id is not None and not alert.changed:
                        alert.changed = True
                        plan.changed_alerts.append(alert)
                    if held is not None:
                        alert.suppression, alert.suppressed_by = held.kind, held.by
                        if held.until is not None:
                            plan.release_at.add(held.until)
                        outcomes.append(Outcome(sig.dedup_key, "suppressed"))
                        continue
                    alert.suppression = alert.suppressed_by = None
                elif held is not None:
                    alert = _new_alert(sub, sig, None, now)
                    alert.suppression, alert.suppressed_by = held.kind, held.by
                    alert.flap = flap_json
                    if held.until is not None:
                        plan.release_at.add(held.until)
                    _note_source(suppress, sub, sig, fields, alert)
                    open_alerts[key] = alert
                    outcomes.append(Outcome(sig.dedup_key, "suppressed", len(plan.new_alerts)))
                    plan.new_alerts.append(alert)
                    continue
                group = (groups[sig_index] if groups else None) or DEFAULT_GROUP
                window = (
                    rule.grouping_window_seconds
                    if group.window_seconds is None
                    else group.window_seconds
                )
                inc = _joinable(by_key.get((sub.service_id, group.key)), incidents, window, now)
                joined_from: int | None = None
                if inc is None and group.dependency_aware and grouping is not None:
                    inc, joined_from = _dependency_incident(
                        grouping.direct.get(sub.service_id, ()),
                        on_dependency,
                        incidents,
                        window,
                        now,
                    )
                if inc is None:
                    new_incident_seq -= 1
                    impact, impact_reason = impact_for_tier(rule.tier), ""
                    if suppress is not None and sub.service_id in suppress.dependants:
                        impact, impact_reason = catalog_impact(
                            suppress.service_names.get(sub.service_id, "the service"),
                            rule.tier,
                            suppress.dependants[sub.service_id],
                        )
                    urgency = urgency_for_severity(sig.severity)
                    inc = IncidentState(
                        ref=new_incident_seq,
                        service_id=sub.service_id,
                        status="triggered",
                        impact=impact,
                        urgency=urgency,
                        priority=priority_for(impact, urgency, matrix),
                        priority_source="auto",
                        severity=sig.severity,
                        alert_count=0,
                        open_alerts=0,
                        triggered_alerts=0,
                        last_alert_at=now,
                        title=sig.summary,
                        triggered_at=now,
                        impact_started_at=sig.started_at,
                        grouping_key=group.key,
                    )
                    cause = (
                        _cause(suppress, incidents, latest_open_incident, sub.service_id)
                        if suppress is not None
                        else None
                    )
                    incidents[inc.ref] = inc
                    latest_open_incident[sub.service_id] = inc.ref
                    by_key[(sub.service_id, group.key)] = inc.ref
                    on_dependency[sub.service_id] = inc.ref
                    plan.new_incidents.append(inc)
                    message = f"Triggered by alert: {sig.summary}"
                    if impact_reason:
                        message += f". P{inc.priority}: {impact_reason}"
                    if cause is not None:
                        inc.caused_by_ref, dependency = cause
                        name = suppress.service_names.get(dependency, "") if suppress else ""
                        message += (
                            f" (caused by the open incident on {name or 'a dependency'}, "
                            "a service it depends on: joined it, not paged)"
                        )
                    plan.timeline.append(
                        _event(
                            inc.ref,
                            now,
                            "incident_triggered",
                            sub,
                            message,
                            after={
                                "status": "triggered",
                                "priority": inc.priority,
                                "impact": inc.impact,
                                "urgency": inc.urgency,
                                "dedup_key": sig.dedup_key,
                                **({"impact_reason": impact_reason} if impact_reason else {}),
                            },
                        )
                    )
                    if inc.caused_by_ref is not None:
                        note(inc.caused_by_ref, "dependants_joined", sub, sig.summary)
                elif joined_from is not None:
                    # Dependency-aware grouping: the alert joins the incident of a service its
                    # own depends on, which lists its service from now on.
                    touch(inc)
                    if sub.service_id != inc.service_id and (
                        sub.service_id not in inc.joined_services
                    ):
                        inc.joined_services.append(sub.service_id)
                    on_dependency[sub.service_id] = inc.ref
                    note(inc, "dependants_grouped", sub, sig.summary)
                    _raise_urgency(inc, sig.severity, matrix, sub, now, plan)
                else:
                    touch(inc)
                    note(inc, "alerts_grouped", sub, sig.summary)
                    _raise_urgency(inc, sig.severity, matrix, sub, now, plan)
                if was_flapping:
                    minutes = int(rule.flap.window.total_seconds() // 60)
                    plan.timeline.append(
                        _event(
                            inc.ref,
                            now,
                            "alert_flapping",
                            sub,
                            f"{sig.summary}: {was_flapping.get('summary', 'flapping')}; held "
                            f"until stable for {minutes} min, still firing: it pages now",
                            after={"dedup_key": sig.dedup_key, **was_flapping},
                        )
                    )
                inc.alert_count += 1
                inc.open_alerts += 1
                inc.triggered_alerts += 1
                inc.last_alert_at = now
                inc.severity = worst_severity(inc.severity, sig.severity)
                if sig.started_at and (
                    inc.impact_started_at is None or sig.started_at < inc.impact_started_at
                ):
                    inc.impact_started_at = sig.started_at
                if inc.caused_by_ref is not None:
                    inhibited_by = {"incident_ref": inc.caused_by_ref}
                else:
                    inhibited_by = None
                if alert is not None:
                    alert.incident_ref = inc.ref
                    if inhibited_by is not None:
                        alert.suppression, alert.suppressed_by = "inhibited", inhibited_by
                    outcomes.append(Outcome(sig.dedup_key, "updated"))
                    continue
                alert = _new_alert(sub, sig, inc.ref, now)
                alert.flap = flap_json
                if inhibited_by is not None:
                    alert.suppression, alert.suppressed_by = "inhibited", inhibited_by
                _note_source(suppress, sub, sig, fields, alert)
                open_alerts[key] = alert
                outcomes.append(Outcome(sig.dedup_key, "opened", len(plan.new_alerts)))
                plan.new_alerts.append(alert)
                continue

            # acknowledge / resolve: an unknown or resolved key is accepted and ignored.
            if alert is None or (sig.action == "acknowledge" and alert.status != "triggered"):
                outcomes.append(Outcome(sig.dedup_key, "ignored"))
                continue
            was_triggered = alert.status == "triggered"
            alert.last_event_at = now
            if alert.id is not None and not alert.changed:
                alert.changed = True
                plan.changed_alerts.append(alert)
            inc = incidents.get(alert.incident_ref) if alert.incident_ref is not None else None
            if sig.action == "acknowledge":
                alert.status, alert.acknowledged_at = "acknowledged", now
                outcomes.append(Outcome(sig.dedup_key, "acknowledged"))
                if inc is not None:
                    touch(inc)
                    inc.triggered_alerts -= 1
                    note(inc, "alerts_acknowledged", sub, alert.summary)
                    # The source acknowledged everything it raised: so is the incident.
                    if inc.status == "triggered" and inc.triggered_alerts <= 0:
                        inc.status, inc.acknowledged_at = "acknowledged", now
                        status_event(inc, sub, "triggered", "Acknowledged by the source")
                continue
            alert.status, alert.resolved_at = "resolved", now
            del open_alerts[key]
            outcomes.append(Outcome(sig.dedup_key, "resolved"))
            if alert.inhibits:
                # A source stopped firing: what it inhibited is planned again now.
                if suppress is not None:
                    suppress.inhibition.remove(sub.integration_id, sig.dedup_key)
                plan.release_at.add(now)
            if rule.flap.threshold > 0:
                memory = flapping.changed(
                    flapping.record_of(alert.flap, alert.created_at), now, rule.flap
                )
                plan.flap_memory.append(
                    (sub.integration_id, sig.dedup_key, memory.to_json(), now + rule.flap.window)
                )
            if inc is not None:
                touch(inc)
                inc.open_alerts -= 1
                if was_triggered:
                    inc.triggered_alerts -= 1
                note(inc, "alerts_resolved", sub, alert.summary)
                service_rule = services.get(inc.service_id) if inc.service_id else None
                auto = service_rule.auto_resolve if service_rule else rule.auto_resolve
                if inc.status in OPEN_INCIDENT and inc.open_alerts <= 0 and auto:
                    before = inc.status
                    inc.status, inc.resolved_at = "resolved", now
                    status_event(inc, sub, before, "Resolved: its last open alert resolved")
                    if latest_open_incident.get(inc.service_id or -1) == inc.ref:
                        del latest_open_incident[inc.service_id or -1]
                elif (
                    inc.status == "triggered" and inc.open_alerts > 0 and inc.triggered_alerts <= 0
                ):
                    # The alerts left open are all acknowledged: the same end state as when the
                    # acknowledgement comes after this resolve.
                    inc.status, inc.acknowledged_at = "acknowledged", now
                    status_event(inc, sub, "triggered", "Acknowledged by the source")
        plan.outcomes.append(outcomes)

    for agg in aggregates.values():
        verb = {
            "alerts_grouped": "grouped into this incident",
            "alerts_acknowledged": "acknowledged by the source",
            "alerts_resolved": "resolved by the source",
            "dependants_joined": "of services that depend on this one joined as caused by "
            "this incident (not paged)",
            "dependants_grouped": "from a service that depends on this one grouped into this "
            "incident (dependency-aware grouping)",
        }[agg.kind]
        noun = "alert" if agg.count == 1 else "alerts"
        if agg.kind == "dependants_joined":
            noun = "incident" if agg.count == 1 else "incidents"
        plan.timeline.append(
            {
                "incident_ref": agg.incident_ref,
                "at": now,
                "kind": agg.kind,
                "actor_type": "integration",
                "actor_id": agg.integration_id,
                "actor_name": agg.integration_name,
                "message": f"{agg.count} {noun} {verb}",
                "before": None,
                "after": {"count": agg.count, "summaries": agg.summaries},
            }
        )
    return plan


def _note_source(
    suppress: Suppression | None,
    sub: Submission,
    sig: Signal,
    fields: dict[str, str] | None,
    alert: AlertState,
) -> None:
    """A new firing alert that matches an inhibition rule's source side inhibits from now on
    (later alerts of this batch included) and is marked so the next batches load it."""
    if suppress is None or fields is None or suppress.inhibition.empty:
        return
    if suppress.inhibition.add(Source(sub.integration_id, sig.dedup_key, fields, sig.summary)):
        alert.inhibits = True


def _new_alert(sub: Submission, sig: Signal, incident_ref: int | None, now: datetime) -> AlertState:
    return AlertState(
        id=None,
        integration_id=sub.integration_id,
        service_id=sub.service_id,
        dedup_key=sig.dedup_key,
        status="triggered",
        severity=sig.severity,
        incident_ref=incident_ref,
        summary=sig.summary,
        source=sig.source,
        details=sig.details,
        links=sig.links,
        labels=sig.labels,
        group_key=sig.group_key,
        started_at=sig.started_at,
        created_at=now,
        last_event_at=now,
    )


def _cause(
    suppress: Suppression,
    incidents: dict[int, IncidentState],
    latest: dict[int, int],
    service_id: int,
) -> tuple[int, int] | None:
    """The open incident on a service this one depends on (nearest first), as (ref, dependency
    service id): one opened earlier in this batch, else one loaded; its own cause if it has one,
    so a chain points at the root."""
    for dependency in suppress.depends_on.get(service_id, ()):
        ref = latest.get(dependency)
        inc = incidents.get(ref) if ref is not None else None
        if inc is not None and inc.status in OPEN_INCIDENT:
            return (inc.caused_by_ref if inc.caused_by_ref is not None else inc.ref), dependency
        found = suppress.upstream.get(dependency)
        if found is not None:
            return found, dependency
    return None


def _joinable(
    ref: int | None,
    incidents: dict[int, IncidentState],
    window_seconds: int,
    now: datetime,
) -> IncidentState | None:
    """The incident, if it is open and its last alert came within the window."""
    if window_seconds <= 0 or ref is None:
        return None
    inc = incidents.get(ref)
    if inc is None or inc.status not in OPEN_INCIDENT or inc.last_alert_at is None:
        return None
    if now - inc.last_alert_at > timedelta(seconds=window_seconds):
        return None
    return inc


def _dependency_incident(
    dependencies: Sequence[int],
    on_dependency: dict[int, int],
    incidents: dict[int, IncidentState],
    window_seconds: int,
    now: datetime,
) -> tuple[IncidentState | None, int | None]:
    """Of the open incidents on the services this one depends on directly, the one with the
    newest alert within the window (ties: the lower id), and that dependency."""
    best: tuple[IncidentState, int] | None = None
    for dependency in dependencies:
        inc = _joinable(on_dependency.get(dependency), incidents, window_seconds, now)
        if inc is None or inc.last_alert_at is None:
            continue
        if best is None or (inc.last_alert_at, -inc.ref) > (
            best[0].last_alert_at or inc.last_alert_at,
            -best[0].ref,
        ):
            best = (inc, dependency)
    return (best[0], best[1]) if best is not None else (None, None)


def _raise_urgency(
    inc: IncidentState, severity: str, matrix: Matrix, sub: Submission, now: datetime, plan: Plan
) -> None:
    """A more severe alert joining raises the incident's urgency, unless a person set it."""
    urgency = urgency_for_severity(severity)
    if inc.priority_source != "auto" or urgency >= inc.urgency:
        return
    before = {"urgency": inc.urgency, "priority": inc.priority}
    inc.urgency = urgency
    inc.priority = priority_for(inc.impact, urgency, matrix)
    plan.timeline.append(
        _event(
            inc.ref,
            now,
            "priority_changed",
            sub,
            f"Urgency raised by a {severity} alert",
            before=before,
            after={"urgency": inc.urgency, "priority": inc.priority},
        )
    )


def _event(
    incident_ref: int,
    now: datetime,
    kind: str,
    sub: Submission,
    message: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "incident_ref": incident_ref,
        "at": now,
        "kind": kind,
        "actor_type": "integration",
        "actor_id": sub.integration_id,
        "actor_name": sub.integration_name,
        "message": message,
        "before": before,
        "after": after,
    }
