"""Oversight on the engine's fake clock: SLA warnings to the commander or whoever is on call,
the oversight policy paged at the breach, re-targeting on a priority change, stale nudges, and
everything queued cancelled when the incident moves on (also while it is being delivered)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import World
from tests.engine.test_engine import T0, Clock, contact, local_outbox, make_engine, policy
from warroom.catalog.models import User
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.engine import delivery
from warroom.incidents import oversight_store, service
from warroom.incidents.logic import DEFAULT_MATRIX
from warroom.incidents.models import TimelineEvent
from warroom.incidents.oversight_store import LOOK
from warroom.incidents.timeline import Actor
from warroom.notify.models import Notification, NotificationRule
from warroom.oncall.models import EscalationPolicy, EscalationStep, EscalationTarget
from warroom.timers.models import Timer
from warroom.web.queries.dashboard_data import DashboardFilter, dashboard

__all__ = ["local_outbox"]  # the fixture, shared with the paging tests

MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)
Outbox = list  # type: ignore[type-arg]


def actor(db: Database, user_id: int) -> Actor:
    with db.read_session() as s:
        user = s.get(User, user_id)
        assert user is not None
        return Actor(user.id, user.name)


def declare(db: Database, world: World, urgency: int = 1, at: timedelta = timedelta(0)) -> int:
    """A P1 (impact 1, urgency 1) on payments-db, declared at T0 + `at`."""
    with db.session() as s:
        incident = service.declare(
            s,
            actor(db, world.admin_id),
            T0 + at,
            DEFAULT_MATRIX,
            title="Checkout down",
            description="",
            impact=1,
            urgency=urgency,
            service_ids=[world.database_id],
        )
        return incident.id


def act(db: Database, world: World, iid: int, action: str, at: timedelta) -> None:
    with db.session() as s:
        service.apply_action(s, iid, action, actor(db, world.responder_id), T0 + at)


def oversight_policy(db: Database, user_id: int, team_id: int | None = None) -> int:
    """An 'incident managers' policy paging `user_id`, set as the installation's (or a team's)
    oversight policy."""
    with db.session() as s:
        p = EscalationPolicy(name=f"incident managers {user_id}", repeat=0)
        s.add(p)
        s.flush()
        step = EscalationStep(policy_id=p.id, position=0, delay_seconds=600)
        s.add(step)
        s.flush()
        s.add(EscalationTarget(step_id=step.id, target_type="user", target_id=user_id))
        oversight_store.put_settings(s, team_id, T0, escalation_policy_id=p.id, stale_minutes=None)
        return p.id


def calm(settings: Settings) -> Settings:
    """No stale times: the SLA alone."""
    return settings.model_copy(update={"stale_minutes": {}})


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Oversight alone: no status-update reminders (their own tests are in test_comms.py), so
    the outbox holds only what oversight and paging sent."""
    return Settings(database_url=db_url, base_url="http://warroom.test", update_cadence="")


def subjects(outbox: Outbox) -> list[str]:
    return [d.message.subject for d in outbox]


def events(db: Database, iid: int, kind: str) -> list[str]:
    with db.read_session() as s:
        return list(
            s.scalars(
                select(TimelineEvent.message)
                .where(TimelineEvent.incident_id == iid, TimelineEvent.kind == kind)
                .order_by(TimelineEvent.id)
            )
        )


def pending_looks(db: Database, iid: int) -> list[Timer]:
    with db.read_session() as s:
        return list(
            s.scalars(
                select(Timer).where(
                    Timer.incident_id == iid, Timer.kind == LOOK, Timer.done_at.is_(None)
                )
            )
        )


def oversight_rows(db: Database) -> list[Notification]:
    with db.read_session() as s:
        return list(
            s.scalars(
                select(Notification).where(Notification.kind != "page").order_by(Notification.id)
            )
        )


