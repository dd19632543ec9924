"""Incident metrics as pure functions over stored timestamps: what counts, and how much.

Every function takes plain facts (loaded by `queries.py`) and, where time matters, `now`. The
definitions below are the ones the metrics page shows next to each number (`DEFINITIONS`):

- Which incidents count: those triggered in the period, except incidents merged into another
  (a duplicate; the incident it was merged into counts once).
- MTTD: impact start -> triggered, over incidents whose impact start is known and not after
  the trigger.
- MTTA: triggered -> first acknowledged, over incidents that were acknowledged (an incident
  resolved without anyone acknowledging it is counted as "not acknowledged", not as 0).
- MTTM: triggered -> mitigated, or -> resolved when it was resolved without being marked
  mitigated, over incidents that reached either.
- MTTR: triggered -> resolved (the last resolve: a reopened incident's clock runs until it is
  resolved again; one still open after a reopen does not count).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from warroom.incidents import sla

# What each metric measures, shown on the page and in the API.
DEFINITIONS: dict[str, str] = {
    "incidents": "Incidents triggered in the period; an incident merged into another is not "
    "counted (the one it was merged into is).",
    "mttd": "Mean time to detect: impact start → triggered, over incidents whose impact start "
    "is known (from the first alert's own start time, or corrected in the review).",
    "mtta": "Mean time to acknowledge: triggered → first acknowledged, over incidents that were "
    "acknowledged; the others are listed as not acknowledged.",
    "mttm": "Mean time to mitigate: triggered → mitigated (or → resolved when resolved without "
    "being marked mitigated), over incidents that reached either.",
    "mttr": "Mean time to resolve: triggered → resolved, the last resolve (a reopened incident "
    "counts once it is resolved again), over resolved and closed incidents.",
    "sla": "Share of SLA clocks met, per priority: a stopped clock is met or missed; a running "
    "clock already past its deadline is missed; a running clock within budget is not counted.",
    "pages": "Pages and mobilisations per person, one per escalation step or mobilisation "
    "(however many contact methods it went to), for incidents triggered in the period.",
    "out_of_hours": "Pages outside 09:00–18:00 Monday to Friday in the paged person's own time "
    "zone (daylight saving time included).",
    "noisy": "Alert signatures (the service and the summary of an incident's first alert, numbers "
    "and ids blanked) ranked by the alerts their incidents in the period collected.",
    "recurring": "The same service and signature (the title with numbers and ids blanked) "
    "more than once in the period.",
    "feedback": "Responder feedback (1–5) given on incidents triggered in the period.",
}

WORK_START = time(9, 0)
WORK_END = time(18, 0)


@dataclass(frozen=True)
class IncidentFacts:
    id: int
    priority: int
    title: str
    service_id: int | None
    triggered_at: datetime
    impact_started_at: datetime | None = None
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    merged_into_id: int | None = None
    alert_count: int = 0


@dataclass(frozen=True)
class PageFacts:
    user_id: int
    at: datetime
    time_zone: str


@dataclass(frozen=True)
class Duration:
    """One mean-time metric: how many incidents it covers, their mean and median."""

    count: int
    mean: timedelta | None
    median: timedelta | None
    excluded: int = 0  # incidents of the population it does not cover (not acknowledged, ...)

    @property
    def mean_seconds(self) -> float | None:
        return self.mean.total_seconds() if self.mean is not None else None


@dataclass(frozen=True)
class SlaShare:
    priority: int
    kind: str  # acknowledge | resolve
    met: int
    missed: int

    @property
    def share(self) -> float | None:
        total = self.met + self.missed
        return self.met / total if total else None


@dataclass(frozen=True)
class Load:
    user_id: int
    pages: int
    out_of_hours: int


@dataclass(frozen=True)
class Recurring:
    service_id: int | None
    signature: str
    incident_ids: tuple[int, ...]


@dataclass(frozen=True)
class Noisy:
    service_id: int | None
    signature: str
    alerts: int
    incidents: int


@dataclass(frozen=True)
class Summary:
    incidents: int
    by_priority: dict[int, int]
    mttd: Duration
    mtta: Duration
    mttm: Duration
    mttr: Duration
    sla: list[SlaShare] = field(default_factory=list)


def counted(incidents: Iterable[IncidentFacts]) -> list[IncidentFacts]:
    """The incidents the metrics count: merged duplicates left out."""
    return [i for i in incidents if i.merged_into_id is None]


def _duration(spans: Sequence[float], excluded: int) -> Duration:
    if not spans:
        return Duration(0, None, None, excluded)
    return Duration(
        len(spans),
        timedelta(seconds=statistics.fmean(spans)),
        timedelta(seconds=statistics.median(spans)),
        excluded,
    )


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


def durations(incidents: Sequence[IncidentFacts]) -> dict[str, Duration]:
    """MTTD, MTTA, MTTM and MTTR of these incidents, in one pass (see the definitions)."""
    spans: dict[str, list[float]] = {"mttd": [], "mtta": [], "mttm": [], "mttr": []}
    for i in incidents:
        for name, value in (
            ("mttd", _seconds(i.impact_started_at, i.triggered_at)),
            ("mtta", _seconds(i.triggered_at, i.acknowledged_at)),
            ("mttm", _seconds(i.triggered_at, i.mitigated_at or i.resolved_at)),
            ("mttr", _seconds(i.triggered_at, i.resolved_at)),
        ):
            if value is not None:
                spans[name].append(value)
    return {name: _duration(values, len(incidents) - len(values)) for name, values in spans.items()}


def mttd(incidents: Sequence[IncidentFacts]) -> Duration:
    return durations(incidents)["mttd"]


def mtta(incidents: Sequence[IncidentFacts]) -> Duration:
    return durations(incidents)["mtta"]


def mttm(incidents: Sequence[IncidentFacts]) -> Duration:
    return durations(incidents)["mttm"]


def mttr(incidents: Sequence[IncidentFacts]) -> Duration:
    return durations(incidents)["mttr"]


def sla_compliance(incidents: Sequence[IncidentFacts], now: datetime) -> list[SlaShare]:
    """Met and missed SLA clocks per priority and kind, through the SLA module's own clocks."""
    met: Counter[tuple[int, str]] = Counter()
    missed: Counter[tuple[int, str]] = Counter()
    for i in incidents:
        for c in sla.clocks(i.priority, i.triggered_at, i.acknowledged_at, i.resolved_at, now):
            if c.state == "met":
                met[(i.priority, c.kind)] += 1
            elif c.state in ("missed", "breached"):
                missed[(i.priority, c.kind)] += 1
    keys = sorted(set(met) | set(missed), key=lambda k: (k[0], k[1] != "acknowledge"))
    return [SlaShare(p, kind, met[(p, kind)], missed[(p, kind)]) for p, kind in keys]


