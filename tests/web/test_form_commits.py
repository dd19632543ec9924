"""Web forms answer after their commit: a commit the database refuses shows a 503 page (with
Retry-After) and nothing of the form is stored."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.test_unit_of_work import FailingCommits, failing  # noqa: F401 - the fixture
from tests.conftest import count_rows
from tests.web.conftest import PASSWORD, Web
from tests.web.helpers import declared
from warroom.app import create_app
from warroom.config import Settings
from warroom.db.engine import Database


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    # Without the paging engine: the commit made to fail must be the form's, not an engine pass.
    with TestClient(create_app(settings, db, run_engine=False)) as test_client:
        yield test_client


def _not_saved(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert "text/html" in r.headers["content-type"]
    assert "nothing was changed" in r.text and int(r.headers["retry-after"]) > 0


def test_a_declared_incident_whose_commit_fails_is_not_stored(
    web: Web,
    failing: FailingCommits,  # noqa: F811
) -> None:
    bob = web.browser("responder")
    form = {"title": "Search is down", "impact": "1", "urgency": "1"}
    failing.fail_next()
    _not_saved(bob.post("/incidents/new", form))
    for table in ("incidents", "timeline_events", "notifications", "timers"):
        assert count_rows(web.db, table) == 0, table
    assert "Search is down" not in bob.get("/").text
    r = bob.post("/incidents/new", form)  # the database is back
    assert r.status_code == 303 and count_rows(web.db, "incidents") == 1


def test_a_note_and_an_acknowledgement_whose_commit_fails_are_not_stored(
    web: Web,
    failing: FailingCommits,  # noqa: F811
) -> None:
    incident_id = declared(web)
    bob = web.browser("responder")
    url = f"/incidents/{incident_id}"
    failing.fail_next()
    _not_saved(bob.post(f"{url}/notes", {"text": "Failover started"}))
    assert "Failover started" not in bob.get(url).text
    failing.fail_next()
    _not_saved(bob.post(f"{url}/actions/acknowledge", {}))
    got = web.base.get(f"/api/v1/incidents/{incident_id}", headers=web.world.auth())
    assert got.json()["status"] == "triggered"
    assert failing.failed == 2


def test_a_password_change_whose_commit_fails_keeps_the_old_password(
    web: Web,
    failing: FailingCommits,  # noqa: F811
) -> None:
    bob = web.browser("responder")
    form = {
        "current_password": PASSWORD,
        "new_password": "a brand new password",
        "confirm_password": "a brand new password",
    }
    failing.fail_next()
    _not_saved(bob.post("/account/password", form))
    assert web.browser().login("bob", PASSWORD).status_code == 303
    assert web.browser().login("bob", "a brand new password").status_code == 401
