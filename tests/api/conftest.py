"""The REST API tests drive the app without the background paging engine.

Everything the API does happens in the request's transaction (paging starts there too); the
engine's threads only add delivery work, and stopping its PostgreSQL listener costs about a
second per test. Both backends still run: `settings` and `db` come from tests/conftest.py.
"""

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
