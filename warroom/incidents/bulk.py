"""Storing the alert batch planner's incident decisions: new incidents, their changes, timeline.

`alerts` decides (dedup, grouping, auto-resolve) and hands the incident side of its plan to
:func:`apply_alert_decisions`; this module is the only place the intake path writes incident
rows, affected services, timeline rows and starts or stops paging. It is the intake's hot path:
Core statements with executemany, one per kind of row, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, text, update

from warroom.incidents import causes, oversight_store, reporters
from warroom.incidents.logic import IncidentState
from warroom.incidents.models import Incident, incident_services
from warroom.incidents.paging import cancel_paging, escalation_timer_rows, wake_peers
from warroom.incidents.timeline import add_events, warn_nobody_paged
from warroom.incidents.updates import comms_check_rows, stop_reminders
from warroom.timers.models import Timer

INCIDENTS = cast(Table, Incident.__table__)
TIMERS = cast(Table, Timer.__table__)


@dataclass
class AlertDecisions:
    """The incident side of one batch plan.

    ``timeline`` rows carry ``incident_ref`` (an incident id, or the negative ref of an incident
    opened in this batch) instead of ``incident_id``; ``policies`` maps a service id to the
    escalation policy its new incidents page with (None: nobody is paged).
    """

    new_incidents: Sequence[IncidentState] = ()
    changed_incidents: Sequence[IncidentState] = ()
    timeline: Sequence[dict[str, Any]] = ()
    policies: Mapping[int, int | None] = field(default_factory=dict)


def apply_alert_decisions(
    conn: Connection, decisions: AlertDecisions, now: datetime
) -> dict[int, int]:
    """Store the decisions in the connection's transaction; returns new ref -> incident id.

    New incidents start paging (a timer due now, peers woken at commit) or are flagged as paging
    nobody; incidents that became acknowledged or resolved stop paging.
    """
    new_ids, unpaged = _insert_new(conn, decisions.new_incidents, decisions.policies, now)
    if decisions.changed_incidents:
        conn.execute(
            update(INCIDENTS).where(INCIDENTS.c.id == bindparam("ref")),
            [
                {
                    "ref": inc.ref,
                    "status": inc.status,
                    "severity": inc.severity,
                    "urgency": inc.urgency,
                    "priority": inc.priority,
                    "alert_count": inc.alert_count,
                    "last_alert_at": inc.last_alert_at,
                    "impact_started_at": inc.impact_started_at,
                    "acknowledged_at": inc.acknowledged_at,
                    "resolved_at": inc.resolved_at,
                    "updated_at": now,
                }
                for inc in decisions.changed_incidents
            ],
        )
    # Dependency-aware grouping: a dependant's alert joined an incident already stored, which
    # lists its service from now on (maybe it did already: nothing then).
    joined = [
        {"incident_id": inc.ref, "service_id": sid}
        for inc in decisions.changed_incidents
        for sid in inc.joined_services
    ]
    if joined:
        conn.execute(
            text(
                "INSERT INTO incident_services (incident_id, service_id) "
                "VALUES (:incident_id, :service_id) ON CONFLICT DO NOTHING"
            ),
            joined,
        )
    if decisions.timeline:
        add_events(
            conn,
            [
                {
                    **{k: v for k, v in ev.items() if k != "incident_ref"},
                    "incident_id": new_ids.get(ev["incident_ref"], ev["incident_ref"]),
                }
                for ev in decisions.timeline
            ],
        )
    # After the events that opened the incidents, so the timeline reads in order.
    warn_nobody_paged(conn, unpaged, now)
    stopped = [
        inc.ref for inc in decisions.changed_incidents if inc.status in ("acknowledged", "resolved")
    ]
    cancel_paging(conn, stopped, now)
    resolved = [inc.ref for inc in decisions.changed_incidents if inc.status == "resolved"]
    stop_reminders(conn, resolved, now)
    # Incidents caused by a resolved one that still fire page then (incidents/causes.py).
    causes.schedule_release(conn, resolved, now)
    # Whoever reported them is told (a timer the engine fires; incidents/reporters.py).
    reporters.schedule_notice(conn, resolved, now)
    # A signal raised the priority of an open incident: its SLA clocks are re-targeted.
    started = {inc.ref: inc.triggered_at for inc in decisions.changed_incidents}
    oversight_store.retarget(
        conn,
        [
            (ref, ev["before"]["priority"], ev["after"]["priority"], started[ref] or now)
            for ev in decisions.timeline
            if ev["kind"] == "priority_changed" and (ref := ev["incident_ref"]) in started
        ],
        now,
    )
    return new_ids


def _insert_new(
    conn: Connection,
    incidents: Sequence[IncidentState],
    policies: Mapping[int, int | None],
    now: datetime,
) -> tuple[dict[int, int], list[int]]:
    """Insert new incidents and start their paging; returns ref -> id and the unpaged ids."""
    if not incidents:
        return {}, []
    rows = [
        {
            "title": inc.title,
            "status": inc.status,
            "service_id": inc.service_id,
            "severity": inc.severity,
            "impact": inc.impact,
            "urgency": inc.urgency,
            "priority": inc.priority,
            "priority_source": inc.priority_source,
            "source": "alert",
            "alert_count": inc.alert_count,
            "impact_started_at": inc.impact_started_at,
            "triggered_at": inc.triggered_at,
            "last_alert_at": inc.last_alert_at,
            "acknowledged_at": inc.acknowledged_at,
            "resolved_at": inc.resolved_at,
            "updated_at": now,
            "description": "",
            "escalation_policy_id": policies.get(inc.service_id or -1),
            "grouping_key": inc.grouping_key,
        }
        for inc in incidents
    ]
    ids = (
        conn.execute(
            insert(INCIDENTS).returning(INCIDENTS.c.id, sort_by_parameter_order=True), rows
        )
        .scalars()
        .all()
    )
    new_ids = {inc.ref: real for inc, real in zip(incidents, ids, strict=True)}
    conn.execute(
        insert(incident_services),
        [
            {"incident_id": new_ids[inc.ref], "service_id": sid}
            for inc in incidents
            for sid in (inc.service_id, *inc.joined_services)
        ],
    )
    # Caused by an incident on a dependency (maybe one inserted just now): linked, not paged.
    caused = [inc for inc in incidents if inc.caused_by_ref is not None]
    if caused:
        conn.execute(
            update(INCIDENTS).where(INCIDENTS.c.id == bindparam("ref")),
            [
                {
                    "ref": new_ids[inc.ref],
                    "caused_by_id": new_ids.get(inc.caused_by_ref or 0, inc.caused_by_ref),
                }
                for inc in caused
            ],
        )
    # Paging starts in the same transaction as the incident: a timer due now per incident whose
    # service has a policy; the engine is woken after commit.
    paged = [
        (new_ids[inc.ref], policies.get(inc.service_id or -1))
        for inc in incidents
        if inc.caused_by_ref is None
    ]
    # Oversight watches every new incident: a look due now times its warnings and stale check;
    # and the update reminders and stakeholder notices (the engine decides if any are owed).
    timers = (
        escalation_timer_rows(paged, now)
        + oversight_store.look_rows(new_ids.values(), now)
        + comms_check_rows(list(new_ids.values()), now)
    )
    if timers:
        conn.execute(insert(TIMERS), timers)
        wake_peers(conn)
    return new_ids, [iid for iid, policy in paged if policy is None]
