"""Path and query parameters of the REST API, with the bounds the OpenAPI document shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator

from warroom.api.pagination import CURSOR_PATTERN, MAX_LIMIT
from warroom.common.schemas import MAX_BIG_ID, MAX_ID, iso_only

# Ids beyond the column's range cannot exist; the document says so, and the driver never sees them.
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
BigPathId = Annotated[int, Path(ge=1, le=MAX_BIG_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
BigQueryId = Annotated[int | None, Query(ge=1, le=MAX_BIG_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
# The cursor is checked by pagination.page (its message says what to pass); the document shows
# its form so that generated clients and fuzzers know it too.
Cursor = Annotated[
    str | None,
    Query(
        description="The next_cursor of the previous page",
        json_schema_extra={"pattern": CURSOR_PATTERN},
    ),
]


# An ISO 8601 instant in the query string; numbers (Unix times) are refused, as the document's
# format: date-time promises.
InstantQuery = Annotated[datetime | None, BeforeValidator(iso_only)]
