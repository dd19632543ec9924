"""Engine and session factory for SQLite (WAL, durable commits) and PostgreSQL, and the one
writer lock every SQLite write transaction takes."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

# As long as SQLite's own busy_timeout: a writer waits this long for its turn, then fails the
# same way SQLite would ("database is locked"), which the API and pages answer with 503.
WRITER_WAIT_SECONDS = 30.0
# Execution option: how long this session's transaction may wait for the writer lock (0 = take
# it only if it is free; for best-effort bookkeeping writes such as "last seen").
WRITER_WAIT = "warroom_writer_wait"


def normalise_url(url: str) -> str:
    """Accept plain postgres URLs and pick the psycopg 3 driver we ship with."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


JSON_CODEC = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


class WriterBusy(OperationalError):
    """The writer lock was not free within the wait allowed (SQLite's "database is locked")."""


# One lock per database file, shared by every Database object of this process on that file
# (the app and the CLI's helpers, tests opening a second handle), so they queue in order
# instead of polling SQLite's busy handler.
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _writer_lock(path: str | None) -> threading.Lock:
    if not path or path == ":memory:":
        return threading.Lock()
    key = os.path.realpath(Path(path).expanduser())
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


class _WriterConnection(sqlite3.Connection):
    """A connection of the write engine: holds the writer lock from BEGIN IMMEDIATE until its
    transaction has ended (commit, rollback, or close), whichever thread ends it.

    The lock is a plain (not thread-owned) Lock taken at BEGIN, not when a session is opened:
    a request may open a write session in one thread and commit it from another, and may make
    a second short write (a token's last_used_at) before its own session has begun; a lock
    held from session open to session close would deadlock both."""

    writer_lock: threading.Lock
    _holds_lock = False

    def begin_immediate(self, wait: float) -> None:
        if wait > 0:
            acquired = self.writer_lock.acquire(timeout=wait)
        else:
            acquired = self.writer_lock.acquire(blocking=False)
        if not acquired:
            locked = sqlite3.OperationalError("database is locked")
            raise WriterBusy("BEGIN IMMEDIATE", None, locked)
        self._holds_lock = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._release()
            raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc

    def _release(self) -> None:
        if self._holds_lock and not self.in_transaction:
            self._holds_lock = False
            self.writer_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            # A COMMIT that failed with the transaction still open keeps the lock until the
            # rollback that follows.
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._holds_lock:
                self._holds_lock = False
                self.writer_lock.release()


def _sqlite_engine(url: str, lock: threading.Lock | None, **kwargs: Any) -> Engine:
    """The write engine (with `lock`: every transaction is BEGIN IMMEDIATE under the writer
    lock) or the read engine (no lock: deferred BEGIN, readers never wait for writers in WAL)."""
    connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": 30}
    if lock is not None:
        connect_args["factory"] = _WriterConnection
    engine = create_engine(url, connect_args=connect_args, **JSON_CODEC, **kwargs)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite must not emit its own BEGIN: the "begin" hook below does.
        dbapi_conn.isolation_level = None
        if lock is not None:
            dbapi_conn.writer_lock = lock
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before we answer 2xx (durable before acknowledged).
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    if lock is None:

        @event.listens_for(engine, "begin")
        def _begin_read(conn: Any) -> None:
            # Straight to the driver: this runs once per transaction.
            conn.connection.driver_connection.execute("BEGIN")

    else:
        # A writer takes the writer lock, then the SQLite write lock at BEGIN, so writers of
        # this process queue in order (the lock hands the turn over the moment the previous
        # writer commits; SQLite alone makes a blocked writer sleep and poll, up to 100 ms a
        # nap) and never fail because a deferred read lock cannot be upgraded.
        @event.listens_for(engine, "begin")
        def _begin_write(conn: Any) -> None:
            wait = conn.get_execution_options().get(WRITER_WAIT, WRITER_WAIT_SECONDS)
            conn.connection.driver_connection.begin_immediate(wait)

    return engine


class Database:
    """The engines and session factories; passed around instead of a global."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.writer_lock: threading.Lock | None = _writer_lock(parsed.database)
            self.engine = _sqlite_engine(self.url, self.writer_lock, **kwargs)
            self.read_engine = _sqlite_engine(self.url, None, **kwargs)
        else:
            kwargs.setdefault("pool_size", 10)
            kwargs.setdefault("max_overflow", 20)
            self.engine = create_engine(self.url, pool_pre_ping=True, **JSON_CODEC, **kwargs)
            self.read_engine = self.engine
            self.writer_lock = None
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = sessionmaker(self.read_engine, expire_on_commit=False)

    def open_session(self) -> Session:
        """A write session that the caller commits and closes (the API's unit of work).

        On SQLite its transaction holds the writer lock from its first statement to its end:
        do slow work (password hashing, outbound HTTP, rendering) before or after, never in
        between."""
        return self.sessionmaker()

    @contextmanager
    def session(self, writer_wait: float | None = None) -> Iterator[Session]:
        """A writing unit of work: commits on success, rolls back on any error.

        `writer_wait` bounds the wait for SQLite's writer lock (0: only if it is free at once);
        the transaction then begins at once, and WriterBusy says the turn did not come."""
        with self.sessionmaker() as session:
            try:
                if writer_wait is not None:
                    session.connection(execution_options={WRITER_WAIT: writer_wait})
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        with self.read_sessionmaker() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
