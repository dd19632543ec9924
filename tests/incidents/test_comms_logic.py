"""The pure rules of incident communication: the cadence text, when the next update is due,
templates that never interpret what they are given, and notices in plain words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.incidents.comms import (
    CadenceError,
    LastUpdate,
    NoticeFacts,
    UpdateFacts,
    format_cadence,
    next_update_due,
    overdue,
    parse_cadence,
    stakeholder_notice,
    template_for,
)

T0 = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)
CADENCE = {1: timedelta(minutes=30), 2: timedelta(minutes=60)}


def test_cadence_text_round_trips_and_refuses_nonsense() -> None:
    assert parse_cadence("1=30, 2=60") == CADENCE
    assert format_cadence(CADENCE) == "1=30,2=60"
    assert parse_cadence("") == {}
    for bad in ("1", "1=x", "0=30", "6=30", "1=0", "1=1441", "p1=30"):
        with pytest.raises(CadenceError):
            parse_cadence(bad)


def test_the_next_update_is_due_when_promised_else_a_cadence_later() -> None:
    assert next_update_due(1, CADENCE, T0, None) == T0 + timedelta(minutes=30)
    last = LastUpdate(T0 + timedelta(minutes=10), None)
    assert next_update_due(1, CADENCE, T0, last) == T0 + timedelta(minutes=40)
    promised = LastUpdate(T0 + timedelta(minutes=10), T0 + timedelta(minutes=90))
    assert next_update_due(1, CADENCE, T0, promised) == T0 + timedelta(minutes=90)
    assert next_update_due(3, CADENCE, T0, None) is None  # P3: no cadence
    assert next_update_due(3, CADENCE, T0, promised) == T0 + timedelta(minutes=90)
    due = T0 + timedelta(minutes=30)
    assert not overdue(due, due - timedelta(seconds=1), True)
    assert overdue(due, due, True)
    assert not overdue(due, due, False) and not overdue(None, due, True)


def test_templates_replace_only_their_placeholder_as_plain_text() -> None:
    assert template_for(1, ["checkout-api", "payments-db"]).startswith(
        "We are investigating a major disruption affecting checkout-api, payments-db."
    )
    text = template_for(2, ["{{ 7*7 }} {services} <b>x</b>"])
    assert "{{ 7*7 }} {services} <b>x</b>" in text
    assert "some of our services" in template_for(4, [])


def test_a_notice_says_what_happens_in_plain_words() -> None:
    facts = NoticeFacts(
        12, "db-1 disk full", 1, "acknowledged", T0, ["checkout"], "https://s/status"
    )
    subject, body = stakeholder_notice(facts, None, "Leadership")
    assert subject == "Service problem: checkout (critical)"
    assert "critical problem affecting: checkout" in body and "https://s/status" in body
    update = UpdateFacts("monitoring", "Fixed; watching.", "Card payments", None, T0)
    subject, body = stakeholder_notice(facts, update, "Leadership")
    assert subject == "Monitoring: checkout"
    assert "A fix is in place and we are watching" in body
    assert "Expected to be fixed: not known yet" in body
    assert "Next update by: 07 Jan 2030 10:00 UTC" in body
    resolved = UpdateFacts("resolved", "All good.", "", None, None)
    assert "Expected to be fixed" not in stakeholder_notice(facts, resolved, "x")[1]
