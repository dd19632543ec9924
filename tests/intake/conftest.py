"""Intake tests drive the app without the paging engine: intake never needs it (see quiet_client
in tests/conftest.py). The e2e tests run the whole thing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(quiet_client: TestClient) -> TestClient:
    return quiet_client
