"""Grouping rules, pure: which rule applies to an alert and the group key it gives the alert.

Today's default groups a service's alerts by time alone: an alert joins the service's open
incident whose last alert came within the service's grouping window. A grouping rule refines
that, in the spirit of Alertmanager's `group_by`:

- *content keys*: alerts whose values of the keys are equal share a group (one incident); a key
  the alert does not have groups under the empty value. A key is one of Warroom's fields
  (`severity`, `summary`, `source`, `integration`, `dedup_key`) or a label, `labels.<name>`.
  Groups stay within a service: two services' alerts never share an incident by key alone;
- *a window*: overrides the service's grouping window for the alerts the rule applies to;
- *matchers* (Alertmanager's, as silences'; none: every alert of its scope): which alerts the
  rule applies to;
- *dependency-aware*: an alert that would open a new incident joins instead an open incident
  of a service its service depends on directly (one level of the catalog), when that
  incident's last alert came within the window.

Precedence: a service's own rules first, then the global ones (service unset); within each,
by position, then by id; the first rule whose matchers all match applies, alone. No rule: the
default (service and window only, the empty key).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import orjson

from warroom.alerts.matchers import Matcher, alert_fields

# Warroom's own fields a rule can group by; labels are `labels.<name>`.
FIELD_KEYS = ("severity", "summary", "source", "integration", "dedup_key")
LABEL_PREFIX = "labels."
KEYS_MAX = 10
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class GroupingError(ValueError):
    """A rule that cannot be saved; `field` names the part that is wrong."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def check_keys(keys: Iterable[str]) -> tuple[str, ...]:
    """The content keys, stripped and without repeats; GroupingError naming the first one
    that is not a field or `labels.<name>`, or for none at all."""
    found = tuple(dict.fromkeys(k.strip() for k in keys if k.strip()))
    if not found:
        raise GroupingError(
            "a grouping rule needs at least one key, e.g. labels.alertname or severity", "keys"
        )
    if len(found) > KEYS_MAX:
        raise GroupingError(f"at most {KEYS_MAX} keys", "keys")
    for key in found:
        if key in FIELD_KEYS:
            continue
        label = key.removeprefix(LABEL_PREFIX)
        if key.startswith(LABEL_PREFIX) and len(label) <= 100 and LABEL_NAME.match(label):
            continue
        raise GroupingError(
            f"unknown key {key!r}: use one of {', '.join(FIELD_KEYS)}, or labels.<name> for a "
            "label (letters, digits and _, not starting with a digit), e.g. labels.cluster",
            "keys",
        )
    return found


@dataclass(frozen=True)
class GroupingRule:
    id: int
    service_id: int | None  # None: global
    keys: tuple[str, ...]
    matchers: tuple[Matcher, ...] = ()
    window_seconds: int | None = None  # None: the service's grouping window
    dependency_aware: bool = False
    position: int = 0


@dataclass(frozen=True)
class Group:
    """What one alert's grouping is: its key ("" by default), the window (None: the
    service's), whether it may join a dependency's incident, and the rule that said so."""

    key: str = ""
    window_seconds: int | None = None
    dependency_aware: bool = False
    rule_id: int | None = None


DEFAULT = Group()


@dataclass(frozen=True)
class AlertView:
    """What rules read of one alert."""

    service: str
    integration: str
    severity: str
    summary: str
    source: str
    dedup_key: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def value(self, key: str) -> str:
        if key.startswith(LABEL_PREFIX):
            return self.labels.get(key[len(LABEL_PREFIX) :], "")
        return str(getattr(self, key, ""))

    def fields(self) -> dict[str, str]:
        return alert_fields(
            self.labels,
            service=self.service,
            integration=self.integration,
            severity=self.severity,
            summary=self.summary,
            source=self.source,
            dedup_key=self.dedup_key,
        )


def group_key(keys: Sequence[str], alert: AlertView) -> str:
    """The alert's values of the keys as one string: equal exactly when every value is equal
    (names sorted, values JSON-quoted, so no two value sets read the same), e.g.
    `labels.cluster="eu-1",severity="critical"`."""
    return ",".join(
        f"{k}={orjson.dumps(alert.value(k)).decode()}" for k in sorted(dict.fromkeys(keys))
    )


def _ordered(rules: Iterable[GroupingRule]) -> tuple[GroupingRule, ...]:
    return tuple(sorted(rules, key=lambda r: (r.position, r.id)))


@dataclass(frozen=True)
class GroupingRules:
    """The rules in the order they are tried, per service and global."""

    by_service: Mapping[int, tuple[GroupingRule, ...]] = field(default_factory=dict)
    everywhere: tuple[GroupingRule, ...] = ()

    @classmethod
    def build(cls, rules: Iterable[GroupingRule]) -> GroupingRules:
        per: dict[int, list[GroupingRule]] = defaultdict(list)
        common: list[GroupingRule] = []
        for r in rules:
            (common if r.service_id is None else per[r.service_id]).append(r)
        return cls({sid: _ordered(rs) for sid, rs in per.items()}, _ordered(common))

    @property
    def empty(self) -> bool:
        return not self.by_service and not self.everywhere

    def applies(self, service_id: int) -> bool:
        """Whether any rule could apply to this service's alerts."""
        return bool(self.everywhere) or service_id in self.by_service

    def rule_for(self, service_id: int, alert: AlertView) -> GroupingRule | None:
        """The first rule of the service, then of the global ones, whose matchers all match."""
        fields: dict[str, str] | None = None
        for rules in (self.by_service.get(service_id, ()), self.everywhere):
            for r in rules:
                if r.matchers:
                    if fields is None:
                        fields = alert.fields()
                    if not all(m.matches(fields) for m in r.matchers):
                        continue
                return r
        return None

    def group_of(self, service_id: int, alert: AlertView) -> Group:
        rule = self.rule_for(service_id, alert)
        if rule is None:
            return DEFAULT
        return Group(
            group_key(rule.keys, alert), rule.window_seconds, rule.dependency_aware, rule.id
        )
