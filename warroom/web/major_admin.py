"""The admins' major-incident rules page (/admin/major-incidents): when Warroom proposes a major
incident and which escalation policy accepting one pages. The rules are the REST API's
(warroom/api/major.py), through the same `major_store.put_policy`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.incidents import major_store
from warroom.incidents.major import MAX_BURST_MINUTES, MajorPolicy
from warroom.oncall.models import EscalationPolicy
from warroom.web.auth import Admin, AdminPost
from warroom.web.queries.refs import Ref
from warroom.web.render import render
from warroom.web.router import router, to_int


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _form(policy: MajorPolicy) -> dict[str, str]:
    return {
        "on_tier_one": "on" if policy.on_tier_one else "",
        "on_priority_one": "on" if policy.on_priority_one else "",
        "alert_burst": "" if policy.alert_burst is None else str(policy.alert_burst),
        "burst_minutes": str(policy.burst_minutes),
        "escalation_policy_id": str(policy.escalation_policy_id or ""),
    }


def _page(
    request: Request,
    form: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    with _db(request).read_session() as session:
        policies = [
            Ref(pid, name)
            for pid, name in session.execute(
                select(EscalationPolicy.id, EscalationPolicy.name).order_by(EscalationPolicy.name)
            )
        ]
        current = major_store.load_policy(session)
    context: dict[str, Any] = {
        "form": form if form is not None else _form(current),
        "problems": problems or {},
        "policies": policies,
        "notice": notice,
        "error": "Not saved: change what is marked below." if problems else None,
        "max_minutes": MAX_BURST_MINUTES,
    }
    return render(request, "admin_major.html", context, status=status)


@router.get("/admin/major-incidents", response_class=HTMLResponse)
def admin_major(request: Request, me: Admin) -> Response:
    return _page(request)


@router.post("/admin/major-incidents", response_class=HTMLResponse)
def admin_major_save(request: Request, posted: AdminPost) -> Response:
    typed = {k: posted.text(k) for k in _form(MajorPolicy())}
    problems: dict[str, str] = {}
    burst = None
    if typed["alert_burst"]:
        burst = to_int(typed["alert_burst"], 1, 1_000_000)
        if burst is None:
            problems["alert_burst"] = "A whole number of alerts from 1 to 1,000,000, or empty."
    minutes = to_int(typed["burst_minutes"], 1, MAX_BURST_MINUTES)
    if minutes is None:
        problems["burst_minutes"] = f"A whole number of minutes from 1 to {MAX_BURST_MINUTES}."
    policy_id = None
    if typed["escalation_policy_id"]:
        policy_id = to_int(typed["escalation_policy_id"], 1)
        if policy_id is None:
            problems["escalation_policy_id"] = "Choose a policy from the list."
    if problems:
        return _page(request, form=typed, problems=problems, status=422)
    policy = MajorPolicy(
        on_tier_one=bool(typed["on_tier_one"]),
        on_priority_one=bool(typed["on_priority_one"]),
        alert_burst=burst,
        burst_minutes=minutes or 10,
        escalation_policy_id=policy_id,
    )
    try:
        with _db(request).session() as session:
            major_store.put_policy(session, policy, utcnow())
    except ApiError as exc:
        fields = {d["field"]: d["message"] for d in exc.details if "field" in d}
        return _page(request, form=typed, problems=fields or {"": exc.message}, status=exc.status)
    return _page(request, notice="Saved. Open incidents are proposed by the new rules from now.")
