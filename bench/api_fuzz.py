"""The long form of tests/api/test_openapi_fuzz.py: schemathesis with all checks and every
phase (examples, coverage, fuzzing, stateful) against the in-process app, as an admin and as a
stakeholder, with more examples and a fresh random seed each run (printed, to replay one).

Run with ``python bench/api_fuzz.py [--examples 100] [--seed N] [--role admin]``. Exits 1 when
any check failed or the app raised; prints the failures, each with a curl line to replay it.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.api import fuzzing  # noqa: E402 - needs the repository on sys.path
from tests.conftest import build_world  # noqa: E402
from warroom.app import create_app  # noqa: E402
from warroom.config import Settings  # noqa: E402
from warroom.db import migrate  # noqa: E402
from warroom.db.engine import Database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=100, help="max examples per operation")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--role", choices=["admin", "stakeholder"], action="append")
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    failed = False
    for role in args.role or ["admin", "stakeholder"]:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite:///{tmp}/fuzz.db"
            db = Database(url)
            migrate.upgrade(db)
            build_world(db)
            identities = fuzzing.make_identities(db)
            app = create_app(Settings(database_url=url, base_url="http://warroom.test"), db, False)
            started = time.monotonic()
            report = fuzzing.run(
                fuzzing.Guard(app, identities),
                identities[role].token,
                max_examples=args.examples,
                seed=seed,
            )
            signed_in = fuzzing.still_signed_in(db, identities)
            db.dispose()
        print(
            f"== {role}, seed {seed}, {args.examples} examples: {time.monotonic() - started:.0f} s"
        )
        print(report.summary(limit=100))
        print(f"statuses: {dict(sorted(report.statuses.items()))}; still signed in: {signed_in}")
        failed |= bool(report.failures or report.errors) or not signed_in
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
