"""Inhibition rules: create, list, delete, and what a batch needs of them (the rules, cached,
and the firing alerts that may be their sources).

Creating a rule marks the open alerts that match its source side (`alerts.inhibits`), so an
alert firing before the rule existed inhibits as well; new alerts are marked as they arrive.
Deleting a rule, and the end of a source, plan the alerts it held again (a release timer).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, select, text, update
from sqlalchemy.orm import Session

from warroom.alerts.inhibition import EQUAL_MAX, InhibitionIndex, Rule, Source
from warroom.alerts.matchers import (
    NAME_MAX,
    Matcher,
    MatcherError,
    alert_fields,
    check_set,
    from_json,
    matches_all,
)
from warroom.alerts.models import INHIBITING_WHERE, Alert, InhibitRule
from warroom.alerts.release_timers import schedule_releases
from warroom.catalog.models import Integration, Service

NAME_LEN = 200
COMMENT_MAX = 2_000
MATCHERS_MAX = 30
RULES_MAX = 500
ALERTS = cast(Table, Alert.__table__)
# The partial index's condition, as written in it (SQLite uses the index only then).
_INHIBITING = text("alerts." + INHIBITING_WHERE.replace(" status", " alerts.status"))
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RuleError(ValueError):
    """A rule that cannot be saved; `field` names the part that is wrong."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RuleIn:
    name: str
    source: Sequence[dict[str, Any]]
    target: Sequence[dict[str, Any]]
    equal: Sequence[str] = ()
    comment: str = ""


def _matchers(items: Sequence[dict[str, Any]], side: str) -> tuple[Matcher, ...]:
    if len(items) > MATCHERS_MAX:
        raise RuleError(f"at most {MATCHERS_MAX} {side} matchers", side)
    try:
        return check_set(from_json(item) for item in items)
    except MatcherError as exc:
        raise RuleError(f"{side} matchers: {exc}", side) from None


def check(data: RuleIn) -> tuple[str, tuple[Matcher, ...], tuple[Matcher, ...], tuple[str, ...]]:
    """The rule's parts checked; RuleError naming the first problem and its field."""
    name = data.name.strip()
    if not name or len(name) > NAME_LEN:
        raise RuleError(f"a rule needs a name of 1 to {NAME_LEN} characters", "name")
    source = _matchers(data.source, "source")
    target = _matchers(data.target, "target")
    equal = tuple(dict.fromkeys(e.strip() for e in data.equal if e.strip()))
    if len(equal) > EQUAL_MAX:
        raise RuleError(f"at most {EQUAL_MAX} equal labels", "equal")
    for label in equal:
        if len(label) > NAME_MAX or not _LABEL_NAME.match(label):
            raise RuleError(
                f"equal: {label!r} is not a label name (letters, digits and _, "
                "not starting with a digit)",
                "equal",
            )
    if len(data.comment) > COMMENT_MAX:
        raise RuleError(f"the comment is longer than {COMMENT_MAX} characters", "comment")
    return name, source, target, equal


def create_rule(
    session: Session, data: RuleIn, author: str, user_id: int | None, now: datetime
) -> InhibitRule:
    name, source, target, equal = check(data)
    if (session.scalar(select(func.count()).select_from(InhibitRule)) or 0) >= RULES_MAX:
        raise RuleError(f"at most {RULES_MAX} inhibition rules", "name")
    rule = InhibitRule(
        name=name,
        source_matchers=[m.to_json() for m in source],
        target_matchers=[m.to_json() for m in target],
        equal=list(equal),
        comment=data.comment,
        created_by=author,
        created_by_id=user_id,
        created_at=now,
    )
    session.add(rule)
    session.flush()
    _mark_sources(session.connection(), source)
    return rule