def test_warnings_at_half_and_three_quarters_then_the_oversight_policy_at_the_breach(
    world: World, db: Database, settings: Settings, local_outbox: Outbox
) -> None:
    policy(db, world.database_id, [(3600, [("user", world.responder_id)])])
    oversight_policy(db, world.admin_id)
    contact(db, world.responder_id)
    contact(db, world.admin_id)
    engine = make_engine(db, calm(settings), Clock())
    iid = declare(db, world)
    engine.run_once(T0, wait=True)
    assert subjects(local_outbox) == ["[P1 critical] #1 Checkout down"]  # the page; no warning
    assert [t.due_at for t in pending_looks(db, iid)] == [T0 + 7 * MIN + 30 * SEC]
    engine.run_once(T0 + 7 * MIN, wait=True)
    assert len(local_outbox) == 1, "not before 50 % of the 15 minutes"
    engine.run_once(T0 + 7 * MIN + 30 * SEC, wait=True)
    # No commander: whoever the service's policy pages now (Bob) is warned.
    assert local_outbox[-1].message.subject == "SLA warning: [P1 critical] #1 Checkout down"
    assert "50 % of the P1 response SLA used" in local_outbox[-1].message.text
    [warned] = events(db, iid, "sla_warning")
    assert warned.startswith(
        "50 % of the P1 response SLA used; due 2030-01-07 10:15:00 UTC (in 7m 30s); "
        "whoever 'policy-"
    ) and warned.endswith("pages now (no commander): Bob")
    engine.run_once(T0 + 11 * MIN + 15 * SEC, wait=True)
    assert "75 % of the P1 response SLA used" in local_outbox[-1].message.text
    engine.run_once(T0 + 15 * MIN, wait=True)
    assert len(local_outbox) == 3, "at the deadline exactly it is still within budget"
    engine.run_once(T0 + 15 * MIN + SEC, wait=True)
    breach = local_outbox[-1]
    assert breach.message.subject.startswith("SLA BREACHED: [P1 critical]")
    with db.read_session() as s:
        row = s.scalars(select(Notification).where(Notification.kind == "sla_breach")).one()
        assert (row.user_id, row.urgency) == (world.admin_id, "high")  # the incident managers
    [breached] = events(db, iid, "sla_breached")
    assert "P1 response SLA breached" in breached and "oversight policy" in breached
    with db.read_session() as s:
        flags = dashboard(s, DashboardFilter(), world.admin_id, T0 + 16 * MIN).rows[0].oversight
    assert flags.breached == ["response"] and flags.stale_for is None
    # Acknowledged late: the response clock is done, the resolution clock runs on.
    act(db, world, iid, "acknowledge", 20 * MIN)
    engine.run_once(T0 + 2 * 60 * MIN, wait=True)
    assert "50 % of the P1 resolution SLA used" in local_outbox[-1].message.text
    act(db, world, iid, "resolve", 2 * 60 * MIN + MIN)
    assert pending_looks(db, iid) == []
    engine.run_once(T0 + 10 * 60 * MIN, wait=True)
    assert len(local_outbox) == 5  # page, 50 %, 75 %, breach, resolution 50 %: then nothing
    assert len(events(db, iid, "sla_warning")) == 3


def test_with_no_oversight_policy_the_breach_goes_to_the_commander(
    world: World, db: Database, settings: Settings, local_outbox: Outbox
) -> None:
    contact(db, world.admin_id)
    engine = make_engine(db, settings, Clock())
    iid = declare(db, world)  # payments-db has no escalation policy: nobody is paged
    with db.session() as s:
        service.assign_role(
            s, iid, "commander", world.admin_id, actor(db, world.admin_id), T0 + MIN
        )
    engine.run_once(T0 + 20 * MIN, wait=True)  # a late look: only the breach, once
    assert subjects(local_outbox) == ["SLA BREACHED: [P1 critical] #1 Checkout down"]
    [breached] = events(db, iid, "sla_breached")
    assert "no oversight policy is set; telling the commander instead: Alice" in breached


def test_acknowledging_cancels_a_queued_response_warning_and_keeps_watching(
    world: World, db: Database, settings: Settings, local_outbox: Outbox
) -> None:
    policy(db, world.database_id, [(3600, [("user", world.responder_id)])])
    contact(db, world.responder_id, delay=120)  # "after 2 minutes": still queued at the ack
    engine = make_engine(db, calm(settings), Clock())
    iid = declare(db, world)
    engine.run_once(T0 + 7 * MIN + 30 * SEC, wait=True)
    [warning] = [r for r in oversight_rows(db) if r.kind == "sla_warning"]
    assert warning.status == "pending" and warning.context == {
        "priority": 1,
        "clock": "acknowledge",
        "share": 0.5,
    }
    act(db, world, iid, "acknowledge", 8 * MIN)
    [warning] = [r for r in oversight_rows(db) if r.kind == "sla_warning"]
    assert (warning.status, warning.last_error) == (
        "cancelled",
        "not sent: the incident is acknowledged",
    )
    engine.run_once(T0 + 20 * MIN, wait=True)
    assert not local_outbox
    assert [t.due_at for t in pending_looks(db, iid)] == [T0 + 2 * 60 * MIN]


