"""A timer that raises is recorded and retried and never blocks the others; retention prunes
old finished rows; /metrics shows the engine's lag and counts; stakeholders get view links
only; the engine's roles and leases at start on each database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.conftest import World
from tests.engine.test_engine import T0, Clock, contact, make_engine, policy
from warroom.catalog.models import User
from warroom.cli import app as cli
from warroom.config import Settings
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.engine import delivery, paging, runner
from warroom.incidents import timeline
from warroom.incidents.models import Incident, TimelineEvent
from warroom.incidents.paging import ESCALATE
from warroom.metrics import Metrics
from warroom.notify.channels import TRANSPORTS
from warroom.notify.models import Notification
from warroom.timers.models import Timer


@pytest.fixture
def local_outbox() -> Iterator[list[Any]]:
    transport = TRANSPORTS["local"]
    transport.outbox.clear()  # type: ignore[attr-defined]
    yield transport.outbox  # type: ignore[attr-defined]
    transport.outbox.clear()  # type: ignore[attr-defined]


def incident_with_timer(db: Database, title: str, payload: dict[str, Any]) -> int:
    with db.session() as s:
        incident = Incident(title=title, impact=1, urgency=1, priority=1, triggered_at=T0)
        s.add(incident)
        s.flush()
        s.add(
            Timer(
                kind=ESCALATE,
                incident_id=incident.id,
                due_at=T0,
                created_at=T0,
                payload=payload,
            )
        )
        return incident.id


def timer_of(db: Database, incident_id: int) -> Timer:
    with db.read_session() as s:
        return s.scalars(select(Timer).where(Timer.incident_id == incident_id)).one()


def warnings(db: Database, incident_id: int) -> list[str]:
    with db.read_session() as s:
        return list(
            s.scalars(
                select(TimelineEvent.message).where(
                    TimelineEvent.incident_id == incident_id,
                    TimelineEvent.kind == "paging_warning",
                )
            )
        )


def paged_titles(outbox: list[Any]) -> list[str]:
    return [d.message.subject.split(" ", 3)[-1] for d in outbox]


def test_a_failing_timer_is_recorded_and_retried_and_never_blocks_the_others(
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = policy(db, world.database_id, [(300, [("user", world.responder_id)])])
    contact(db, world.responder_id)
    good = {"policy_id": pid, "level": 0, "cycle": 0}
    malformed = incident_with_timer(db, "malformed", {"policy_id": pid})  # no level: KeyError
    flaky = incident_with_timer(db, "flaky", good)
    incident_with_timer(db, "fine", good)
    real_fire = paging.fire_escalation

    def fire_failing_for_flaky(session: Any, timer: Timer, *args: Any) -> None:
        if timer.incident_id == flaky:
            timeline.add_event(session, flaky, "x", "half-done", T0)
            session.flush()  # written inside the savepoint: must be rolled back with it
            raise RuntimeError("the on-call service is down")
        real_fire(session, timer, *args)

    monkeypatch.setattr(paging, "fire_escalation", fire_failing_for_flaky)
    metrics = Metrics(db)
    engine = runner.Engine(db, settings, "secret", clock=Clock(), metrics=metrics)
    engine.run_once(T0, wait=True)
    assert paged_titles(local_outbox) == ["fine"], "the good timer fires despite the others"
    for iid, error in ((malformed, "KeyError"), (flaky, "on-call service is down")):
        timer = timer_of(db, iid)
        assert timer.done_at is None and timer.attempts == 1 and error in timer.last_error
        assert timer.due_at == T0 + timedelta(seconds=5)
        [warning] = warnings(db, iid)
        assert "failed (attempt 1); retrying at 10:00:05 UTC" in warning and error in warning
    with db.read_session() as s:
        assert s.scalars(select(TimelineEvent).where(TimelineEvent.kind == "x")).all() == []
    assert metrics.timer_failures.labels(ESCALATE)._value.get() == 2

    engine.run_once(T0 + timedelta(seconds=2), wait=True)  # not yet due again
    assert timer_of(db, flaky).attempts == 1
    monkeypatch.setattr(paging, "fire_escalation", real_fire)  # the outage is over
    engine.run_once(T0 + timedelta(seconds=6), wait=True)
    assert paged_titles(local_outbox) == ["fine", "flaky"]
    assert timer_of(db, malformed).attempts == 2
    assert timer_of(db, malformed).due_at == T0 + timedelta(seconds=6 + 10)

    # A timer that keeps failing is given up after TIMER_MAX_ATTEMPTS, and says so.
    now = T0 + timedelta(seconds=6)
    for _ in range(runner.TIMER_MAX_ATTEMPTS):
        now += timedelta(minutes=6)
        engine.run_once(now, wait=True)
    timer = timer_of(db, malformed)
    assert timer.done_at is not None and timer.attempts == runner.TIMER_MAX_ATTEMPTS
    assert "given up" in warnings(db, malformed)[-1]
    engine.stop()


def test_a_person_whose_time_zone_is_unknown_does_not_stop_other_paging(
    world: World, db: Database, settings: Settings, local_outbox: list[Any]
) -> None:
    """Alice's zone left tzdata and she has quiet hours: whatever the zone helper does with
    it, the other incident's escalation fires on time."""
    alice_policy = policy(db, world.checkout_id, [(300, [("user", world.admin_id)])])
    bob_policy = policy(db, world.database_id, [(300, [("user", world.responder_id)])])
    contact(db, world.admin_id)
    contact(db, world.responder_id)
    with db.session() as s:
        s.execute(
            update(User)
            .where(User.id == world.admin_id)
            .values(
                time_zone="Mars/Olympus_Mons", quiet_hours_start="00:00", quiet_hours_end="23:59"
            )
        )
    stranded = incident_with_timer(
        db, "alice's", {"policy_id": alice_policy, "level": 0, "cycle": 0}
    )
    incident_with_timer(db, "bob's", {"policy_id": bob_policy, "level": 0, "cycle": 0})
    engine = make_engine(db, settings, Clock())
    engine.run_once(T0, wait=True)
    engine.stop()
    assert "bob's" in paged_titles(local_outbox)
    timer = timer_of(db, stranded)
    assert timer.done_at is not None or (timer.attempts == 1 and warnings(db, stranded))


