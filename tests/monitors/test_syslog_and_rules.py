"""Syslog parsing (RFC 5424, RFC 3164, junk), TCP framing, log-rule windows on a fake clock."""

from __future__ import annotations

import time
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from warroom.monitors.logrules import Condition, Rule, RuleSet, condition_problem
from warroom.monitors.syslog import MAX_LINE_BYTES, Framer, parse


def test_rfc5424_with_structured_data() -> None:
    line = parse(
        b"<165>1 2026-11-27T09:00:00.003Z web-1 checkout 4242 ID47 "
        b'[req@32473 status="503" path="/pay"] \xef\xbb\xbfupstream timed out'
    )
    assert not line.malformed
    assert line.message == "upstream timed out"
    assert line.fields["host"] == "web-1" and line.fields["app"] == "checkout"
    assert line.fields["severity"] == "notice" and line.fields["facility"] == "20"
    assert line.fields["status"] == "503" and line.fields["path"] == "/pay"
    nil = parse(b"<11>1 - - - - - - plain")
    assert nil.message == "plain" and nil.fields["host"] == "" and nil.fields["severity"] == "err"


def test_rfc3164_and_junk() -> None:
    line = parse(b"<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick")
    assert line.fields["app"] == "su" and line.fields["procid"] == "123"
    assert line.fields["host"] == "mymachine" and line.fields["severity"] == "crit"
    assert line.message == "'su root' failed for lonvick"
    junk = parse(b"\xff\xfe\x00garbage\x80")
    assert junk.malformed and "garbage" in junk.message
    assert parse(b"<999>1 x").malformed
    assert len(parse(b"x" * 2_000_000).message) == MAX_LINE_BYTES


def test_framing_octet_counting_newlines_and_oversized() -> None:
    framer = Framer()
    one, two = b"<13>1 - h a - - - first", b"<13>1 - h a - - - second"
    stream = b"%d %s%d %s" % (len(one), one, len(two), two)
    # Byte by byte: frames come out whole, in order.
    out = [m for b in stream for m in framer.feed(bytes([b]))]
    assert out == [one, two]
    assert Framer().feed(b"<13>plain one\n<13>plain two\r\n") == [
        b"<13>plain one",
        b"<13>plain two",
    ]
    big = Framer()
    got = big.feed(b"<13>" + b"x" * 1_000_000) + big.feed(b"y" * 100 + b"\n<13>after\n")
    assert big.oversized == 1 and got[-1] == b"<13>after" and len(got[0]) == MAX_LINE_BYTES
    counted = Framer()
    got = counted.feed(b"2000000 " + b"z" * 1_500_000) + counted.feed(b"z" * 500_000 + b"5 hello")
    assert got[-1] == b"hello" and counted.oversized == 1
    broken = Framer()
    broken.feed(b"12345678901 x")
    assert broken.broken


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=20), st.integers(1, 50))
def test_octet_counting_survives_any_chunking(messages: list[bytes], chunk: int) -> None:
    stream = b"".join(b"%d %s" % (len(m), m) for m in messages)
    framer = Framer()
    out: list[bytes] = []
    for i in range(0, len(stream), chunk):
        out += framer.feed(stream[i : i + chunk])
    assert out == messages and not framer.broken


def errors_per_host(threshold: int = 3) -> Rule:
    return Rule(
        1,
        "5xx per host",
        (Condition("app", "eq", "nginx"), Condition("status", "ge", "500")),
        threshold=threshold,
        window_seconds=60,
        group_by="host",
    )


def line(host: str, status: str, app: str = "nginx") -> object:
    return parse(f'<13>1 - {host} {app} - - [x status="{status}"] GET /'.encode())


