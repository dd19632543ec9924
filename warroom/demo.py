"""Demo data: two teams, people in several time zones, services with tiers and dependencies,
one integration of each kind, on-call schedules and escalation policies, so a new user can send
a first event within a minute and see who it pages."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog import service as catalog
from warroom.catalog.models import Integration, Service, Team, User
from warroom.db.base import utcnow
from warroom.security import hash_password

DEMO_ADMIN = "admin"


@dataclass
class DemoInfo:
    admin_username: str
    admin_password: str | None  # None: changed since the first start
    token: str | None  # None: revoked since
    integrations: list[tuple[str, str, str]]  # (service name, type, routing key)
    seeded: bool


def seed(session: Session, now: datetime | None = None) -> bool:
    """Creates the demo catalog and on-call set-up once; returns False if it was already there.

    ``now`` places the demo override (tomorrow); the clock by default."""
    if session.scalar(select(Team.id).where(Team.name == "Platform")) is not None:
        return False
    people = [
        ("admin", "Ada Admin", "Europe/London", "admin"),
        ("sam", "Sam Okafor", "America/New_York", "responder"),
        ("mei", "Mei Tanaka", "Asia/Tokyo", "responder"),
        ("lena", "Lena Fischer", "Europe/Berlin", "responder"),
        ("raj", "Raj Patel", "Asia/Kolkata", "responder"),
        ("olivia", "Olivia Brown", "Australia/Sydney", "stakeholder"),
    ]
    users = {}
    for username, name, zone, role in people:
        users[username] = catalog.create_user(
            session,
            username=username,
            name=name,
            email=f"{username}@example.com",
            time_zone=zone,
            role=role,
        )
    platform = Team(name="Platform", description="Runs the shared infrastructure.")
    platform.members = [users["sam"], users["mei"], users["admin"]]
    payments = Team(name="Payments", description="Owns checkout and payments.")
    payments.members = [users["lena"], users["raj"]]
    session.add_all([platform, payments])
    session.flush()

    def svc(name: str, team: Team, tier: int, description: str, deps: list[Service]) -> Service:
        return catalog.create_service(
            session,
            name=name,
            team_id=team.id,
            tier=tier,
            description=description,
            depends_on_ids=[d.id for d in deps],
        )

    postgres = svc("postgres-primary", platform, 1, "Primary PostgreSQL cluster", [])
    auth = svc("auth", platform, 1, "Login and sessions", [postgres])
    payments_db = svc("payments-db", payments, 1, "Payments ledger database", [])
    checkout = svc("checkout-api", payments, 1, "Checkout HTTP API", [auth, payments_db])
    search = svc("search", platform, 2, "Product search", [postgres])
    svc("internal-wiki", platform, 3, "Team documentation", [])
    catalog.create_integration(session, checkout.id, "alertmanager", "Prometheus Alertmanager")
    catalog.create_integration(session, payments_db.id, "pagerduty", "Datadog (PagerDuty format)")
    catalog.create_integration(session, search.id, "generic", "Deploy scripts")
    seed_oncall(session, users, platform, payments, now or utcnow())
    return True


def seed_oncall(
    session: Session, users: dict[str, User], platform: Team, payments: Team, now: datetime
) -> None:
    """Two schedules (one spanning two time zones), an override, escalation policies on every
    service, and a console contact method for everyone, so a demo page is seen at once."""
    from warroom.notify.models import ContactMethod, NotificationRule
    from warroom.oncall import overrides, policies, schedules
    from warroom.oncall import schedule as sch
    from warroom.oncall.schemas import (
        LayerIn,
        OverrideIn,
        PolicyIn,
        RestrictionIn,
        ScheduleIn,
        StepIn,
        TargetIn,
    )

    uid = {name: user.id for name, user in users.items()}
    every_day = list(range(7))
    # Anchors in the past, so someone is on call from the moment the demo starts.
    primary = schedules.create_schedule(
        session,
        ScheduleIn(
            name="Platform primary",
            description="Weekly rotation, handoff Monday 09:00 London time.",
            time_zone="Europe/London",
            team_id=platform.id,
            layers=[
                LayerIn(
                    name="Primary",
                    rotation="weekly",
                    start="2024-01-01T09:00",  # a Monday
                    member_ids=[uid["sam"], uid["mei"]],
                )
            ],
        ),
    )
    # One zone per schedule: restrictions are New York wall-clock times, so the Asia-Pacific
    # window is 10:00-22:00 in Tokyo in (US) winter and 09:00-21:00 in summer.
    sun = schedules.create_schedule(
        session,
        ScheduleIn(
            name="Follow the sun",
            description="Americas 08:00-20:00 New York time, Asia-Pacific the other twelve "
            "hours; together they span the day.",
            time_zone="America/New_York",
            team_id=payments.id,
            layers=[
                LayerIn(
                    name="Americas",
                    rotation="daily",
                    start="2024-01-01T08:00",
                    member_ids=[uid["sam"]],
                    restrictions=[RestrictionIn(weekdays=every_day, start="08:00", end="20:00")],
                ),
                LayerIn(
                    name="Asia-Pacific",
                    rotation="daily",
                    start="2024-01-01T20:00",
                    member_ids=[uid["mei"], uid["raj"]],
                    restrictions=[RestrictionIn(weekdays=every_day, start="20:00", end="08:00")],
                ),
            ],
        ),
    )
    # Ada covers tomorrow's working day for whoever is on the primary rotation then.
    start = now.astimezone(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    start += timedelta(days=1)
    covered = sorted(
        sch.on_call_at(schedules.load_schedules(session, [primary.id])[primary.id], start)
    )
    if covered:
        overrides.add_override(
            session,
            primary.id,
            OverrideIn(
                kind="replace",
                user_id=covered[0],
                replacement_id=uid["admin"],
                start=start,
                end=start + timedelta(hours=8),
                note="Demo: Ada covers a day",
            ),
            created_by=uid["admin"],
        )
    for team, schedule, lead in (
        (platform, primary, TargetIn(type="user", id=uid["admin"])),
        (payments, sun, TargetIn(type="team", id=payments.id)),
    ):
        policy = policies.create_policy(
            session,
            PolicyIn(
                name=f"{team.name} escalation",
                team_id=team.id,
                repeat=1,
                steps=[
                    # delay_seconds: how long a step waits for an acknowledgement.
                    StepIn(delay_seconds=300, targets=[TargetIn(type="schedule", id=schedule.id)]),
                    StepIn(delay_seconds=300, targets=[lead]),
                ],
            ),
        )
        for svc in session.scalars(select(Service).where(Service.team_id == team.id)):
            svc.escalation_policy_id = policy.id
    for user in users.values():
        method = ContactMethod(
            user_id=user.id, channel="local", label="Console (demo)", address="console"
        )
        session.add(method)
        session.flush()
        session.add(
            NotificationRule(
                user_id=user.id, contact_method_id=method.id, urgency="high", delay_seconds=0
            )
        )


def _derived(secret: str, purpose: str) -> str:
    mac = hmac.new(secret.encode(), f"warroom-demo:{purpose}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def demo_credentials(secret: str) -> tuple[str, str]:
    """The demo admin's password and API token, derived from the instance secret: the same on
    every start of this database, stored nowhere (only their hashes, as for any user)."""
    return _derived(secret, "admin-password")[:16], "wr_" + _derived(secret, "api-token")


def prepare(session: Session, secret: str) -> DemoInfo:
    """Seeds if needed; gives the demo admin the derived password and token on the first
    start, and says on later starts whether they still work (the admin may have changed the
    password or revoked the token since: then None, and the banner says so)."""
    from warroom.catalog.models import ApiToken
    from warroom.security import token_digest, verify_password

    seeded = seed(session)
    admin = session.scalars(select(User).where(User.username == DEMO_ADMIN)).one()
    password, token = demo_credentials(secret)
    shown_password: str | None = password
    if admin.password_hash is None:
        admin.password_hash = hash_password(password)
    elif not verify_password(admin.password_hash, password):
        shown_password = None
    digest = token_digest(token)
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if row is None:
        session.add(ApiToken(user_id=admin.id, name="demo", token_hash=digest, prefix=token[:8]))
        session.flush()
    shown_token = token if row is None or row.revoked_at is None else None
    rows = session.execute(
        select(Service.name, Integration.type, Integration.routing_key)
        .join(Service, Service.id == Integration.service_id)
        .order_by(Integration.id)
    ).all()
    return DemoInfo(DEMO_ADMIN, shown_password, shown_token, list(rows), seeded)


def banner(info: DemoInfo, base_url: str) -> str:
    lines = [
        "",
        f"Warroom is running at {base_url}",
        f"  API docs:   {base_url}/docs",
        "  Integrations (routing keys):",
    ]
    for service, kind, key in info.integrations:
        lines.append(f"    {service:<14} {kind:<13} {key}")
    bearer = info.token or "<your API token>"
    pd_key = next((k for _, t, k in info.integrations if t == "pagerduty"), None)
    if pd_key:
        lines += [
            "",
            "Send a first event:",
            f"  curl -sS -X POST {base_url}/v2/enqueue -H 'Content-Type: application/json' "
            f'-d \'{{"routing_key": "{pd_key}", "event_action": "trigger", '
            f'"payload": {{"summary": "Disk 95% full on db-1", "source": "db-1", '
            f'"severity": "critical"}}}}\'',
            "Then list incidents:",
            f"  curl -sS {base_url}/api/v1/incidents -H 'Authorization: Bearer {bearer}'",
        ]
    password = info.admin_password or "(changed since the first start: use yours)"
    token = info.token or "(revoked since the first start: make one on Your account)"
    lines += [
        "",
        "=" * 72,
        f"  Open {base_url} and sign in:",
        f"  Sign in:    {info.admin_username} / {password}",
        f"  API token:  {token}",
        "  Both stay the same on every start of this database (derived from its secret).",
        "=" * 72,
    ]
    return "\n".join(lines) + "\n"
