"""The on-call API tests drive the app without its background paging engine (as tests/api do):
nothing here pages, and stopping the engine's PostgreSQL listener costs a second per test."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from warroom.app import create_app
from warroom.config import Settings
from warroom.db.engine import Database


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    kwargs = (
        {"run_engine": False} if "run_engine" in inspect.signature(create_app).parameters else {}
    )
    app = create_app(settings, db, **kwargs)
    with TestClient(app) as test_client:
        yield test_client
