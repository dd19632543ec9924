"""The on-call API tests drive the app without its background paging engine (as tests/api do):
nothing here pages. See quiet_client in tests/conftest.py."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(quiet_client: TestClient) -> TestClient:
    return quiet_client
