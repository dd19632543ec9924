"""Grouping rules against the database: made through /api/v1/grouping-rules, applied by the
intake batch (its loading and caches included) at times the test chooses (a fake clock)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import assert_error, timeline
from tests.conftest import World, count_rows
from warroom.alerts.logic import Signal
from warroom.alerts.service import ingest_batch
from warroom.db.engine import Database
from warroom.incidents.logic import DEFAULT_MATRIX

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Request:
    source_type: str
    routing_key: str
    signals: list[Signal] = field(default_factory=list)


def fire(key: str, **labels: str) -> Signal:
    return Signal("trigger", key, severity="error", summary=f"{key} failing", labels=labels)


def send(db: Database, source: str, routing_key: str, now: datetime, *signals: Signal) -> None:
    with db.session() as s:
        [result] = ingest_batch(
            s, [Request(source, routing_key, list(signals))], now, DEFAULT_MATRIX
        )
        assert result.refused is None


def checkout(db: Database, world: World, now: datetime, *signals: Signal) -> None:
    send(db, "alertmanager", world.alertmanager_key, now, *signals)


def payments_db(db: Database, world: World, now: datetime, *signals: Signal) -> None:
    send(db, "pagerduty", world.pagerduty_key, now, *signals)


def incident_of(client: TestClient, world: World, key: str) -> dict[str, Any]:
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    [alert] = [a for a in alerts if a["dedup_key"] == key and a["status"] != "resolved"]
    assert alert["incident_id"] is not None, alert
    r = client.get(f"/api/v1/incidents/{alert['incident_id']}", headers=world.auth())
    return r.json()  # type: ignore[no-any-return]


def rule(client: TestClient, world: World, who: str = "admin", **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/grouping-rules", json=body, headers=world.auth(who))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


# --- grouping by content keys -----------------------------------------------------------------


def test_group_by_cluster_splits_and_joins_incidents(
    client: TestClient, world: World, db: Database
) -> None:
    rule(client, world, service_id=world.checkout_id, keys=["labels.cluster"])
    checkout(db, world, T0, fire("a", cluster="eu-1"), fire("b", cluster="us-1"))
    checkout(db, world, T0 + timedelta(minutes=1), fire("c", cluster="eu-1"))
    eu, us = incident_of(client, world, "a"), incident_of(client, world, "b")
    assert eu["id"] != us["id"]
    assert incident_of(client, world, "c")["id"] == eu["id"]
    assert (eu["alert_count"], us["alert_count"]) == (2, 1)
    # An alert without the label groups under the empty value: an incident of its own.
    checkout(db, world, T0 + timedelta(minutes=2), fire("d"), fire("e", cluster=""))
    assert incident_of(client, world, "d")["id"] == incident_of(client, world, "e")["id"]
    assert count_rows(db, "incidents") == 3


def test_the_rules_window_is_respected(client: TestClient, world: World, db: Database) -> None:
    rule(client, world, service_id=world.checkout_id, keys=["labels.cluster"], window_seconds=120)
    checkout(db, world, T0, fire("a", cluster="eu-1"))
    checkout(db, world, T0 + timedelta(seconds=120), fire("b", cluster="eu-1"))
    # 2 minutes after the incident's last alert (b), plus a second: a new incident.
    checkout(db, world, T0 + timedelta(seconds=241), fire("c", cluster="eu-1"))
    a, b, c = (incident_of(client, world, k)["id"] for k in "abc")
    assert a == b != c


def test_a_services_rule_wins_over_a_global_one_and_matchers_narrow_it(
    client: TestClient, world: World, db: Database
) -> None:
    rule(client, world, keys=["labels.instance"])  # global
    rule(
        client,
        world,
        service_id=world.checkout_id,
        keys=["labels.cluster"],
        matchers=[{"name": "alertname", "value": "Disk.*", "isRegex": True}],
    )
    # DiskFull: the service's rule (by cluster): different instances share an incident.
    checkout(db, world, T0, fire("a", alertname="DiskFull", cluster="eu", instance="1"))
    checkout(db, world, T0, fire("b", alertname="DiskFull", cluster="eu", instance="2"))
    # Not a disk alert: the global rule (by instance) applies.
    checkout(db, world, T0, fire("c", alertname="Latency", cluster="eu", instance="1"))
    checkout(db, world, T0, fire("d", alertname="Latency", cluster="eu", instance="2"))
    a, b, c, d = (incident_of(client, world, k)["id"] for k in "abcd")
    assert a == b and len({a, c, d}) == 3


def test_a_rule_created_through_the_api_applies_to_the_next_webhook(
    client: TestClient, world: World, db: Database
) -> None:
    """Through the group committer and its catalog cache (SQLite): a rule made by another
    connection is seen by the very next batch, and so is its deletion."""

    def hook(name: str, cluster: str) -> None:
        alert = {
            "status": "firing",
            "labels": {"alertname": name, "cluster": cluster},
            "annotations": {"summary": f"{name} in {cluster}"},
            "fingerprint": f"{name}-{cluster}",
            "startsAt": "2026-12-02T09:00:00Z",
        }
        body = {"version": "4", "status": "firing", "groupKey": "g", "alerts": [alert]}
        r = client.post(f"/integrations/alertmanager/{world.alertmanager_key}", json=body)
        assert r.status_code == 200, r.text

    hook("Errors", "eu")
    hook("Errors", "us")  # no rule yet: one incident for the service
    assert count_rows(db, "incidents") == 1
    made = rule(client, world, service_id=world.checkout_id, keys=["labels.cluster"])
    hook("Slow", "eu")
    hook("Slow", "us")
    assert count_rows(db, "incidents") == 3
    assert client.delete(f"/api/v1/grouping-rules/{made['id']}", headers=world.auth("admin"))
    hook("Down", "ap")  # the key is "" again: joins the first incident (still in its window)
    assert count_rows(db, "incidents") == 3


# --- dependency-aware grouping ----------------------------------------------------------------


def test_a_dependants_alert_joins_the_dependencys_open_incident(
    client: TestClient, world: World, db: Database
) -> None:
    rule(
        client,
        world,
        service_id=world.checkout_id,
        keys=["labels.alertname"],
        dependency_aware=True,
    )
    payments_db(db, world, T0, fire("db-down"))
    checkout(db, world, T0 + timedelta(minutes=3), fire("checkout-errors", alertname="Errors"))
    upstream = incident_of(client, world, "db-down")
    joined = incident_of(client, world, "checkout-errors")
    assert joined["id"] == upstream["id"]
    assert sorted(joined["service_ids"]) == sorted([world.database_id, world.checkout_id])
    assert joined["alert_count"] == 2 and joined["caused_by_id"] is None
    # Another one later joins the same incident (the service is listed once).
    checkout(db, world, T0 + timedelta(minutes=4), fire("checkout-slow", alertname="Slow"))
    again = incident_of(client, world, "checkout-slow")
    assert again["id"] == upstream["id"] and len(again["service_ids"]) == 2
    assert count_rows(db, "incidents") == 1
    events = timeline(client, world, upstream["id"])
    assert any(e["kind"] == "dependants_grouped" for e in events)


def test_outside_the_window_the_catalogs_caused_by_link_applies(
    client: TestClient, world: World, db: Database
) -> None:
    """Dependency-aware grouping joins within the window; past it (or without the flag) the
    dependant opens its own incident, linked as caused by the dependency's (ADR 11)."""
    rule(
        client,
        world,
        service_id=world.checkout_id,
        keys=["labels.alertname"],
        window_seconds=60,
        dependency_aware=True,
    )
    payments_db(db, world, T0, fire("db-down"))
    checkout(db, world, T0 + timedelta(minutes=5), fire("late", alertname="Errors"))
    upstream, own = incident_of(client, world, "db-down"), incident_of(client, world, "late")
    assert own["id"] != upstream["id"]
    assert own["caused_by_id"] == upstream["id"]
    assert own["service_ids"] == [world.checkout_id]


