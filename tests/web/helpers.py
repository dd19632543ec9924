"""Small helpers of the web tests: making incidents and alerts through the real API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update

from tests.api.helpers import declare, pd_event, send_pd
from tests.web.conftest import Web
from warroom.incidents.models import Incident


def declared(web: Web, title: str = "Checkout is slow", **body: Any) -> int:
    body.setdefault("service_ids", [web.world.checkout_id])
    return int(declare(web.base, web.world, title=title, **body)["id"])


def alert(
    web: Web,
    summary: str = "Disk full on db-1",
    dedup_key: str = "db-disk",
    severity: str = "critical",
) -> None:
    event = pd_event(
        web.world.pagerduty_key, dedup_key=dedup_key, summary=summary, severity=severity
    )
    assert send_pd(web.base, event).status_code == 202


def set_times(web: Web, incident_id: int, **times: datetime) -> None:
    """Moves an incident's timestamps (the tests' clock: nothing sleeps)."""
    with web.db.session() as s:
        s.execute(update(Incident).where(Incident.id == incident_id).values(**times))
