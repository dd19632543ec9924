"""The fan-out keeps out of the pages' way: paced slices, pages claimed first, workers kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from tests.conftest import World
from warroom.db.engine import Database
from warroom.engine import delivery
from warroom.notify.models import Notification
from warroom.statuspage import fanout
from warroom.statuspage.models import StatusSubscriber
from warroom.timers.models import Timer

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
NOTICE = fanout.Notice("sp-test", "subject", "body", "/status", frozenset())


def _subscribers(db: Database, n: int, confirmed: bool = True) -> None:
    with db.session() as s:
        s.execute(
            insert(StatusSubscriber),
            [
                {
                    "channel": "email",
                    "address": f"s{i}-{confirmed}@example.com",
                    "confirmed_at": NOW if confirmed else None,
                    "created_at": NOW,
                }
                for i in range(n)
            ],
        )


def _pending(db: Database) -> int:
    with db.read_session() as s:
        return int(
            s.scalar(select(func.count(Notification.id)).where(Notification.status == "pending"))
            or 0
        )


def test_slices_wait_for_the_outbox_to_drain_and_skip_the_unconfirmed(
    db: Database, world: World
) -> None:
    _subscribers(db, 450)
    _subscribers(db, 30, confirmed=False)
    with db.session() as s:
        timer = Timer(kind=fanout.FANOUT, due_at=NOW, payload={"update_id": 1})
        s.add(timer)
        s.flush()
        fanout.run_fanout_timer(s, timer, NOTICE, NOW, "http://x.test", "k")
        assert timer.done_at is None and timer.payload["after_id"] > 0
    assert _pending(db) == fanout.FANOUT_BATCH
    with db.session() as s:
        timer = s.scalars(select(Timer)).one()
        fanout.run_fanout_timer(s, timer, NOTICE, NOW, "http://x.test", "k")
        # The outbox still holds a full slice: the timer waits instead of adding more.
        assert timer.due_at == NOW + fanout.FANOUT_WAIT
    assert _pending(db) == fanout.FANOUT_BATCH
    with db.session() as s:
        s.query(Notification).update({"status": "sent"})
    for _ in range(5):
        with db.session() as s:
            timer = s.scalars(select(Timer)).one()
            if timer.done_at is None:
                fanout.run_fanout_timer(s, timer, NOTICE, NOW, "http://x.test", "k")
            s.query(Notification).update({"status": "sent"})
    with db.read_session() as s:
        assert s.scalars(select(Timer)).one().done_at == NOW
        targets = set(s.scalars(select(Notification.target)))
    assert len(targets) == 450 and not any("False" in t for t in targets)


def test_pages_are_claimed_before_subscriber_mails_and_keep_workers(
    db: Database, world: World
) -> None:
    _subscribers(db, 50)
    with db.session() as s:
        fanout.fan_out_slice(s, NOTICE, 0, NOW, "http://x.test", "k")
        s.add(
            Notification(
                idempotency_key="page-1",
                channel="local",
                target="bob",
                kind="page",
                subject="P1",
                body="",
                next_attempt_at=NOW + timedelta(seconds=5),
                created_at=NOW,
            )
        )
    later = NOW + timedelta(seconds=10)
    jobs = delivery.claim_due(db, later, "w", timedelta(seconds=60), limit=8)
    assert jobs[0].kind == "page"
    assert len(jobs) == 1 + (8 - 1 - delivery.RESERVED_FOR_PAGES)
    # With only the reserved workers free, no subscriber mail is claimed.
    assert delivery.claim_due(db, later, "w", timedelta(seconds=60), limit=2) == []
