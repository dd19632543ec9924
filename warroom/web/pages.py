"""The read pages: dashboard, war room, declare form, alerts, services, and their fragments.

Fragments are the parts of a page the live script swaps in after a change; they render from
the same templates as the full page, so the two cannot drift apart.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse

from warroom.alerts.models import ALERT_STATUSES, SEVERITIES
from warroom.common.clock import utcnow
from warroom.db.engine import Database
from warroom.incidents import major_store
from warroom.incidents.models import INCIDENT_STATUSES
from warroom.incidents.service import get_incident
from warroom.incidents.updates import load_cadence
from warroom.web.auth import Responder, Viewer, current_user
from warroom.web.blast_graph import render_svg
from warroom.web.queries import (
    alerts_data,
    catalog_data,
    dashboard_data,
    escalation_data,
    live_stamps,
    monitors_data,
    noise_data,
    refs,
    updates_data,
    war_room_data,
)
from warroom.web.render import render
from warroom.web.router import router, to_int

DASHBOARD_STATUSES = ("open", *INCIDENT_STATUSES)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def now_utc() -> datetime:
    return utcnow()


# --- dashboard -------------------------------------------------------------------------------


def dashboard_filter(request: Request) -> dashboard_data.DashboardFilter:
    params = request.query_params
    status = params.get("status", "open")
    return dashboard_data.DashboardFilter(
        status=status if status in DASHBOARD_STATUSES else "open",
        service_id=to_int(params.get("service"), 1),
        priority=to_int(params.get("priority"), 1, 5),
        mine=params.get("mine") == "1",
        on_call=params.get("oncall") == "1",
    )


def _dashboard_context(request: Request, user_id: int, now: datetime) -> dict[str, Any]:
    f = dashboard_filter(request)
    with _db(request).read_session() as session:
        if f.on_call:
            # Asked at each render (and live refresh): handoffs change who is on call.
            f = replace(f, policy_ids=dashboard_data.on_call_policy_ids(session, user_id, now))
        cadence = load_cadence(session, request.app.state.settings.update_cadence)
        board = dashboard_data.dashboard(
            session,
            f,
            user_id,
            now,
            stale_defaults=request.app.state.settings.stale_minutes,
            cadence=cadence,
        )
        services = refs.service_refs(session)
        version = live_stamps.version_tag(live_stamps.dashboard_version(session))
        in_maintenance = noise_data.in_maintenance_now(session, now)
    return {
        "in_maintenance": in_maintenance,
        "board": board,
        "filter": f,
        "services": services,
        "statuses": DASHBOARD_STATUSES,
        "version": version,
        "query": request.url.query,
    }


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, me: Viewer) -> HTMLResponse:
    now = now_utc()
    return render(request, "dashboard.html", _dashboard_context(request, me.user_id, now), now=now)


@router.get("/dashboard.fragment", response_class=HTMLResponse)
def dashboard_fragment(request: Request, me: Viewer) -> HTMLResponse:
    now = now_utc()
    context = _dashboard_context(request, me.user_id, now)
    return render(request, "_dashboard_live.html", context, now=now)


# --- the war room ----------------------------------------------------------------------------


def war_room_context(
    request: Request, incident_id: int, now: datetime, forms: bool = False
) -> dict[str, Any]:
    """What the war room shows; with `forms`, also the choices of the mobilise and merge forms
    (only for people who may use them: they cost a few queries and an on-call computation)."""
    me = current_user(request)
    with _db(request).read_session() as session:
        room = war_room_data.war_room(
            session, incident_id, now, request.app.state.settings.stale_minutes
        )
        version = live_stamps.version_tag(live_stamps.incident_version(session, incident_id))
        messages, message_total = war_room_data.messages_of(session, incident_id)
        context: dict[str, Any] = {
            "blast_svg": render_svg(room.blast),
            "may_decide_major": me is not None
            and bool(room.major_proposal)
            and major_store.may_decide(session, incident_id, me.user_id, me.role == "admin"),
            "escalation": escalation_data.escalation(session, room.incident, now),
            "room": room,
            "incident": room.incident,
            "version": version,
            "participants": war_room_data.participants(session, incident_id),
            "messages": messages,
            "message_total": message_total,
            "caused_here": noise_data.caused_here(session, incident_id),
            "updates_panel": updates_data.updates_panel(
                session, room.incident, now, request.app.state.settings.update_cadence
            ),
        }
        if forms and me is not None and me.role in ("responder", "admin"):
            context.update(
                merge_targets=war_room_data.merge_targets(session, incident_id),
                teams=refs.team_refs(session),
                schedules=war_room_data.schedule_choices(session, now),
            )
    return context


def war_room_page(
    request: Request,
    incident_id: int,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
) -> HTMLResponse:
    """The war room, also re-rendered with the error of a refused form, what was typed and
    what to change beside a field (`problems`)."""
    now = now_utc()
    context = war_room_context(request, incident_id, now, forms=True)
    context.update(error=error, form=form or {}, problems=problems or {})
    return render(request, "incident.html", context, status=status, now=now)


@router.get("/incidents/new", response_class=HTMLResponse)
def declare_form(request: Request, me: Responder) -> HTMLResponse:
    with _db(request).read_session() as session:
        services = refs.service_refs(session)
    return render(request, "incident_new.html", {"services": services, "form": {}, "chosen": []})


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: int, me: Viewer) -> HTMLResponse:
    return war_room_page(request, incident_id)


@router.get("/incidents/{incident_id}/panels.fragment", response_class=HTMLResponse)
def incident_panels(request: Request, incident_id: int, me: Viewer) -> HTMLResponse:
    now = now_utc()
    context = war_room_context(request, incident_id, now)
    context.update(error=None, form={}, problems={})
    return render(request, "_incident_panels.html", context, now=now)


@router.get("/incidents/{incident_id}/timeline.fragment", response_class=HTMLResponse)
def incident_timeline(request: Request, incident_id: int, me: Viewer) -> HTMLResponse:
    """Timeline items after the id ?after= (or the latest ones); the total in a header, so the
    script can tell when it missed one and reload the list."""
    after = to_int(request.query_params.get("after"), 0)
    with _db(request).read_session() as session:
        get_incident(session, incident_id)
        events = war_room_data.timeline_of(session, incident_id, after)
        total = war_room_data.timeline_count(session, incident_id)
    return render(
        request,
        "_timeline_items.html",
        {"events": events},
        headers={"X-Timeline-Total": str(total)},
    )


# --- alerts ----------------------------------------------------------------------------------


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, me: Viewer) -> HTMLResponse:
    params = request.query_params
    status = params.get("status", "")
    severity = params.get("severity", "")
    f = alerts_data.AlertFilter(
        q=params.get("q", "").strip()[:200],
        status=status if status in ALERT_STATUSES else "",
        severity=severity if severity in SEVERITIES else "",
        service_id=to_int(params.get("service"), 1),
        incident_id=to_int(params.get("incident"), 1),
        before=to_int(params.get("before"), 1),
    )
    with _db(request).read_session() as session:
        rows, next_before = alerts_data.search_alerts(session, f)
        services = refs.service_refs(session, archived=True)
    more_query = ""
    if next_before is not None:
        keep = [(k, v) for k, v in params.multi_items() if k != "before"]
        more_query = urlencode([*keep, ("before", str(next_before))])
    return render(
        request,
        "alerts.html",
        {
            "rows": rows,
            "filter": f,
            "services": services,
            "statuses": ALERT_STATUSES,
            "severities": SEVERITIES,
            "more_query": more_query,
        },
    )


# --- catalog ---------------------------------------------------------------------------------


@router.get("/services", response_class=HTMLResponse)
def services_page(request: Request, me: Viewer) -> HTMLResponse:
    """50 services to a page, by tier and name; archived ones only with ?archived=1 (marked)."""
    params = request.query_params
    f = catalog_data.ServiceFilter(
        q=params.get("q", "").strip()[:120],
        archived=params.get("archived") == "1",
        page=to_int(params.get("page"), 1, 100_000) or 1,
    )
    with _db(request).read_session() as session:
        listing = catalog_data.service_list(session, f)
    f = listing.filter
    keep = [("q", f.q)] if f.q else []
    if f.archived:
        keep.append(("archived", "1"))

    def page_query(n: int) -> str:
        return urlencode([*keep, ("page", str(n))])

    return render(
        request,
        "services.html",
        {
            "listing": listing,
            "rows": listing.rows,
            "filter": f,
            "prev_query": page_query(f.page - 1) if f.page > 1 else None,
            "next_query": page_query(f.page + 1) if f.page < listing.pages else None,
        },
    )


def integration_snippets(
    base_url: str, integration_type: str, key: str, mapping: dict[str, Any] | None = None
) -> dict[str, str]:
    """Copy-paste configuration for the tool that sends to this integration."""
    base = base_url.rstrip("/")
    if integration_type == "generic" and mapping is not None:
        # A mapped integration takes the tool's own JSON: its sample is the test event.
        sample = mapping.get("sample")
        body = orjson.dumps(sample if sample is not None else {"title": "Test event"}).decode()
        return {
            "Webhook URL (paste into the tool)": f"{base}/integrations/generic/{key}\n",
            "Test with curl": (
                f"curl -sS -X POST {base}/integrations/generic/{key} \\\n"
                "  -H 'Content-Type: application/json' \\\n"
                f"  -d {shlex.quote(body)}\n"
            ),
        }
    if integration_type == "alertmanager":
        return {
            "Alertmanager (alertmanager.yml)": (
                "receivers:\n"
                "  - name: warroom\n"
                "    webhook_configs:\n"
                f"      - url: {base}/integrations/alertmanager\n"
                "        send_resolved: true\n"
                "        http_config:\n"
                "          authorization:\n"
                f"            credentials: {key}\n"
            ),
        }
    if integration_type == "monitor":
        # Heartbeats and checks send under it themselves; its key takes JSON log lines.
        return {
            "JSON log lines (for the log rules)": (
                f"curl -sS -X POST {base}/logs \\\n"
                f"  -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n"
                '  --data-binary \'{"message": "upstream timed out", "host": "web-1", '
                '"status": 504}\'\n'
            ),
        }
    if integration_type == "pagerduty":
        return {
            "PagerDuty-compatible tool": (
                f"Integration URL: {base}/v2/enqueue\nIntegration key (routing key): {key}\n"
            ),
            "Test it with curl": (
                f"curl -sS -X POST {base}/v2/enqueue -H 'Content-Type: application/json' \\\n"
                f'  -d \'{{"routing_key": "{key}", "event_action": "trigger", "payload": '
                '{"summary": "Test event", "source": "curl", "severity": "warning"}}\'\n'
            ),
        }
    return {
        "Generic webhook": (
            f"curl -sS -X POST {base}/integrations/generic \\\n"
            f"  -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n"
            '  -d \'{"summary": "Test event", "severity": "warning"}\'\n'
        ),
    }


@router.get("/services/{service_id}", response_class=HTMLResponse)
def service_page(request: Request, service_id: int, me: Viewer) -> HTMLResponse:
    return service_view(request, service_id)


def service_view(
    request: Request,
    service_id: int,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    """The service page, also re-rendered with a refused maintenance form and what was typed."""
    from warroom.web.config_services import service_setup

    me = current_user(request)
    assert me is not None
    now = now_utc()
    with _db(request).read_session() as session:
        page = catalog_data.service_page(session, service_id)
        setup = service_setup(session, page.row.service, me)
        monitors = monitors_data.service_monitors(session, service_id, utcnow())
        windows = noise_data.service_windows(session, service_id, now)
    base_url = request.app.state.settings.base_url
    # Routing keys are credentials: only those who set the service up see them (as in the API).
    shown = [
        (
            integ,
            integration_snippets(base_url, integ.type, integ.routing_key, integ.mapping)
            if setup["manage"]
            else {},
        )
        for integ in page.integrations
    ]
    done = request.query_params.get("done", "")
    notice = SETUP_NOTICES.get(done) or (
        "Service created." if request.query_params.get("created") else None
    )
    if request.query_params.get("saved"):
        notice = "Service saved."
    return render(
        request,
        "service.html",
        {
            "page": page,
            "integrations": shown,
            "monitors": monitors,
            "base_url": base_url,
            "windows": windows,
            "error": error,
            "form": form or {},
            "notice": notice,
            **setup,
        },
        status=status,
        now=now,
    )


SETUP_NOTICES = {
    "added": "Integration added: give its routing key to the sender.",
    "rotated": "Routing key rotated: the old one stopped working; give the sender the new one.",
    "deleted": "Integration deleted.",
    "policy": "Escalation policy saved.",
    "archived": "Service archived: its integrations refuse events; unarchive it here.",
    "unarchived": "Service unarchived: its integrations accept events again.",
}
