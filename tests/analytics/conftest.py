"""Metrics tests drive the API without the background engine."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(quiet_client: TestClient) -> TestClient:
    return quiet_client
