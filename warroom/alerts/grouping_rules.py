"""Grouping rules' store: create, change, list, delete, and the compiled rules a batch reads
(cached per database engine, read again only when a rule was created, changed or deleted).

Who may change them (ADR 10, checked by the callers through `catalog.check_service_manager`):
a service's rules, admins and responders of its owning team, like its grouping window; the
global ones, admins only (they change how every team's alerts group). Rules act on alerts as
they arrive: an incident already open keeps its alerts when a rule changes.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from warroom.alerts.grouping import GroupingError, GroupingRule, GroupingRules, check_keys
from warroom.alerts.matchers import Matcher, MatcherError, from_json
from warroom.alerts.models import GroupingRule as GroupingRuleRow
from warroom.catalog import service as catalog
from warroom.errors import ApiError

MATCHERS_MAX = 30
COMMENT_MAX = 2_000
RULES_MAX = 1_000
WINDOW_MAX = 7 * 24 * 3600  # as the service's grouping window
POSITION_MAX = 1_000_000


@dataclass(frozen=True)
class RuleIn:
    """A rule as typed; `service_id` None is a global rule. On change, unset parts (None)
    stay as they are, except `window_seconds`, which `keep_window` guards."""

    keys: Sequence[str]
    matchers: Sequence[dict[str, Any]] = ()
    window_seconds: int | None = None
    dependency_aware: bool = False
    comment: str = ""
    position: int | None = None


def check_may_change(session: Session, service_id: int | None, user_id: int, role: str) -> None:
    """Refuses (403; 404 for an unknown service) unless the person may change this scope's
    rules: a global rule, admins; a service's, admins and responders of its owning team."""
    if service_id is None:
        if role != "admin":
            raise ApiError(
                403,
                "only admins change global grouping rules (they group every team's alerts); "
                "a service's own rules are for its owning team's responders too",
            )
        return
    catalog.check_service_manager(session, catalog.get_service(session, service_id), user_id, role)


def check_matchers(items: Sequence[dict[str, Any]]) -> tuple[Matcher, ...]:
    """Optional matchers (none: every alert of the rule's scope), each as silences check it."""
    if len(items) > MATCHERS_MAX:
        raise GroupingError(f"at most {MATCHERS_MAX} matchers", "matchers")
    try:
        return tuple(from_json(item) for item in items)
    except MatcherError as exc:
        raise GroupingError(f"matchers: {exc}", "matchers") from None


def _check(data: RuleIn) -> tuple[tuple[str, ...], tuple[Matcher, ...]]:
    keys = check_keys(data.keys)
    matchers = check_matchers(data.matchers)
    if data.window_seconds is not None and not 0 <= data.window_seconds <= WINDOW_MAX:
        raise GroupingError(
            f"the window is 0 to {WINDOW_MAX} seconds (7 days); leave it out for the "
            "service's grouping window",
            "window_seconds",
        )
    if data.position is not None and not 0 <= data.position <= POSITION_MAX:
        raise GroupingError(f"the position is 0 to {POSITION_MAX}", "position")
    if len(data.comment) > COMMENT_MAX:
        raise GroupingError(f"the comment is longer than {COMMENT_MAX} characters", "comment")
    return keys, matchers


def create_rule(
    session: Session,
    service_id: int | None,
    data: RuleIn,
    author: str,
    user_id: int | None,
    now: datetime,
) -> GroupingRuleRow:
    """A new rule, last of its scope unless a position is given."""
    keys, matchers = _check(data)
    if (session.scalar(select(func.count()).select_from(GroupingRuleRow)) or 0) >= RULES_MAX:
        raise GroupingError(f"at most {RULES_MAX} grouping rules", "keys")
    position = data.position
    if position is None:
        t = GroupingRuleRow
        scope = t.service_id.is_(None) if service_id is None else t.service_id == service_id
        last = session.scalar(select(func.max(t.position)).where(scope))
        position = 0 if last is None else min(last + 1, POSITION_MAX)
    row = GroupingRuleRow(
        service_id=service_id,
        position=position,
        keys=list(keys),
        matchers=[m.to_json() for m in matchers],
        window_seconds=data.window_seconds,
        dependency_aware=data.dependency_aware,
        comment=data.comment,
        created_by=author,
        created_by_id=user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def update_rule(
    session: Session, row: GroupingRuleRow, changes: dict[str, Any], now: datetime
) -> GroupingRuleRow:
    """Changes the given parts (keys, matchers, window_seconds, dependency_aware, comment,
    position), checked together; a rule's service does not change."""
    merged = RuleIn(
        keys=changes.get("keys", row.keys),
        matchers=changes.get("matchers", row.matchers),
        window_seconds=changes.get("window_seconds", row.window_seconds),
        dependency_aware=changes.get("dependency_aware", row.dependency_aware),
        comment=changes.get("comment", row.comment),
        position=changes.get("position", row.position),
    )
    keys, matchers = _check(merged)
    row.keys = list(keys)
    row.matchers = [m.to_json() for m in matchers]
    row.window_seconds = merged.window_seconds
    row.dependency_aware = merged.dependency_aware
    row.comment = merged.comment
    row.position = merged.position if merged.position is not None else row.position
    row.updated_at = now
    session.flush()
    return row


def delete_rule(session: Session, row: GroupingRuleRow) -> None:
    session.delete(row)
    session.flush()


def list_rules(
    session: Session, service_id: int | None = None, *, every: bool = False
) -> list[GroupingRuleRow]:
    """A scope's rules in the order they are tried (`every`: all, the global ones first)."""
    t = GroupingRuleRow
    query = select(t)
    if not every:
        scope = t.service_id.is_(None) if service_id is None else t.service_id == service_id
        query = query.where(scope)
    order = (t.service_id.is_not(None), t.service_id, t.position, t.id)
    return list(session.scalars(query.order_by(*order)))


def rule_of(row: GroupingRuleRow) -> GroupingRule:
    return GroupingRule(
        row.id,
        row.service_id,
        tuple(row.keys),
        tuple(from_json(m) for m in row.matchers or ()),
        row.window_seconds,
        bool(row.dependency_aware),
        row.position,
    )


# --- what a batch reads ----------------------------------------------------------------------


@dataclass
class _Cached:
    version: tuple[Any, ...]
    rules: GroupingRules


_CACHE: weakref.WeakKeyDictionary[Engine, _Cached] = weakref.WeakKeyDictionary()
NONE = GroupingRules()


def active_rules(conn: Connection) -> GroupingRules:
    """The rules, compiled; one single-row question per call, the rows read again only when
    their count, newest id or latest change moved."""
    t = GroupingRuleRow.__table__.c
    count, latest, changed = conn.execute(
        select(func.count(), func.max(t.id), func.max(t.updated_at))
    ).one()
    if not count:
        return NONE
    version = (count, latest, str(changed))
    cached = _CACHE.get(conn.engine)
    if cached is None or cached.version != version:
        rules = []
        for rid, service_id, keys, matchers, window, dependency_aware, position in conn.execute(
            select(
                t.id,
                t.service_id,
                t["keys"],
                t.matchers,
                t.window_seconds,
                t.dependency_aware,
                t.position,
            )
        ):
            try:
                rules.append(
                    GroupingRule(
                        rid,
                        service_id,
                        tuple(keys),
                        tuple(from_json(m) for m in matchers or ()),
                        window,
                        bool(dependency_aware),
                        position,
                    )
                )
            except MatcherError:
                continue  # stored before matchers got stricter: the rule applies to nothing
        cached = _CACHE[conn.engine] = _Cached(version, GroupingRules.build(rules))
    return cached.rules
