"""Bad requests to every intake format: the right status, a message to act on, nothing stored."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, count_rows, fixture_bytes
from warroom.app import RedactRoutingKeys
from warroom.db.engine import Database

JSON = {"Content-Type": "application/json"}
UNKNOWN_KEY = "0123456789abcdef0123456789abcdef"
TABLES = ("alerts", "incidents", "timeline_events")


def pd_event(world: World, **changes: Any) -> bytes:
    event = json.loads(fixture_bytes("pagerduty/01-trigger-with-dedup-key.json"))
    event["routing_key"] = world.pagerduty_key
    for path, value in changes.items():
        target = event
        *parents, leaf = path.split("__")
        for p in parents:
            target = target[p]
        if value is DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return json.dumps(event).encode()


def am_message(**alert_changes: Any) -> bytes:
    message = json.loads(fixture_bytes("alertmanager/01-firing-two-alerts.json"))
    for alert in message["alerts"]:
        for name, value in alert_changes.items():
            if value is DELETE:
                del alert[name]
            else:
                alert[name] = value
    return json.dumps(message).encode()


DELETE = object()
AM_BODY = fixture_bytes("alertmanager/01-firing-two-alerts.json")
GENERIC_EVENT = {"summary": "Disk full on db-1", "severity": "critical"}


@dataclass
class Case:
    id: str
    path: Callable[[World], str]  # the URL
    body: Callable[[World], bytes]
    status: int
    says: tuple[str, ...]  # what the message (or its details) must mention
    headers: dict[str, str] | None = None


def pd(_: World) -> str:
    return "/v2/enqueue"


def am(key: str = "alertmanager") -> Callable[[World], str]:
    def url(world: World) -> str:
        real = {
            "alertmanager": world.alertmanager_key,
            "generic": world.generic_key,
            "pagerduty": world.pagerduty_key,
        }.get(key, key)
        return f"/integrations/alertmanager/{real}"

    return url


def gen(key: str = "generic") -> Callable[[World], str]:
    def url(world: World) -> str:
        real = {
            "alertmanager": world.alertmanager_key,
            "generic": world.generic_key,
            "pagerduty": world.pagerduty_key,
        }.get(key, key)
        return f"/integrations/generic/{real}"

    return url


def raw(data: bytes) -> Callable[[World], bytes]:
    return lambda _w: data


def generic(body: Any) -> Callable[[World], bytes]:
    return lambda _w: json.dumps(body).encode()


PAGERDUTY_CASES = [
    Case(
        "pd-malformed-json",
        pd,
        raw(b'{"routing_key": "abc", '),
        400,
        ("Event object format is unrecognized", "JSON parse error"),
    ),
    Case("pd-empty-body", pd, raw(b""), 400, ("Event object format is unrecognized",)),
    Case("pd-not-an-object", pd, raw(b"[1, 2]"), 400, ("Event object format is unrecognized",)),
    Case(
        "pd-missing-summary",
        pd,
        lambda w: pd_event(w, payload__summary=DELETE),
        400,
        ("'payload.summary' is missing",),
    ),
    Case(
        "pd-missing-payload",
        pd,
        lambda w: pd_event(w, payload=DELETE),
        400,
        ("'payload' is missing",),
    ),
    Case(
        "pd-missing-routing-key",
        pd,
        lambda w: pd_event(w, routing_key=DELETE),
        400,
        ("'routing_key' is missing",),
    ),
    Case(
        "pd-mistyped-severity",
        pd,
        lambda w: pd_event(w, payload__severity=1),
        400,
        ("'payload.severity' must be a string",),
    ),
    Case(
        "pd-unknown-severity",
        pd,
        lambda w: pd_event(w, payload__severity="fatal"),
        400,
        ("'payload.severity' must be one of critical, error, warning, info",),
    ),
    Case(
        "pd-unknown-action",
        pd,
        lambda w: pd_event(w, event_action="fire"),
        400,
        ("'event_action' must be one of trigger, acknowledge, resolve",),
    ),
    Case(
        "pd-ack-without-key",
        pd,
        lambda w: json.dumps(
            {"routing_key": w.pagerduty_key, "event_action": "acknowledge"}
        ).encode(),
        400,
        ("'dedup_key' is missing",),
    ),
    Case(
        "pd-bad-timestamp",
        pd,
        lambda w: pd_event(w, payload__timestamp="last tuesday"),
        400,
        ("'payload.timestamp' is not a valid ISO 8601 timestamp",),
    ),
    Case(
        "pd-unknown-routing-key",
        pd,
        lambda w: pd_event(w, routing_key=UNKNOWN_KEY),
        400,
        ("'routing_key'", "unknown routing key"),
    ),
    Case(
        "pd-key-of-alertmanager",
        pd,
        lambda w: pd_event(w, routing_key=w.alertmanager_key),
        400,
        ("alertmanager integration", "its own endpoint"),
    ),
    Case(
        "pd-oversized",
        pd,
        lambda w: pd_event(w, payload__custom_details={"blob": "x" * (512 * 1024)}),
        413,
        ("Request entity too large", "512 KB"),
    ),
    Case(
        "pd-wrong-content-type",
        pd,
        lambda w: pd_event(w),
        415,
        ("Content-Type must be application/json", "text/plain"),
        headers={"Content-Type": "text/plain"},
    ),
]

ALERTMANAGER_CASES = [
    Case(
        "am-malformed-json",
        am(),
        raw(b'{"alerts": ['),
        400,
        ("Body is not valid JSON", "JSON parse error"),
    ),
    Case("am-empty-body", am(), raw(b""), 400, ("Body is not valid JSON",)),
    Case(
        "am-not-an-object",
        am(),
        raw(b'"hello"'),
        400,
        ("Body must be an Alertmanager webhook object",),
    ),
    Case(
        "am-missing-alerts",
        am(),
        raw(b'{"receiver": "warroom", "status": "firing"}'),
        400,
        ("Not an Alertmanager webhook message", "'alerts' must be a list"),
    ),
    Case(
        "am-missing-status",
        am(),
        raw(am_message(status=DELETE)),
        400,
        ("No valid alert in the message", "alerts[0]: 'status' must be 'firing' or 'resolved'"),
    ),
    Case(
        "am-mistyped-labels",
        am(),
        raw(am_message(labels={"severity": 1})),
        400,
        ("alerts[1]: 'labels' must be an object of strings",),
    ),
    Case(
        "am-mistyped-starts-at",
        am(),
        raw(am_message(startsAt=1700000000)),
        400,
        ("'startsAt' must be an ISO 8601 timestamp string",),
    ),
    Case(
        "am-unknown-routing-key",
        am(UNKNOWN_KEY),
        raw(AM_BODY),
        404,
        ("unknown routing key", "rotate"),
    ),
    Case(
        "am-key-of-generic",
        am("generic"),
        raw(AM_BODY),
        400,
        ("a generic integration", "its own endpoint"),
    ),
    Case("am-key-of-pagerduty", am("pagerduty"), raw(AM_BODY), 400, ("a pagerduty integration",)),
    Case(
        "am-no-routing-key",
        lambda _w: "/integrations/alertmanager",
        raw(AM_BODY),
        401,
        ("a routing key is required", "Authorization: Bearer"),
    ),
    Case(
        "am-oversized", am(), raw(b" " * (8 * 1024 * 1024 + 1)), 413, ("larger than 8388608 bytes",)
    ),
    Case(
        "am-wrong-content-type",
        am(),
        raw(AM_BODY),
        415,
        ("Content-Type must be application/json",),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
]

GENERIC_CASES = [
    Case("generic-malformed-json", gen(), raw(b"{summary: 'x'}"), 400, ("Body is not valid JSON",)),
    Case("generic-empty-body", gen(), raw(b""), 400, ("Body is not valid JSON",)),
    Case("generic-empty-list", gen(), raw(b"[]"), 400, ("non-empty list of events",)),
    Case("generic-not-an-event", gen(), raw(b"42"), 400, ("event object",)),
    Case(
        "generic-missing-summary",
        gen(),
        generic({"severity": "critical"}),
        400,
        ("Event is invalid", "'summary' is required"),
    ),
    Case(
        "generic-mistyped-summary",
        gen(),
        generic({"summary": 5, "severity": "info"}),
        400,
        ("'summary' is required: a non-empty string",),
    ),
    Case(
        "generic-mistyped-details",
        gen(),
        generic({**GENERIC_EVENT, "details": "x"}),
        400,
        ("'details' must be an object",),
    ),
    Case(
        "generic-unknown-severity",
        gen(),
        generic({**GENERIC_EVENT, "severity": "fatal"}),
        400,
        ("'severity' is required: one of critical, error, warning, info",),
    ),
    Case(
        "generic-all-invalid-list",
        gen(),
        generic([{"severity": "info"}, {"summary": "x"}]),
        400,
        ("No valid event in the request", "events[0]: ", "events[1]: "),
    ),
    Case(
        "generic-unknown-routing-key",
        gen(UNKNOWN_KEY),
        generic(GENERIC_EVENT),
        404,
        ("unknown routing key",),
    ),
    Case(
        "generic-key-of-alertmanager",
        gen("alertmanager"),
        generic(GENERIC_EVENT),
        400,
        ("an alertmanager integration", "its own endpoint"),
    ),
    Case(
        "generic-oversized",
        gen(),
        generic({**GENERIC_EVENT, "details": {"blob": "x" * (512 * 1024)}}),
        413,
        ("larger than 524288 bytes",),
    ),
    Case(
        "generic-too-many-events",
        gen(),
        generic([GENERIC_EVENT] * 1001),
        413,
        ("At most 1000 events per request",),
    ),
    Case(
        "generic-wrong-content-type",
        gen(),
        generic(GENERIC_EVENT),
        415,
        ("Content-Type must be application/json",),
        headers={"Content-Type": "text/csv"},
    ),
]

ALL_CASES = PAGERDUTY_CASES + ALERTMANAGER_CASES + GENERIC_CASES


def _message(case: Case, body: dict[str, Any]) -> str:
    if case.path is pd:
        # PagerDuty's own error shape, which its clients parse.
        assert set(body) == {"status", "message", "errors"}
        assert body["status"] in ("invalid event", "Unrecognized object")
        return " ".join([body["message"], *body["errors"]])
    error = body["error"]
    assert error["status"] == case.status
    return " ".join([error["message"], *map(str, error["details"])])


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_bad_request_is_refused_with_a_reason_and_stores_nothing(
    case: Case, client: TestClient, world: World, db: Database
) -> None:
    before = {t: count_rows(db, t) for t in TABLES}
    r = client.post(case.path(world), content=case.body(world), headers=case.headers or JSON)
    assert r.status_code == case.status, r.text
    text = _message(case, r.json())
    for phrase in case.says:
        assert phrase in text
    assert {t: count_rows(db, t) for t in TABLES} == before
    # The refused request leaves the intake working: a good event right after goes through.
    good = client.post("/v2/enqueue", content=pd_event(world), headers=JSON)
    assert good.status_code == 202
    assert count_rows(db, "alerts") == before["alerts"] + 1


def test_metrics_count_received_and_rejected_events(client: TestClient, world: World) -> None:
    def counter(text: str, name: str, **labels: str) -> float:
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith(f"{name}{{{want}}} "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    client.post("/v2/enqueue", content=pd_event(world), headers=JSON)
    client.post(
        f"/integrations/alertmanager/{world.alertmanager_key}", content=AM_BODY, headers=JSON
    )
    client.post("/v2/enqueue", content=b"nope", headers=JSON)
    client.post("/v2/enqueue", content=pd_event(world, routing_key=UNKNOWN_KEY), headers=JSON)
    client.post(
        f"/integrations/generic/{world.generic_key}",
        json=[GENERIC_EVENT, {"summary": "no severity"}],
    )
    r = client.get("/metrics")
    assert r.status_code == 200
    text = r.text
    assert counter(text, "warroom_events_received_total", source="pagerduty") == 1
    assert counter(text, "warroom_events_received_total", source="alertmanager") == 2
    assert counter(text, "warroom_events_received_total", source="generic") == 1
    assert counter(text, "warroom_events_rejected_total", source="pagerduty", reason="invalid") == 1
    assert (
        counter(text, "warroom_events_rejected_total", source="pagerduty", reason="routing_key")
        == 1
    )
    assert counter(text, "warroom_events_rejected_total", source="generic", reason="invalid") == 1
    assert counter(text, "warroom_alerts", status="triggered") == 4
    # A metric label never holds a routing key.
    assert world.alertmanager_key not in text and world.generic_key not in text


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}


def _access_record(path: str) -> logging.LogRecord:
    # The record uvicorn's access logger emits: the path is one of the args.
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:51234", "POST", path, "1.1", 200),
        None,
    )


@pytest.mark.parametrize(
    "path",
    [
        f"/integrations/alertmanager/{UNKNOWN_KEY}",
        f"/integrations/generic/{UNKNOWN_KEY}?source=cron",
        f"/integrations/alertmanager/{UNKNOWN_KEY}/",
    ],
)
def test_routing_keys_are_redacted_from_access_logs(path: str) -> None:
    record = _access_record(path)
    assert RedactRoutingKeys().filter(record) is True
    line = record.getMessage()
    assert UNKNOWN_KEY not in line
    assert "/integrations/" in line and "[redacted]" in line and "POST" in line


def test_the_app_installs_redaction_on_uvicorns_access_logger(
    client: TestClient, world: World
) -> None:
    seen: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("uvicorn.access")
    handler = Capture()
    logger.addHandler(handler)
    old_level, logger.level = logger.level, logging.INFO
    try:
        logger.handle(_access_record(f"/integrations/alertmanager/{world.alertmanager_key}"))
        logger.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:1",
            "POST",
            f"/integrations/generic/{world.generic_key}",
            "1.1",
            202,
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert len(seen) == 2
    assert all(world.alertmanager_key not in m and world.generic_key not in m for m in seen)
    assert seen[0].endswith('"POST /integrations/alertmanager/[redacted] HTTP/1.1" 200')


# --- values PostgreSQL cannot store as sent: accepted on both databases, never a 500 ----------


def _post_each_format(client: TestClient, world: World, tamper: Callable[[str], str]) -> None:
    """One event per format with `tamper` applied to its source and summary."""
    event = json.loads(pd_event(world))
    event["payload"]["source"] = tamper("db-primary-1.prod")
    event["payload"]["summary"] = tamper("Disk usage at 95%")
    r = client.post("/v2/enqueue", content=json.dumps(event), headers=JSON)
    assert r.status_code == 202, r.text
    message = json.loads(AM_BODY)
    message["alerts"][0]["labels"]["instance"] = tamper("checkout-1:8080")
    message["alerts"][0]["annotations"]["summary"] = tamper("5xx error rate")
    message["alerts"][0].pop("fingerprint")
    r = client.post(
        f"/integrations/alertmanager/{world.alertmanager_key}",
        content=json.dumps(message),
        headers=JSON,
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/integrations/generic/{world.generic_key}",
        json={
            "summary": tamper("Backup failed"),
            "severity": "error",
            "source": tamper("cron-1"),
            "details": {tamper("key"): tamper("value")},
        },
    )
    assert r.status_code == 202, r.text


def test_an_overlong_source_is_cut_to_the_column_width(
    client: TestClient, world: World, db: Database
) -> None:
    _post_each_format(client, world, lambda s: s + "-" * 300)
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert len(alerts) == 4
    assert all(len(a["source"]) <= 255 for a in alerts)
    assert any(a["source"].startswith("db-primary-1.prod--") for a in alerts)
    # The summary has room (1,024 characters) and is kept whole.
    assert any(a["summary"] == "Disk usage at 95%" + "-" * 300 for a in alerts)


def test_nul_characters_are_dropped_not_fatal(
    client: TestClient, world: World, db: Database
) -> None:
    _post_each_format(client, world, lambda s: s[:3] + "\u0000" + s[3:])
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert len(alerts) == 4
    assert "db-primary-1.prod" in {a["source"] for a in alerts}
    assert "Disk usage at 95%" in {a["summary"] for a in alerts}
    generic = next(a for a in alerts if a["summary"] == "Backup failed")
    assert generic["details"] == {"key": "value"}
    # An escaped backslash before "u0000" is text, not a NUL, and stays as sent.
    r = client.post(
        f"/integrations/generic/{world.generic_key}",
        json={"summary": "path C:\\u0000", "severity": "info"},
    )
    assert r.status_code == 202
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert "path C:\\u0000" in {a["summary"] for a in alerts}


@pytest.mark.parametrize("stamp", ["9999-12-31T23:00:00-05:00", "2026-02-30T00:00:00Z"])
def test_a_timestamp_out_of_range_is_a_400_naming_the_field(
    stamp: str, client: TestClient, world: World, db: Database
) -> None:
    r = client.post("/v2/enqueue", content=pd_event(world, payload__timestamp=stamp), headers=JSON)
    assert r.status_code == 400
    assert any(e.startswith("'payload.timestamp'") and stamp in e for e in r.json()["errors"])
    r = client.post(
        f"/integrations/alertmanager/{world.alertmanager_key}",
        content=am_message(startsAt=stamp),
        headers=JSON,
    )
    assert r.status_code == 400
    assert any("'startsAt'" in d for d in r.json()["error"]["details"])
    assert count_rows(db, "alerts") == 0
