"""Group commit: many concurrent intake requests share one transaction on one writer thread.

A request is answered only after the transaction holding its events has committed (durable before
acknowledged). Throughput comes from batching: while one commit is on disk the next batch forms.

Back-pressure: at most `queue_limit` requests wait (queued or being committed) at any time, and a
request waits at most `deadline` seconds for its commit. Past either bound, or when the database
refuses the commit, `submit` raises `IntakeUnavailable` and the request is answered 503 with
Retry-After; such a request is never stored afterwards, so the client can resend it safely.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from warroom.alerts.service import BatchCache, IngestResult, ingest_batch
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.incidents.logic import Matrix
from warroom.intake.common import ParsedRequest

log = logging.getLogger("warroom.intake")

# A conflicting concurrent writer (another process on PostgreSQL) makes a batch retry from a
# fresh read; after this many tries the requests get a 503 and their clients retry.
MAX_TRIES = 4
# Seconds a client is told to wait: a full queue drains within a few commits; a database that
# refused a commit (down, restarting, full) needs longer before a retry has a chance.
RETRY_AFTER_FULL = 1
RETRY_AFTER_DATABASE = 5

# The life of one request in the committer: QUEUED -> COMMITTING -> ANSWERED, or
# QUEUED -> ABANDONED when its deadline passes first (then it is never committed).
_QUEUED, _COMMITTING, _ABANDONED, _ANSWERED = 0, 1, 2, 3


class IntakeUnavailable(Exception):
    """The request was not stored and may be sent again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class _Abandoned(Exception):
    """Raised inside a batch's transaction to roll it back: a request in it gave up waiting."""


@dataclass(eq=False)
class _Pending:
    request: ParsedRequest
    future: asyncio.Future[IngestResult]
    loop: asyncio.AbstractEventLoop
    state: int = _QUEUED