# --- the API refuses bad rules ----------------------------------------------------------------


def test_bad_rules_are_refused_and_nothing_is_stored(
    client: TestClient, world: World, db: Database
) -> None:
    admin = world.auth("admin")
    base = {"service_id": world.checkout_id}
    for body, says in (
        ({**base, "keys": []}, "keys"),
        ({**base, "keys": ["cluster"]}, "unknown key 'cluster'"),
        ({**base, "keys": ["labels.9x"]}, "labels.<name>"),
        ({**base, "keys": ["service"]}, "unknown key"),
        (
            {
                **base,
                "keys": ["severity"],
                "matchers": [{"name": "job", "value": "(a", "isRegex": True}],
            },
            "RE2",
        ),
        ({**base, "keys": ["severity"], "window_seconds": -1}, "window_seconds"),
        ({**base, "keys": ["severity"], "window_seconds": 8 * 86400}, "window_seconds"),
        ({**base, "keys": ["severity"], "colour": "red"}, "colour"),
        ({"service_id": 999_999, "keys": ["severity"]}, "does not exist"),
    ):
        r = client.post("/api/v1/grouping-rules", json=body, headers=admin)
        assert r.status_code in (404, 422), (body, r.text)
        assert says in r.text, (body, r.text)
    assert count_rows(db, "grouping_rules") == 0
    made = rule(client, world, service_id=world.checkout_id, keys=["severity"])
    r = client.patch(
        f"/api/v1/grouping-rules/{made['id']}", json={"keys": ["labels.a b"]}, headers=admin
    )
    err = assert_error(r, 422)
    assert err["details"][0]["field"] == "keys" and "labels.<name>" in err["message"]
    assert client.get(f"/api/v1/grouping-rules/{made['id']}", headers=admin).json()["keys"] == [
        "severity"
    ]
    assert_error(client.get("/api/v1/grouping-rules/424242", headers=admin), 404)


