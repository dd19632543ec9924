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
    return {
        "gt": number > limit,
        "ge": number >= limit,
        "lt": number < limit,
        "le": number <= limit,
    }[op]


@dataclass
class _Window:
    times: deque[float] = field(default_factory=deque)
    samples: deque[str] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    firing: bool = False


class RuleSet:
    """The rules in force and their windows. `observe` and `tick` take `now` (seconds)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(rules)
        # eq-indexed rules: field -> value -> rules; the rest are checked on every line.
        self._by_value: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._always: list[int] = []
        self._regex_of: dict[tuple[int, int], Any] = {}
        # Message regexes of all rules in one RE2 set: which of them match, in one pass.
        self._message_set: Any = None
        self._set_rules: dict[int, tuple[int, int]] = {}  # set index -> (rule, condition)
        patterns: list[tuple[int, int, str]] = []
        for index, rule in enumerate(self.rules):
            anchor = next((c for c in rule.conditions if c.op == "eq"), None)
            if anchor is not None:
                self._by_value[anchor.field][anchor.value].append(index)
            else:
                self._always.append(index)
            for c_index, c in enumerate(rule.conditions):
                if c.op == "regex":
                    self._regex_of[(index, c_index)] = re2.compile(c.value, options=_options())
                    if c.field in ("message", "msg"):
                        patterns.append((index, c_index, c.value))
        if patterns:
            rset = re2.Set.SearchSet(_options())
            for index, c_index, pattern in patterns:
                self._set_rules[rset.Add(pattern)] = (index, c_index)
            rset.Compile()
            self._message_set = rset
        self.windows: list[dict[str, _Window]] = [{} for _ in self.rules]

    def _candidates(self, line: LogLine) -> list[int]:
        found = list(self._always)
        for name, values in self._by_value.items():
            value = line.get(name)
            if value is not None:
                hit = values.get(value)
                if hit:
                    found.extend(hit)
        return found

    def matching(self, line: LogLine) -> list[Rule]:
        return [self.rules[i] for i in self._matching(line)]

    def _matching(self, line: LogLine) -> list[int]:
        candidates = self._candidates(line)
        if not candidates:
            return []
        message_hits: set[tuple[int, int]] | None = None
        matched: list[int] = []
        for index in candidates:
            rule = self.rules[index]
            ok = True
            for c_index, condition in enumerate(rule.conditions):
                if condition.op == "regex" and condition.field in ("message", "msg"):
                    if message_hits is None:
                        message_hits = {
                            self._set_rules[i]
                            for i in (self._message_set.Match(line.message) or ())
                        }
                    if (index, c_index) not in message_hits:
                        ok = False
                        break
                elif not _holds(condition, line, self._regex_of.get((index, c_index))):
                    ok = False
                    break
            if ok:
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

    def carry_over(self, old: RuleSet, same: Callable[[Rule, Rule], bool]) -> None:
        """Keep the windows of rules that did not change when the rules are reloaded."""
        previous = {
            rule.id: (rule, windows) for rule, windows in zip(old.rules, old.windows, strict=True)
        }
        for index, rule in enumerate(self.rules):
            found = previous.get(rule.id)
            if found is not None and same(found[0], rule):
                self.windows[index] = found[1]

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
