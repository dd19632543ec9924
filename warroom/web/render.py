"""Rendering pages: the Jinja2 environment (autoescaped), time formatting and static file URLs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from warroom.common.clock import utcnow
from warroom.common.zones import read_wall_clock, zone_named
from warroom.incidents.logic import PRIORITY_NAMES
from warroom.incidents.service import ROLE_LABELS
from warroom.incidents.sla import Clock
from warroom.web.auth import current_user

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

IMPACT_LABELS = {1: "1 — high", 2: "2 — medium", 3: "3 — low"}
URGENCY_LABELS = IMPACT_LABELS
STATUS_LABELS = {
    "triggered": "Triggered",
    "acknowledged": "Acknowledged",
    "mitigated": "Mitigated",
    "resolved": "Resolved",
    "closed": "Closed",
}
ACTION_LABELS = {
    "acknowledge": "Acknowledge",
    "mitigate": "Mark mitigated",
    "resolve": "Resolve",
    "reopen": "Reopen",
    "close": "Close",
}


@cache
def _static_version(name: str) -> str:
    # Content hash in the URL: a new release is fetched at once, an unchanged file stays cached.
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    return f"/static/{name}?v={_static_version(name)}"


def span(delta: timedelta) -> str:
    """A short human duration: 45s, 12m, 3h 05m, 2d 4h."""
    seconds = int(abs(delta).total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


@dataclass(frozen=True)
class Formatter:
    """Times in the reader's own time zone, durations relative to one `now` per page."""

    now: datetime
    zone: ZoneInfo

    def time(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        local = value.astimezone(self.zone)
        if local.date() == self.now.astimezone(self.zone).date():
            return local.strftime("%H:%M")
        if local.year == self.now.astimezone(self.zone).year:
            return local.strftime("%d %b %H:%M")
        return local.strftime("%d %b %Y %H:%M")

    def full(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    def iso(self, value: datetime | None) -> str:
        return value.astimezone(UTC).isoformat() if value else ""

    def ago(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        delta = self.now - value
        return f"{span(delta)} ago" if delta >= timedelta(0) else f"in {span(delta)}"

    def span(self, delta: timedelta) -> str:
        return span(delta)

    def clock(self, c: Clock) -> str:
        """What a clock says in words, e.g. "9m left of 15m" or "breached 2h 10m ago"."""
        if c.state == "met":
            return f"met in {span(c.elapsed)}"
        if c.state == "missed":
            return f"missed by {span(c.elapsed - c.target)}"
        left = c.deadline - self.now
        if left < timedelta(0):
            return f"breached {span(left)} ago"
        return f"{span(left)} left of {span(c.target)}"

    def local_input(self, value: datetime | None) -> str:
        """The value of a datetime-local input, in the reader's zone."""
        return value.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M") if value else ""

    def in_zone(self, value: datetime | None, zone: str) -> str:
        """A day and time in another zone (a schedule's), with the zone's abbreviation."""
        if value is None:
            return "—"
        return value.astimezone(zone_named(zone)).strftime("%a %d %b %H:%M %Z")

    def same_offset(self, value: datetime, zone: str) -> bool:
        """Whether the reader's clock reads the same as the zone's at this instant, so a page
        can leave out the second time."""
        return (
            value.astimezone(self.zone).utcoffset()
            == value.astimezone(zone_named(zone)).utcoffset()
        )


def formatter(time_zone: str, now: datetime) -> Formatter:
    return Formatter(now, zone_named(time_zone))


def parse_local(value: str, time_zone: str, *, ending: bool = False) -> datetime | None:
    """A datetime-local input ("2026-11-27T10:00") read in a zone by the product guide's DST
    rules (common/zones.read_wall_clock, as schedules read their times); None if empty."""
    return parse_local_noted(value, time_zone, ending=ending)[0]


def parse_local_noted(
    value: str, time_zone: str, *, ending: bool = False
) -> tuple[datetime | None, str | None]:
    """As parse_local, with the sentence saying how a skipped or repeated time was read."""
    value = value.strip()
    if not value:
        return None, None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC), None
    return read_wall_clock(parsed, zone_named(time_zone), ending=ending)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        # Every value is HTML-escaped unless a template says otherwise (none does).
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        static_url=static_url,
        PRIORITY_NAMES=PRIORITY_NAMES,
        ROLE_LABELS=ROLE_LABELS,
        IMPACT_LABELS=IMPACT_LABELS,
        URGENCY_LABELS=URGENCY_LABELS,
        STATUS_LABELS=STATUS_LABELS,
        ACTION_LABELS=ACTION_LABELS,
    )
    return env


ENV = _environment()


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
) -> HTMLResponse:
    me = current_user(request)
    now = now or utcnow()
    values: dict[str, Any] = {
        "me": me,
        "csrf": me.csrf_token if me else "",
        "can_act": bool(me and me.role in ("responder", "admin")),
        "is_admin": bool(me and me.role == "admin"),
        "fmt": formatter(me.time_zone if me else "UTC", now),
        "path": request.url.path,
        "error": None,
        "notice": None,
    }
    values.update(context or {})
    html = ENV.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status, headers=headers)
    # Pages show incident data: keep them out of shared caches and the back-button cache after
    # sign-out.
    response.headers["Cache-Control"] = "no-store"
    return response
