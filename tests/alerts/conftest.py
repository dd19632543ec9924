"""Alert tests drive the app without the paging engine (see quiet_client in tests/conftest.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(quiet_client: TestClient) -> TestClient:
    return quiet_client
