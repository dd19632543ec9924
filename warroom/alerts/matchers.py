"""Alertmanager's label matchers over an alert's labels and fields (pure).

A matcher is `name op value` with op one of `=`, `!=`, `=~`, `!~`. As in Alertmanager, a name
the alert does not have reads as the empty string, and a regular expression is anchored at both
ends (`=~ "db.*"` is `^(?:db.*)$`). Regular expressions run on RE2 (google-re2): linear time,
so a pattern like `(a+)+$` cannot backtrack catastrophically; constructs RE2 does not support
(backreferences, lookaround) are refused at save time.

Warroom's alerts carry fields besides labels; a matcher names either. The fields are `service`
(the service's name), `integration`, `severity`, `summary`, `source` and `dedup_key`; a label of
the same name wins (an Alertmanager alert's own `severity` label is what its silences mean).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import re2

OPS = ("=", "!=", "=~", "!~")
FIELDS = ("service", "integration", "severity", "summary", "source", "dedup_key")
NAME_MAX = 100
VALUE_MAX = 1_000
# RE2's compiled program size (its own unit) at most: a regular expression so large that its
# automaton is expensive is refused, as a slow one would be elsewhere.
PROGRAM_MAX = 4_000


class MatcherError(ValueError):
    """A matcher that cannot be saved; the message says why."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    # Cheap answers before RE2 (a call into it costs ~50 times Python's own re): the values a
    # regex of plain alternatives matches ("batch|cron"), or a literal prefix every match has
    # ("db-.*" -> "db-").
    _literals: frozenset[str] | None = field(default=None, compare=False, repr=False)
    _prefix: str = field(default="", compare=False, repr=False)
    _regex: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~"):
            literals, prefix = _shortcuts(self.value)
            object.__setattr__(self, "_literals", literals)
            object.__setattr__(self, "_prefix", prefix)

    @property
    def literals(self) -> frozenset[str] | None:
        """For a regex of plain alternatives ("batch|cron"), the values it matches."""
        return self._literals

    @property
    def prefix(self) -> str:
        """A literal prefix every value the regex matches starts with ("" if none is known)."""
        return self._prefix

    @property
    def is_regex(self) -> bool:
        return self.op in ("=~", "!~")

    @property
    def is_equal(self) -> bool:
        return self.op in ("=", "=~")

    def matches(self, fields: Mapping[str, str]) -> bool:
        actual = fields.get(self.name, "")
        if not self.is_regex:
            found = actual == self.value
        elif self._literals is not None:
            found = actual in self._literals
        elif not actual.startswith(self._prefix):
            found = False
        else:
            regex = self._regex
            if regex is None:
                regex = _compiled(self.value)
                object.__setattr__(self, "_regex", regex)
            found = regex.fullmatch(actual) is not None
        return found if self.is_equal else not found

    def to_json(self) -> dict[str, Any]:
        """Alertmanager's v2 API shape."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the user's mistake, answered, not logged


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, _OPTIONS)


def _reason(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else exc
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)


_META = set("\\.^$*+?{}[]()|")
_QUANTIFIERS = set("*+?{")


def _shortcuts(pattern: str) -> tuple[frozenset[str] | None, str]:
    """(the exact values a regex of plain alternatives matches, or None; a literal prefix
    every full match of the pattern starts with, "" if none is known)."""
    if not any(c in _META and c != "|" for c in pattern):
        return frozenset(pattern.split("|")), ""
    if "|" in pattern:
        return None, ""  # an alternative anywhere may start differently
    prefix: list[str] = []
    for i, c in enumerate(pattern):
        if c in _META:
            if c in _QUANTIFIERS and prefix:
                prefix.pop()  # "ab*": the b is optional
            break
        prefix.append(c)
        if i + 1 == len(pattern):
            break
    return None, "".join(prefix)


def matcher(name: str, op: str, value: str) -> Matcher:
    """A checked matcher, or MatcherError saying what is wrong with it."""
    if not name or len(name) > NAME_MAX:
        raise MatcherError(f"a matcher needs a name of 1 to {NAME_MAX} characters")
    if op not in OPS:
        raise MatcherError(f"unknown matcher operator {op!r}; expected one of {', '.join(OPS)}")
    if len(value) > VALUE_MAX:
        raise MatcherError(f"matcher {name!r}: the value is longer than {VALUE_MAX} characters")
    if op in ("=~", "!~"):
        try:
            compiled = _compiled(value)
        except re2.error as exc:
            raise MatcherError(
                f"matcher {name!r}: {value!r} is not a regular expression RE2 accepts "
                f"({_reason(exc)}); "
                "backreferences and lookaround are not supported (they can take exponential time)"
            ) from None
        if compiled.programsize > PROGRAM_MAX:
            raise MatcherError(f"matcher {name!r}: the regular expression is too large")
    return Matcher(name, op, value)


def from_json(item: Mapping[str, Any]) -> Matcher:
    """Alertmanager's v2 shape: {"name", "value", "isRegex", "isEqual" (default true)}."""
    is_regex = bool(item.get("isRegex", False))
    is_equal = bool(item.get("isEqual", True))
    op = ("=~" if is_equal else "!~") if is_regex else ("=" if is_equal else "!=")
    return matcher(str(item.get("name", "")), op, str(item.get("value", "")))


def check_set(matchers: Iterable[Matcher]) -> tuple[Matcher, ...]:
    """A silence's (or rule's) matchers, refused as Alertmanager refuses them: none at all, or
    only matchers that an alert without those labels would pass (they would match everything)."""
    found = tuple(matchers)
    if not found:
        raise MatcherError("at least one matcher is needed")
    if all(m.matches({}) for m in found):
        raise MatcherError(
            "these matchers match every alert (each also matches an empty or missing value); "
            'at least one must require a value, e.g. alertname="HighLatency"'
        )
    return found


def matches_all(matchers: Iterable[Matcher], fields: Mapping[str, str]) -> bool:
    return all(m.matches(fields) for m in matchers)


def alert_fields(
    labels: Mapping[str, str],
    *,
    service: str = "",
    integration: str = "",
    severity: str = "",
    summary: str = "",
    source: str = "",
    dedup_key: str = "",
) -> dict[str, str]:
    """What matchers read of one alert: its fields, then its labels (a label wins)."""
    fields = {
        "service": service,
        "integration": integration,
        "severity": severity,
        "summary": summary,
        "source": source,
        "dedup_key": dedup_key,
    }
    fields.update(labels)
    return fields


def parse_text(text: str) -> Matcher:
    """One matcher as Alertmanager writes it: `name="value"` (or `!=`, `=~`, `!~`); the quotes
    may be left out."""
    text = text.strip()
    for op in ("!~", "=~", "!=", "="):
        name, sep, value = text.partition(op)
        if sep and name.strip() and not any(o in name for o in ("=", "!", "~")):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            return matcher(name.strip(), op, value)
    raise MatcherError(f'{text!r}: expected name="value" (or name!="value", =~, !~)')
