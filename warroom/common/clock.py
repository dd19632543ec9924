"""The wall clock, in one place: the aware UTC now that services are handed as ``now``.

Decisions never read it themselves (they take ``now``); shells and the engine call
:func:`utcnow` once per request or pass, and tests hand their own ``Clock`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)
