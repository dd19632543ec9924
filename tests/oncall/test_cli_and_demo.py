"""`warroom oncall` and the demo's on-call set-up: who is on call on every schedule, the gap
warnings, and a demo that pages someone on every service without any configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from typer.testing import CliRunner

from warroom import demo
from warroom.catalog.models import Service, User
from warroom.cli import app as cli
from warroom.db.engine import Database
from warroom.notify.models import ContactMethod, NotificationRule
from warroom.oncall import policies, schedules, views
from warroom.oncall.models import EscalationPolicy, Schedule, ScheduleOverride
from warroom.oncall.schedule import gaps
from warroom.oncall.schemas import LayerIn, ScheduleIn

SEEDED = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday
runner = CliRunner()


def test_demo_has_schedules_policies_and_a_console_for_everyone(db: Database) -> None:
    with db.session() as s:
        assert demo.seed(s, now=SEEDED)
    with db.session() as s:
        assert not demo.seed(s, now=SEEDED)  # once only
    with db.read_session() as s:
        names = {r.name: r for r in s.scalars(select(Schedule))}
        assert set(names) == {"Platform primary", "Follow the sun"}
        assert (names["Platform primary"].time_zone, names["Follow the sun"].time_zone) == (
            "Europe/London",
            "America/New_York",
        )
        # Every service pages through a policy; every person is reached on the console at once.
        assert s.scalar(select(func.count()).where(Service.escalation_policy_id.is_(None))) == 0
        assert s.scalar(select(func.count()).select_from(EscalationPolicy)) == 2
        people = s.scalar(select(func.count()).select_from(User))
        consoles = s.scalars(select(ContactMethod).where(ContactMethod.channel == "local")).all()
        assert len(consoles) == people and {c.address for c in consoles} == {"console"}
        rules = s.scalars(select(NotificationRule)).all()
        assert len(rules) == people
        assert {(r.urgency, r.delay_seconds) for r in rules} == {("high", 0)}
        # The override: Ada covers tomorrow from 09:00 UTC for whoever had the primary.
        cover = s.scalars(select(ScheduleOverride)).one()
        assert cover.kind == "replace" and cover.start_at == datetime(2026, 3, 5, 9, tzinfo=UTC)
        ada = s.scalars(select(User.id).where(User.username == "admin")).one()
        assert cover.replacement_id == ada

        # Follow the sun spans the day between its two layers, every hour of a week.
        sun = schedules.load_schedules(s, [names["Follow the sun"].id])[names["Follow the sun"].id]
        assert gaps(sun, SEEDED, SEEDED + timedelta(days=7)) == []
        statuses, warnings = views.overview(s, SEEDED + timedelta(days=1, hours=1))
        assert warnings == []
        on_primary = next(x for x in statuses if x.schedule_name == "Platform primary")
        assert [u.name for u in on_primary.on_call] == ["Ada Admin"]
        # The first step of each policy pages someone right now.
        for policy in s.scalars(select(EscalationPolicy)):
            out = policies.policy_outs(s, [policy], SEEDED)[0]
            assert out.repeat == 1 and len(out.steps) == 2 and out.warnings == []
            assert out.steps[0].targets[0].type == "schedule"
            assert out.steps[0].delay_seconds == 300


def test_the_oncall_command(db: Database) -> None:
    with db.session() as s:
        demo.seed(s, now=SEEDED)
        sam = s.scalars(select(User.id).where(User.username == "sam")).one()
        schedules.create_schedule(
            s,
            ScheduleIn(
                name="Weekdays",
                time_zone="UTC",
                layers=[
                    LayerIn(
                        rotation="daily",
                        start="2026-01-05T09:00",
                        member_ids=[sam],
                        restrictions=[
                            {"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}
                        ],  # fmt: skip
                    )
                ],
            ),
        )
    result = runner.invoke(cli, ["oncall", "--at", "2026-03-05T10:00:00Z", "--database-url",
                                 db.url])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "On call at 2026-03-05 10:00 UTC" in out
    primary = out[out.index("Platform primary (Europe/London)") :].splitlines()
    assert primary[1] == "  now:  Ada Admin until Thu 05 Mar 2026 17:00 GMT"
    assert primary[2].startswith("  next: ")
    sun = out[out.index("Follow the sun (America/New_York)") :].splitlines()
    assert sun[1] == "  now:  Raj Patel until Thu 05 Mar 2026 08:00 EST"
    assert sun[2] == "  next: Sam Okafor from Thu 05 Mar 2026 08:00 EST"
    weekdays = out[out.index("Weekdays (UTC)") :].splitlines()
    assert weekdays[1] == "  now:  Sam Okafor until Thu 05 Mar 2026 17:00 UTC"
    assert weekdays[2] == "  next: NOBODY (a gap starts) from Thu 05 Mar 2026 17:00 UTC"
    assert "Warnings:" in out
    assert (
        "  ! schedule 'Weekdays' has nobody on call in the next 7 days: 2026-03-05 17:00 UTC" in out
    )

    result = runner.invoke(cli, ["oncall", "--at", "2026-03-05T10:00", "--database-url", db.url])
    assert result.exit_code == 1 and "time zone" in result.stderr
