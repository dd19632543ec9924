"""The app without the paging engine, for intake tests: intake never needs it, and stopping the
engine's PostgreSQL LISTEN loop costs up to a second per test. The e2e tests run the whole thing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from warroom.app import create_app
from warroom.config import Settings
from warroom.db.engine import Database


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db, run_engine=False)) as test_client:
        yield test_client
