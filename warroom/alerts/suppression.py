"""What holds an alert back from paging (pure): silences, maintenance, the catalog.

`plan_batch` gets one :class:`Suppression` per batch, plain data loaded by
:func:`warroom.alerts.release.load_suppression`:

- silences in effect at the batch's `now`, indexed by one equality matcher each so an alert is
  compared with the few silences that could match it, not all of them;
- the batch's services that are in a maintenance window now, and until when;
- the services each batch service depends on (transitively) and the open incidents on them:
  a new incident on a dependant joins the dependency's incident as "caused by" and does not page.

- inhibition rules and the firing alerts that are their sources (alerts/inhibition.py).

An alert held by a silence, maintenance or an inhibition rule is stored as `suppression =
"silenced" | "maintenance" | "inhibited"` with no incident; when what held it ends (a timer at
that time; for a rule, when its source resolves, or at the latest at the next look), the alerts
still firing are planned again and page then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from warroom.alerts.inhibition import InhibitionIndex
from warroom.alerts.matchers import Matcher, alert_fields
from warroom.incidents.logic import Dependant
from warroom.maintenance.occurrences import Occurrence


def silence_state(starts_at: datetime, ends_at: datetime, now: datetime) -> str:
    """Alertmanager's states: pending before the start, active until the end, then expired."""
    if ends_at <= now:
        return "expired"
    if starts_at > now:
        return "pending"
    return "active"


@dataclass(frozen=True)
class ActiveSilence:
    id: int
    matchers: tuple[Matcher, ...]
    ends_at: datetime


@dataclass(frozen=True)
class SilenceIndex:
    """Active silences by one matcher each that any alert they match must pass: an `=` matcher
    (name -> value), a `=~` of plain alternatives (each value), or a `=~` with a literal prefix
    (name -> prefix length -> prefix). An alert is compared only with the silences under its
    own values; the rest (no such matcher) are compared with every alert."""

    by_label: Mapping[str, Mapping[str, tuple[ActiveSilence, ...]]] = field(default_factory=dict)
    by_prefix: Mapping[str, Mapping[int, Mapping[str, tuple[ActiveSilence, ...]]]] = field(
        default_factory=dict
    )
    unindexed: tuple[ActiveSilence, ...] = ()
    count: int = 0

    @classmethod
    def build(cls, silences: Sequence[ActiveSilence]) -> SilenceIndex:
        by_label: dict[str, dict[str, list[ActiveSilence]]] = defaultdict(lambda: defaultdict(list))
        by_prefix: dict[str, dict[int, dict[str, list[ActiveSilence]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list))
        )
        unindexed: list[ActiveSilence] = []
        for s in silences:
            exact = next((m for m in s.matchers if m.op == "="), None)
            if exact is not None:
                by_label[exact.name][exact.value].append(s)
                continue
            alternatives = next(
                (m for m in s.matchers if m.op == "=~" and m.literals is not None), None
            )
            if alternatives is not None and alternatives.literals is not None:
                for value in alternatives.literals:
                    by_label[alternatives.name][value].append(s)
                continue
            prefixed = next((m for m in s.matchers if m.op == "=~" and m.prefix), None)
            if prefixed is not None:
                by_prefix[prefixed.name][len(prefixed.prefix)][prefixed.prefix].append(s)
                continue
            unindexed.append(s)
        return cls(
            {n: {v: tuple(ss) for v, ss in vals.items()} for n, vals in by_label.items()},
            {
                n: {ln: {p: tuple(ss) for p, ss in ps.items()} for ln, ps in lens.items()}
                for n, lens in by_prefix.items()
            },
            tuple(unindexed),
            len(silences),
        )

    def first_match(self, fields: Mapping[str, str]) -> ActiveSilence | None:
        """The silence that holds these fields longest, or None."""
        best: ActiveSilence | None = None

        def consider(candidates: Sequence[ActiveSilence]) -> None:
            nonlocal best
            for s in candidates:
                if (best is None or s.ends_at > best.ends_at) and all(
                    m.matches(fields) for m in s.matchers
                ):
                    best = s

        for name, values in self.by_label.items():
            consider(values.get(fields.get(name, ""), ()))
        for name, lengths in self.by_prefix.items():
            value = fields.get(name, "")
            for length, prefixes in lengths.items():
                consider(prefixes.get(value[:length], ()))
        consider(self.unindexed)
        return best


