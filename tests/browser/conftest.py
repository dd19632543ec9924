"""Chromium driven by Playwright against the real `warroom serve --demo` process.

Uses Debian's Chromium (/usr/bin/chromium): Playwright's own browser download is never needed.
Skipped when Playwright or Chromium is missing; .ci/run installs both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import ROOT, Server, run_server

CHROMIUM = os.environ.get("WARROOM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# The README's pictures are refreshed only on request (`./dev screenshots` sets this to
# docs/screenshots): a test run never rewrites tracked files.
README_SCREENSHOTS = (
    Path(os.environ["WARROOM_README_SCREENSHOTS"])
    if os.environ.get("WARROOM_README_SCREENSHOTS")
    else None
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("browser") / "warroom.db"
    with run_server(f"sqlite:///{path}") as running:
        yield running


@pytest.fixture(scope="module")
def chromium(server: Server) -> Iterator[Any]:
    """Launched after the server, so it is closed (and its event streams with it) before."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
