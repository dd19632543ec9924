"""Engine fault tests, long form: every kill point on both databases, repeated, plus the
misbehaving targets; counts per case, any failure stops the run with its assertion.

    python bench/engine_faults.py [--rounds 5] [--backends sqlite,postgresql]

The short form (each point once; PostgreSQL for the two points where it differs) runs in CI
as tests/faults/test_engine_faults.py; this script drives the same checks. PostgreSQL is a
throwaway server started here, as the test suite does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.faults.test_engine_faults import (  # noqa: E402
    KILL_POINTS,
    check_faulty_targets,
    check_kill_point,
)
from tests.pgserver import (  # noqa: E402
    PostgresServer,
    create_postgres_database,
    drop_postgres_database,
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    server = None
    base = ""
    if "postgresql" in backends:
        server = PostgresServer()
        server.start()
        base = server.create_database("warroom_faults")
    passed = 0
    try:
        for round_ in range(1, args.rounds + 1):
            for backend in backends:
                for case in [*KILL_POINTS, "targets"]:
                    started = time.monotonic()
                    if backend == "sqlite":
                        url, name = f"sqlite:///{tempfile.mkdtemp(prefix='wr-fault-')}/w.db", ""
                    else:
                        url, name = create_postgres_database(base)
                    try:
                        if case == "targets":
                            check_faulty_targets(url)
                        else:
                            check_kill_point(url, case)
                    finally:
                        if name:
                            drop_postgres_database(base, name)
                    passed += 1
                    print(
                        f"round {round_} {backend:<10} {case:<12} ok "
                        f"({time.monotonic() - started:.1f} s)",
                        flush=True,
                    )
    finally:
        if server is not None:
            server.stop()
    print(f"{passed} cases passed, each delivered once (one same-key resend after_send)")


if __name__ == "__main__":
    main()
