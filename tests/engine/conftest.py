"""Engine tests drive the engine's clock themselves: the app runs without its own engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from warroom.app import create_app
from warroom.config import Settings
from warroom.db.engine import Database


@pytest.fixture
def quiet_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    """The API without its own engine thread: the test drives the engine's clock."""
    with TestClient(create_app(settings, db, run_engine=False)) as client:
        yield client
