"""Pure decisions of incident communication: the update cadence per priority, when the next
update is due, the text templates per priority, and stakeholder notices in plain words.

Nothing here reads the clock or the database; `now` and the rows come in as arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from warroom.common.cadence import (
    DEFAULT_CADENCE,
    CadenceError,
    format_cadence,
    parse_cadence,
)

__all__ = ["DEFAULT_CADENCE", "CadenceError", "format_cadence", "parse_cadence"]

Cadence = Mapping[int, timedelta]

STAGE_LABELS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
}
# What each stage means to someone who does not run the systems.
STAGE_PLAIN = {
    "investigating": "We are looking into the problem.",
    "identified": "We have found the cause and are working on a fix.",
    "monitoring": "A fix is in place and we are watching to make sure it holds.",
    "resolved": "The problem is resolved.",
}
SEVERITY_PLAIN = {
    1: "critical",
    2: "serious",
    3: "moderate",
    4: "minor",
    5: "minor",
}


@dataclass(frozen=True)
class LastUpdate:
    created_at: datetime
    next_update_at: datetime | None


def next_update_due(
    priority: int,
    cadence: Cadence,
    triggered_at: datetime,
    last: LastUpdate | None,
) -> datetime | None:
    """When the next update is owed: the time the last update promised, else the cadence from
    the last update (or from the start); None if this priority has no cadence and nothing was
    promised."""
    if last is not None and last.next_update_at is not None:
        return last.next_update_at
    every = cadence.get(priority)
    if every is None:
        return None
    return (last.created_at if last is not None else triggered_at) + every


def overdue(due: datetime | None, now: datetime, is_open: bool) -> bool:
    return is_open and due is not None and now >= due


# --- templates -------------------------------------------------------------------------------

# Prefilled text per priority; {services} is the only placeholder and is replaced as plain text
# (never a template engine over user text: Cachet's template-injection CVEs are the warning).
TEMPLATES: dict[int, str] = {
    1: (
        "We are investigating a major disruption affecting {services}. Our engineers are "
        "working on it now and will share more as soon as we know it."
    ),
    2: (
        "We are investigating a problem affecting {services}. Some people may be unable to "
        "use it normally. We are working on a fix."
    ),
    3: ("We are looking into reduced performance of {services}. Most people are not affected."),
    4: "We are looking into a minor issue with {services}.",
    5: "Planned work on {services}.",
}


def template_for(priority: int, service_names: Sequence[str]) -> str:
    services = ", ".join(service_names) or "some of our services"
    return TEMPLATES.get(priority, TEMPLATES[4]).replace("{services}", services)


# --- stakeholder notices ---------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeFacts:
    incident_id: int
    title: str
    priority: int
    status: str
    triggered_at: datetime
    service_names: Sequence[str]
    status_page_url: str


@dataclass(frozen=True)
class UpdateFacts:
    stage: str
    message: str
    impact: str
    estimated_resolution_at: datetime | None
    next_update_at: datetime | None
    edited: bool = False


def _when(at: datetime) -> str:
    return at.strftime("%d %b %Y %H:%M UTC")


def stakeholder_notice(
    facts: NoticeFacts, update: UpdateFacts | None, list_name: str
) -> tuple[str, str]:
    """(subject, body) in words a non-engineer understands, with the status page link."""
    services = ", ".join(facts.service_names) or "one of our services"
    how_bad = SEVERITY_PLAIN.get(facts.priority, "minor")
    if update is None:
        subject = f"Service problem: {services} ({how_bad})"
    else:
        stage = STAGE_LABELS.get(update.stage, update.stage)
        subject = f"{stage}: {services}" + (" (corrected)" if update.edited else "")
    lines = [
        "Hello,",
        "",
        f"We are dealing with a {how_bad} problem affecting: {services}.",
        f"It started at {_when(facts.triggered_at)}.",
    ]
    if update is None:
        lines += [
            "Our team is working on it. We will tell you when we know more.",
        ]
    else:
        lines += ["", STAGE_PLAIN.get(update.stage, ""), "", update.message]
        if update.impact:
            lines += ["", f"Who is affected: {update.impact}"]
        if update.stage != "resolved":
            eta = (
                _when(update.estimated_resolution_at)
                if update.estimated_resolution_at
                else "not known yet"
            )
            lines.append(f"Expected to be fixed: {eta}")
            if update.next_update_at:
                lines.append(f"Next update by: {_when(update.next_update_at)}")
    lines += [
        "",
        f"Current status at any time: {facts.status_page_url}",
        "",
        f"(Incident #{facts.incident_id}: {facts.title}. You get this message because you are "
        f"on the stakeholder list {list_name!r}.)",
    ]
    return subject, "\n".join(lines)
