"""The engine loop: fire due timers, deliver the outbox, prune old rows, sleep until next due.

Several engines may run on one PostgreSQL database: timers are claimed with FOR UPDATE SKIP
LOCKED inside the transaction that acts on them, deliveries with a lease of their own per
claim, and a write that creates work sends NOTIFY warroom_wake so idle peers wake at once
instead of at their next poll. On SQLite exactly one process runs the engine (`serve --role
all`); a lock file next to the database tells a starting engine whether the leases it finds
were left by a dead predecessor (released at once) or belong to a live engine (left alone).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import delete, func, make_url, or_, select, update

from warroom.alerts.release_timers import RELEASE_HELD, release_dependants
from warroom.alerts.service import prune_flap_memory, release_held
from warroom.config import Settings
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.engine import comms, delivery, oversight, paging
from warroom.incidents import timeline
from warroom.incidents.causes import RELEASE_DEPENDANTS
from warroom.incidents.oversight_store import LOOK
from warroom.incidents.paging import ESCALATE
from warroom.incidents.reporters import REPORTERS_NOTICE
from warroom.incidents.updates import COMMS_CHECK, ROLE_NOTICE, STAKEHOLDER_NOTICE, UPDATE_DUE
from warroom.maintenance.windows import MAINTENANCE_NOTICE
from warroom.notify.models import Notification
from warroom.notify.signing import make_action_token
from warroom.reviews import service as reviews
from warroom.statuspage import fanout
from warroom.statuspage import service as statuspage
from warroom.timers.models import Timer

if TYPE_CHECKING:
    from warroom.metrics import Metrics

log = logging.getLogger("warroom.engine")
# Even with nothing due, look again this often (a missed wake costs at most this much).
IDLE_POLL = 2.0
# While a page is on the wire the engine starts no other work (oversight looks, comms checks,
# reminders: each a few milliseconds of Python holding the GIL the sending worker needs), for
# at most this long after it first held back, so a storm of pages cannot starve the rest.
PAGES_FIRST_MAX = timedelta(seconds=1)
# Deliveries in flight at once; the engine never claims more rows than it has free workers.
DELIVERY_WORKERS = 8
# A timer that raised is retried after 5 s, 10 s, 20 s ... at most 5 minutes apart; after
# this many failures it is given up (and says so on the incident's timeline).
TIMER_MAX_ATTEMPTS = 10
TIMER_RETRY_BASE = 5.0
TIMER_RETRY_CAP = 300.0
# Retention: rows deleted per transaction, transactions per pruning run, runs this far apart.
PRUNE_BATCH = 500
PRUNE_MAX_BATCHES = 20
PRUNE_EVERY = timedelta(hours=1)
PRUNE_BACKLOG_PAUSE = timedelta(minutes=1)
FINISHED_STATUSES = ("sent", "cancelled", "failed")


def timer_retry_delay(attempts: int) -> timedelta:
    """How long a timer that has failed `attempts` times waits before its next try."""
    return timedelta(seconds=min(TIMER_RETRY_CAP, TIMER_RETRY_BASE * 2.0 ** (attempts - 1)))


# What each kind of timer does when it is due: one entry per kind. A domain that schedules a new
# kind (a reminder, a check) adds its handler here; the handler runs in the timer's own savepoint
# and marks the timer done (or moves its due time) itself.
TimerHandler = Callable[["Engine", Any, Timer, datetime], None]


def _fire_escalation(engine: Engine, session: Any, timer: Timer, now: datetime) -> None:
    paging.fire_escalation(session, timer, now, engine.settings.base_url, engine.links)


def _fire_reminder(engine: Engine, session: Any, timer: Timer, now: datetime) -> None:
    reviews.fire_reminder(session, timer, now, engine.settings.base_url)


def _status_page_fanout(engine: Engine, session: Any, timer: Timer, now: datetime) -> None:
    # A public status update (payload {"update_id"}): its subscribers, slice by slice.
    if not timer.payload.get("after_id"):
        statuspage.reconcile(session, now)
    name = statuspage.page_settings(session).name
    notice = fanout.update_notice(session, int(timer.payload["update_id"]), name)
    fanout.run_fanout_timer(session, timer, notice, now, engine.settings.base_url, engine.secret)


def _status_page_maintenance(engine: Engine, session: Any, timer: Timer, now: datetime) -> None:
    # A maintenance window announced, moved, started, ended or cancelled.
    if not timer.payload.get("after_id"):
        statuspage.reconcile(session, now)
    name = statuspage.page_settings(session).name
    notice = fanout.maintenance_notice(
        session, int(timer.payload["window_id"]), str(timer.payload["event"]), name
    )
    fanout.run_fanout_timer(session, timer, notice, now, engine.settings.base_url, engine.secret)


def _status_page_reconcile(engine: Engine, session: Any, timer: Timer, now: datetime) -> None:
    # The components' status history follows their derived status (statuspage/service.py).
    statuspage.reconcile(session, now)
    timer.due_at = now + statuspage.RECONCILE_EVERY


def _fire_comms(fire: Callable[..., None]) -> TimerHandler:
    def handler(engine: Engine, session: Any, timer: Timer, now: datetime) -> None:
        fire(session, timer, now, engine.settings, engine.links)

    return handler


def _look(engine: Engine, session: Any, timer: Timer, now: datetime) -> None:
    oversight.look(session, timer, now, engine.settings, engine.links, engine.db.is_sqlite)


def _release_held(engine: Engine, session: Any, timer: Timer, now: datetime) -> None:
    """A silence or maintenance occurrence ended: alerts it held that still fire page now."""
    release_held(session, now, engine.settings.priority_matrix)
    timer.done_at = now


def _release_dependants(engine: Engine, session: Any, timer: Timer, now: datetime) -> None:
    """An incident others were caused by resolved: those still firing page now."""
    if timer.incident_id is not None:
        release_dependants(session, timer.incident_id, now)
    timer.done_at = now


TIMER_HANDLERS: dict[str, TimerHandler] = {
    ESCALATE: _fire_escalation,
    **dict.fromkeys(reviews.TIMER_KINDS, _fire_reminder),
    fanout.FANOUT: _status_page_fanout,
    MAINTENANCE_NOTICE: _status_page_maintenance,
    statuspage.RECONCILE: _status_page_reconcile,
    # Incident communication (engine/comms.py): reminders, role and stakeholder notices.
    COMMS_CHECK: _fire_comms(comms.fire_comms_check),
    UPDATE_DUE: _fire_comms(comms.fire_update_due),
    ROLE_NOTICE: _fire_comms(comms.fire_role_notice),
    STAKEHOLDER_NOTICE: _fire_comms(comms.fire_stakeholder_notice),
    REPORTERS_NOTICE: _fire_comms(comms.fire_reporters_notice),
    LOOK: _look,
    RELEASE_HELD: _release_held,
    RELEASE_DEPENDANTS: _release_dependants,
}


class Engine:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        secret: str,
        clock: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.secret = secret
        self.clock = clock
        self.metrics = metrics
        self.identity = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"[:64]
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)
        self.retry_policy = delivery.retry_policy(settings)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool = ThreadPoolExecutor(max_workers=DELIVERY_WORKERS, thread_name_prefix="deliver")
        self._busy = 0
        self._saturated = False
        self._urgent_in_flight = 0
        self._held_back_since: datetime | None = None
        self._hold_spent = False  # held for PAGES_FIRST_MAX: not again until no page is out
        self._lock = threading.Lock()
        self._next_prune: datetime | None = None
        self._lock_file: IO[str] | None = None
        point, _, seconds = settings.engine_test_pause.partition(":")
        self._pause_point, self._pause_seconds = point, float(seconds or 0)

    # --- links ---------------------------------------------------------------------------------

    def links(self, user_id: int, incident_id: int) -> dict[str, str]:
        return action_links(self.settings, self.secret, self.clock)(user_id, incident_id)

    # --- timers --------------------------------------------------------------------------------

    def fire_due_timers(
        self, now: datetime, limit: int = 100, kinds: tuple[str, ...] | None = None
    ) -> int:
        """Fire what is due (of these `kinds`, or all), each timer in a savepoint of its own: one
        that raises is rolled back alone, recorded and retried later, and the others fire
        regardless."""
        due = [Timer.done_at.is_(None), Timer.due_at <= now]
        if kinds is not None:
            due.append(Timer.kind.in_(kinds))
        if self.db.is_sqlite:
            # Nothing due (most wake-ups): found by a read, without SQLite's writer lock.
            with self.db.read_session() as session:
                if session.scalar(select(Timer.id).where(*due).limit(1)) is None:
                    return 0
        with self.db.session() as session:
            query = select(Timer).where(*due).order_by(Timer.due_at, Timer.id).limit(limit)
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            timers = list(session.scalars(query))
            for timer in timers:
                try:
                    with session.begin_nested():
                        self._fire(session, timer, now)
                except Exception as exc:
                    self._timer_failed(session, timer, now, exc)
        return len(timers)

    def _fire(self, session: Any, timer: Timer, now: datetime) -> None:
        handler = TIMER_HANDLERS.get(timer.kind)
        if handler is None:
            # A kind this engine does not know (written by a newer version): leave it for one
            # that does, rather than marking it done unfired.
            raise LookupError(f"no handler for timer kind {timer.kind!r}")
        handler(self, session, timer, now)

    def _timer_failed(self, session: Any, timer: Timer, now: datetime, exc: Exception) -> None:
        attempts = timer.attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:2000]
        log.exception(
            "timer %s (%s, incident %s) failed, attempt %s",
            timer.id,
            timer.kind,
            timer.incident_id,
            attempts,
        )
        if self.metrics is not None:
            self.metrics.timer_failures.labels(timer.kind).inc()
        timer.attempts, timer.last_error = attempts, error
        what = "An escalation step" if timer.kind == ESCALATE else f"A {timer.kind} timer"
        if attempts >= TIMER_MAX_ATTEMPTS:
            timer.done_at = now
            consequence = "nobody more is paged by it" if timer.kind == ESCALATE else "not done"
            message = f"{what} failed {attempts} times and was given up; {consequence}: {error}"
        else:
            timer.due_at = now + timer_retry_delay(attempts)
            message = (
                f"{what} failed (attempt {attempts}); retrying at "
                f"{timer.due_at:%H:%M:%S} UTC: {error}"
            )
        if timer.incident_id is not None:
            timeline.add_event(
                session,
                timer.incident_id,
                "paging_warning",
                message,
                now,
                after={"timer_id": timer.id, "attempt": attempts},
            )

    # --- deliveries ----------------------------------------------------------------------------

    def free_workers(self) -> int:
        with self._lock:
            return DELIVERY_WORKERS - self._busy

    def deliver_due(self, now: datetime, wait: bool = False) -> int:
        free = self.free_workers()
        if free <= 0:
            with self._lock:
                self._saturated = True
            return 0
        if self._pause_point == "before_claim" and self._due_unclaimed(now):
            self._pause("before_claim")
        jobs = delivery.claim_due(self.db, now, self.identity, self.lease, limit=free)
        with self._lock:
            self._busy += len(jobs)
            self._saturated = len(jobs) == free
            self._urgent_in_flight += sum(job.kind in delivery.URGENT_KINDS for job in jobs)
        if jobs:
            self._pause("after_claim")
        futures = [self._pool.submit(self._deliver_one, job) for job in jobs]
        if wait:
            for f in futures:
                f.result()
        return len(jobs)

    def _deliver_one(self, job: delivery.Job) -> None:
        try:
            if not delivery.still_ours_and_wanted(self.db, job, self.clock()):
                return
            result = delivery.send(job, self.settings)
            if result.ok:
                self._pause("after_send")
            more = delivery.record(self.db, job, result, self.clock(), self.retry_policy)
            if job.channel == "local" and result.ok:
                _print_local(job)
            if more:
                self.wake()
        except Exception:
            log.exception("delivery of notification %s failed", job.id)
        finally:
            with self._lock:
                self._busy -= 1
                saturated, self._saturated = self._saturated, False
                if job.kind in delivery.URGENT_KINDS:
                    self._urgent_in_flight -= 1
                held_back = self._held_back_since is not None and self._urgent_in_flight == 0
            if saturated or held_back:
                self.wake()  # rows may be waiting for this worker, or work held back for it

    def _due_unclaimed(self, now: datetime) -> bool:
        with self.db.read_session() as session:
            return (
                session.scalar(
                    select(Notification.id)
                    .where(
                        Notification.status == "pending",
                        Notification.next_attempt_at <= now,
                        Notification.lease_token.is_(None),
                    )
                    .limit(1)
                )
                is not None
            )

    def _pause(self, point: str) -> None:
        """Fault-test hook (engine_test_pause): announce the point and wait there."""
        if point != self._pause_point or self._pause_seconds <= 0:
            return
        print(f"warroom-engine-paused {point}", flush=True)
        time.sleep(self._pause_seconds)

    def next_due(self) -> datetime | None:
        """When there is next something to do. Rows being delivered are not due (their worker
        wakes the loop when done); a claim is due again only when its lease runs out."""
        with self.db.read_session() as session:
            timer = session.scalar(select(func.min(Timer.due_at)).where(Timer.done_at.is_(None)))
            note = lease = None
            if self.free_workers() > 0:
                note = session.scalar(
                    select(func.min(Notification.next_attempt_at)).where(
                        Notification.status == "pending", Notification.lease_token.is_(None)
                    )
                )
                lease = session.scalar(
                    select(func.min(Notification.claimed_until)).where(
                        Notification.status == "pending", Notification.lease_token.is_not(None)
                    )
                )
        candidates = [t for t in (timer, note, lease) if t is not None]
        return min(candidates) if candidates else None

    # --- retention -----------------------------------------------------------------------------

    def prune(self, now: datetime) -> int:
        """Delete done timers and finished notifications older than retention_days, a batch
        per transaction (short write locks), at most PRUNE_MAX_BATCHES batches per run; and
        the flap memory of keys whose changes no longer count (whatever the retention)."""
        with self.db.session() as session:
            forgotten = prune_flap_memory(session, now)
        if forgotten:
            log.info("flap detection: forgot %s quiet alert keys", forgotten)
        days = self.settings.retention_days
        if days <= 0:
            return 0
        cutoff = now - timedelta(days=days)
        removed = 0
        for _ in range(PRUNE_MAX_BATCHES):
            with self.db.session() as session:
                timer_ids = list(
                    session.scalars(
                        select(Timer.id)
                        .where(Timer.done_at.is_not(None), Timer.done_at < cutoff)
                        .limit(PRUNE_BATCH)
                    )
                )
                if timer_ids:
                    session.execute(delete(Timer).where(Timer.id.in_(timer_ids)))
                # next_attempt_at is a finished row's last attempt; (status, next_attempt_at)
                # is indexed, so this is a range read, not a scan of the outbox.
                note_ids = list(
                    session.scalars(
                        select(Notification.id)
                        .where(
                            Notification.status.in_(FINISHED_STATUSES),
                            Notification.next_attempt_at < cutoff,
                        )
                        .limit(PRUNE_BATCH)
                    )
                )
                if note_ids:
                    session.execute(delete(Notification).where(Notification.id.in_(note_ids)))
            removed += len(timer_ids) + len(note_ids)
            if len(timer_ids) < PRUNE_BATCH and len(note_ids) < PRUNE_BATCH:
                break
        if removed:
            log.info("retention: pruned %s rows older than %s days", removed, days)
        return removed

    def _maybe_prune(self, now: datetime) -> None:
        if self._next_prune is not None and now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        try:
            removed = self.prune(now)
        except Exception:
            log.exception("retention pruning failed; trying again in an hour")
            return
        if removed >= PRUNE_BATCH * PRUNE_MAX_BATCHES:
            # A backlog (retention just enabled or shortened): go on soon, a slice at a time.
            self._next_prune = now + PRUNE_BACKLOG_PAUSE

    # --- one pass ------------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None, wait: bool = False) -> int:
        """Fire what is due at `now` and deliver it; tests call this with a fake clock."""
        now = now or self.clock()
        # Escalation steps first, committed and their pages handed to the workers before the
        # rest: every new incident also has an oversight look due at once, and a storm's
        # reminders, releases and reviews must not stand between an incident and its page.
        fired = self.fire_due_timers(now, kinds=(ESCALATE,))
        sent = self.deliver_due(now, wait=wait) if fired else 0
        if self._hold_back(now):
            return fired + sent
        fired += self.fire_due_timers(now)
        sent += self.deliver_due(now, wait=wait)
        return fired + sent

    def _hold_back(self, now: datetime) -> bool:
        """True while pages are being sent and the rest should wait for them (not longer than
        PAGES_FIRST_MAX); the worker that sends the last one wakes the loop."""
        with self._lock:
            if self._urgent_in_flight == 0:
                self._held_back_since, self._hold_spent = None, False
                return False
            if self._hold_spent:
                return False  # a page that hangs (or a storm) holds back once, not forever
            if self._held_back_since is None:
                self._held_back_since = now
            if now - self._held_back_since >= PAGES_FIRST_MAX:
                self._held_back_since, self._hold_spent = None, True
                return False
            return True

    # --- the loop ------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if not self.db.is_sqlite:
            # Never touch other engines' leases here: they may be alive. A dead engine's
            # claims are taken over when their leases run out.
            self._spawn(self._listen, "engine-listen")
        elif self._lock_sqlite_file():
            # The only engine on this SQLite file (the lock says so): leases still held were
            # left by a predecessor that is gone, and are void now.
            self._release_stale_claims()
        else:
            # Another engine is alive on this file (a second `serve`, or a second app in one
            # process): its leases are live, so leave them to run out like on PostgreSQL.
            log.warning(
                "another engine already runs on %s; on SQLite run exactly one `warroom serve`",
                self.db.url,
            )
        self._spawn(self._loop, "engine")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=False)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _lock_sqlite_file(self) -> bool:
        """Take the engine lock next to the SQLite file; False if another engine holds it."""
        path = sqlite_path(self.db.url)
        if path is None:
            return True  # an in-memory database lives in this process alone
        handle = open(f"{path}.engine-lock", "a")  # noqa: SIM115 - held open while we run
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock_file = handle
        return True

    def _release_stale_claims(self) -> None:
        with self.db.session() as session:
            session.execute(
                update(Notification)
                .where(
                    Notification.status == "pending",
                    or_(
                        Notification.lease_token.is_not(None), Notification.claimed_by.is_not(None)
                    ),
                )
                .values(claimed_by=None, claimed_until=None, lease_token=None)
            )

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_once()
                self._maybe_prune(self.clock())
                due = self.next_due()
            except Exception:
                log.exception("engine pass failed; retrying")
                due = None
                self._stop.wait(1.0)
            if due is None:
                delay = IDLE_POLL
            else:
                delay = min(max((due - self.clock()).total_seconds(), 0.0), IDLE_POLL)
            with self._lock:
                since = self._held_back_since
            if since is not None:
                # Work held back for a page in flight is due, but not before that page is sent
                # (its worker wakes us) or the hold's limit: no spinning meanwhile.
                until = since + PAGES_FIRST_MAX - self.clock()
                delay = min(IDLE_POLL, max(until.total_seconds(), 0.001))
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


def sqlite_path(url: str) -> Path | None:
    """The file behind a sqlite:/// URL, or None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


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
