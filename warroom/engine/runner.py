"""The engine loop: fire due timers, deliver the outbox, sleep until the next due time or a wake.

Several engines may run on one PostgreSQL database: timers are claimed with FOR UPDATE SKIP
LOCKED inside the transaction that acts on them, deliveries with a lease, and a write that
creates work sends NOTIFY warroom_wake so idle peers wake at once instead of at their next poll.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import func, select

from warroom.config import Settings
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.engine import delivery, paging
from warroom.engine.models import Timer
from warroom.notify.models import Notification
from warroom.notify.signing import make_action_token

log = logging.getLogger("warroom.engine")
# Even with nothing due, look again this often (a missed wake costs at most this much).
IDLE_POLL = 2.0


class Engine:
    def __init__(
        self, db: Database, settings: Settings, secret: str, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.settings = settings
        self.secret = secret
        self.clock = clock
        self.identity = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="deliver")
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()

    # --- links ---------------------------------------------------------------------------------

    def links(self, user_id: int, incident_id: int) -> dict[str, str]:
        return action_links(self.settings, self.secret, self.clock)(user_id, incident_id)

    # --- one pass ------------------------------------------------------------------------------

    def fire_due_timers(self, now: datetime, limit: int = 100) -> int:
        with self.db.background_session() as session:
            query = (
                select(Timer)
                .where(Timer.done_at.is_(None), Timer.due_at <= now)
                .order_by(Timer.due_at, Timer.id)
                .limit(limit)
            )
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            timers = list(session.scalars(query))
            for timer in timers:
                if timer.kind == paging.ESCALATE:
                    paging.fire_escalation(session, timer, now, self.settings.base_url, self.links)
                else:
                    timer.done_at = now
        return len(timers)

    def deliver_due(self, now: datetime, wait: bool = False) -> int:
        jobs = delivery.claim_due(self.db, now, self.identity, self.lease)
        hold = self.settings.engine_hold_delivery_seconds
        if hold and jobs:
            time.sleep(hold)  # test hook: the window in which a crash test kills us
        futures = []
        for job in jobs:
            with self._lock:
                self._in_flight.add(job.id)
            futures.append(self._pool.submit(self._deliver_one, job))
        if wait:
            for f in futures:
                f.result()
        return len(jobs)

    def _deliver_one(self, job: delivery.Job) -> None:
        try:
            result = delivery.send(job, self.settings)
            more = delivery.record(self.db, job, self.identity, result, self.clock())
            if job.channel == "local" and result.ok:
                _print_local(job)
            if more:
                self.wake()
        except Exception:
            log.exception("delivery of notification %s failed", job.id)
        finally:
            with self._lock:
                self._in_flight.discard(job.id)

    def next_due(self) -> datetime | None:
        with self.db.read_session() as session:
            timer = session.scalar(select(func.min(Timer.due_at)).where(Timer.done_at.is_(None)))
            note = session.scalar(
                select(func.min(Notification.next_attempt_at)).where(
                    Notification.status == "pending"
                )
            )
        candidates = [t for t in (timer, note) if t is not None]
        return min(candidates) if candidates else None

    def run_once(self, now: datetime | None = None, wait: bool = False) -> int:
        """Fire what is due at `now` and deliver it; tests call this with a fake clock."""
        now = now or self.clock()
        fired = self.fire_due_timers(now)
        sent = self.deliver_due(now, wait=wait)
        return fired + sent

    # --- the loop ------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if not self.db.is_sqlite:
            self._spawn(self._listen, "engine-listen")
        else:
            # One engine per SQLite file: leases left by a killed predecessor are void now.
            self._release_stale_claims()
        self._spawn(self._loop, "engine")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _release_stale_claims(self) -> None:
        from sqlalchemy import update

        with self.db.background_session() as session:
            session.execute(
                update(Notification)
                .where(Notification.status == "pending", Notification.claimed_by.is_not(None))
                .values(claimed_by=None, claimed_until=None)
            )

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_once()
                due = self.next_due()
            except Exception:
                log.exception("engine pass failed; retrying")
                due = None
                self._stop.wait(1.0)
            if due is None:
                delay = IDLE_POLL
            else:
                delay = min(max((due - self.clock()).total_seconds(), 0.0), IDLE_POLL)
            if delay > 0:
                self._wake.wait(delay)

    def _listen(self) -> None:
        import psycopg

        url = self.db.url.replace("postgresql+psycopg://", "postgresql://")
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("LISTEN warroom_wake")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._wake.set()
            except Exception:
                log.exception("LISTEN connection lost; reconnecting")
                self._stop.wait(1.0)


def action_links(
    settings: Settings, secret: str, clock: Callable[[], datetime] = utcnow
) -> Callable[[int, int], dict[str, str]]:
    """Signed acknowledge/resolve/view links for a person and an incident."""

    def links(user_id: int, incident_id: int) -> dict[str, str]:
        expires = clock() + timedelta(seconds=settings.action_link_ttl_seconds)
        base = settings.base_url.rstrip("/")
        sign = make_action_token
        return {
            action: f"{base}/act/{sign(secret, action, user_id, incident_id, expires)}"
            for action in ("ack", "resolve", "view")
        }

    return links


def _print_local(job: delivery.Job) -> None:
    """The demo's zero-configuration channel: the page shows up where `warroom serve` runs."""
    lines = [f"\n>>> PAGE to {job.user_name or f'user {job.user_id}'}: {job.subject}"]
    for action in ("ack", "resolve", "view"):
        if action in job.links:
            lines.append(f"    {action:<8} {job.links[action]}")
    print("\n".join(lines), flush=True)
