"""The long form of tests/faults/test_intake_faults.py: the same faults, more rounds, figures.

    python bench/intake_faults.py [--rounds 20] [--kills 5] [--database-url URL] [--only kill]

Each round: SIGKILL of `warroom serve` under intake load --kills times (SQLite in a temporary
directory unless --database-url; a PostgreSQL URL is used as it is, so give a database of its
own), PostgreSQL stopped and started under load (a server of the run's own), and SQLite's disk
full on a small tmpfs (root only; skipped otherwise). Prints what was acknowledged, what was
found stored, and every mismatch; exits 1 on any lost acknowledged event or any 5xx but 503.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.faults.intake_harness import (  # noqa: E402
    kill_under_load,
    own_postgres,
    postgres_outage,
    sqlite_disk_full,
    stored_keys,
    tmpfs,
)


def bad_statuses(statuses: dict[int | str, int]) -> dict[int | str, int]:
    return {s: n for s, n in statuses.items() if isinstance(s, int) and s >= 500 and s != 503}


def kill_round(work: Path, url: str | None, kills: int) -> bool:
    if url is None:
        target = f"sqlite:///{work}/kill-{uuid.uuid4().hex[:8]}.db"
    else:
        from tests.pgserver import create_postgres_database

        target, _name = create_postgres_database(url)
    start = time.monotonic()
    load, done = kill_under_load(target, work / "kill.log", kills, 60)
    lost = load.acked - stored_keys(target)
    print(
        f"  kill: {done} SIGKILLs, {len(load.acked)} events acknowledged, {len(lost)} lost, "
        f"answers {dict(load.statuses)} ({time.monotonic() - start:.0f} s)"
    )
    return not lost and not bad_statuses(load.statuses) and done == kills


def outage_round(work: Path, down_for: float) -> bool:
    with own_postgres() as (pg, url):
        outage = postgres_outage(pg, url, work / "pg.log", down_for=down_for, deadline=3.0)
        lost = outage.load.acked - stored_keys(url)
    print(
        f"  postgres down {down_for:g} s: {len(outage.load.acked)} acknowledged, {len(lost)} lost,"
        f" while down {dict(outage.answered_while_down)} (acknowledged {outage.acked_while_down}),"
        f" slowest answer {outage.load.slowest:.2f} s, all answers {dict(outage.load.statuses)}"
    )
    return (
        not lost
        and not bad_statuses(outage.load.statuses)
        and outage.answered_while_down[503] > 0
        and not [s for s in outage.load.statuses if isinstance(s, str)]
    )


def disk_round(work: Path) -> bool | None:
    try:
        mount = tmpfs(work / "disk", "24m")
        disk = mount.__enter__()
    except (PermissionError, FileNotFoundError) as exc:
        print(f"  disk full: skipped ({exc})")
        return None
    try:
        full = sqlite_disk_full(disk, work / "disk.log")
    finally:
        mount.__exit__(None, None, None)
    print(
        f"  disk full: batches {full.statuses}, refusal {full.refusal.get('message')!r}, "
        f"stored early {full.refused_stored_before_space_returned}, accepted after "
        f"{full.accepted_after}, integrity {full.integrity}"
    )
    return (
        full.statuses[-1:] == [503]
        and full.refused_stored_before_space_returned == 0
        and full.accepted_after > 0
        and full.integrity == "ok"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs per kill round")
    parser.add_argument("--down-for", type=float, default=5.0, help="seconds PostgreSQL is down")
    parser.add_argument("--database-url", help="PostgreSQL server for the kill rounds")
    parser.add_argument("--only", choices=["kill", "postgres", "disk"])
    args = parser.parse_args()
    failures = 0
    for n in range(1, args.rounds + 1):
        print(f"round {n}/{args.rounds}")
        with tempfile.TemporaryDirectory(prefix="warroom-faults-") as tmp:
            work = Path(tmp)
            results = []
            if args.only in (None, "kill"):
                results.append(kill_round(work, args.database_url, args.kills))
            if args.only in (None, "postgres"):
                results.append(outage_round(work, args.down_for))
            if args.only in (None, "disk"):
                results.append(disk_round(work))
            failures += sum(1 for r in results if r is False)
    print("OK" if failures == 0 else f"FAILED: {failures} fault runs")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
