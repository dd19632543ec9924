"""The monitor loop: a sibling of the paging engine in the engine process, never in its way.

One thread sweeps silent heartbeats and claims due checks; the checks run on a pool of their
own (`WARROOM_CHECK_WORKERS` threads, never more claimed than free workers), so a hundred slow
targets delay other checks, never a page: the paging engine's timers and deliveries have their
own thread and pool. Finished runs are recorded in one short transaction per pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from warroom.alerts.service import IngestResult
from warroom.config import Settings
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.monitors import checks, service
from warroom.monitors.probe import ProbeResult, probe

log = logging.getLogger("warroom.monitors")
# Even with nothing due, look again this often; a new heartbeat or check is seen by then.
IDLE_POLL = 1.0
# Finished check runs wait at most this long to be recorded together; also the shortest
# sleep of the loop, so a backlog of due checks never makes it spin.
RECORD_EVERY = 0.5


class MonitorLoop:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        on_commit: Callable[[list[IngestResult]], None] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.on_commit = on_commit
        self.workers = settings.check_workers
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="check")
        self._busy = 0
        self._lock = threading.Lock()
        self._finished: list[tuple[int, ProbeResult]] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one pass (tests call these with a fake clock) ------------------------------------

    def sweep(self, now: datetime) -> int:
        with self.db.session() as session:
            count, results = service.sweep_heartbeats(session, now, self.settings.priority_matrix)
        self._committed(results)
        return count

    def start_checks(self, now: datetime, wait: bool = False) -> int:
        with self._lock:
            free = self.workers - self._busy
        if free <= 0:
            return 0
        with self.db.session() as session:
            claimed = checks.claim_due(session, now, free)
        with self._lock:
            self._busy += len(claimed)
        futures = [self._pool.submit(self._run_one, c) for c in claimed]
        if wait:
            for f in futures:
                f.result()
        return len(claimed)

    def _run_one(self, claimed: checks.Claimed) -> None:
        try:
            result = probe(claimed.spec, self.settings.outbound_allow_networks)
        except Exception as exc:  # a bug in one probe must not stop the others
            log.exception("check %s failed to run", claimed.check_id)
            result = ProbeResult(False, error=f"internal error: {type(exc).__name__}")
        with self._lock:
            self._finished.append((claimed.check_id, result))
            self._busy -= 1
        # No wake-up per result: the loop records what finished at most every RECORD_EVERY
        # seconds, in one transaction (a write per result would take SQLite's writer lock
        # from paging once per check).

    def record_finished(self, now: datetime) -> int:
        with self._lock:
            finished, self._finished = self._finished, []
        if not finished:
            return 0
        try:
            with self.db.session() as session:
                results = checks.record_results(
                    session, finished, now, self.settings.priority_matrix
                )
        except Exception:
            with self._lock:  # keep them for the next pass
                self._finished = finished + self._finished
            raise
        self._committed(results)
        return len(finished)

    def run_once(self, now: datetime | None = None, wait: bool = False) -> None:
        now = now or self.clock()
        # One read first: an idle pass takes no write lock (on SQLite, intake's writer lock).
        with self.db.read_session() as session:
            deadline = service.next_deadline(session)
            due_check = checks.next_run(session)
        if deadline is not None and deadline <= now:
            self.sweep(now)
        if due_check is not None and due_check <= now:
            self.start_checks(now, wait=wait)
        self.record_finished(now if wait else self.clock())

    def _committed(self, results: list[IngestResult]) -> None:
        if results and self.on_commit is not None:
            try:
                self.on_commit(results)
            except Exception:
                log.exception("after-commit hook failed")

    def next_due(self) -> datetime | None:
        with self.db.read_session() as session:
            candidates = [service.next_deadline(session), checks.next_run(session)]
        found = [c for c in candidates if c is not None]
        return min(found) if found else None

    # --- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="monitors", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_once()
                due = self.next_due()
            except Exception:
                log.exception("monitor pass failed; retrying")
                due = None
                self._stop.wait(1.0)
            delay = IDLE_POLL
            if due is not None:
                delay = min(max((due - self.clock()).total_seconds(), RECORD_EVERY), IDLE_POLL)
            self._wake.wait(delay)