def summarise(incidents: Iterable[IncidentFacts], now: datetime, with_sla: bool = True) -> Summary:
    """Everything of the headline table; `with_sla=False` for a period only compared against."""
    population = counted(incidents)
    by_priority = Counter(i.priority for i in population)
    d = durations(population)
    return Summary(
        incidents=len(population),
        by_priority=dict(sorted(by_priority.items())),
        mttd=d["mttd"],
        mtta=d["mtta"],
        mttm=d["mttm"],
        mttr=d["mttr"],
        sla=sla_compliance(population, now) if with_sla else [],
    )


def out_of_hours(at: datetime, zone: ZoneInfo) -> bool:
    """Outside 09:00-18:00 Monday-Friday on the person's own wall clock."""
    local = at.astimezone(zone)
    if local.weekday() >= 5:
        return True
    return not (WORK_START <= local.time() < WORK_END)


def on_call_load(pages: Iterable[PageFacts]) -> list[Load]:
    """Pages per person, most first, with how many came out of hours in their own zone."""
    total: Counter[int] = Counter()
    late: Counter[int] = Counter()
    zones: dict[str, ZoneInfo] = {}
    for p in pages:
        zone = zones.get(p.time_zone)
        if zone is None:
            try:
                zone = ZoneInfo(p.time_zone)
            except (KeyError, ValueError):
                zone = ZoneInfo("UTC")
            zones[p.time_zone] = zone
        total[p.user_id] += 1
        if out_of_hours(p.at, zone):
            late[p.user_id] += 1
    return [Load(uid, n, late[uid]) for uid, n in sorted(total.items(), key=lambda kv: -kv[1])]


_IDS = re.compile(r"\b[0-9a-f]{8,}\b|\d+")
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=8192)
def signature(title: str) -> str:
    """A title with numbers and hex ids blanked: 'disk 91% on db-3' ~ 'disk 95% on db-7'."""
    return _SPACE.sub(" ", _IDS.sub("#", title.lower())).strip()


def recurring(incidents: Iterable[IncidentFacts]) -> list[Recurring]:
    """Groups of two or more incidents with one service and signature, largest first."""
    groups: dict[tuple[int | None, str], list[int]] = defaultdict(list)
    for i in counted(incidents):
        groups[(i.service_id, signature(i.title))].append(i.id)
    found = [
        Recurring(s, sig, tuple(sorted(ids))) for (s, sig), ids in groups.items() if len(ids) > 1
    ]
    return sorted(found, key=lambda r: (-len(r.incident_ids), r.signature))


def noisy(incidents: Iterable[IncidentFacts], limit: int = 10) -> list[Noisy]:
    """The signatures whose incidents collected the most alerts, most first.

    Counted from each incident's alert count (kept by intake), so the period's alerts are not
    scanned one by one: a million-alert table costs what its incidents cost."""
    alerts: Counter[tuple[int | None, str]] = Counter()
    count: Counter[tuple[int | None, str]] = Counter()
    for i in counted(incidents):
        if i.alert_count <= 0:
            continue
        key = (i.service_id, signature(i.title))
        alerts[key] += i.alert_count
        count[key] += 1
    ranked = sorted(alerts.items(), key=lambda kv: (-kv[1], kv[0][1]))[:limit]
    return [Noisy(s, sig, n, count[(s, sig)]) for (s, sig), n in ranked]


def trend(current: float | None, previous: float | None) -> float | None:
    """Relative change from the previous period (0.25 = 25 % more); None without a base."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous


def previous_period(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The period of the same length just before [since, until)."""
    return since - (until - since), since


def feedback_summary(ratings: Sequence[int]) -> tuple[int, float | None, dict[int, int]]:
    """(count, mean rating, how many of each rating 1-5)."""
    spread = {r: 0 for r in range(1, 6)}
    for r in ratings:
        spread[r] = spread.get(r, 0) + 1
    return len(ratings), (statistics.fmean(ratings) if ratings else None), spread
