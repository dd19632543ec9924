"""Pure report clustering: which reports say the same thing, and when they raise an incident.

A report attaches to the open incident of its service if there is one. Otherwise it joins the
reports of the same service within the window whose text is similar (Jaccard similarity of
their word sets at least `similarity`); when the cluster reaches `raise_after` reports, they
raise an incident together. Nothing here reads a clock or a database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

_WORD = re.compile(r"[^\W\d_]{3,}|\d{3,}", re.UNICODE)
# Words that say nothing about what is broken.
STOPWORDS = frozenset(
    (
        "the",
        "and",
        "for",
        "are",
        "but",
        "not",
        "you",
        "all",
        "any",
        "can",
        "had",
        "her",
        "was",
        "one",
        "our",
        "out",
        "has",
        "have",
        "this",
        "that",
        "with",
        "from",
        "they",
        "will",
        "would",
        "there",
        "their",
        "what",
        "when",
        "which",
        "while",
        "been",
        "were",
        "into",
        "just",
        "than",
        "then",
        "them",
        "some",
        "very",
        "again",
        "also",
        "still",
        "does",
        "doing",
        "broken",
        "working",
        "work",
        "wrong",
        "something",
        "issue",
        "problem",
        "please",
        "help",
    )
)


@dataclass(frozen=True)
class Report:
    id: int
    service_id: int
    text: str
    at: datetime
    incident_id: int | None = None


@dataclass(frozen=True)
class Decision:
    action: str  # attach | raise | wait
    incident_id: int | None = None
    cluster: tuple[int, ...] = ()  # report ids raising an incident together


def words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in STOPWORDS)


def similarity(a: str, b: str) -> float:
    wa, wb = words(a), words(b)
    if not wa and not wb:
        return 1.0  # two reports that say nothing specific about one service: the same
    return len(wa & wb) / len(wa | wb)


def decide(
    report: Report,
    recent: Sequence[Report],
    open_incident: int | None,
    now: datetime,
    *,
    window_seconds: int = 900,
    raise_after: int = 3,
    similar: float = 0.2,
) -> Decision:
    if open_incident is not None:
        return Decision("attach", open_incident)
    since = now - timedelta(seconds=window_seconds)
    cluster = [
        r.id
        for r in recent
        if r.service_id == report.service_id
        and r.incident_id is None
        and r.id != report.id
        and since <= r.at <= now
        and similarity(r.text, report.text) >= similar
    ]
    if len(cluster) + 1 >= raise_after:
        return Decision("raise", None, (*sorted(cluster), report.id))
    return Decision("wait")


def resolved_notice(
    title: str, resolved_at: datetime | None, status_url: str, description: str
) -> tuple[str, str]:
    """Subject and plain-text body telling a reporter that the problem they reported is fixed."""
    lines = [
        "Thank you for your report. The problem it was about has been fixed.",
        "",
        f"Incident: {title}",
    ]
    if resolved_at is not None:
        lines.append(f"Resolved: {resolved_at:%Y-%m-%d %H:%M} UTC")
    said = " ".join(description.split())
    lines += [
        f'You reported: "{said[:300]}{"..." if len(said) > 300 else ""}"',
        f"Status page: {status_url}",
        "",
        "If you still see the problem, please report it again.",
    ]
    return f"Resolved: {title}"[:200], "\n".join(lines)