def test_retention_prunes_old_finished_rows_in_batches_and_keeps_the_rest(
    world: World, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, recent = T0 - timedelta(days=91), T0 - timedelta(days=89)
    with db.session() as s:
        incident = Incident(title="x", impact=1, urgency=1, priority=1, triggered_at=old)
        s.add(incident)
        s.flush()
        for n, (status, at) in enumerate(
            [
                ("sent", old),
                ("sent", old),
                ("cancelled", old),
                ("failed", old),
                ("pending", old),  # still to be sent: never pruned
                ("sent", recent),
            ]
        ):
            s.add(
                Notification(
                    idempotency_key=f"k{n}",
                    incident_id=incident.id,
                    channel="local",
                    target="console",
                    subject="s",
                    body="b",
                    status=status,
                    next_attempt_at=at,
                    created_at=at,
                )
            )
        for done in (old, old, old, recent, None):
            s.add(Timer(kind="escalate", incident_id=incident.id, due_at=old, done_at=done))
    monkeypatch.setattr(runner, "PRUNE_BATCH", 2)
    keep = make_engine(db, settings.model_copy(update={"retention_days": 0}), Clock())
    assert keep.prune(T0) == 0
    engine = make_engine(db, settings, Clock())
    assert engine.prune(T0) == 4 + 3
    with db.read_session() as s:
        left = sorted(
            (status, at == recent)
            for status, at in s.execute(select(Notification.status, Notification.next_attempt_at))
        )
        timers = sorted(str(d is None) for d in s.scalars(select(Timer.done_at)))
    assert left == [("pending", False), ("sent", True)]
    assert timers == ["False", "True"]


def test_a_pruning_backlog_is_worked_off_in_slices_a_minute_apart(
    world: World, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = T0 - timedelta(days=100)
    with db.session() as s:
        for _ in range(5):
            s.add(Timer(kind="escalate", due_at=old, done_at=old))
    monkeypatch.setattr(runner, "PRUNE_BATCH", 2)
    monkeypatch.setattr(runner, "PRUNE_MAX_BATCHES", 1)
    engine = make_engine(db, settings, Clock())
    engine._maybe_prune(T0)
    assert engine._next_prune == T0 + runner.PRUNE_BACKLOG_PAUSE  # 2 of 5: more to do
    engine._maybe_prune(T0 + timedelta(seconds=30))  # not yet
    engine._maybe_prune(T0 + timedelta(minutes=1))
    engine._maybe_prune(T0 + timedelta(minutes=2))  # the last one, a partial slice
    assert engine._next_prune == T0 + timedelta(minutes=2) + runner.PRUNE_EVERY
    with db.read_session() as s:
        assert s.scalars(select(Timer.id)).all() == []


def metric(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name + (f"{{{label_text}}}" if labels else "")) + r" ([0-9.e+-]+)"
    found = re.search(rf"^{pattern}$", text, re.MULTILINE)
    assert found, f"{name} {labels} not in /metrics"
    return float(found.group(1))


def test_metrics_show_outbox_and_timer_lag_and_counts(
    quiet_client: TestClient, world: World, db: Database
) -> None:
    now = utcnow()
    with db.session() as s:
        incident = Incident(title="x", impact=1, urgency=1, priority=1, triggered_at=now)
        s.add(incident)
        s.flush()
        for n, (status, due, token) in enumerate(
            [
                ("pending", now - timedelta(seconds=90), None),  # due and waiting: the lag
                ("pending", now + timedelta(hours=1), None),  # not due yet
                ("pending", now - timedelta(hours=5), "t" * 32),  # being delivered
                ("failed", now - timedelta(hours=9), None),
                ("sent", now - timedelta(hours=9), None),
            ]
        ):
            s.add(
                Notification(
                    idempotency_key=f"k{n}",
                    incident_id=incident.id,
                    channel="local",
                    target="console",
                    subject="s",
                    body="b",
                    status=status,
                    next_attempt_at=due,
                    lease_token=token,
                    created_at=due,
                )
            )
        s.add(Timer(kind="escalate", due_at=now - timedelta(seconds=300), attempts=2))
        s.add(Timer(kind="escalate", due_at=now - timedelta(days=3), done_at=now))
    text = quiet_client.get("/metrics").text
    assert metric(text, "warroom_outbox_notifications", state="pending") == 2
    assert metric(text, "warroom_outbox_notifications", state="claimed") == 1
    assert metric(text, "warroom_outbox_notifications", state="failed") == 1
    assert 90 <= metric(text, "warroom_outbox_lag_seconds") < 150
    assert 300 <= metric(text, "warroom_timer_lag_seconds") < 360
    assert metric(text, "warroom_timers_failing") == 1
    assert metric(text, "warroom_committer_queue_depth") == 0
    assert metric(text, "warroom_incidents", status="triggered") == 1
    # Closed history is not counted on every scrape any more.
    assert 'warroom_alerts{status="resolved"}' not in text
    assert 'warroom_incidents{status="closed"}' not in text


def test_a_mobilised_stakeholder_gets_a_view_link_only(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list[Any],
) -> None:
    from tests.engine.test_engine import trigger

    contact(db, world.stakeholder_id)
    contact(db, world.admin_id)
    trigger(quiet_client, world)
    r = quiet_client.post(
        "/api/v1/incidents/1/mobilise",
        headers=world.auth(),
        json={"user_ids": [world.stakeholder_id, world.admin_id], "message": "join us"},
    )
    assert r.status_code == 200, r.text
    make_engine(db, settings, Clock()).run_once(T0, wait=True)
    by_person = {d.message.subject: d.message for d in local_outbox}
    assert len(local_outbox) == 2
    with db.read_session() as s:
        links = {
            uid: set(links)
            for uid, links in s.execute(select(Notification.user_id, Notification.links))
        }
        bodies = dict(s.execute(select(Notification.user_id, Notification.body)).all())
    assert links[world.stakeholder_id] == {"view"}
    assert links[world.admin_id] == {"ack", "resolve", "view"}
    assert "Acknowledge:" not in bodies[world.stakeholder_id]
    assert "View:" in bodies[world.stakeholder_id]
    assert by_person


@pytest.mark.parametrize("role", ["engine", "api"])
def test_serve_refuses_a_partial_role_on_sqlite(tmp_path: Any, role: str) -> None:
    result = CliRunner().invoke(
        cli, ["serve", "--role", role, "--database-url", f"sqlite:///{tmp_path}/w.db"]
    )
    assert result.exit_code == 1
    assert f"--role {role} needs PostgreSQL" in result.stderr
    assert "--role all" in result.stderr


def test_a_starting_engine_leaves_live_leases_alone_on_postgresql(
    world: World, db: Database, settings: Settings, backend: str, tmp_path: Any
) -> None:
    from tests.engine.test_once_only import pages

    pages(db, world.responder_id, "http://127.0.0.1:9/never", 1)
    [job] = delivery.claim_due(db, T0, "the-live-engine", timedelta(seconds=60))
    before = Clock()
    before.now = T0 - timedelta(days=1)  # its loop finds nothing due: only start() acts
    second = make_engine(db, settings, before)
    second.start()
    try:
        with db.read_session() as s:
            token = s.scalar(select(Notification.lease_token))
        if backend == "postgresql":
            assert token == job.lease_token, "a second engine cancelled a live lease"
        else:
            # The only engine on this SQLite file (its lock says so): what is left was a dead
            # predecessor's, released at once.
            assert token is None
            [live] = delivery.claim_due(db, T0, "the-second-engine", timedelta(seconds=60))
            third = make_engine(db, settings, before)
            third.start()  # a second engine on the same file: the lock is taken
            third.stop()
            with db.read_session() as s:
                assert s.scalar(select(Notification.lease_token)) == live.lease_token
    finally:
        second.stop()
