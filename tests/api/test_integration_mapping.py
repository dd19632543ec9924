"""Mappings through the REST API: saved with the integration, refused with the field named,
tried on a pasted payload without storing anything."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, count_rows

SAMPLE = {"title": "Disk full on db-2", "level": "critical", "id": "disk-db-2", "state": "alerting"}
MAPPING = {
    "summary": "{{ title }}",
    "severity": "{{ level }}",
    "dedup_key": "{{ id }}",
    "resolve_when": "state == 'ok'",
    "labels": {"state": "{{ state }}"},
    "sample": SAMPLE,
}


def integrations(client: TestClient, world: World) -> dict[str, dict[str, Any]]:
    items = client.get("/api/v1/integrations", headers=world.auth("admin")).json()
    return {i["type"]: i for i in items}


def generic_id(client: TestClient, world: World) -> int:
    return int(integrations(client, world)["generic"]["id"])


def test_create_with_a_mapping_and_read_it_back(client: TestClient, world: World) -> None:
    r = client.post(
        "/api/v1/integrations",
        json={"service_id": world.checkout_id, "type": "generic", "name": "dd", "mapping": MAPPING},
        headers=world.auth("admin"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["mapping"] == {**MAPPING, "source": ""}
    read = client.get(f"/api/v1/integrations/{r.json()['id']}", headers=world.auth("stakeholder"))
    assert read.json()["mapping"]["summary"] == "{{ title }}"


@pytest.mark.parametrize(
    ("mapping", "field", "message"),
    [
        ({"summary": "{{ title }"}, "mapping.summary", "unexpected '}'"),
        (
            {"summary": "{{ title }}", "severity": "{{ levle }}", "sample": SAMPLE},
            "mapping.severity",
            "fails on the sample payload: 'levle' is undefined",
        ),
        (
            {"summary": "{{ title }}", "severity": "{{ 'high' }}", "sample": SAMPLE},
            "mapping.severity",
            "not one of critical, error, warning, info",
        ),
        (
            {"summary": "{{ title }}", "resolve_when": "state == 'ok'"},
            "mapping.dedup_key",
            "a dedup key template is needed to resolve",
        ),
        (
            {"summary": "{{ ''.__class__ }}", "sample": SAMPLE},
            "mapping.summary",
            "not allowed: access to attribute '__class__'",
        ),
        (
            {"summary": "{% macro x() %}{% endmacro %}"},
            "mapping.summary",
            "macros are not available",
        ),
        (
            {"summary": "x", "labels": {"team": "{{ tags.team }}"}, "sample": SAMPLE},
            "mapping.labels.team",
            "'tags' is undefined",
        ),
    ],
)
def test_a_mapping_that_fails_is_refused_naming_its_field(
    client: TestClient, world: World, mapping: dict[str, Any], field: str, message: str
) -> None:
    iid = generic_id(client, world)
    r = client.patch(
        f"/api/v1/integrations/{iid}", json={"mapping": mapping}, headers=world.auth("admin")
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["details"][0]["field"] == field
    assert message in error["details"][0]["message"]
    assert integrations(client, world)["generic"]["mapping"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mapping": {"summary": ""}}, "mapping.summary"),
        ({"mapping": {"summary": "x" * 2001}}, "mapping.summary"),
        ({"mapping": {"summary": "x", "labels": {"bad name": "x"}}}, "mapping.labels.bad name"),
        ({"mapping": {"summary": "x", "sevrity": "x"}}, "mapping.sevrity"),
        ({"mapping": {"summary": "x", "sample": {"a": "b" * 70_000}}}, "mapping.sample"),
        ({"mapping": {"summary": "x", "sample": {"a": "nul\u0000"}}}, "mapping.sample"),
        ({"name": None}, "name"),
    ],
)
def test_bad_mapping_bodies_are_refused(
    client: TestClient, world: World, body: dict[str, Any], field: str
) -> None:
    iid = generic_id(client, world)
    r = client.patch(f"/api/v1/integrations/{iid}", json=body, headers=world.auth("admin"))
    assert r.status_code == 422, r.text
    assert any(d["field"].startswith(field) for d in r.json()["error"]["details"])


def test_only_generic_integrations_take_a_mapping(client: TestClient, world: World) -> None:
    am = integrations(client, world)["alertmanager"]["id"]
    r = client.patch(
        f"/api/v1/integrations/{am}", json={"mapping": MAPPING}, headers=world.auth("admin")
    )
    assert r.status_code == 422 and "only generic JSON integrations" in r.text
    before = count_rows(client.app.state.db, "integrations")  # type: ignore[attr-defined]
    created = client.post(
        "/api/v1/integrations",
        json={"service_id": world.checkout_id, "type": "pagerduty", "mapping": MAPPING},
        headers=world.auth("admin"),
    )
    assert created.status_code == 422
    assert count_rows(client.app.state.db, "integrations") == before  # type: ignore[attr-defined]


def test_try_shows_what_a_payload_becomes_and_stores_nothing(
    client: TestClient, world: World
) -> None:
    iid = generic_id(client, world)
    assert (
        client.patch(
            f"/api/v1/integrations/{iid}", json={"mapping": MAPPING}, headers=world.auth("admin")
        ).status_code
        == 200
    )
    url = f"/api/v1/integrations/{iid}/mapping/try"
    r = client.post(url, json={"payload": SAMPLE}, headers=world.auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "events": [
            {
                "action": "trigger",
                "summary": "Disk full on db-2",
                "severity": "critical",
                "dedup_key": "disk-db-2",
                "source": "",
                "labels": {"state": "alerting"},
                "unmapped": False,
                "errors": [],
            }
        ]
    }
    both = client.post(
        url,
        json={"payload": [{**SAMPLE, "state": "ok"}, {"id": "x"}]},
        headers=world.auth("admin"),
    ).json()["events"]
    assert both[0]["action"] == "resolve" and both[0]["dedup_key"] == "disk-db-2"
    assert both[1]["unmapped"] is True
    assert both[1]["summary"] == "unmapped event: summary: 'title' is undefined"
    assert count_rows(client.app.state.db, "alerts") == 0  # type: ignore[attr-defined]


def test_try_an_unsaved_mapping_and_its_refusals(client: TestClient, world: World) -> None:
    iid = generic_id(client, world)
    url = f"/api/v1/integrations/{iid}/mapping/try"
    none_saved = client.post(url, json={"payload": SAMPLE}, headers=world.auth("admin"))
    assert none_saved.status_code == 422 and "has no mapping" in none_saved.text
    draft = client.post(
        url,
        json={"payload": SAMPLE, "mapping": {"summary": "{{ title | upper }}"}},
        headers=world.auth("admin"),
    )
    assert draft.json()["events"][0]["summary"] == "DISK FULL ON DB-2"
    broken = client.post(
        url,
        json={"payload": SAMPLE, "mapping": {"summary": "{% if %}"}},
        headers=world.auth("admin"),
    )
    assert broken.status_code == 422
    assert broken.json()["error"]["details"][0]["field"] == "mapping.summary"
    missing = client.post(url, json={}, headers=world.auth("admin"))
    assert missing.status_code == 422
    assert integrations(client, world)["generic"]["mapping"] is None


def test_who_may_change_or_try_a_mapping(client: TestClient, world: World) -> None:
    iid = generic_id(client, world)
    for who in ("stakeholder", "responder"):  # bob is in no team owning checkout-api
        r = client.patch(
            f"/api/v1/integrations/{iid}", json={"mapping": MAPPING}, headers=world.auth(who)
        )
        assert r.status_code == 403
        tried = client.post(
            f"/api/v1/integrations/{iid}/mapping/try",
            json={"payload": SAMPLE, "mapping": MAPPING},
            headers=world.auth(who),
        )
        assert tried.status_code == 403
    gone = client.patch("/api/v1/integrations/999999", json={}, headers=world.auth("admin"))
    assert gone.status_code == 404
