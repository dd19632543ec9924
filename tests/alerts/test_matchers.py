"""Matchers behave as Alertmanager's: a table of cases from its documentation (missing label
reads as empty, regular expressions anchored), its rule that a silence must require a value,
RE2 refusing what could backtrack catastrophically, and properties over random labels."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.alerts.matchers import (
    Matcher,
    MatcherError,
    alert_fields,
    check_set,
    from_json,
    matcher,
)

# (matcher, labels, matches?) - Alertmanager docs, "Matchers" and "Silences".
CASES = [
    (("alertname", "=", "Watchdog"), {"alertname": "Watchdog"}, True),
    (("alertname", "=", "Watchdog"), {"alertname": "watchdog"}, False),
    (("alertname", "=", "Watchdog"), {}, False),
    (("alertname", "!=", "Watchdog"), {}, True),
    (("alertname", "!=", "Watchdog"), {"alertname": "Other"}, True),
    (("alertname", "!=", "Watchdog"), {"alertname": "Watchdog"}, False),
    # Anchored at both ends: "ar" does not match "bar".
    (("job", "=~", "ar"), {"job": "bar"}, False),
    (("job", "=~", "b.*"), {"job": "bar"}, True),
    (("job", "=~", "bar|baz"), {"job": "baz"}, True),
    (("job", "=~", "bar|baz"), {"job": "barbaz"}, False),
    (("job", "!~", "b.*"), {"job": "bar"}, False),
    (("job", "!~", "b.*"), {}, True),
    # A missing label is the empty string: foo="" matches it, foo!="" needs a value.
    (("foo", "=", ""), {}, True),
    (("foo", "=", ""), {"foo": "x"}, False),
    (("foo", "!=", ""), {}, False),
    (("foo", "!=", ""), {"foo": "x"}, True),
    (("foo", "=~", ".*"), {}, True),
    (("foo", "=~", ".+"), {}, False),
    # UTF-8 values are compared as text.
    (("team", "=", "paiement-é"), {"team": "paiement-é"}, True),
]


@pytest.mark.parametrize(("spec", "labels", "expected"), CASES)
def test_matchers_behave_as_alertmanagers(
    spec: tuple[str, str, str], labels: dict[str, str], expected: bool
) -> None:
    assert matcher(*spec).matches(labels) is expected


def test_the_v2_json_shape_round_trips() -> None:
    m = from_json({"name": "job", "value": "b.*", "isRegex": True, "isEqual": False})
    assert m == Matcher("job", "!~", "b.*")
    assert from_json(m.to_json()) == m
    assert from_json({"name": "a", "value": "b"}).op == "="  # isEqual defaults to true
    assert str(Matcher("a", "=", 'say "hi"')) == 'a="say \\"hi\\""'


def test_a_silence_must_require_a_value() -> None:
    with pytest.raises(MatcherError, match="at least one matcher"):
        check_set([])
    for only in (("foo", "=~", ".*"), ("foo", "!=", "x"), ("foo", "=", ""), ("foo", "!~", ".+")):
        with pytest.raises(MatcherError, match="match every alert"):
            check_set([matcher(*only)])
    # One matcher requiring a value is enough, as in Alertmanager.
    assert check_set([matcher("foo", "=~", ".*"), matcher("job", "=", "api")])


def test_bad_matchers_are_refused_with_a_reason() -> None:
    with pytest.raises(MatcherError, match="operator"):
        matcher("a", "==", "b")
    with pytest.raises(MatcherError, match="name"):
        matcher("", "=", "b")
    # Backreferences and lookaround can take exponential time: RE2 does not have them.
    for pattern in (r"(a)\1", "(?=a)a", "(?<!a)b"):
        with pytest.raises(MatcherError, match="RE2"):
            matcher("a", "=~", pattern)
    with pytest.raises(MatcherError, match="too large"):
        matcher("a", "=~", ".{1000}")


def test_a_pattern_that_backtracks_catastrophically_elsewhere_runs_in_linear_time() -> None:
    # (a+)+$ against "aaaa...b" takes exponential time in a backtracking engine (Python's re
    # needs minutes at this length); RE2 answers at once.
    m = matcher("path", "=~", "(a+)+$")
    started = time.perf_counter()
    assert not m.matches({"path": "a" * 5_000 + "!"})
    assert time.perf_counter() - started < 0.5


def test_fields_are_matchable_and_a_label_wins_over_a_field() -> None:
    fields = alert_fields({"severity": "page"}, service="checkout-api", severity="critical")
    assert matcher("service", "=", "checkout-api").matches(fields)
    assert matcher("severity", "=", "page").matches(fields)


LABEL = st.text(alphabet="abc", min_size=0, max_size=3)


@settings(max_examples=200, deadline=None, database=None)
@given(
    name=st.sampled_from(["a", "b"]),
    value=LABEL,
    labels=st.dictionaries(st.sampled_from(["a", "b", "c"]), LABEL, max_size=3),
)
def test_negation_and_regex_agree_with_equality(
    name: str, value: str, labels: dict[str, str]
) -> None:
    eq = matcher(name, "=", value).matches(labels)
    assert matcher(name, "!=", value).matches(labels) is not eq
    # A regex of the escaped value is equality.
    escaped = "".join(f"[{c}]" for c in value) or ""
    assert matcher(name, "=~", escaped).matches(labels) is eq
    assert matcher(name, "!~", escaped).matches(labels) is not eq


@settings(max_examples=300, deadline=None, database=None)
@given(
    pattern=st.text(alphabet="ab-.*+?|()", min_size=0, max_size=6),
    value=st.text(alphabet="ab-", max_size=5),
)
def test_the_shortcuts_before_re2_agree_with_re2(pattern: str, value: str) -> None:
    import re2

    try:
        compiled = re2.compile(pattern)
    except re2.error:
        return
    m = matcher("x", "=~", pattern)
    assert m.matches({"x": value}) is (compiled.fullmatch(value) is not None), (pattern, value)