def describe_failure(exc: BaseException) -> str:
    """What a client is told when the database refused the commit (no internals)."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    if "full" in text or "no space" in text or "disk quota" in text:
        return "the database is full (disk or size limit reached); nothing was stored, retry later"
    return "the database is unavailable; nothing was stored, retry later"


class GroupCommitter:
    def __init__(
        self,
        db: Database,
        matrix: Matrix,
        max_alerts: int = 5000,
        on_commit: Callable[[list[IngestResult]], None] | None = None,
        queue_limit: int = 10_000,
        deadline: float = 10.0,
    ) -> None:
        self.db = db
        self.matrix = matrix
        self.max_alerts = max_alerts
        self.on_commit = on_commit
        self.queue_limit = queue_limit
        self.deadline = deadline
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Guards every _Pending.state change and the depth count.
        self._lock = threading.Lock()
        self._depth = 0
        self.batches = 0
        # SQLite: the writer thread keeps one connection, so the cache's PRAGMA data_version
        # check sees every other connection's commits (ADR 13). PostgreSQL: a pooled session
        # per batch (API processes share the database; nothing is cached across batches).
        self.cache = BatchCache()
        self._conn: Connection | None = None

    @property
    def depth(self) -> int:
        """Requests queued or being committed and not yet answered."""
        return self._depth

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None
        self._drop_connection()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """The batch's unit of work: commits on success, rolls back (and forgets the cache and,
        on SQLite, the writer's connection) on any error."""
        if not self.db.is_sqlite:
            with self.db.session() as session:
                yield session
            return
        if self._conn is None:
            self._conn = self.db.engine.connect()
        try:
            with Session(bind=self._conn, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        except BaseException:
            self.cache.clear()
            self._drop_connection()
            raise

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a broken connection: the pool discards it
                log.debug("closing the writer's connection failed", exc_info=True)

    async def submit(self, request: ParsedRequest) -> IngestResult:
        """The stored outcome, once committed; IntakeUnavailable if it was not stored."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        pending = _Pending(request, future, loop)
        with self._lock:
            if self._depth >= self.queue_limit:
                raise IntakeUnavailable(
                    "intake is overloaded: too many requests are waiting to be stored; "
                    "nothing was stored, retry later",
                    RETRY_AFTER_FULL,
                )
            self._depth += 1
        self._queue.put(pending)
        expiry = loop.call_later(self.deadline, self._expire, pending)
        try:
            return await future
        finally:
            expiry.cancel()

    def _expire(self, pending: _Pending) -> None:
        """On the request's event loop, when its deadline passes before it was answered."""
        with self._lock:
            if pending.state == _COMMITTING:
                # Its transaction is committing right now: the outcome is a matter of moments,
                # and answering before it would tell the client something that may be untrue.
                pending.loop.call_later(self.deadline, self._expire, pending)
                return
            if pending.state != _QUEUED:
                return
            pending.state = _ABANDONED
            self._depth -= 1
        if not pending.future.done():
            pending.future.set_exception(
                IntakeUnavailable(
                    f"intake could not store the request within {self.deadline:g} s; "
                    "nothing was stored, retry later",
                    RETRY_AFTER_FULL,
                )
            )

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            size = len(first.request.signals)
            while size < self.max_alerts:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
                size += len(item.request.signals)
            self._commit(batch)

    def _claim(self, batch: list[_Pending]) -> None:
        """Right before COMMIT: the batch's requests can no longer give up; any that already
        did makes the transaction roll back (raise _Abandoned) so the rest commit without it."""
        with self._lock:
            if any(p.state == _ABANDONED for p in batch):
                raise _Abandoned
            for p in batch:
                p.state = _COMMITTING

    def _commit(self, batch: list[_Pending]) -> None:
        error: BaseException | None = None
        results: list[IngestResult] = []
        attempt = 0
        while True:
            with self._lock:
                batch = [p for p in batch if p.state != _ABANDONED]
            if not batch:
                return
            try:
                requests = [p.request for p in batch]
                with self._session() as session:
                    results = ingest_batch(session, requests, utcnow(), self.matrix, self.cache)
                    self._claim(batch)
                error = None
                break
            except _Abandoned:
                continue  # each pass drops at least one request: this ends
            except DBAPIError as exc:
                # Conflicts (IntegrityError) and an unavailable or full database alike: the
                # transaction rolled back, so after the retries the requests get a 503.
                self._unclaim(batch)
                error = exc
                attempt += 1
                log.warning("group commit failed, try %s of %s: %s", attempt, MAX_TRIES, exc.orig)
                if attempt >= MAX_TRIES:
                    break
                time.sleep(0.005 * attempt)
            except Exception as exc:  # a bug must fail its requests, not kill the writer thread
                self._unclaim(batch)
                if len(batch) > 1:
                    # One bad request must not fail the others that shared its transaction:
                    # commit each alone, so only the culprit gets the error.
                    for pending in batch:
                        self._commit([pending])
                    return
                log.exception("group commit failed")
                error = exc
                break
        self.batches += 1
        if error is None and self.on_commit is not None:
            try:
                self.on_commit(results)
            except Exception:
                log.exception("after-commit hook failed")
        if isinstance(error, DBAPIError):
            error = IntakeUnavailable(describe_failure(error), RETRY_AFTER_DATABASE)
        with self._lock:
            # A request may have given up while a failed try was waiting for the next one.
            answered = [(i, p) for i, p in enumerate(batch) if p.state != _ABANDONED]
            for _, p in answered:
                p.state = _ANSWERED
            self._depth -= len(answered)
        for i, pending in answered:
            if error is None:
                pending.loop.call_soon_threadsafe(_resolve, pending.future, results[i], None)
            else:
                pending.loop.call_soon_threadsafe(_resolve, pending.future, None, error)

    def _unclaim(self, batch: list[_Pending]) -> None:
        """The transaction rolled back: its requests may give up again while it is retried."""
        with self._lock:
            for p in batch:
                if p.state == _COMMITTING:
                    p.state = _QUEUED


def _resolve(
    future: asyncio.Future[IngestResult], result: IngestResult | None, error: BaseException | None
) -> None:
    if future.done():  # the client went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)