def test_an_acknowledgement_while_a_warning_is_being_delivered(
    world: World, db: Database, settings: Settings, local_outbox: Outbox
) -> None:
    """The race: the warning is claimed, then the incident is acknowledged. Before sending, the
    last check cancels it; once on the wire, it is recorded as sent, never retried."""
    policy(db, world.database_id, [(3600, [("user", world.responder_id)])])
    contact(db, world.responder_id)
    engine = make_engine(db, settings, Clock())
    iid = declare(db, world)
    engine.fire_due_timers(T0)
    engine.fire_due_timers(T0 + 7 * MIN + 30 * SEC)
    now = T0 + 7 * MIN + 31 * SEC
    jobs = delivery.claim_due(db, now, "w1", timedelta(seconds=60))
    [job] = [j for j in jobs if j.kind == "sla_warning"]
    act(db, world, iid, "acknowledge", 7 * MIN + 31 * SEC)
    assert not delivery.still_ours_and_wanted(db, job, now)
    with db.read_session() as s:
        row = s.get(Notification, job.id)
        assert row is not None and row.status == "cancelled"

    # The same race a moment later: the message went out just before the acknowledgement.
    iid2 = declare(db, world, at=10 * MIN)
    engine.fire_due_timers(T0 + 10 * MIN)
    engine.fire_due_timers(T0 + 17 * MIN + 30 * SEC)
    now = T0 + 17 * MIN + 31 * SEC
    [job] = [
        j
        for j in delivery.claim_due(db, now, "w1", timedelta(seconds=60))
        if j.kind == "sla_warning" and j.incident_id == iid2
    ]
    assert delivery.still_ours_and_wanted(db, job, now)
    result = delivery.send(job, settings)
    act(db, world, iid2, "acknowledge", 17 * MIN + 32 * SEC)
    assert delivery.record(db, job, result, now + SEC) is False
    with db.read_session() as s:
        row = s.get(Notification, job.id)
        assert row is not None and (row.status, row.attempts) == ("sent", 1)


def test_a_priority_change_re_targets_from_the_start_and_cancels_the_old_warnings(
    world: World, db: Database, settings: Settings, local_outbox: Outbox
) -> None:
    oversight_policy(db, world.admin_id)
    policy(db, world.database_id, [(3600, [("user", world.responder_id)])])
    contact(db, world.responder_id, delay=300)
    contact(db, world.admin_id, delay=300)  # the breach page is still queued at the downgrade
    engine = make_engine(db, settings, Clock())
    iid = declare(db, world, urgency=3)  # impact 1 x urgency 3: P3, respond within 4 h
    engine.run_once(T0, wait=True)
    # P3 is never stale by default: the first look is at 50 % of its 4 hours.
    assert [t.due_at for t in pending_looks(db, iid)] == [T0 + 2 * 60 * MIN]
    # 20 minutes in, raised to P1: 15 minutes from the start are past, so it is breached now.
    with db.session() as s:
        service.change_priority(
            s,
            iid,
            actor(db, world.admin_id),
            T0 + 20 * MIN,
            DEFAULT_MATRIX,
            impact=None,
            urgency=1,
            reason="all customers hit",
        )
    [retargeted] = events(db, iid, "sla_retargeted")
    assert retargeted.startswith("SLA re-targeted P3 → P1, still measured from the start")
    assert "respond by 10:15:00 (breached)" in retargeted
    engine.run_once(T0 + 20 * MIN, wait=True)
    kinds = [(r.kind, r.context["priority"] if r.context else None) for r in oversight_rows(db)]
    assert kinds == [("sla_breach", 1)]  # the breach once, not 50 %, 75 % and the breach
    # Lowered to P2 at 21 minutes: the P1 messages still queued are cancelled (re-targeted);
    # P2's 30 minutes from the start are not yet up.
    with db.session() as s:
        service.change_priority(
            s,
            iid,
            actor(db, world.admin_id),
            T0 + 21 * MIN,
            DEFAULT_MATRIX,
            impact=2,
            urgency=None,
            reason="one region only",
        )
    [breach] = oversight_rows(db)
    assert (breach.status, breach.last_error) == (
        "cancelled",
        "not sent: the SLA was re-targeted to P2",
    )
    with db.read_session() as s:
        clocks = dashboard(s, DashboardFilter(), world.admin_id, T0 + 22 * MIN).rows[0].clocks
    assert [(c.started_at, c.elapsed, c.state) for c in clocks][0] == (T0, 22 * MIN, "ok")


