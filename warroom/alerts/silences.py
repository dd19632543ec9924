"""Silences: create, expire, list (Alertmanager's semantics), and the active ones for a batch.

A silence holds back alerts whose labels and fields match all its matchers while it is active
(`starts_at <= now < ends_at`). Expiring one sets `ends_at` to now, as Alertmanager does; an
alert it held that is still firing then pages (a release timer due at the end, see
:mod:`warroom.alerts.holds`).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from warroom.alerts.matchers import Matcher, MatcherError, check_set, from_json
from warroom.alerts.models import Silence
from warroom.alerts.release_timers import schedule_releases
from warroom.alerts.suppression import ActiveSilence, SilenceIndex, silence_state

COMMENT_MAX = 2_000
MATCHERS_MAX = 30


class SilenceError(ValueError):
    """A silence that cannot be saved or changed; the message says why."""


@dataclass(frozen=True)
class SilenceIn:
    matchers: Sequence[Matcher]
    starts_at: datetime
    ends_at: datetime
    comment: str = ""


def parse_matchers(items: Sequence[dict[str, Any]]) -> tuple[Matcher, ...]:
    """Alertmanager-shaped matchers, checked; SilenceError naming the first problem."""
    if len(items) > MATCHERS_MAX:
        raise SilenceError(f"at most {MATCHERS_MAX} matchers")
    try:
        return check_set(from_json(item) for item in items)
    except MatcherError as exc:
        raise SilenceError(str(exc)) from None


def create_silence(
    session: Session, data: SilenceIn, author: str, user_id: int | None, now: datetime
) -> Silence:
    try:
        matchers = check_set(data.matchers)
    except MatcherError as exc:
        raise SilenceError(str(exc)) from None
    if data.ends_at <= data.starts_at:
        raise SilenceError("a silence must end after it starts (endsAt is not after startsAt)")
    if data.ends_at <= now:
        raise SilenceError("the silence would already be over (endsAt is in the past)")
    if len(data.comment) > COMMENT_MAX:
        raise SilenceError(f"the comment is longer than {COMMENT_MAX} characters")
    silence = Silence(
        matchers=[m.to_json() for m in matchers],
        # Alertmanager moves a start in the past to now: the silence cannot act before it existed.
        starts_at=max(data.starts_at, now),
        ends_at=data.ends_at,
        created_by=author,
        created_by_id=user_id,
        comment=data.comment,
        created_at=now,
        updated_at=now,
    )
    session.add(silence)
    session.flush()
    schedule_releases(session.connection(), {silence.ends_at}, now)
    return silence


def expire_silence(session: Session, silence_id: int, now: datetime) -> Silence:
    """Ends a pending or active silence now; the alerts it held that still fire page."""
    silence = session.get(Silence, silence_id, with_for_update=True)
    if silence is None:
        raise LookupError("no such silence")
    if silence_state(silence.starts_at, silence.ends_at, now) == "expired":
        raise SilenceError("the silence has already expired")
    silence.ends_at = now
    if silence.starts_at >= now:
        # A pending silence never started; it ends where it would have begun.
        silence.starts_at = now - timedelta(milliseconds=1)
    silence.updated_at = now
    schedule_releases(session.connection(), {now}, now)
    return silence


def state_of(silence: Silence, now: datetime) -> str:
    return silence_state(silence.starts_at, silence.ends_at, now)


def matchers_of(silence: Silence) -> tuple[Matcher, ...]:
    return tuple(from_json(m) for m in silence.matchers)


# --- the batch's active silences, cached ------------------------------------------------------


@dataclass
class _Cached:
    version: tuple[Any, ...]
    silences: list[tuple[int, datetime, datetime, tuple[Matcher, ...]]]
    active_key: tuple[int, ...] = ()
    index: SilenceIndex = SilenceIndex()


_CACHE: weakref.WeakKeyDictionary[Engine, _Cached] = weakref.WeakKeyDictionary()


def active_silences(conn: Connection, now: datetime) -> SilenceIndex:
    """The silences active at `now`, indexed. One single-row query per batch says whether any
    silence changed since the last batch (every write moves `updated_at`; expiring is a write);
    the rows are read and their matchers compiled only then, and the index is rebuilt only when
    the set of active silences changed (one started or ended)."""
    t = Silence.__table__.c
    count, latest = conn.execute(
        select(func.count(), func.max(t.updated_at)).where(t.ends_at > now)
    ).one()
    if not count:
        return SilenceIndex()
    version = (count, latest)
    cached = _CACHE.get(conn.engine)
    if cached is None or cached.version != version:
        rows = conn.execute(
            select(t.id, t.starts_at, t.ends_at, t.matchers).where(t.ends_at > now)
        ).all()
        silences = []
        for r in rows:
            try:
                silences.append((r.id, r.starts_at, r.ends_at, matchers_from_row(r.matchers)))
            except MatcherError:
                continue  # stored before a rule got stricter: it matches nothing rather than fail
        cached = _CACHE[conn.engine] = _Cached(version, silences)
    active = [s for s in cached.silences if s[1] <= now < s[2]]
    key = tuple(s[0] for s in active)
    if key != cached.active_key or not cached.index.count:
        cached.index = SilenceIndex.build([ActiveSilence(s[0], s[3], s[2]) for s in active])
        cached.active_key = key
    return cached.index


def matchers_from_row(items: list[dict[str, Any]]) -> tuple[Matcher, ...]:
    return tuple(from_json(m) for m in items)
