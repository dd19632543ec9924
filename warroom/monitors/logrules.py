"""Pure log rules: which lines match, counted per key over a sliding window, fire and clear.

A rule has conditions on a line's fields (all must hold: eq, ne, contains, regex, and numeric
gt/ge/lt/le), a threshold of matching lines within `window_seconds`, and an optional `group_by`
field that keeps one count per value ("more than 50 status>=500 per host in 1 minute"). When a
key's count reaches the threshold the rule fires for that key (a trigger with sample lines);
when the count in the window falls below the threshold again, it clears (a resolve).

Matching is indexed, so a hundred rules cost little more per line than one: a rule with an
`eq` condition is only looked at for lines whose field has that value (one dict lookup per
indexed field), and the regex conditions of all rules run as one RE2 set over the line, which
says at once which of them match, in linear time. Regular expressions are RE2: no pattern can
backtrack catastrophically; backreferences and lookaround are refused when the rule is saved.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

from warroom.monitors.syslog import LogLine

OPS = ("eq", "ne", "contains", "regex", "gt", "ge", "lt", "le")
SAMPLES = 5
# Distinct keys one rule tracks at most (a group_by on a field with unbounded values, say a
# request id, must not grow without end); the least recently seen key is dropped.
MAX_KEYS = 10_000


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    conditions: tuple[Condition, ...]
    threshold: int = 1
    window_seconds: int = 60
    group_by: str | None = None
    service_id: int = 0
    integration_id: int = 0
    severity: str = "error"


@dataclass(frozen=True)
class Decision:
    rule: Rule
    key: str
    action: str  # trigger | resolve
    count: int
    samples: tuple[str, ...] = ()


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False
    return options


def condition_problem(condition: Condition) -> str | None:
    if condition.op not in OPS:
        return f"unknown operator {condition.op!r}; use one of {', '.join(OPS)}"
    if condition.op == "regex":
        try:
            re2.compile(condition.value, options=_options())
        except re2.error as exc:
            return f"invalid or unsupported regular expression (RE2 syntax): {exc}"
    if condition.op in ("gt", "ge", "lt", "le"):
        try:
            float(condition.value)
        except ValueError:
            return f"{condition.op} compares numbers: {condition.value!r} is not one"
    return None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _holds(condition: Condition, line: LogLine, compiled: Any) -> bool:
    value = line.get(condition.field)
    op = condition.op
    if op == "eq":
        return value == condition.value
    if op == "ne":
        return value != condition.value
    if value is None:
        return False
    if op == "contains":
        return condition.value in value
    if op == "regex":
        return compiled.search(value) is not None
    number = _number(value)
    if number is None:
        return False
    limit = float(condition.value)
    if op == "gt":
        return number > limit
    if op == "ge":
        return number >= limit
    if op == "lt":
        return number < limit
    return number <= limit


@dataclass
class _Window:
    times: deque[float] = field(default_factory=deque)
    samples: deque[str] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    firing: bool = False


class RuleSet:
    """The rules in force and their windows. `observe` and `tick` take `now` (seconds)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(rules)
        # Each rule has an anchor looked up rather than tested: an eq condition (field -> value
        # -> rules), else a message regex (its index in the RE2 set), else none (the rule is
        # tested on every line). Only the other conditions are tested per candidate.
        self._by_value: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._by_pattern: dict[int, list[int]] = defaultdict(list)
        self._always: list[int] = []
        self._rest: list[list[tuple[Condition, Any, int | None]]] = []
        self._message_set: Any = None
        patterns: dict[str, int] = {}
        rset = re2.Set.SearchSet(_options())

        def pattern_index(pattern: str) -> int:
            if pattern not in patterns:
                patterns[pattern] = rset.Add(pattern)
            return patterns[pattern]

        for index, rule in enumerate(self.rules):
            anchor: Condition | None = next((c for c in rule.conditions if c.op == "eq"), None)
            if anchor is not None:
                self._by_value[anchor.field][anchor.value].append(index)
            else:
                anchor = next(
                    (
                        c
                        for c in rule.conditions
                        if c.op == "regex" and c.field in ("message", "msg")
                    ),
                    None,
                )
                if anchor is not None:
                    self._by_pattern[pattern_index(anchor.value)].append(index)
                else:
                    self._always.append(index)
            rest: list[tuple[Condition, Any, int | None]] = []
            for c in rule.conditions:
                if c is anchor:
                    continue
                if c.op == "regex" and c.field in ("message", "msg"):
                    rest.append((c, None, pattern_index(c.value)))
                elif c.op == "regex":
                    rest.append((c, re2.compile(c.value, options=_options()), None))
                else:
                    rest.append((c, None, None))
            self._rest.append(rest)
        if patterns:
            rset.Compile()
            # The compiled set itself where the wrapper exposes it (the wrapper only adds a
            # str check per call); the wrapper otherwise.
            self._message_set = getattr(rset, "_set", rset)
        self.windows: list[dict[str, _Window]] = [{} for _ in self.rules]

    def matching(self, line: LogLine) -> list[Rule]:
        return [self.rules[i] for i in self._matching(line)]

    def _matching(self, line: LogLine) -> list[int]:
        hits: set[int] = set()
        if self._message_set is not None:
            found = self._message_set.Match(line.message.encode("utf-8", "replace"))
            hits = set(found or ())
        candidates = list(self._always)
        for name, values in self._by_value.items():
            value = line.get(name)
            if value is not None:
                found = values.get(value)
                if found:
                    candidates.extend(found)
        by_pattern = self._by_pattern
        for hit in hits:
            found = by_pattern.get(hit)
            if found:
                candidates.extend(found)
        matched: list[int] = []
        for index in candidates:
            for condition, compiled, in_set in self._rest[index]:
                if in_set is not None:
                    if in_set not in hits:
                        break
                elif not _holds(condition, line, compiled):
                    break
            else:
                matched.append(index)
        return matched

    def observe(self, line: LogLine, now: float) -> list[Decision]:
        """Count a line against every rule it matches; the rules that fire because of it."""
        decisions: list[Decision] = []
        for index in self._matching(line):
            rule = self.rules[index]
            key = (line.get(rule.group_by) or "") if rule.group_by else ""
            windows = self.windows[index]
            window = windows.get(key)
            if window is None:
                if len(windows) >= MAX_KEYS:
                    windows.pop(next(iter(windows)))
                window = windows[key] = _Window()
            window.times.append(now)
            window.samples.append(line.message[:500])
            _expire(window, now - rule.window_seconds)
            if not window.firing and len(window.times) >= rule.threshold:
                window.firing = True
                decisions.append(
                    Decision(rule, key, "trigger", len(window.times), tuple(window.samples))
                )
        return decisions

    def tick(self, now: float) -> list[Decision]:
        """Expire old lines; the firing keys whose count fell below the threshold clear."""
        decisions: list[Decision] = []
        for rule, windows in zip(self.rules, self.windows, strict=True):
            for key in list(windows):
                window = windows[key]
                _expire(window, now - rule.window_seconds)
                if window.firing and len(window.times) < rule.threshold:
                    window.firing = False
                    decisions.append(Decision(rule, key, "resolve", len(window.times)))
                if not window.times and not window.firing:
                    del windows[key]
        return decisions

    def carry_over(self, old: RuleSet, same: Callable[[Rule, Rule], bool]) -> list[Decision]:
        """Keep the windows of rules that did not change when the rules are reloaded; the keys
        that were firing under a rule that is gone or changed clear (a resolve each), since
        nothing would count them any more."""
        previous = {
            rule.id: (rule, windows) for rule, windows in zip(old.rules, old.windows, strict=True)
        }
        for index, rule in enumerate(self.rules):
            found = previous.get(rule.id)
            if found is not None and same(found[0], rule):
                self.windows[index] = found[1]
                del previous[rule.id]
        return [
            Decision(rule, key, "resolve", len(window.times))
            for rule, windows in previous.values()
            for key, window in windows.items()
            if window.firing
        ]

    def firing(self) -> Sequence[tuple[Rule, str]]:
        return [
            (rule, key)
            for rule, windows in zip(self.rules, self.windows, strict=True)
            for key, window in windows.items()
            if window.firing
        ]


def _expire(window: _Window, cutoff: float) -> None:
    times = window.times
    while times and times[0] <= cutoff:
        times.popleft()
