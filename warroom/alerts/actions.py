"""People's changes to alerts and to the integrations alerts arrive through: acknowledge or
resolve one alert, delete an integration that has none. The REST API and the web forms call
these, so both refuse the same things."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert
from warroom.catalog.models import Integration
from warroom.errors import ApiError
from warroom.incidents import timeline
from warroom.incidents.timeline import Actor

ALERT_ACTIONS = ("acknowledge", "resolve")


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise ApiError(404, f"alert {alert_id} does not exist")
    return alert


def act_on_alert(
    session: Session, alert_id: int, action: str, actor: Actor, now: datetime
) -> Alert:
    """Acknowledge (triggered only) or resolve (not yet resolved) one alert; its incident's
    timeline says who did it. The incident itself is left as it is: other alerts may still
    point at the problem."""
    if action not in ALERT_ACTIONS:
        raise ApiError(404, f"there is no alert action {action!r}")
    alert = get_alert(session, alert_id)
    if action == "acknowledge":
        if alert.status != "triggered":
            raise ApiError(409, f"alert {alert.id} is already {alert.status}")
        alert.status = "acknowledged"
        alert.acknowledged_at = now
    else:
        if alert.status == "resolved":
            raise ApiError(409, f"alert {alert.id} is already resolved")
        alert.status = "resolved"
        alert.resolved_at = now
    if alert.incident_id is not None:
        done = "acknowledged" if action == "acknowledge" else "resolved"
        timeline.add_event(
            session,
            alert.incident_id,
            f"alert_{done}",
            f"{actor.name} {done} alert #{alert.id}: {alert.summary[:200]}",
            now,
            actor=actor,
            after={"alert_id": alert.id, "status": alert.status},
        )
    return alert


def open_dedup_keys(session: Session, integration_id: int, prefix: str) -> list[str]:
    """The dedup keys of an integration's alerts not yet resolved that start with `prefix`
    (a monitor deleted or disabled resolves the alerts it raised through the alert path)."""
    return list(
        session.scalars(
            select(Alert.dedup_key)
            .where(
                Alert.integration_id == integration_id,
                Alert.status != "resolved",
                Alert.dedup_key.startswith(prefix, autoescape=True),
            )
            .order_by(Alert.id)
        )
    )


def delete_integration(session: Session, integration_id: int) -> Integration:
    """Refused (409) while alerts came through it: deleting would take them with it."""
    integ = session.get(Integration, integration_id)
    if integ is None:
        raise ApiError(404, f"integration {integration_id} does not exist")
    has_alerts = session.scalar(select(Alert.id).where(Alert.integration_id == integ.id).limit(1))
    if has_alerts is not None:
        raise ApiError(
            409,
            "this integration has alerts, which would be lost; rotate its "
            "routing key instead to stop its sender",
        )
    session.delete(integ)
    return integ
