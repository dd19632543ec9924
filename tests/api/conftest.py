"""The REST API tests drive the app without the background paging engine (see quiet_client in
tests/conftest.py). Both backends still run: `settings` and `db` come from tests/conftest.py."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(quiet_client: TestClient) -> TestClient:
    return quiet_client
