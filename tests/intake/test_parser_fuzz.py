"""Hypothesis against the three intake parsers: whatever arrives, a parser answers with its own
IntakeError (a 4xx) or a parsed request, never another exception (a 500); and a valid event
comes out of the parser with its fields kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warroom.intake import alertmanager, generic, pagerduty
from warroom.intake.common import MAX_SOURCE, SEVERITIES, IntakeError, ParsedRequest

# No example database: a test run must leave the checkout as it was.
FUZZ = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# Text as JSON carries it: no lone surrogates; NUL is covered by its own test (it is removed).
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson refuses those
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
# Values a sender might put in any field: wrong types, times, empty and long text.
ODD = JSON | st.sampled_from(
    ["", " ", "0001-01-01T00:00:00Z", "9999-12-31T23:00:00-05:00", "x" * 300, "2026-13-40"]
)

PARSERS: dict[str, Callable[[bytes], ParsedRequest]] = {
    "pagerduty": pagerduty.parse,
    "alertmanager": lambda body: alertmanager.parse(body, "key"),
    "generic": lambda body: generic.parse(body, "key"),
}


def answers_4xx_or_parses(parse: Callable[[bytes], ParsedRequest], body: bytes) -> None:
    try:
        parsed = parse(body)
    except IntakeError as err:
        assert 400 <= err.status < 500
        assert err.message
        return
    assert isinstance(parsed, ParsedRequest)
    for signal in parsed.signals:
        assert signal.action in ("trigger", "acknowledge", "resolve")
        assert signal.dedup_key and isinstance(signal.dedup_key, str)
        assert signal.severity in SEVERITIES
        assert len(signal.source) <= MAX_SOURCE


@FUZZ
@given(body=st.binary(max_size=300))
def test_random_bytes(body: bytes) -> None:
    for parse in PARSERS.values():
        answers_4xx_or_parses(parse, body)


@FUZZ
@given(value=JSON)
def test_random_json(value: Any) -> None:
    body = json.dumps(value).encode()  # NaN, Infinity and huge integers included
    for parse in PARSERS.values():
        answers_4xx_or_parses(parse, body)


@FUZZ
@given(
    event=st.fixed_dictionaries(
        {},
        optional={
            "routing_key": ODD,
            "event_action": ODD | st.sampled_from(pagerduty.ACTIONS),
            "dedup_key": ODD,
            "payload": ODD
            | st.fixed_dictionaries(
                {},
                optional={
                    name: ODD
                    for name in ("summary", "source", "severity", "timestamp", "custom_details")
                },
            ),
            "links": ODD | st.lists(st.dictionaries(st.sampled_from(["href", "text"]), ODD)),
            "images": ODD,
        },
    )
)
def test_pagerduty_shaped_nonsense(event: dict[str, Any]) -> None:
    answers_4xx_or_parses(pagerduty.parse, json.dumps(event).encode())


ALERT_FIELDS = ("status", "labels", "annotations", "fingerprint", "startsAt", "generatorURL")


@FUZZ
@given(
    message=st.fixed_dictionaries(
        {
            "alerts": ODD
            | st.lists(
                ODD
                | st.fixed_dictionaries(
                    {},
                    optional={name: ODD | st.dictionaries(TEXT, ODD) for name in ALERT_FIELDS},
                ),
                max_size=4,
            )
        },
        optional={"groupKey": ODD, "externalURL": ODD},
    )
)
def test_alertmanager_shaped_nonsense(message: dict[str, Any]) -> None:
    answers_4xx_or_parses(PARSERS["alertmanager"], json.dumps(message).encode())


@FUZZ
@given(
    events=st.lists(
        st.fixed_dictionaries({}, optional={name: ODD for name in generic.FIELDS}),
        min_size=1,
        max_size=4,
    )
)
def test_generic_shaped_nonsense(events: list[dict[str, Any]]) -> None:
    answers_4xx_or_parses(PARSERS["generic"], json.dumps(events).encode())
    answers_4xx_or_parses(PARSERS["generic"], json.dumps(events[0]).encode())


# --- valid events keep their fields ---------------------------------------------------------

NAME = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1)
SUMMARY = NAME.filter(lambda s: s.strip()).map(lambda s: s[:1024])
KEY = NAME.map(lambda s: s[:255])
TIMES = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)
)
# JSON every sender can write: finite numbers, integers of 64 bits.
VALID_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
DETAILS = st.dictionaries(TEXT, VALID_JSON, max_size=4)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@FUZZ
@given(
    routing_key=NAME,
    dedup_key=KEY,
    summary=SUMMARY,
    source=TEXT,
    severity=st.sampled_from(SEVERITIES),
    details=DETAILS,
    moment=TIMES,
)
def test_a_valid_pagerduty_trigger_keeps_its_fields(
    routing_key: str,
    dedup_key: str,
    summary: str,
    source: str,
    severity: str,
    details: dict[str, Any],
    moment: datetime,
) -> None:
    event = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": summary,
            "source": source,
            "severity": severity,
            "timestamp": iso(moment),
            "custom_details": details,
        },
    }
    parsed = pagerduty.parse(json.dumps(event).encode())
    assert parsed.routing_key == routing_key
    [signal] = parsed.signals
    assert (signal.action, signal.dedup_key, signal.summary) == ("trigger", dedup_key, summary)
    assert (signal.source, signal.severity, signal.details) == (source, severity, details)
    assert signal.started_at == moment


LABELS = st.dictionaries(TEXT, TEXT, min_size=1, max_size=5)


@FUZZ
@given(
    alerts=st.lists(
        st.tuples(st.sampled_from(["firing", "resolved"]), LABELS, SUMMARY, TIMES),
        min_size=1,
        max_size=5,
    ),
    group_key=TEXT,
)
def test_a_valid_alertmanager_message_keeps_every_alert(
    alerts: list[tuple[str, dict[str, str], str, datetime]], group_key: str
) -> None:
    message = {
        "version": "4",
        "groupKey": group_key,
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": summary},
                "startsAt": iso(moment),
                "endsAt": "0001-01-01T00:00:00Z",
            }
            for status, labels, summary, moment in alerts
        ],
    }
    parsed = alertmanager.parse(json.dumps(message).encode(), "key")
    assert parsed.rejected == []
    assert len(parsed.signals) == len(alerts)
    for signal, (status, labels, summary, moment) in zip(parsed.signals, alerts, strict=True):
        assert signal.action == ("trigger" if status == "firing" else "resolve")
        # No fingerprint sent: Alertmanager's own, from the labels.
        assert signal.dedup_key == alertmanager.fingerprint(labels)
        assert (signal.labels, signal.summary, signal.group_key) == (labels, summary, group_key)
        assert signal.started_at == moment


@FUZZ
@given(
    events=st.lists(
        st.tuples(KEY, SUMMARY, st.sampled_from(SEVERITIES), TEXT, DETAILS, TIMES),
        min_size=1,
        max_size=5,
    )
)
def test_valid_generic_events_keep_their_fields(
    events: list[tuple[str, str, str, str, dict[str, Any], datetime]],
) -> None:
    body = [
        {
            "dedup_key": key,
            "summary": summary,
            "severity": severity,
            "source": source,
            "details": details,
            "started_at": iso(moment),
        }
        for key, summary, severity, source, details, moment in events
    ]
    parsed = generic.parse(json.dumps(body).encode(), "key")
    assert parsed.rejected == []
    for signal, (key, summary, severity, source, details, moment) in zip(
        parsed.signals, events, strict=True
    ):
        assert (signal.dedup_key, signal.summary, signal.severity) == (key, summary, severity)
        assert (signal.source, signal.details, signal.started_at) == (source, details, moment)


@FUZZ
@given(before=TEXT, after=TEXT)
def test_nul_characters_are_removed_not_refused(before: str, after: str) -> None:
    """PostgreSQL cannot store NUL in text: the parser drops it and keeps the rest."""
    body = json.dumps({"summary": f"{before}\x00{after}x", "severity": "info"}).encode()
    [signal] = generic.parse(body, "key").signals
    assert signal.summary == f"{before}{after}x"
