"""Abuse resistance for the public report form, without a captcha: pure and in memory.

A visitor's address may send `PER_ADDRESS` reports per `WINDOW` and everyone together
`OVERALL`; past either, 429 with Retry-After. A hidden "website" field that people never see
but form-filling bots do fill makes a report be thanked for and dropped. Reports are plain
text of `MIN_CHARS`..`MAX_CHARS` characters. The counts live in the process (several API
processes each keep their own; a restart forgets them), which bounds a flood well enough for a
form whose reports only count once three similar ones arrive.
"""

from __future__ import annotations

import threading
from collections import deque

PER_ADDRESS = 5
OVERALL = 120
WINDOW = 600.0
MIN_CHARS = 10
MAX_CHARS = 2000
MAX_ADDRESSES = 50_000


class RateLimit:
    def __init__(
        self, per_address: int = PER_ADDRESS, overall: int = OVERALL, window: float = WINDOW
    ) -> None:
        self.per_address = per_address
        self.overall = overall
        self.window = window
        self._by_address: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self, address: str, now: float) -> float | None:
        """None if the report may go in (and count it); else seconds until one may."""
        with self._lock:
            cutoff = now - self.window
            while self._all and self._all[0] <= cutoff:
                self._all.popleft()
            mine = self._by_address.get(address)
            if mine is None:
                if len(self._by_address) >= MAX_ADDRESSES:
                    self._by_address.pop(next(iter(self._by_address)))
                mine = self._by_address[address] = deque()
            while mine and mine[0] <= cutoff:
                mine.popleft()
            if len(mine) >= self.per_address:
                return mine[0] + self.window - now
            if len(self._all) >= self.overall:
                return self._all[0] + self.window - now
            mine.append(now)
            self._all.append(now)
            return None