def test_threshold_per_key_over_a_window_fires_once_and_clears() -> None:
    rules = RuleSet([errors_per_host()])
    assert rules.observe(line("web-1", "503"), 0) == []  # type: ignore[arg-type]
    assert rules.observe(line("web-1", "200"), 1) == []  # type: ignore[arg-type]
    assert rules.observe(line("web-2", "500"), 2) == []  # type: ignore[arg-type]
    assert rules.observe(line("web-1", "502", app="apache"), 3) == []  # type: ignore[arg-type]
    assert rules.observe(line("web-1", "500"), 10) == []  # type: ignore[arg-type]
    [fired] = rules.observe(line("web-1", "504"), 20)  # type: ignore[arg-type]
    assert (fired.action, fired.key, fired.count) == ("trigger", "web-1", 3)
    assert len(fired.samples) == 3
    assert rules.observe(line("web-1", "500"), 30) == []  # type: ignore[arg-type]  # firing already
    assert rules.tick(59) == []
    # At 61 s the first line leaves the window: 3 remain (10, 20, 30); at 71 s only 2.
    assert rules.tick(61) == []
    [cleared] = rules.tick(71)
    assert (cleared.action, cleared.key) == ("resolve", "web-1")


def test_a_reload_keeps_unchanged_windows_and_clears_what_a_gone_or_changed_rule_fired() -> None:
    kept, gone = errors_per_host(1), replace(errors_per_host(1), id=2, name="gone")
    changed = replace(errors_per_host(1), id=3, name="changed")
    rules = RuleSet([kept, gone, changed])
    fired = rules.observe(line("web-1", "500"), 0)  # type: ignore[arg-type]
    assert len(fired) == 3
    rules.observe(line("web-2", "500"), 1)  # type: ignore[arg-type]
    fresh = RuleSet([kept, replace(changed, threshold=5)])
    cleared = fresh.carry_over(rules, lambda a, b: a == b)
    assert sorted((d.rule.id, d.key, d.action) for d in cleared) == [
        (2, "web-1", "resolve"),
        (2, "web-2", "resolve"),
        (3, "web-1", "resolve"),
        (3, "web-2", "resolve"),
    ]
    assert sorted(key for r, key in fresh.firing()) == ["web-1", "web-2"]  # kept's, carried
    assert RuleSet([kept]).carry_over(RuleSet([kept]), lambda a, b: a == b) == []


def test_message_regexes_and_bad_rules() -> None:
    timeouts = Rule(2, "timeouts", (Condition("message", "regex", r"time(d )?out"),))
    other = Rule(3, "disk", (Condition("message", "contains", "disk full"),))
    rules = RuleSet([timeouts, other])
    assert [r.id for r in rules.matching(parse(b"<13>upstream timed out"))] == [2]
    assert [r.id for r in rules.matching(parse(b"<13>disk full on /var"))] == [3]
    assert condition_problem(Condition("message", "regex", r"(a)\1")) is not None
    assert condition_problem(Condition("message", "regex", r"(?<=x)y")) is not None
    assert condition_problem(Condition("status", "gt", "five")) is not None
    assert condition_problem(Condition("x", "like", "y")) is not None
    # A pattern that backtracks catastrophically in Python's re takes no time in RE2.
    evil = RuleSet([Rule(4, "evil", (Condition("message", "regex", r"^(a+)+$"),))])
    start = time.perf_counter()
    assert evil.matching(parse(b"a" * 50_000 + b"!")) == []
    assert time.perf_counter() - start < 1.0


@given(
    st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["a", "b"]), st.booleans()), max_size=80),
    st.integers(1, 5),
)
def test_windows_match_a_reference_count(
    steps: list[tuple[int, str, bool]], threshold: int
) -> None:
    """After every line and tick, a key fires exactly while its matching lines within the
    window reach the threshold (fired once per crossing), as a brute-force count says."""
    rule = Rule(9, "r", (Condition("app", "eq", "x"),), threshold, 10, "host")
    rules = RuleSet([rule])
    seen: dict[str, list[float]] = {"a": [], "b": []}
    firing = {"a": False, "b": False}
    now = 0.0
    for gap, host, matches in steps:
        now += gap
        for d in rules.tick(now):
            assert d.action == "resolve" and firing[d.key]
            firing[d.key] = False
        app = "x" if matches else "y"
        decisions = rules.observe(parse(f"<13>1 - {host} {app} - - - m".encode()), now)
        if matches:
            seen[host].append(now)
        for d in decisions:
            assert d.action == "trigger" and not firing[d.key]
            firing[d.key] = True
        for key in ("a", "b"):
            in_window = [t for t in seen[key] if t > now - 10]
            if firing[key] is False and matches and key == host:
                assert len(in_window) < threshold
            if any(d.key == key for d in decisions):
                assert len(in_window) >= threshold
