"""iCalendar feeds of on-call shifts (a schedule's, a person's) and the tokens in their URLs.

Calendar apps subscribe to a URL and cannot send an Authorization header, so the URL itself is
the credential: ``token = HMAC-SHA256(feed key, "<kind>:<id>")`` cut to 160 bits, where the
feed key is derived from the instance secret (``WARROOM_SECRET_KEY``, or the one generated
per database by :mod:`warroom.instance`) for this one purpose. Nothing is stored, every
process computes the same token, and a token for one schedule says nothing about another.
Changing the instance secret revokes every feed URL at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Literal

from icalendar import Calendar, Event
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from warroom.catalog.models import User
from warroom.oncall import schedule as sch
from warroom.oncall.models import LayerMember, ScheduleLayer, ScheduleOverride
from warroom.oncall.schedules import Loaded, Names, fetch

FeedKind = Literal["schedule", "user"]
FEED_DAYS = 60
_KEY_LABEL = b"warroom/calendar-feed/v1"
# Calendar apps poll; ask for hourly so a new override shows up the same hour.
_REFRESH = timedelta(hours=1)


def feed_token(secret: str, kind: FeedKind, ident: int) -> str:
    """The URL token of one feed; 27 URL-safe characters."""
    if not secret:
        raise ValueError("empty secret key")
    key = hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()
    mac = hmac.new(key, f"{kind}:{ident}".encode(), hashlib.sha256).digest()[:20]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def token_matches(secret: str, kind: FeedKind, ident: int, token: str) -> bool:
    # Constant time, so a forger learns nothing from how long a wrong guess took.
    return hmac.compare_digest(feed_token(secret, kind, ident).encode(), token.encode())


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    """From the start of today (UTC) to 60 days after ``now``.

    Starting at midnight rather than ``now`` keeps the current shift's start, and so its event
    UID, the same on every poll of the day.
    """
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, now + timedelta(days=FEED_DAYS)


def _calendar(name: str, now: datetime) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//Warroom//On-call shifts//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", _REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")  # an X- property is text to icalendar
    return cal


def _event(
    uid: str, summary: str, description: str, start: datetime, end: datetime, now: datetime
) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    event.add("description", description)
    event.add("transp", "TRANSPARENT")  # being on call is not "busy" in the calendar
    return event


def _source(loaded: Loaded, schedule_id: int, shift: sch.Shift) -> str:
    if shift.layer_index is None:
        return "override"
    layer = loaded.layers[schedule_id][shift.layer_index]
    return f"layer {layer.name!r}" if layer.name else f"layer {shift.layer_index + 1}"


def schedule_calendar(session: Session, schedule_id: int, now: datetime) -> bytes | None:
    """The schedule's final shifts and gaps over the feed window; None if it does not exist."""
    start, end = feed_window(now)
    loaded = fetch(session, [schedule_id], overrides_since=start)
    row = loaded.rows.get(schedule_id)
    if row is None:
        return None
    schedule = loaded.pure(schedule_id)
    names = Names(session, loaded.user_ids())
    cal = _calendar(f"On call: {row.name}", now)
    for shift in sch.shifts(schedule, start, end):
        cal.add_component(
            _event(
                f"shift-{schedule_id}-{shift.user_id}-{int(shift.start.timestamp())}@warroom",
                f"On call: {names.of(shift.user_id)}",
                f"{row.name}, {_source(loaded, schedule_id, shift)}",
                shift.start,
                shift.end,
                now,
            )
        )
    for gap_start, gap_end in sch.gaps(schedule, start, end):
        cal.add_component(
            _event(
                f"gap-{schedule_id}-{int(gap_start.timestamp())}@warroom",
                "Nobody on call",
                f"A gap in {row.name}: pages to this schedule reach nobody.",
                gap_start,
                gap_end,
                now,
            )
        )
    return bytes(cal.to_ical())


def user_calendar(session: Session, user_id: int, now: datetime) -> bytes | None:
    """One person's shifts on every schedule over the feed window; None for an unknown or
    deactivated user (their feed stops with their account)."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    start, end = feed_window(now)
    ids = set(
        session.scalars(
            select(ScheduleLayer.schedule_id)
            .join(LayerMember, LayerMember.layer_id == ScheduleLayer.id)
            .where(LayerMember.user_id == user_id)
        )
    ) | set(
        session.scalars(
            select(ScheduleOverride.schedule_id).where(
                or_(
                    ScheduleOverride.user_id == user_id, ScheduleOverride.replacement_id == user_id
                ),
                ScheduleOverride.end_at > start,
            )
        )
    )
    loaded = fetch(session, ids, overrides_since=start)
    mine = sorted(
        (
            (sid, shift)
            for sid in loaded.rows
            for shift in sch.shifts(loaded.pure(sid), start, end)
            if shift.user_id == user_id
        ),
        key=lambda item: (item[1].start, item[0]),
    )
    cal = _calendar(f"{user.name or user.username}: on call", now)
    for sid, shift in mine:
        name = loaded.rows[sid].name
        cal.add_component(
            _event(
                f"shift-{sid}-{user_id}-{int(shift.start.timestamp())}@warroom",
                f"On call: {name}",
                f"{name}, {_source(loaded, sid, shift)}",
                shift.start,
                shift.end,
                now,
            )
        )
    return bytes(cal.to_ical())
