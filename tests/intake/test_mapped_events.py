"""A generic integration with a mapping: any JSON becomes an alert; a resolve condition
resolves it; an event the mapping fails on is kept, raw, as an unmapped alert."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, count_rows

# What Datadog's webhook integration posts with its default payload template (trimmed).
DATADOG = {
    "id": "7261546173712398484",
    "last_updated": "1732700000000",
    "event_type": "query_alert_monitor",
    "title": "[Triggered] CPU above 90% on web-1",
    "alert_id": "1234567",
    "alert_transition": "Triggered",
    "alert_priority": "P1",
    "hostname": "web-1",
    "tags": "env:prod,team:web",
    "org": {"id": "11287", "name": "Example"},
}
MAPPING = {
    "summary": "{{ title | replace('[Triggered] ', '') }}",
    "severity": "{{ 'critical' if alert_priority == 'P1' else 'warning' }}",
    "dedup_key": "datadog-{{ alert_id }}",
    "source": "{{ hostname }}",
    "resolve_when": "alert_transition == 'Recovered'",
    "labels": {"env": "{{ tags.split(',')[0].split(':')[1] }}", "org": "{{ org.name }}"},
    "sample": DATADOG,
}


def generic_id(client: TestClient, world: World) -> int:
    items = client.get("/api/v1/integrations", headers=world.auth("admin")).json()
    return next(i["id"] for i in items if i["type"] == "generic")


def set_mapping(client: TestClient, world: World, mapping: dict[str, Any] | None) -> None:
    r = client.patch(
        f"/api/v1/integrations/{generic_id(client, world)}",
        json={"mapping": mapping},
        headers=world.auth("admin"),
    )
    assert r.status_code == 200, r.text


def send(client: TestClient, world: World, body: Any) -> httpx.Response:
    return client.post(f"/integrations/generic/{world.generic_key}", json=body)


def alerts(client: TestClient, world: World) -> dict[str, dict[str, Any]]:
    items = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    return {a["dedup_key"]: a for a in items}


def unmapped_count(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith('warroom_events_unmapped_total{source="generic"}'):
            return float(line.split()[-1])
    return 0.0


def test_a_datadog_payload_becomes_the_alert_its_mapping_says(
    client: TestClient, world: World
) -> None:
    set_mapping(client, world, MAPPING)
    r = send(client, world, DATADOG)
    assert r.status_code == 202, r.text
    assert r.json()["events"] == [{"dedup_key": "datadog-1234567", "result": "opened"}]
    alert = alerts(client, world)["datadog-1234567"]
    assert alert["summary"] == "CPU above 90% on web-1"
    assert alert["severity"] == "critical" and alert["status"] == "triggered"
    assert alert["source"] == "web-1"
    assert alert["labels"] == {"env": "prod", "org": "Example"}
    assert alert["details"] == {"payload": DATADOG}
    [incident] = client.get("/api/v1/incidents", headers=world.auth()).json()["items"]
    assert incident["title"] == "CPU above 90% on web-1"


def test_the_resolve_condition_resolves_the_alert(client: TestClient, world: World) -> None:
    set_mapping(client, world, MAPPING)
    send(client, world, DATADOG)
    recovered = {**DATADOG, "alert_transition": "Recovered", "title": "[Recovered] CPU"}
    r = send(client, world, recovered)
    assert r.json()["events"] == [{"dedup_key": "datadog-1234567", "result": "resolved"}]
    assert alerts(client, world)["datadog-1234567"]["status"] == "resolved"


def test_a_grafana_list_maps_each_item(client: TestClient, world: World) -> None:
    set_mapping(
        client,
        world,
        {
            "summary": "{{ labels.alertname }} on {{ labels.instance }}",
            "severity": "{{ labels.severity | default('warning') }}",
            "dedup_key": "{{ fingerprint }}",
            "resolve_when": "status == 'resolved'",
        },
    )
    items = [
        {"status": "firing", "fingerprint": "a1", "labels": {"alertname": "Up", "instance": "db1"}},
        {
            "status": "firing",
            "fingerprint": "b2",
            "labels": {"alertname": "Disk", "instance": "db2", "severity": "critical"},
        },
    ]
    r = send(client, world, items)
    assert [e["result"] for e in r.json()["events"]] == ["opened", "opened"]
    found = alerts(client, world)
    assert found["a1"]["summary"] == "Up on db1" and found["a1"]["severity"] == "warning"
    assert found["b2"]["severity"] == "critical"
    send(client, world, [{**items[0], "status": "resolved"}])
    assert alerts(client, world)["a1"]["status"] == "resolved"


def test_an_event_the_mapping_fails_on_is_kept_raw_and_visible(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    set_mapping(client, world, MAPPING)
    before = unmapped_count(client)
    odd = {"alert_id": "99", "something": "else"}  # no title, no priority
    with caplog.at_level(logging.WARNING, logger="warroom.intake.mapping"):
        r = send(client, world, odd)
    assert r.status_code == 202
    [outcome] = r.json()["events"]
    assert outcome == {"dedup_key": "datadog-99", "result": "opened"}
    alert = alerts(client, world)["datadog-99"]
    assert alert["summary"] == "unmapped event: summary: 'title' is undefined"
    assert alert["severity"] == "error"
    assert alert["details"]["payload"] == odd
    assert "summary: 'title' is undefined" in alert["details"]["mapping_error"]
    assert "severity: 'alert_priority' is undefined" in alert["details"]["mapping_error"]
    assert unmapped_count(client) == before + 1
    assert "mapping failed on 1 of 1 events" in caplog.text
    # Not dropped again when re-sent: it counts on the same alert.
    send(client, world, odd)
    assert alerts(client, world)["datadog-99"]["event_count"] == 2


def test_a_template_that_runs_forever_keeps_the_event(client: TestClient, world: World) -> None:
    set_mapping(
        client,
        world,
        {
            "summary": "{% if huge %}{% for i in range(10000) %}{% for j in range(10000) %}"
            "{% endfor %}{% endfor %}{% endif %}{{ title }}",
            "dedup_key": "{{ id }}",
            "sample": {"title": "ok", "id": "1", "huge": False},
        },
    )
    r = send(client, world, {"title": "slow", "id": "2", "huge": True})
    assert r.status_code == 202
    # The budget is the event's, so the key's template did not run either: the key is made
    # from the payload, and the payload is kept.
    [alert] = alerts(client, world).values()
    assert alert["summary"].startswith("unmapped event: summary: ran out of time")
    assert alert["dedup_key"].startswith("unmapped-")
    assert alert["details"]["payload"]["title"] == "slow"


def test_mapped_bodies_are_still_json_and_bounded(client: TestClient, world: World) -> None:
    set_mapping(client, world, MAPPING)
    bad = client.post(
        f"/integrations/generic/{world.generic_key}",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]["message"]
    too_many = send(client, world, [DATADOG] * 1001)
    assert too_many.status_code == 413
    assert count_rows(client.app.state.db, "alerts") == 0  # type: ignore[attr-defined]


def test_removing_the_mapping_brings_back_the_generic_format(
    client: TestClient, world: World
) -> None:
    set_mapping(client, world, MAPPING)
    assert send(client, world, DATADOG).status_code == 202
    set_mapping(client, world, None)
    refused = send(client, world, DATADOG)
    assert refused.status_code == 400
    plain = send(client, world, {"summary": "plain", "severity": "info", "dedup_key": "p"})
    assert plain.status_code == 202 and alerts(client, world)["p"]["summary"] == "plain"