@dataclass(frozen=True)
class Held:
    """Why one alert does not page, and until when (None: until it changes)."""

    kind: str  # one of SUPPRESSIONS
    by: dict[str, Any]
    until: datetime | None


# An alert held by an inhibition rule is looked at again at the latest at the next multiple of
# this (one timer per mark): a source resolved by intake releases its targets at once, one that
# ends another way (its incident resolved by a person) within this long.
INHIBITION_RECHECK = timedelta(minutes=5)


def next_mark(now: datetime, step: timedelta = INHIBITION_RECHECK) -> datetime:
    """The first multiple of `step` (since the epoch) after `now`."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    n = (now - epoch) // step + 1
    return epoch + n * step


@dataclass(frozen=True)
class Suppression:
    silences: SilenceIndex = field(default_factory=SilenceIndex)
    # Batch service id -> the window it is in now (the one ending last).
    maintenance: Mapping[int, Occurrence] = field(default_factory=dict)
    # Batch service id -> the services it depends on, nearest first (transitively).
    depends_on: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    # Service id -> an open incident affecting it (the root cause if that one has a cause).
    upstream: Mapping[int, int] = field(default_factory=dict)
    # Service id -> name, for the matchers' `service` field.
    service_names: Mapping[int, str] = field(default_factory=dict)
    # Batch service id -> the services that depend on it (transitively): its blast radius,
    # for the impact of its new incidents. Not a hold; loaded with the dependencies.
    dependants: Mapping[int, tuple[Dependant, ...]] = field(default_factory=dict)
    # Inhibition rules and their firing sources; the batch adds and removes sources as it goes.
    inhibition: InhibitionIndex = field(default_factory=InhibitionIndex)

    @property
    def empty(self) -> bool:
        return not (
            self.silences.count
            or self.maintenance
            or self.depends_on
            or self.dependants
            or not self.inhibition.empty
        )

    @property
    def needs_fields(self) -> bool:
        """Whether holds read an alert's matcher fields (a silence or a rule exists)."""
        return bool(self.silences.count) or not self.inhibition.empty

    def fields(
        self,
        service_id: int,
        integration: str,
        severity: str,
        summary: str,
        source: str,
        dedup_key: str,
        labels: Mapping[str, str],
    ) -> dict[str, str]:
        return alert_fields(
            labels,
            service=self.service_names.get(service_id, ""),
            integration=integration,
            severity=severity,
            summary=summary,
            source=source,
            dedup_key=dedup_key,
        )

    def hold(
        self,
        service_id: int,
        integration: str,
        severity: str,
        summary: str,
        source: str,
        dedup_key: str,
        labels: Mapping[str, str],
        *,
        fields: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> Held | None:
        """Whether a firing alert with these fields is held back now: maintenance of its
        service first, then the silence that lasts longest, then an inhibition rule."""
        window = self.maintenance.get(service_id)
        if window is not None:
            return Held(
                "maintenance",
                {"window_id": window.window_id, "title": window.title},
                window.ends_at,
            )
        if not self.needs_fields:
            return None
        if fields is None:
            fields = self.fields(
                service_id, integration, severity, summary, source, dedup_key, labels
            )
        silence = self.silences.first_match(fields) if self.silences.count else None
        if silence is not None:
            return Held("silenced", {"silence_id": silence.id}, silence.ends_at)
        found = self.inhibition.find(fields) if not self.inhibition.empty else None
        if found is None:
            return None
        rule, src = found
        return Held(
            "inhibited",
            {"rule_id": rule.id, "rule": rule.name, **src.ref()},
            next_mark(now) if now is not None else None,
        )


def dependency_closure(
    edges: Sequence[tuple[int, int]], services: Sequence[int]
) -> dict[int, tuple[int, ...]]:
    """Service -> every service it depends on, directly or through others, nearest first
    (breadth first; a cycle in the catalog ends the walk rather than looping)."""
    direct: dict[int, list[int]] = defaultdict(list)
    for service_id, depends_on in edges:
        direct[service_id].append(depends_on)
    found: dict[int, tuple[int, ...]] = {}
    for start in services:
        seen = {start}
        order: list[int] = []
        frontier = sorted(direct.get(start, ()))
        while frontier:
            nxt: list[int] = []
            for s in frontier:
                if s in seen:
                    continue
                seen.add(s)
                order.append(s)
                nxt.extend(sorted(direct.get(s, ())))
            frontier = nxt
        if order:
            found[start] = tuple(order)
    return found
