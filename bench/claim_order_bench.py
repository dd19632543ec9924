"""How long a page waits behind a queued fan-out: N stakeholder/subscriber mails are due (all
older than the page), then one page; each pass claims as many rows as the engine has delivery
workers (8), as engine/delivery.claim_due does.

Measured in the same run: the claim with pages first (today's claim_due) against the claim in
due order alone (the peer: what it did before), as passes until the page is claimed and the
time of one claim with the whole fan-out queued.

Run with ``python bench/claim_order_bench.py [--rows 10000] [--database-url URL]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, insert, or_, select  # noqa: E402

from warroom.db import migrate  # noqa: E402
from warroom.db.engine import Database  # noqa: E402
from warroom.engine import delivery  # noqa: E402
from warroom.notify.models import Notification  # noqa: E402

NOW = datetime(2030, 1, 1, tzinfo=UTC)
WORKERS = 8


def seed(db: Database, rows: int) -> None:
    with db.session() as s:
        s.execute(delete(Notification))
        s.execute(
            insert(Notification),
            [
                {
                    "idempotency_key": f"fan-{n}",
                    "channel": "email",
                    "target": f"s{n}@example.com",
                    "kind": "stakeholder",
                    "urgency": "low",
                    "subject": "s",
                    "body": "b",
                    "links": {},
                    "status": "pending",
                    "attempts": 0,
                    "last_error": "",
                    "next_attempt_at": NOW - timedelta(seconds=rows - n),
                    "created_at": NOW,
                }
                for n in range(rows)
            ],
        )
        s.add(
            Notification(
                idempotency_key="the-page",
                channel="local",
                target="console",
                kind="page",
                subject="PAGE",
                body="b",
                next_attempt_at=NOW,
                created_at=NOW,
            )
        )


def due_order_claim(db: Database, limit: int) -> list[str]:
    """The peer: the claim before pages went first (oldest due first, nothing else)."""
    with db.session() as s:
        rows = list(
            s.scalars(
                select(Notification)
                .where(
                    Notification.status == "pending",
                    Notification.next_attempt_at <= NOW,
                    or_(Notification.claimed_until.is_(None), Notification.claimed_until < NOW),
                )
                .order_by(Notification.next_attempt_at, Notification.id)
                .limit(limit)
            )
        )
        for row in rows:
            row.claimed_until, row.lease_token = NOW + timedelta(hours=1), "x"
        return [r.kind for r in rows]


def pages_first_claim(db: Database, limit: int) -> list[str]:
    return [j.kind for j in delivery.claim_due(db, NOW, "bench", timedelta(hours=1), limit)]


def measure(
    db: Database, claim: Callable[[Database, int], list[str]], rows: int
) -> tuple[int, float]:
    """(the pass in which the page is claimed, median ms of one claim with the fan-out queued).
    Each pass claims WORKERS rows, as if their sends had finished at once."""
    times = []
    for _ in range(5):
        seed(db, rows)
        started = time.perf_counter()
        kinds = claim(db, WORKERS)
        times.append((time.perf_counter() - started) * 1000)
    if "page" in kinds:
        return 1, statistics.median(times)
    # In due order the page waits for every older row: that many passes of WORKERS.
    return rows // WORKERS + 1, statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(args.database_url or f"sqlite:///{tmp}/claim.db")
        migrate.upgrade(db)
        print(f"{args.rows:,} queued fan-out rows, one page; {WORKERS} workers per claim")
        print(
            f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs, "
            f"{db.engine.dialect.name}"
        )
        results: dict[str, tuple[int, float]] = {}
        for name, claim in (
            ("due order (peer)", due_order_claim),
            ("pages first", pages_first_claim),
        ):
            passes, ms = measure(db, claim, args.rows)
            print(f"{name:>18}: page claimed in pass {passes:,}; one claim {ms:.2f} ms")
            results[name] = (passes, ms)
        (peer_passes, peer_ms), (ours_passes, ours_ms) = results.values()
        print(
            f"pages first: the page waits {ours_passes}/{peer_passes} of the passes "
            f"(x{peer_passes / ours_passes:,.0f} sooner); one claim costs x{ours_ms / peer_ms:.2f} "
            f"the peer's"
        )
        db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
