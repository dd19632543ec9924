"""The OpenAPI document describes the API as it behaves: schemathesis with all its checks over
every operation, as an admin and as a stakeholder (short form; bench/api_fuzz.py is the long
one), and the behaviour changes the document now promises, each asserted directly."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api import fuzzing
from tests.api.helpers import assert_error, declare
from tests.conftest import World, build_world
from warroom.app import create_app
from warroom.config import Settings
from warroom.db import migrate
from warroom.db.engine import Database

# Small enough for CI with ~250 operations: examples and a few generated cases of every
# operation, as both roles. The coverage phase (every boundary of every parameter, every
# undeclared method: thousands of requests) and the stateful phase run in bench/api_fuzz.py.
CI_EXAMPLES = 3
CI_SEED = 7
CI_PHASES = ["examples", "fuzzing"]


@pytest.fixture
def fuzz_db(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    # In memory-backed storage where there is one: the admin run commits a few thousand
    # writes, and their fsyncs are most of its time on a disk.
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else tmp_path
    url = f"sqlite:///{base}/fuzz.db"
    db = Database(url)
    migrate.upgrade(db)
    yield url, db
    db.dispose()
    if base != tmp_path:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.timeout(420)
@pytest.mark.parametrize("role", ["admin", "stakeholder"])
def test_schemathesis_all_checks_find_nothing(role: str, fuzz_db: tuple[str, Database]) -> None:
    url, db = fuzz_db
    build_world(db)
    identities = fuzzing.make_identities(db)
    app = create_app(Settings(database_url=url, base_url="http://warroom.test"), db, False)
    guard = fuzzing.Guard(app, identities)
    started = time.monotonic()
    report = fuzzing.run(
        guard,
        identities[role].token,
        max_examples=CI_EXAMPLES,
        seed=CI_SEED,
        phases=CI_PHASES,
    )
    elapsed = time.monotonic() - started
    assert not report.failures and not report.errors, report.summary()
    documented = app.openapi()["paths"]
    assert len(report.operations) >= sum(len(ops) for ops in documented.values()) - 3, sorted(
        report.operations
    )
    assert fuzzing.still_signed_in(db, identities), "the run signed itself out"
    # The run reached the operations as its role, not only as an anonymous caller.
    assert report.statuses[200] > 50, report.statuses
    print(f"{role}: {report.cases} cases in {elapsed:.0f} s; {dict(report.statuses)}")


# --- what the document promises, one behaviour at a time ----------------------------------------


def _document(client: TestClient) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return dict(r.json())


def test_the_document_names_the_bearer_scheme_and_each_routes_errors(
    client: TestClient,
) -> None:
    doc = _document(client)
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    teams = doc["paths"]["/api/v1/teams"]
    assert teams["get"]["security"] == [{"bearerAuth": []}]
    assert set(teams["get"]["responses"]) == {"200", "401", "422"}
    assert {"400", "401", "403", "409", "422", "503"} <= set(teams["post"]["responses"])
    error = teams["post"]["responses"]["403"]["content"]["application/json"]["schema"]
    assert error["$ref"].endswith("/ErrorBody")
    assert "security" not in doc["paths"]["/healthz"]["get"]
    limit = next(p for p in teams["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 200 and limit["schema"]["minimum"] == 1
    # The intake bodies are described (they are read as raw bytes, so FastAPI cannot see them).
    body = doc["paths"]["/v2/enqueue"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["routing_key", "event_action"]


def test_a_wrong_method_answers_405_with_every_method_of_the_path(
    client: TestClient, world: World
) -> None:
    # Starlette named only the first route's method: OPTIONS /api/v1/teams said "Allow: GET".
    for method, path, allowed in (
        ("OPTIONS", "/api/v1/teams", "GET, POST"),
        ("PUT", "/api/v1/teams/1", "GET, PATCH"),
        ("POST", "/api/v1/users/1/contact-methods/1", "DELETE, PATCH"),
    ):
        r = client.request(method, path, headers=world.auth("admin"))
        err = assert_error(r, 405, "method_not_allowed")
        assert r.headers["allow"] == allowed, (path, r.headers)
        assert method in err["message"]


def test_patch_users_me_changes_your_own_profile(client: TestClient, world: World) -> None:
    # It used to match PATCH /users/{user_id} with "me" as the id (422).
    r = client.patch(
        "/api/v1/users/me", json={"name": "Carol C."}, headers=world.auth("stakeholder")
    )
    assert r.status_code == 200, r.text
    assert r.json()["id"] == world.stakeholder_id and r.json()["name"] == "Carol C."
    r = client.patch("/api/v1/users/me", json={"role": "admin"}, headers=world.auth("stakeholder"))
    assert_error(r, 403)


def test_numbers_are_not_timestamps(client: TestClient, world: World) -> None:
    # The document says ISO 8601 (format: date-time); a Unix time was silently read as one.
    auth = world.auth("responder")
    incident = declare(client, world)
    for bad in (1767225600, "1767225600", 1767225600.5):
        r = client.post(
            f"/api/v1/incidents/{incident['id']}/tasks",
            json={"title": "Roll back", "due_at": bad},
            headers=auth,
        )
        assert_error(r, 422)
        r = client.get("/api/v1/incidents", params={"since": str(bad)}, headers=auth)
        assert_error(r, 422)
        r = client.get("/api/v1/on-call", params={"at": str(bad)}, headers=auth)
        assert_error(r, 422)
    r = client.post(
        f"/api/v1/incidents/{incident['id']}/tasks",
        json={"title": "Roll back", "due_at": "2027-01-01T00:00:00Z"},
        headers=auth,
    )
    assert r.status_code == 201, r.text


def test_an_integral_number_is_an_integer_and_null_patches_are_refused(
    client: TestClient, world: World
) -> None:
    # JSON Schema's "integer" admits 2.0; strict validation refused it (422) while the
    # document promised it. 2.5 and "2" stay refused.
    auth = world.auth("responder")
    r = client.post(
        "/api/v1/incidents", json={"title": "Slow", "impact": 2.0, "urgency": 1}, headers=auth
    )
    assert r.status_code == 201, r.text
    assert r.json()["impact"] == 2
    for bad in (2.5, "2", True):
        r = client.post(
            "/api/v1/incidents", json={"title": "Slow", "impact": bad, "urgency": 1}, headers=auth
        )
        assert_error(r, 422)
    # null where the document now shows a plain type: refused by the schema, with the field.
    r = client.patch(
        f"/api/v1/services/{world.checkout_id}", json={"tier": None}, headers=world.auth("admin")
    )
    err = assert_error(r, 422)
    assert [d["field"] for d in err["details"]] == ["tier"]
    doc = _document(client)
    patch = doc["components"]["schemas"]["ServicePatch"]["properties"]
    assert patch["tier"]["type"] == "integer" and "anyOf" not in patch["tier"]
    assert {"type": "null"} in patch["team_id"]["anyOf"]  # null means "no team"


def test_an_alert_from_before_the_year_1000_does_not_break_the_alert_list(
    client: TestClient, world: World
) -> None:
    # Found by the fuzzer: the bulk insert wrote SQLite times with strftime("%Y"), which glibc
    # does not pad ("86-09-11 ..."); every GET /api/v1/alerts then failed with a 500.
    r = client.post(
        f"/integrations/generic/{world.generic_key}",
        json={"summary": "old clock", "severity": "info", "started_at": "0086-09-11T12:26:54Z"},
    )
    assert r.status_code == 202, r.text
    r = client.get("/api/v1/alerts", headers=world.auth("stakeholder"))
    assert r.status_code == 200, r.text
    assert r.json()["items"][0]["started_at"].startswith("0086-09-11T12:26:54")


def test_a_nul_character_is_refused_alike_on_both_databases(
    client: TestClient, world: World
) -> None:
    # SQLite stored "a\u0000b"; PostgreSQL failed in the driver and answered 422 "out of range
    # (an id that cannot exist?)". Now the schema refuses it, naming the field, and says so.
    r = client.post("/api/v1/teams", json={"name": "a\u0000b"}, headers=world.auth("admin"))
    err = assert_error(r, 422)
    assert [d["field"] for d in err["details"]] == ["name"]
    assert "NUL" in err["details"][0]["message"]
    r = client.get("/api/v1/teams", headers=world.auth("admin"))
    assert r.json()["items"] == []
    pattern = _document(client)["components"]["schemas"]["TeamIn"]["properties"]["description"]
    assert pattern["pattern"] == "^[^\\x00]*$"
