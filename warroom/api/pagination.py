"""Keyset pagination (newest first by id) and the time-range filter shared by list endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from warroom.errors import ApiError

T = TypeVar("T")
MAX_LIMIT = 200
# What page() accepts as a cursor: the id it handed out, in decimal (empty: the first page).
CURSOR_PATTERN = "^[0-9]{0,19}$"


def _max_id(id_column: InstrumentedAttribute[int]) -> int:
    return 2**63 - 1 if isinstance(id_column.type, BigInteger) else 2**31 - 1


def page(
    session: Session,
    query: Select[Any],
    id_column: InstrumentedAttribute[int],
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(422, f"limit must be between 1 and {MAX_LIMIT}")
    if cursor:
        # isdigit() alone lets "²" and 5,000-digit strings through to int() (500).
        if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 19:
            raise ApiError(422, "invalid cursor: pass back the next_cursor of the previous page")
        # A cursor beyond the widest id the column holds is before every row: the first page.
        # (Passed on, it would fail in the database: 500 on PostgreSQL.)
        if int(cursor) <= _max_id(id_column):
            query = query.where(id_column < int(cursor))
    rows = list(session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if more and rows else None)


def check_range(since: datetime | None, until: datetime | None) -> None:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ApiError(422, f"'{name}' needs a time zone, e.g. 2026-11-27T09:00:00Z")
    if since and until and since > until:
        raise ApiError(422, "'since' is after 'until'")
