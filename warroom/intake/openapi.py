"""The intake request bodies as the OpenAPI document shows them (the parsers read raw bytes for
speed, so FastAPI cannot infer these): what each parser accepts, in JSON Schema."""

from __future__ import annotations

from typing import Any

from warroom.errors import ErrorBody, responses
from warroom.intake.common import MAX_DEDUP_KEY, MAX_SUMMARY, SEVERITIES
from warroom.intake.generic import MAX_EVENTS

_TIME: dict[str, Any] = {
    "description": "ISO 8601; nanoseconds are truncated; empty, null or Go's zero time "
    "(0001-01-01...): not set",
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "string", "pattern": "^(0001-01-01|$)"},
        {"type": "null"},
    ],
}
_KEY: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_DEDUP_KEY}
_OPTIONAL_KEY: dict[str, Any] = {"anyOf": [_KEY, {"type": "null"}]}
_LINKS: dict[str, Any] = {
    "anyOf": [
        {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["href"],
                "properties": {"href": {"type": "string"}},
            },
        },
        {"type": "null"},
    ]
}
_SEVERITY: dict[str, Any] = {"type": "string", "enum": list(SEVERITIES)}
_ACTION: dict[str, Any] = {"type": "string", "enum": ["trigger", "acknowledge", "resolve"]}
_ACK_OR_RESOLVE: dict[str, Any] = {"enum": ["acknowledge", "resolve"]}

# Each schema describes exactly what its parser accepts: fields a parser ignores for an action
# are left open for it (a stricter document would have fuzzers expect refusals that never come).
PAGERDUTY_EVENT: dict[str, Any] = {
    "title": "PagerDutyEvent",
    "description": "A PagerDuty Events API v2 event; the routing key names the integration.",
    "type": "object",
    "required": ["routing_key", "event_action"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "event_action": _ACTION,
        "dedup_key": _OPTIONAL_KEY,
    },
    "oneOf": [
        {
            "description": "trigger: a payload; without a dedup_key, one is made and returned",
            "properties": {
                "event_action": {"const": "trigger"},
                "payload": {
                    "type": "object",
                    "required": ["summary", "source", "severity"],
                    "properties": {
                        "summary": {"type": "string", "maxLength": MAX_SUMMARY},
                        "source": {"type": "string"},
                        "severity": _SEVERITY,
                        "timestamp": _TIME,
                        "custom_details": {},
                    },
                },
                "links": _LINKS,
                "images": {"anyOf": [{"type": "array"}, {"type": "null"}]},
            },
            "required": ["payload"],
        },
        {
            "description": "acknowledge, resolve: the dedup_key of the alert",
            "properties": {"event_action": _ACK_OR_RESOLVE, "dedup_key": _KEY},
            "required": ["dedup_key"],
        },
    ],
}

_ALERTMANAGER_ALERT: dict[str, Any] = {
    "type": "object",
    "required": ["status", "labels"],
    "properties": {
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        # Read as "no annotations" when empty or false.
        "annotations": {
            "anyOf": [
                {"type": "object"},
                {"enum": [None, False, 0, ""]},
                {"type": "array", "maxItems": 0},
            ]
        },
        "fingerprint": _KEY,
        "startsAt": _TIME,
    },
    # Without a fingerprint, one is computed from the labels (which then cannot be empty).
    "anyOf": [
        {"required": ["fingerprint"]},
        {"properties": {"labels": {"minProperties": 1}}, "not": {"required": ["fingerprint"]}},
    ],
}

ALERTMANAGER_MESSAGE: dict[str, Any] = {
    "title": "AlertmanagerMessage",
    "description": "Alertmanager's webhook message (version 4). Alerts that are not valid are "
    "listed in the reply and the others stored; a message none of whose alerts is valid is "
    "refused.",
    "type": "object",
    "required": ["alerts"],
    "properties": {
        "alerts": {
            "type": "array",
            "anyOf": [{"maxItems": 0}, {"contains": _ALERTMANAGER_ALERT}],
        },
    },
}

_GENERIC_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": _ACTION,
        "dedup_key": _OPTIONAL_KEY,
        "summary": {},
        "severity": {},
        "source": {"type": "string"},
        "details": {"type": "object"},
        "links": _LINKS,
        "started_at": _TIME,
    },
    "additionalProperties": False,
    "oneOf": [
        {
            "description": "trigger (the default action): summary and severity",
            "properties": {
                "action": {"const": "trigger"},
                # Checked with Python's str.strip(), which removes exactly what \\S does not match.
                "summary": {"type": "string", "maxLength": MAX_SUMMARY, "pattern": "\\S"},
                "severity": _SEVERITY,
            },
            "required": ["summary", "severity"],
        },
        {
            "description": "acknowledge, resolve: the dedup_key of the alert",
            "properties": {"action": _ACK_OR_RESOLVE, "dedup_key": _KEY},
            "required": ["action", "dedup_key"],
        },
    ],
}

GENERIC_EVENTS: dict[str, Any] = {
    "title": "GenericEvents",
    "description": f"One event, or a list of 1 to {MAX_EVENTS} events of which the valid ones "
    "are stored (the reply lists the others); a list with no valid event is refused. An "
    "integration with a mapping (see PATCH /api/v1/integrations/{integration_id}) takes any "
    "JSON value instead, or a list of up to 1,000, each turned into an event by its templates.",
    "anyOf": [
        _GENERIC_EVENT,
        {"type": "array", "minItems": 1, "maxItems": MAX_EVENTS, "contains": _GENERIC_EVENT},
    ],
}


_PAGERDUTY_ERROR: dict[str, Any] = {
    "description": "PagerDuty's own error body",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["status", "message", "errors"],
                "properties": {
                    "status": {"type": "string"},
                    "message": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "string"}},
                },
            }
        }
    },
}
PAGERDUTY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_PAGERDUTY_ERROR, "description": "Not a valid event, or an unknown routing key"},
    413: {**_PAGERDUTY_ERROR, "description": "The event is too large"},
    415: {**_PAGERDUTY_ERROR, "description": "The body is not JSON (Content-Type)"},
    409: {**_PAGERDUTY_ERROR, "description": "The routing key's service is archived"},
    503: {"description": "Intake is unavailable (queue full, database down); retry later"},
}
KEYED_RESPONSES: dict[int | str, dict[str, Any]] = {
    **responses(400, 401, 413, 415),
    400: {"model": ErrorBody, "description": "Not valid JSON, or no valid event in it"},
    404: {"model": ErrorBody, "description": "Unknown routing key"},
    409: {"model": ErrorBody, "description": "The routing key's service is archived"},
    503: {"description": "Intake is unavailable (queue full, database down); retry later"},
}


def request_body(schema: dict[str, Any], keyed: bool = False) -> dict[str, Any]:
    """The `openapi_extra` of an intake route: its JSON body, and for the routes without the
    key in the path, the key as a bearer token."""
    extra: dict[str, Any] = {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}
    }
    if keyed:
        extra["security"] = [{"routingKey": []}]
    return extra
