"""Group commit: many concurrent intake requests share one transaction on one writer thread.

A request is answered only after the transaction holding its events has committed (durable before
acknowledged). Throughput comes from batching: while one commit is on disk the next batch forms.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError

from warroom.alerts.service import IngestResult, ingest_batch
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.incidents.logic import Matrix
from warroom.intake.common import ParsedRequest

log = logging.getLogger("warroom.intake")

# A conflicting concurrent writer (another process on PostgreSQL) makes a batch retry from a
# fresh read; after this many tries the requests get a 503 and their clients retry.
MAX_TRIES = 4


@dataclass
class _Pending:
    request: ParsedRequest
    future: asyncio.Future[IngestResult]
    loop: asyncio.AbstractEventLoop


class GroupCommitter:
    def __init__(
        self,
        db: Database,
        matrix: Matrix,
        max_alerts: int = 5000,
        on_commit: Callable[[list[IngestResult]], None] | None = None,
    ) -> None:
        self.db = db
        self.matrix = matrix
        self.max_alerts = max_alerts
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    async def submit(self, request: ParsedRequest) -> IngestResult:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._queue.put(_Pending(request, future, loop))
        return await future

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

    def _commit(self, batch: list[_Pending]) -> None:
        requests = [p.request for p in batch]
        error: BaseException | None = None
        results: list[IngestResult] = []
        for attempt in range(MAX_TRIES):
            try:
                with self.db.background_session() as session:
                    results = ingest_batch(session, requests, utcnow(), self.matrix)
                error = None
                break
            except (IntegrityError, OperationalError) as exc:
                error = exc
                log.warning("group commit conflict, retrying (%s): %s", attempt + 1, exc.orig)
                time.sleep(0.005 * (attempt + 1))
            except Exception as exc:  # a bug must fail its requests, not kill the writer thread
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
        for i, pending in enumerate(batch):
            if error is None:
                pending.loop.call_soon_threadsafe(_resolve, pending.future, results[i], None)
            else:
                pending.loop.call_soon_threadsafe(_resolve, pending.future, None, error)


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
