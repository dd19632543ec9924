"""Oversight load-store: the look timer an incident transition schedules, cancelling what a
transition makes unwanted, what oversight already did (read from the timeline), and the
oversight settings per installation and team.

Part of the incidents' own transitions (same transaction); the engine fires the looks
(warroom/engine/oversight.py) and asks :mod:`warroom.incidents.oversight` what is due.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from warroom.catalog.models import Service, Team
from warroom.errors import ApiError
from warroom.incidents import oversight
from warroom.incidents.models import Incident, OversightSetting, TimelineEvent
from warroom.incidents.oversight import Rules, Watched
from warroom.incidents.timeline import add_events, event_row
from warroom.notify.models import Notification
from warroom.timers.models import Timer

# The timer kind of a look at one incident's oversight.
LOOK = "oversight"
PRIORITIES = (1, 2, 3, 4, 5)

TIMERS = cast(Table, Timer.__table__)
NOTES = cast(Table, Notification.__table__)
Conn = Session | Connection


# --- looks ---------------------------------------------------------------------------------------


def look_rows(incident_ids: Iterable[int], now: datetime) -> list[dict[str, Any]]:
    """Timer rows for a look due now at each incident (a new incident: the engine works out
    when its first warning or stale time is, with the settings of its team)."""
    return [
        {"kind": LOOK, "incident_id": iid, "due_at": now, "created_at": now, "payload": {}}
        for iid in incident_ids
    ]


def schedule_look(conn: Conn, incident_ids: Sequence[int], at: datetime, now: datetime) -> None:
    """One pending look per incident, due at `at`: earlier pending looks are finished."""
    if not incident_ids:
        return
    conn.execute(
        update(TIMERS)
        .where(
            TIMERS.c.incident_id.in_(incident_ids),
            TIMERS.c.kind == LOOK,
            TIMERS.c.done_at.is_(None),
        )
        .values(done_at=now)
    )
    rows = look_rows(incident_ids, at)
    for row in rows:
        row["created_at"] = now
    conn.execute(insert(TIMERS), rows)


def retarget(conn: Conn, changes: Sequence[tuple[int, int, int, datetime]], now: datetime) -> None:
    """Priority changes (incident id, old priority, new priority, start): the clocks are
    re-targeted from the start, the timeline says so with the new deadlines, messages decided
    for the old priority are cancelled and the incident is looked at again at once."""
    merged: dict[int, tuple[int, int, int, datetime]] = {}
    for iid, old, new, started_at in changes:  # several changes in one batch: first to last
        first = merged.get(iid)
        merged[iid] = (iid, first[1] if first else old, new, started_at)
    changes = [c for c in merged.values() if c[1] != c[2]]
    if not changes:
        return
    rows = []
    for iid, old, new, started_at in changes:
        message, after = oversight.retarget_message(old, new, started_at, now)
        rows.append(event_row(iid, oversight.RETARGETED_EVENT, message, now, after=after))
    add_events(conn, rows)
    ids = [c[0] for c in changes]
    settle(conn, ids, now)
    schedule_look(conn, ids, now, now)


def settle(conn: Conn, incident_ids: Sequence[int], now: datetime) -> None:
    """Cancel the pending oversight messages these incidents' new state makes unwanted (the
    same rule as the last check before sending), and stop looking at closed ones.

    Claimed rows are cancelled too, as paging does: the engine sending one sees it at its last
    check, and one already on the wire is still recorded as sent."""
    if not incident_ids:
        return
    states = {
        iid: (status, priority, merged)
        for iid, status, priority, merged in conn.execute(
            select(Incident.id, Incident.status, Incident.priority, Incident.merged_into_id).where(
                Incident.id.in_(incident_ids)
            )
        )
    }
    over = [iid for iid, (st, _, m) in states.items() if st in ("resolved", "closed") or m]
    if over:
        conn.execute(
            update(TIMERS)
            .where(
                TIMERS.c.incident_id.in_(over),
                TIMERS.c.kind == LOOK,
                TIMERS.c.done_at.is_(None),
            )
            .values(done_at=now)
        )
    pending = conn.execute(
        select(NOTES.c.id, NOTES.c.incident_id, NOTES.c.kind, NOTES.c.context).where(
            NOTES.c.incident_id.in_(incident_ids),
            NOTES.c.status == "pending",
            NOTES.c.kind.in_(oversight.OUTBOX_KINDS),
        )
    ).all()
    if not pending:
        return
    activity = last_activity(conn, {p.incident_id for p in pending})
    cancelled = []
    for note_id, iid, kind, context in pending:
        status, priority, merged = states[iid]
        reason = oversight.unwanted(
            kind,
            context,
            status=status,
            priority=priority,
            merged_into_id=merged,
            last_activity_at=activity.get(iid),
        )
        if reason is not None:
            cancelled.append({"note_id": note_id, "why": f"not sent: {reason}"})
    if cancelled:
        conn.execute(
            update(NOTES)
            .where(NOTES.c.id == bindparam("note_id"))
            .values(status="cancelled", last_error=bindparam("why")),
            cancelled,
        )


def unwanted_now(session: Session, row: Notification) -> str | None:
    """The last check before sending an oversight message: why it is no longer wanted."""
    if row.incident_id is None:
        return None
    found = session.execute(
        select(Incident.status, Incident.priority, Incident.merged_into_id).where(
            Incident.id == row.incident_id
        )
    ).first()
    if found is None:
        return "the incident no longer exists"
    status, priority, merged = found
    activity = last_activity(session, [row.incident_id]).get(row.incident_id)
    return oversight.unwanted(
        row.kind,
        row.context,
        status=status,
        priority=priority,
        merged_into_id=merged,
        last_activity_at=activity,
    )


# --- what happened -------------------------------------------------------------------------------


def last_activity(conn: Conn, incident_ids: Iterable[int]) -> dict[int, datetime]:
    """The last timeline event by a person per incident (none: no person has acted yet).

    Signals, the engine's pages and oversight's own warnings are not activity."""
    ids = list(incident_ids)
    if not ids:
        return {}
    rows = conn.execute(
        select(TimelineEvent.incident_id, func.max(TimelineEvent.at))
        .where(TimelineEvent.incident_id.in_(ids), TimelineEvent.actor_type == "user")
        .group_by(TimelineEvent.incident_id)
    ).all()
    return {iid: at for iid, at in rows}


def watched(session: Session, incident: Incident) -> Watched:
    """The incident as :func:`oversight.decide` sees it, what was already done included."""
    done: set[tuple[int, str, float]] = set()
    last_nudge = None
    for kind, at, after in session.execute(
        select(TimelineEvent.kind, TimelineEvent.at, TimelineEvent.after).where(
            TimelineEvent.incident_id == incident.id,
            TimelineEvent.kind.in_(
                (oversight.WARNED_EVENT, oversight.BREACHED_EVENT, oversight.STALE_EVENT)
            ),
        )
    ):
        if kind == oversight.STALE_EVENT:
            last_nudge = at if last_nudge is None else max(last_nudge, at)
        elif after:
            done.add((int(after["priority"]), str(after["clock"]), float(after["share"])))
    return Watched(
        priority=incident.priority,
        status=incident.status,
        started_at=incident.triggered_at,
        acknowledged_at=incident.acknowledged_at,
        resolved_at=incident.resolved_at,
        merged=incident.merged_into_id is not None,
        last_activity_at=last_activity(session, [incident.id]).get(incident.id),
        last_nudge_at=last_nudge,
        done=frozenset(done),
    )


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """One row of settings; None fields inherit."""

    escalation_policy_id: int | None = None
    stale_minutes: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class OversightConfig:
    """The installation's settings, each team's, and the WARROOM_STALE_MINUTES defaults."""

    installation: Scope
    teams: Mapping[int, Scope]
    defaults: Mapping[int, int]

    def stale_minutes(self, team_id: int | None) -> dict[int, int]:
        """Minutes until stale per priority (0: never): team, else installation, else default."""
        team = self.teams.get(team_id) if team_id is not None else None
        result = {}
        for p in PRIORITIES:
            for source in (team.stale_minutes if team else {}, self.installation.stale_minutes):
                if p in source:
                    result[p] = source[p]
                    break
            else:
                result[p] = self.defaults.get(p, 0)
        return result

    def rules(self, team_id: int | None) -> Rules:
        return Rules.from_minutes(self.stale_minutes(team_id))

    def policy(self, team_id: int | None) -> tuple[int | None, str]:
        """The oversight policy paged at a breach, and where it was set."""
        team = self.teams.get(team_id) if team_id is not None else None
        if team is not None and team.escalation_policy_id is not None:
            return team.escalation_policy_id, "team"
        return self.installation.escalation_policy_id, "installation"


def _minutes(raw: Mapping[str, Any] | None) -> dict[int, int]:
    return {int(p): int(m) for p, m in (raw or {}).items()}


def load_config(conn: Conn, defaults: Mapping[int, int]) -> OversightConfig:
    installation = Scope()
    teams: dict[int, Scope] = {}
    for team_id, policy_id, minutes in conn.execute(
        select(
            OversightSetting.team_id,
            OversightSetting.escalation_policy_id,
            OversightSetting.stale_minutes,
        )
    ):
        scope = Scope(policy_id, _minutes(minutes))
        if team_id is None:
            installation = scope
        else:
            teams[team_id] = scope
    return OversightConfig(installation, teams, dict(defaults))


def team_of(conn: Conn, service_id: int | None) -> int | None:
    if service_id is None:
        return None
    return conn.execute(select(Service.team_id).where(Service.id == service_id)).scalar()


def put_settings(
    session: Session,
    team_id: int | None,
    now: datetime,
    *,
    escalation_policy_id: int | None,
    stale_minutes: Mapping[int, int] | None,
) -> OversightSetting:
    """Set the installation's (team_id None) or a team's oversight settings as a whole."""
    from warroom.oncall.models import EscalationPolicy

    if team_id is not None and session.get(Team, team_id) is None:
        raise ApiError(404, f"team {team_id} does not exist")
    policy = session.get(EscalationPolicy, escalation_policy_id) if escalation_policy_id else None
    if escalation_policy_id is not None and policy is None:
        raise ApiError(
            422,
            f"escalation policy {escalation_policy_id} does not exist",
            [{"field": "escalation_policy_id", "message": "unknown escalation policy"}],
        )
    query = select(OversightSetting).where(
        OversightSetting.team_id.is_(None)
        if team_id is None
        else OversightSetting.team_id == team_id
    )
    row = session.scalars(query.with_for_update()).first()
    if row is None:
        row = OversightSetting(team_id=team_id)
        session.add(row)
    row.escalation_policy_id = escalation_policy_id
    row.stale_minutes = (
        {str(p): m for p, m in sorted(stale_minutes.items())} if stale_minutes is not None else None
    )
    row.updated_at = now
    session.flush()
    # Looks already scheduled were timed with the old settings: look again at once.
    query_open = select(Incident.id).where(
        Incident.status.in_(("triggered", "acknowledged", "mitigated"))
    )
    if team_id is not None:
        query_open = query_open.where(
            Incident.service_id.in_(select(Service.id).where(Service.team_id == team_id))
        )
    open_ids = list(session.scalars(query_open))
    schedule_look(session, open_ids, now, now)
    return row
