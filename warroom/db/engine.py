"""Engine and session factory for SQLite (WAL, durable commits) and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


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


def _sqlite_engine(url: str, immediate: bool, **kwargs: Any) -> Engine:
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, **JSON_CODEC, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite must not emit its own BEGIN: the "begin" hook below does.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before we answer 2xx (durable before acknowledged).
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    # A writer takes the write lock at BEGIN, so concurrent writers queue on busy_timeout instead
    # of failing when a deferred read lock cannot be upgraded. Readers begin deferred and never
    # wait for writers (WAL).
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Straight to the driver: this runs once per transaction on the intake hot path.
        conn.connection.driver_connection.execute(begin)

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
            self.engine = _sqlite_engine(self.url, immediate=True, **kwargs)
            self.read_engine = _sqlite_engine(self.url, immediate=False, **kwargs)
        else:
            kwargs.setdefault("pool_size", 10)
            kwargs.setdefault("max_overflow", 20)
            self.engine = create_engine(self.url, pool_pre_ping=True, **JSON_CODEC, **kwargs)
            self.read_engine = self.engine
        self._write_lock = threading.RLock()
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A writing unit of work: commits on success, rolls back on any error."""
        with self.sessionmaker() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def background_session(self) -> Iterator[Session]:
        """A write session for the background writers (group commit, engine).

        On SQLite they take turns on a lock before BEGIN IMMEDIATE: SQLite makes a blocked
        writer sleep and poll (up to 100 ms a nap), so under intake load a page could wait
        hundreds of milliseconds behind group commits; the lock hands the turn over the moment
        the previous writer commits. Request handlers keep plain sessions: they may open a
        second session from another thread, which a thread-owned lock would deadlock."""
        if not self.is_sqlite:
            with self.session() as session:
                yield session
            return
        with self._write_lock, self.session() as session:
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        with self.read_sessionmaker() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
