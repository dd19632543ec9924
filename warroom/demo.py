"""Demo data: two teams, people in several time zones, services with tiers and dependencies,
and one integration of each kind, so a new user can send a first event within a minute."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog import service as catalog
from warroom.catalog.models import Integration, Service, Team, User
from warroom.security import hash_password

DEMO_ADMIN = "admin"


@dataclass
class DemoInfo:
    admin_username: str
    admin_password: str
    token: str
    integrations: list[tuple[str, str, str]]  # (service name, type, routing key)
    seeded: bool


def seed(session: Session) -> bool:
    """Creates the demo catalog once; returns False if it was already there."""
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
    return True


def prepare(session: Session) -> DemoInfo:
    """Seeds if needed, then issues a fresh admin password and API token to print."""
    seeded = seed(session)
    admin = session.scalars(select(User).where(User.username == DEMO_ADMIN)).one()
    password = secrets.token_urlsafe(12)
    admin.password_hash = hash_password(password)
    token, _ = catalog.create_token(session, admin.id, "demo start")
    rows = (
        session.execute(
            select(Service.name, Integration.type, Integration.routing_key)
            .join(Service, Service.id == Integration.service_id)
            .order_by(Integration.id)
        )
        .tuples()
        .all()
    )
    return DemoInfo(DEMO_ADMIN, password, token, list(rows), seeded)


def banner(info: DemoInfo, base_url: str) -> str:
    lines = [
        "",
        f"Warroom is running at {base_url}",
        f"  API docs:   {base_url}/docs",
        f"  Sign in:    {info.admin_username} / {info.admin_password}",
        f"  API token:  {info.token}",
        "  Integrations (routing keys):",
    ]
    for service, kind, key in info.integrations:
        lines.append(f"    {service:<14} {kind:<13} {key}")
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
            f"  curl -sS {base_url}/api/v1/incidents -H 'Authorization: Bearer {info.token}'",
        ]
    return "\n".join(lines) + "\n"
