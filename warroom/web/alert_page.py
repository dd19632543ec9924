"""One alert's page: its labels, annotations, details, links (http/https only), occurrences,
first and last seen, the incident it belongs to; acknowledge or resolve it alone (responders,
through alerts/actions.py as the API does)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from warroom.alerts import actions as alert_actions
from warroom.catalog.models import Integration, Service
from warroom.db.engine import Database
from warroom.incidents.models import Incident
from warroom.incidents.timeline import Actor
from warroom.web.auth import ResponderPost, Viewer
from warroom.web.render import render
from warroom.web.router import router

ALERT_NOTICES = {"acknowledge": "Alert acknowledged.", "resolve": "Alert resolved."}


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def safe_links(links: list[Any]) -> list[tuple[str, str]]:
    """(href, text) of the links whose href is http or https; anything else (javascript:,
    data:, relative) is dropped rather than rendered as a link."""
    out = []
    for link in links or []:
        if not isinstance(link, dict):
            continue
        href = str(link.get("href", ""))
        if href.lower().startswith(("http://", "https://")):
            out.append((href, str(link.get("text") or href)))
    return out


def _flat(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def split_details(details: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(annotations, other details): Alertmanager's annotations are kept apart."""
    details = dict(details or {})
    raw = details.pop("annotations", {})
    annotations = {str(k): _flat(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    return annotations, {str(k): _flat(v) for k, v in details.items()}


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_view(request: Request, alert_id: int, me: Viewer) -> Response:
    with _db(request).read_session() as session:
        alert = alert_actions.get_alert(session, alert_id)
        service = session.get(Service, alert.service_id)
        integration = session.get(Integration, alert.integration_id)
        incident = session.get(Incident, alert.incident_id) if alert.incident_id else None
    annotations, details = split_details(alert.details)
    done = request.query_params.get("done", "")
    context = {
        "alert": alert,
        "service": service,
        "integration": integration,
        "incident": incident,
        "labels": sorted((alert.labels or {}).items()),
        "annotations": sorted(annotations.items()),
        "details": sorted(details.items()),
        "links": safe_links(alert.links),
        "notice": ALERT_NOTICES.get(done),
    }
    return render(request, "alert.html", context)


@router.post("/alerts/{alert_id}/{action}", response_class=HTMLResponse)
def alert_action(request: Request, alert_id: int, action: str, posted: ResponderPost) -> Response:
    me = posted.user
    with _db(request).session() as session:
        alert_actions.act_on_alert(
            session, alert_id, action, Actor(me.user_id, me.display_name), datetime.now(UTC)
        )
    return RedirectResponse(f"/alerts/{alert_id}?done={action}", status_code=303)
