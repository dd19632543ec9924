"""Every write answers only after its commit: a commit the database refuses answers 503 (with
Retry-After) and nothing of the request is stored.

These tests also guard the FastAPI version: the commit sits in a dependency whose exit code
must run before the reply is sent. Should a FastAPI release move it after the reply again, the
failing commit would answer 201 here and these tests fail.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.api.helpers import assert_error, declare
from tests.conftest import World, count_rows
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.notify.signing import make_action_token


@dataclass
class FailingCommits:
    """Makes the next `count` commits of write sessions fail as a full disk would."""

    count: int = 0
    failed: int = 0

    def fail_next(self, count: int = 1) -> None:
        self.count = count


@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> FailingCommits:
    control = FailingCommits()
    real_commit = Session.commit

    def commit(self: Session) -> None:
        if control.count > 0:
            control.count -= 1
            control.failed += 1
            self.flush()  # the statements ran; only the COMMIT fails
            raise OperationalError("COMMIT", None, sqlite3.OperationalError("disk I/O error"))
        real_commit(self)

    monkeypatch.setattr(Session, "commit", commit)
    return control


@pytest.fixture
def warm(client: TestClient, world: World) -> Iterator[World]:
    # The first use of a token records last_used_at in a commit of its own: done here, so the
    # commit made to fail is the request's own.
    for who in ("admin", "responder", "stakeholder"):
        assert client.get("/api/v1/users/me", headers=world.auth(who)).status_code == 200
    yield world


def _unavailable(r: Any) -> None:
    err = assert_error(r, 503, "unavailable")
    assert "nothing was changed" in err["message"]
    assert int(r.headers["retry-after"]) > 0


def test_a_create_whose_commit_fails_answers_503_and_stores_nothing(
    client: TestClient, warm: World, failing: FailingCommits, db: Database
) -> None:
    admin = warm.auth("admin")
    creates = [
        ("/api/v1/services", {"name": "search", "tier": 2}, "services"),
        ("/api/v1/teams", {"name": "Search team"}, "teams"),
        ("/api/v1/incidents", {"title": "Search is down", "impact": 1, "urgency": 1}, "incidents"),
    ]
    for path, body, table in creates:
        before = count_rows(db, table)
        failing.fail_next()
        _unavailable(client.post(path, json=body, headers=admin))
        assert count_rows(db, table) == before, path  # the id it would have had is not there
        # The database is back: the same request works, and is stored once.
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 201, r.text
        assert count_rows(db, table) == before + 1
    assert failing.failed == 3


def test_a_declared_incident_whose_commit_fails_leaves_no_page_or_timeline(
    client: TestClient, warm: World, failing: FailingCommits, db: Database
) -> None:
    failing.fail_next()
    r = client.post(
        "/api/v1/incidents",
        json={
            "title": "Checkout down",
            "impact": 1,
            "urgency": 1,
            "service_ids": [warm.checkout_id],
        },
        headers=warm.auth(),
    )
    _unavailable(r)
    for table in ("incidents", "timeline_events", "notifications", "timers"):
        assert count_rows(db, table) == 0, table
    listed = client.get("/api/v1/incidents", headers=warm.auth()).json()
    assert listed["items"] == []


def test_a_note_and_an_update_whose_commit_fails_are_not_stored(
    client: TestClient, warm: World, failing: FailingCommits
) -> None:
    incident = declare(client, warm)
    timeline = f"/api/v1/incidents/{incident['id']}/timeline"
    events = len(client.get(timeline, headers=warm.auth()).json()["items"])

    failing.fail_next()
    r = client.post(
        f"/api/v1/incidents/{incident['id']}/notes",
        json={"text": "Rolled back the deploy"},
        headers=warm.auth(),
    )
    _unavailable(r)
    texts = [e.get("body", "") for e in client.get(timeline, headers=warm.auth()).json()["items"]]
    assert len(texts) == events and not any("Rolled back" in str(t) for t in texts)

    failing.fail_next()
    path = f"/api/v1/services/{warm.checkout_id}"
    _unavailable(client.patch(path, json={"name": "renamed"}, headers=warm.auth("admin")))
    assert client.get(path, headers=warm.auth()).json()["name"] == "checkout-api"

    failing.fail_next()
    action = f"/api/v1/incidents/{incident['id']}/acknowledge"
    _unavailable(client.post(action, headers=warm.auth()))
    got = client.get(f"/api/v1/incidents/{incident['id']}", headers=warm.auth()).json()
    assert got["status"] == "triggered"


def test_a_commit_the_postgresql_server_refuses_answers_503(
    client: TestClient, warm: World, db: Database, backend: str
) -> None:
    """No patching: a deferred constraint trigger that fails only at COMMIT, in the server."""
    if backend != "postgresql":
        pytest.skip("deferred constraint triggers are PostgreSQL's")
    with db.session() as s:
        s.execute(
            text(
                "CREATE FUNCTION refuse_search() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.name = 'search' THEN RAISE EXCEPTION 'refused at commit'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        s.execute(
            text(
                "CREATE CONSTRAINT TRIGGER refuse_search AFTER INSERT ON services "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_search()"
            )
        )
    try:
        r = client.post("/api/v1/services", json={"name": "search"}, headers=warm.auth("admin"))
        assert_error(r, 503, "unavailable")
        names = [
            s["name"] for s in client.get("/api/v1/services", headers=warm.auth()).json()["items"]
        ]
        assert "search" not in names
    finally:
        with db.session() as s:
            s.execute(text("DROP TRIGGER refuse_search ON services"))
            s.execute(text("DROP FUNCTION refuse_search()"))


def test_a_read_answers_although_noting_the_tokens_last_use_fails(
    client: TestClient, world: World, failing: FailingCommits
) -> None:
    failing.fail_next()  # the token was never used: the read's only commit is last_used_at
    r = client.get("/api/v1/users/me", headers=world.auth("stakeholder"))
    assert r.status_code == 200 and r.json()["username"] == "carol"
    assert failing.failed == 1


# --- signed action links ---------------------------------------------------------------------


def _link(client: TestClient, action: str, user_id: int, incident_id: int) -> str:
    secret = client.app.state.secret  # type: ignore[attr-defined]
    expires = utcnow() + timedelta(hours=1)
    return "/act/" + make_action_token(secret, action, user_id, incident_id, expires)


def _status(client: TestClient, world: World, incident_id: int) -> str:
    r = client.get(f"/api/v1/incidents/{incident_id}", headers=world.auth())
    return str(r.json()["status"])


def test_an_action_link_says_paging_stopped_only_once_it_is_stored(
    client: TestClient, warm: World, failing: FailingCommits
) -> None:
    incident = declare(client, warm)
    url = _link(client, "ack", warm.responder_id, incident["id"])
    failing.fail_next()
    r = client.post(url)
    assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
    assert "text/html" in r.headers["content-type"]
    assert "Paging has stopped" not in r.text and "nothing was changed" in r.text
    assert _status(client, warm, incident["id"]) == "triggered"
    r = client.post(url)
    assert r.status_code == 200 and "Paging has stopped" in r.text
    assert _status(client, warm, incident["id"]) == "acknowledged"


def test_a_link_does_only_what_its_holders_role_allows_when_used(
    client: TestClient, warm: World
) -> None:
    incident = declare(client, warm)
    # A stakeholder was paged (mobilised) and got acknowledge and resolve links.
    for action in ("ack", "resolve"):
        url = _link(client, action, warm.stakeholder_id, incident["id"])
        shown = client.get(url)
        assert shown.status_code == 403 and "<button" not in shown.text
        r = client.post(url)
        assert r.status_code == 403 and "stakeholder" in r.text, r.text
        assert "Paging has stopped" not in r.text
    assert _status(client, warm, incident["id"]) == "triggered"
    # The API refuses them the same.
    r = client.post(f"/api/v1/incidents/{incident['id']}/resolve", headers=warm.auth("stakeholder"))
    assert r.status_code == 403

    # A responder's link stops working once they are demoted, though it was sent before.
    url = _link(client, "resolve", warm.responder_id, incident["id"])
    r = client.patch(
        f"/api/v1/users/{warm.responder_id}",
        json={"role": "stakeholder"},
        headers=warm.auth("admin"),
    )
    assert r.status_code == 200, r.text
    assert client.post(url).status_code == 403
    assert _status(client, warm, incident["id"]) == "triggered"
    # And a stakeholder's view link still shows the incident.
    view = _link(client, "view", warm.stakeholder_id, incident["id"])
    assert client.get(view).status_code == 200


# --- the one writer lock (SQLite) ------------------------------------------------------------


def test_every_sqlite_writer_takes_the_one_writer_lock_from_begin_to_end(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    db, second = Database(url), Database(url)  # two handles on one file: one lock
    assert db.writer_lock is not None and db.writer_lock is second.writer_lock
    lock = db.writer_lock
    try:
        with db.session() as s:
            assert not lock.locked()  # a session that has not begun holds nothing
            s.execute(text("CREATE TABLE t (n INTEGER)"))
            assert lock.locked()
        assert not lock.locked()
        with db.session() as s:  # the background writers' session: the same lock
            s.execute(text("INSERT INTO t VALUES (1)"))
            assert lock.locked()
            # A writer that may not wait (a "last seen" touch) gives up at once.
            with pytest.raises(OperationalError), second.session(writer_wait=0):
                pass
        assert not lock.locked()
        with pytest.raises(RuntimeError), db.session() as s:  # rolled back: released
            s.execute(text("INSERT INTO t VALUES (2)"))
            raise RuntimeError("refused")
        assert not lock.locked()
        # Begun in one thread and committed in another (a request's unit of work does that).
        session = db.open_session()
        worker = threading.Thread(target=lambda: session.execute(text("INSERT INTO t VALUES (3)")))
        worker.start()
        worker.join()
        assert lock.locked()
        session.commit()
        session.close()
        assert not lock.locked()
        with db.read_session() as s:
            assert s.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 3]
    finally:
        db.dispose()
        second.dispose()
