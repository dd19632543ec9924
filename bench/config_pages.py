"""Server time of the setup pages (issue 9) at 1,000 services, 200 schedules and 200
escalation policies: p50/p95 per page, against a ceiling of 50 ms p95, and the dashboard's
time in the same run as the peer.

    python bench/config_pages.py [--requests 40] [--page /services ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import select  # noqa: E402

from warroom.app import create_app  # noqa: E402
from warroom.catalog import service as catalog  # noqa: E402
from warroom.catalog.models import Team, User  # noqa: E402
from warroom.config import Settings  # noqa: E402
from warroom.db import migrate  # noqa: E402
from warroom.db.engine import Database  # noqa: E402
from warroom.oncall import policies, schedules  # noqa: E402
from warroom.oncall.schemas import LayerIn, PolicyIn, ScheduleIn, StepIn, TargetIn  # noqa: E402
from warroom.web.sessions import start_session  # noqa: E402

CEILING_MS = 50.0


def seed(db: Database) -> tuple[str, int, int, int]:
    with db.session() as s:
        admin = catalog.create_user(s, username="admin", role="admin")
        people = [catalog.create_user(s, username=f"u{n}") for n in range(50)]
        teams = []
        for n in range(20):
            team = Team(name=f"team {n}")
            team.members = people[n * 2 : n * 2 + 3]
            s.add(team)
            teams.append(team)
        s.flush()
        rotas = [
            schedules.create_schedule(
                s,
                ScheduleIn(
                    name=f"rota {n}",
                    time_zone="Europe/Paris",
                    layers=[
                        LayerIn(
                            rotation="weekly",
                            start="2026-01-05T09:00",
                            member_ids=[people[n % 50].id, people[(n + 1) % 50].id],
                        )
                    ],
                ),
            )
            for n in range(200)
        ]
        pols = [
            policies.create_policy(
                s,
                PolicyIn(
                    name=f"policy {n}",
                    steps=[
                        StepIn(targets=[TargetIn(type="schedule", id=rotas[n].id)]),
                        StepIn(targets=[TargetIn(type="user", id=people[n % 50].id)]),
                    ],
                ),
            )
            for n in range(200)
        ]
        first = None
        for n in range(1000):
            svc = catalog.create_service(s, name=f"service {n}", team_id=teams[n % 20].id)
            svc.escalation_policy_id = pols[n % 200].id
            first = first or svc.id
        catalog.create_integration(s, first, "alertmanager", "prom")
        token = start_session(s, admin, datetime.now(UTC)).token
        policy_id = pols[0].id
        assert s.scalar(select(User.id).where(User.username == "admin"))
    return token, first or 0, policy_id, rotas[0].id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--page", action="append", default=[], help="measure only these pages (repeatable)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        db = Database(url)
        migrate.upgrade(db)
        token, service_id, policy_id, schedule_id = seed(db)
        app = create_app(Settings(database_url=url), db, False)
        with TestClient(app) as client:
            client.cookies.set("warroom_session", token, domain="testserver.local", path="/")
            pages = [
                "/",
                "/services",
                f"/services/{service_id}",
                f"/services/{service_id}/edit",
                "/services/new",
                "/policies",
                f"/policies/{policy_id}",
                "/policies/new",
                "/oncall",
                f"/oncall/schedules/{schedule_id}",
                "/oncall/schedules/new",
                f"/oncall/schedules/{schedule_id}/edit",
                "/account",
                "/admin/users",
            ]
            if args.page:
                pages = [p for p in pages if p in args.page]
            print(f"{'page':<28} {'p50 ms':>8} {'p95 ms':>8}  vs ceiling {CEILING_MS:.0f} ms")
            for page in pages:
                assert client.get(page).status_code == 200, page
                times = []
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    r = client.get(page)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert r.status_code == 200
                times.sort()
                p95 = times[int(len(times) * 0.95) - 1]
                print(
                    f"{page:<28} {statistics.median(times):8.1f} {p95:8.1f}  "
                    f"{p95 / CEILING_MS:5.2f}x"
                )
        db.dispose()
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; cpus {os.cpu_count()}")


if __name__ == "__main__":
    main()