def test_a_stale_incident_nudges_its_commander_once_per_period_and_activity_clears_it(
    world: World, db: Database, settings: Settings, local_outbox: Outbox
) -> None:
    contact(db, world.responder_id)
    engine = make_engine(db, settings, Clock())
    iid = declare(db, world, urgency=2)  # impact 1 x urgency 2: P2, stale after 2 h
    with db.session() as s:
        service.assign_role(
            s, iid, "commander", world.responder_id, actor(db, world.responder_id), T0
        )
    act(db, world, iid, "acknowledge", MIN)
    engine.run_once(T0 + MIN, wait=True)
    engine.run_once(T0 + 2 * 60 * MIN, wait=True)
    assert not local_outbox
    engine.run_once(T0 + 2 * 60 * MIN + MIN, wait=True)  # two hours after the acknowledgement
    assert subjects(local_outbox) == ["Stale incident: [P2 high] #1 Checkout down"]
    assert events(db, iid, "stale") == [
        "Stale: no activity for 2h on a P2 incident; the commander: Bob"
    ]
    with db.read_session() as s:
        row = dashboard(s, DashboardFilter(), world.admin_id, T0 + 2 * 60 * MIN + MIN).rows[0]
    assert row.oversight.stale_for == 2 * 60 * MIN
    engine.run_once(T0 + 3 * 60 * MIN, wait=True)
    assert len(local_outbox) == 1, "once per stale period"
    # A note is activity: the flag clears and the next stale time counts from it.
    with db.session() as s:
        service.add_note(s, iid, actor(db, world.responder_id), T0 + 3 * 60 * MIN, "on it")
    with db.read_session() as s:
        row = dashboard(s, DashboardFilter(), world.admin_id, T0 + 3 * 60 * MIN + MIN).rows[0]
    assert row.oversight.stale_for is None
    engine.run_once(T0 + 4 * 60 * MIN + MIN, wait=True)  # the second period would have ended
    assert len(local_outbox) == 2  # the resolution SLA's 50 % (4 h), not a nudge
    assert local_outbox[-1].message.subject.startswith("SLA warning")
    engine.run_once(T0 + 5 * 60 * MIN, wait=True)
    assert subjects(local_outbox)[-1].startswith("Stale incident")


def test_a_queued_nudge_is_dropped_when_someone_works_on_the_incident(
    world: World, db: Database, settings: Settings, local_outbox: Outbox
) -> None:
    cm = contact(db, world.responder_id)
    with db.session() as s:  # a P2 is low urgency: Bob's low-urgency rule waits 10 minutes
        s.add(
            NotificationRule(
                user_id=world.responder_id, contact_method_id=cm, urgency="low", delay_seconds=600
            )
        )
    engine = make_engine(db, settings, Clock())
    iid = declare(db, world, urgency=2)
    with db.session() as s:
        service.assign_role(
            s, iid, "commander", world.responder_id, actor(db, world.responder_id), T0
        )
    act(db, world, iid, "acknowledge", MIN)
    engine.run_once(T0 + MIN, wait=True)
    engine.run_once(T0 + 2 * 60 * MIN + MIN, wait=True)
    with db.session() as s:
        service.add_note(
            s, iid, actor(db, world.responder_id), T0 + 2 * 60 * MIN + 2 * MIN, "mitigating"
        )
    engine.run_once(T0 + 2 * 60 * MIN + 11 * MIN, wait=True)
    assert not local_outbox
    [nudge] = [r for r in oversight_rows(db) if r.kind == "stale_nudge"]
    assert (nudge.status, nudge.last_error) == (
        "cancelled",
        "not sent: someone worked on the incident since",
    )


def test_a_team_oversight_policy_wins_over_the_installations(
    world: World, db: Database, settings: Settings, local_outbox: Outbox
) -> None:
    from warroom.catalog.models import Service, Team

    with db.session() as s:
        team = Team(name="payments")
        s.add(team)
        s.flush()
        team_id = team.id
        svc = s.get(Service, world.database_id)
        assert svc is not None
        svc.team_id = team.id
    oversight_policy(db, world.admin_id)
    oversight_policy(db, world.responder_id, team_id=team_id)
    contact(db, world.admin_id)
    contact(db, world.responder_id)
    engine = make_engine(db, settings, Clock())
    declare(db, world)
    engine.run_once(T0 + 16 * MIN, wait=True)
    with db.read_session() as s:
        breach = s.scalars(select(Notification).where(Notification.kind == "sla_breach")).one()
    assert breach.user_id == world.responder_id


def test_a_look_never_waits_for_a_transition_holding_the_incident(
    world: World, db: Database, settings: Settings, local_outbox: Outbox
) -> None:
    """PostgreSQL: a transition holds the incident row (and may wait for the look's timer
    row): the look skips it and tries again two seconds later instead of waiting."""
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: a look and a transition never overlap")
    from warroom.incidents.models import Incident

    contact(db, world.admin_id)
    engine = make_engine(db, calm(settings), Clock())
    iid = declare(db, world)
    with db.session() as s:
        service.assign_role(s, iid, "commander", world.admin_id, actor(db, world.admin_id), T0)
    with db.session() as holder:
        holder.execute(select(Incident.id).where(Incident.id == iid).with_for_update())
        engine.run_once(T0 + 8 * MIN, wait=True)
        assert [t.due_at for t in pending_looks(db, iid)] == [T0 + 8 * MIN + 2 * SEC]
        assert not local_outbox
    engine.run_once(T0 + 8 * MIN + 2 * SEC, wait=True)
    assert subjects(local_outbox) == ["SLA warning: [P1 critical] #1 Checkout down"]