def delete_rule(session: Session, rule_id: int, now: datetime) -> None:
    """Deletes the rule; the alerts it held that still fire are planned again and page."""
    rule = session.get(InhibitRule, rule_id, with_for_update=True)
    if rule is None:
        raise LookupError("no such inhibition rule")
    session.delete(rule)
    session.flush()
    schedule_releases(session.connection(), {now}, now)


def list_rules(session: Session) -> list[InhibitRule]:
    return list(session.scalars(select(InhibitRule).order_by(InhibitRule.id)))


def rule_of(row: InhibitRule) -> Rule:
    return Rule(
        row.id,
        row.name,
        tuple(from_json(m) for m in row.source_matchers),
        tuple(from_json(m) for m in row.target_matchers),
        tuple(row.equal or ()),
    )


def _open_alert_fields(conn: Connection, where: Any) -> list[tuple[Any, dict[str, str]]]:
    a, i, s = ALERTS.c, Integration.__table__.c, Service.__table__.c
    rows = conn.execute(
        select(
            a.id,
            a.integration_id,
            a.dedup_key,
            a.severity,
            a.summary,
            a.source,
            a.labels,
            i.name.label("integration"),
            i.type,
            s.name.label("service"),
        )
        .join(Integration.__table__, i.id == a.integration_id)
        .join(Service.__table__, s.id == a.service_id)
        .where(where)
        .order_by(a.id)
    ).all()
    return [
        (
            r,
            alert_fields(
                r.labels or {},
                service=r.service,
                integration=r.integration or r.type,
                severity=r.severity,
                summary=r.summary,
                source=r.source,
                dedup_key=r.dedup_key,
            ),
        )
        for r in rows
    ]


def _mark_sources(conn: Connection, source: tuple[Matcher, ...]) -> None:
    """Marks the open alerts matching a new rule's source side (an admin's action: it reads
    the open alerts once)."""
    a = ALERTS.c
    ids = [
        r.id
        for r, fields in _open_alert_fields(conn, (a.status != "resolved") & ~a.inhibits)
        if matches_all(source, fields)
    ]
    for start in range(0, len(ids), 500):
        conn.execute(update(ALERTS).where(a.id.in_(ids[start : start + 500])).values(inhibits=True))


# --- what a batch reads ----------------------------------------------------------------------


@dataclass
class _Cached:
    version: tuple[Any, ...]
    rules: tuple[Rule, ...]


_CACHE: weakref.WeakKeyDictionary[Engine, _Cached] = weakref.WeakKeyDictionary()


def active_rules(conn: Connection) -> tuple[Rule, ...]:
    """The rules, compiled; read again only when their count or newest id changed (rules are
    created and deleted, never edited)."""
    t = InhibitRule.__table__.c
    count, latest = conn.execute(select(func.count(), func.max(t.id))).one()
    if not count:
        return ()
    version = (count, latest)
    cached = _CACHE.get(conn.engine)
    if cached is None or cached.version != version:
        rules = []
        for row in conn.execute(
            select(t.id, t.name, t.source_matchers, t.target_matchers, t.equal).order_by(t.id)
        ):
            try:
                rules.append(
                    Rule(
                        row.id,
                        row.name,
                        tuple(from_json(m) for m in row.source_matchers),
                        tuple(from_json(m) for m in row.target_matchers),
                        tuple(row.equal or ()),
                    )
                )
            except MatcherError:
                continue  # stored before a rule got stricter: it inhibits nothing
        cached = _CACHE[conn.engine] = _Cached(version, tuple(rules))
    return cached.rules


def load_inhibition(conn: Connection) -> InhibitionIndex:
    """The rules and the firing alerts that are their sources (read along the partial index
    of marked alerts; none read when there are no rules)."""
    rules = active_rules(conn)
    if not rules:
        return InhibitionIndex()
    sources = [
        Source(r.integration_id, r.dedup_key, fields, r.summary, r.id)
        for r, fields in _open_alert_fields(conn, _INHIBITING)
    ]
    return InhibitionIndex(rules, sources)
