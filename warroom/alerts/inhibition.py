"""Alertmanager's inhibition rules (pure).

A rule has source matchers, target matchers and `equal` label names. While an alert matching
the source matchers fires, an alert matching the target matchers whose values of every `equal`
label are the same is inhibited: stored, shown as such, not paging. As in Alertmanager:

- a label an alert does not have reads as the empty string, so `equal` labels missing on both
  sides count as equal;
- an alert matching both sides of a rule cannot be inhibited by an alert for which the same is
  true (itself included), so a rule whose sides overlap does not mute every alert it names;
- matchers and `equal` read the alert's labels and Warroom's fields (service, integration,
  severity, summary, source, dedup_key; a label wins), as silences do.

:class:`InhibitionIndex` keeps, per rule, the firing sources by their `equal` values, so a target
costs one dictionary lookup per rule whose target side it matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from warroom.alerts.matchers import Matcher, matches_all

EQUAL_MAX = 20


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def key(self, fields: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(fields.get(name, "") for name in self.equal)


@dataclass(frozen=True)
class Source:
    """A firing alert that may inhibit others: by id once stored, by key while it is new."""

    integration_id: int
    dedup_key: str
    fields: Mapping[str, str]
    summary: str = ""
    id: int | None = None

    def ref(self) -> dict[str, Any]:
        return {
            "source_alert_id": self.id,
            "source_integration_id": self.integration_id,
            "source_dedup_key": self.dedup_key,
            "source_summary": self.summary[:200],
        }


@dataclass
class _Side:
    """One rule's firing sources by their equal values: (source, matches the target side too)."""

    rule: Rule
    by_key: dict[tuple[str, ...], list[tuple[Source, bool]]] = field(default_factory=dict)


def inhibited_by(
    rules: Sequence[Rule], sources: Iterable[Source], target: Mapping[str, str]
) -> tuple[Rule, Source] | None:
    """The reference decision, without an index: the first rule (by id) and source that
    inhibit an alert with these fields. `sources` are the firing alerts (the target itself may
    be among them)."""
    pool = list(sources)
    for rule in sorted(rules, key=lambda r: r.id):
        if not matches_all(rule.target, target):
            continue
        two_sided = matches_all(rule.source, target)
        want = rule.key(target)
        for s in pool:
            if not matches_all(rule.source, s.fields) or rule.key(s.fields) != want:
                continue
            if two_sided and matches_all(rule.target, s.fields):
                continue
            return rule, s
    return None


class InhibitionIndex:
    """The rules in effect and their firing sources, updated as a batch goes (a source that
    opens is added, one that resolves removed)."""

    def __init__(self, rules: Sequence[Rule] = (), sources: Iterable[Source] = ()) -> None:
        self.rules = tuple(sorted(rules, key=lambda r: r.id))
        self._sides = [_Side(r) for r in self.rules]
        for s in sources:
            self.add(s)

    @property
    def empty(self) -> bool:
        return not self.rules

    def is_source(self, fields: Mapping[str, str]) -> bool:
        """Whether an alert with these fields is a source of any rule."""
        return any(matches_all(r.source, fields) for r in self.rules)

    def add(self, source: Source) -> bool:
        """Adds a firing alert to the rules whose source side it matches; whether it did."""
        added = False
        for side in self._sides:
            if matches_all(side.rule.source, source.fields):
                both = matches_all(side.rule.target, source.fields)
                side.by_key.setdefault(side.rule.key(source.fields), []).append((source, both))
                added = True
        return added

    def remove(self, integration_id: int, dedup_key: str) -> bool:
        """Drops a source that stopped firing; whether it was one."""
        removed = False
        for side in self._sides:
            for key, found in list(side.by_key.items()):
                kept = [
                    x
                    for x in found
                    if (x[0].integration_id, x[0].dedup_key) != (integration_id, dedup_key)
                ]
                if len(kept) != len(found):
                    removed = True
                    if kept:
                        side.by_key[key] = kept
                    else:
                        del side.by_key[key]
        return removed

    def find(self, target: Mapping[str, str]) -> tuple[Rule, Source] | None:
        """The first rule (by id) and source that inhibit an alert with these fields."""
        for side in self._sides:
            if not side.by_key or not matches_all(side.rule.target, target):
                continue
            found = side.by_key.get(side.rule.key(target))
            if not found:
                continue
            if not matches_all(side.rule.source, target):
                return side.rule, found[0][0]
            # Two-sided: only a source that does not also match the target side.
            for source, both in found:
                if not both:
                    return side.rule, source
        return None