def test_who_may_change_which_rules(client: TestClient, world: World, db: Database) -> None:
    """ADR 10: a service's rules, admins and its owning team's responders; global, admins."""
    admin, bob = world.auth("admin"), world.auth("responder")
    team = client.post(
        "/api/v1/teams",
        json={"name": "Checkout", "member_ids": [world.responder_id]},
        headers=admin,
    ).json()
    client.patch(
        f"/api/v1/services/{world.checkout_id}", json={"team_id": team["id"]}, headers=admin
    )
    own = rule(client, world, "responder", service_id=world.checkout_id, keys=["labels.cluster"])
    r = client.patch(
        f"/api/v1/grouping-rules/{own['id']}",
        json={"window_seconds": 600, "dependency_aware": True},
        headers=bob,
    )
    assert r.status_code == 200 and r.json()["window_seconds"] == 600, r.text
    r = client.patch(
        f"/api/v1/grouping-rules/{own['id']}", json={"window_seconds": None}, headers=bob
    )
    assert r.json()["window_seconds"] is None
    # Another team's service, and global rules: refused.
    r = client.post(
        "/api/v1/grouping-rules",
        json={"service_id": world.database_id, "keys": ["severity"]},
        headers=bob,
    )
    assert_error(r, 403)
    assert_error(
        client.post("/api/v1/grouping-rules", json={"keys": ["severity"]}, headers=bob), 403
    )
    common = rule(client, world, keys=["severity"])
    assert_error(client.delete(f"/api/v1/grouping-rules/{common['id']}", headers=bob), 403)
    assert_error(
        client.post(
            "/api/v1/grouping-rules",
            json={"service_id": world.checkout_id, "keys": ["severity"]},
            headers=world.auth("stakeholder"),
        ),
        403,
    )
    listed = client.get("/api/v1/grouping-rules", headers=world.auth("stakeholder")).json()
    assert [r["id"] for r in listed] == [common["id"], own["id"]]  # global first
    only = client.get(
        f"/api/v1/grouping-rules?service_id={world.checkout_id}", headers=admin
    ).json()
    assert [r["id"] for r in only] == [own["id"]]
    assert client.delete(f"/api/v1/grouping-rules/{own['id']}", headers=bob).status_code == 204
