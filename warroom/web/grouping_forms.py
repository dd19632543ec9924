"""Grouping rules in the browser: a service's own on its edit page (admins and responders of
its owning team), the global ones on the silences page (admins). The forms call
alerts/grouping_rules, as the REST API does, and refuse what it refuses, beside the field."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from warroom.alerts import grouping_rules
from warroom.alerts.grouping import GroupingError
from warroom.alerts.matchers import MatcherError, from_json, parse_text
from warroom.alerts.models import GroupingRule
from warroom.common.clock import utcnow
from warroom.db.engine import Database
from warroom.web.auth import PageError, Posted, ResponderPost
from warroom.web.router import router

# The form's field for each part the store can refuse.
FIELD_OF = {"keys": "keys", "matchers": "matchers", "window_seconds": "window", "comment": "keys"}


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def rows(session: Session, service_id: int | None) -> list[dict[str, Any]]:
    """A scope's rules as the pages list them, in the order they are tried."""
    found = []
    for r in grouping_rules.list_rules(session, service_id):
        matchers = []
        for m in r.matchers or ():
            try:
                matchers.append(str(from_json(m)))
            except MatcherError:
                matchers.append("(no longer valid)")
        found.append({"rule": r, "keys": ", ".join(r.keys), "matchers": ", ".join(matchers)})
    return found


def typed_of(posted: Posted) -> dict[str, Any]:
    return {k: posted.text(k) for k in ("keys", "matchers", "window")} | {
        "dependency_aware": posted.text("dependency_aware") == "1"
    }


def _parsed(typed: dict[str, Any]) -> grouping_rules.RuleIn:
    """The rule from what was typed; GroupingError naming the form's field."""
    lines = [line for line in typed["matchers"].replace(",", "\n").splitlines() if line.strip()]
    try:
        matchers = [parse_text(line).to_json() for line in lines]
    except MatcherError as exc:
        raise GroupingError(f"Matchers: {exc}", "matchers") from None
    window: int | None = None
    raw = typed["window"].strip()
    if raw:
        if not raw.isdigit() or len(raw) > 6:
            raise GroupingError(
                "The window is a whole number of minutes; leave it empty for the service's.",
                "window_seconds",
            )
        window = int(raw) * 60
    keys = [k for k in typed["keys"].replace(",", " ").split() if k]
    return grouping_rules.RuleIn(keys, matchers, window, typed["dependency_aware"])


def create_from_form(
    request: Request, posted: ResponderPost, service_id: int | None
) -> dict[str, str] | None:
    """Creates the rule typed in the form; the problems by field when refused (nothing
    stored then)."""
    typed = typed_of(posted)
    try:
        with _db(request).session() as session:
            # Who may, before what was typed is looked at.
            grouping_rules.check_may_change(
                session, service_id, posted.user.user_id, posted.user.role
            )
            data = _parsed(typed)
            grouping_rules.create_rule(
                session, service_id, data, posted.user.display_name, posted.user.user_id, utcnow()
            )
    except GroupingError as exc:
        message = str(exc)
        if exc.field == "window_seconds" and "seconds" in message:
            message = "The window is 0 to 10080 minutes (7 days); leave it empty for the service's."
        return {FIELD_OF.get(exc.field, "keys"): message}
    return None


def delete_from_form(
    request: Request, posted: ResponderPost, rule_id: int, service_id: int | None
) -> None:
    with _db(request).session() as session:
        row = session.get(GroupingRule, rule_id)
        if row is None or row.service_id != service_id:
            raise PageError(404, "There is no such grouping rule here.", title="Not found")
        # Who may comes before what was sent: a stranger is told 403, not how to fill the form.
        grouping_rules.check_may_change(session, service_id, posted.user.user_id, posted.user.role)
        if posted.text("confirm") != "yes":
            raise PageError(422, "The form was incomplete; nothing was changed. Use the button.")
        grouping_rules.delete_rule(session, row)


# --- a service's rules (its edit page) -----------------------------------------------------------


@router.post("/services/{service_id}/grouping-rules", response_class=HTMLResponse)
def add_service_rule(request: Request, service_id: int, posted: ResponderPost) -> Response:
    from warroom.web.config_services import edit_page

    problems = create_from_form(request, posted, service_id)
    if problems:
        return edit_page(request, service_id, posted.user, typed_of(posted), problems, 422)
    return RedirectResponse(f"/services/{service_id}/edit#grouping-h", status_code=303)


@router.post(
    "/services/{service_id}/grouping-rules/{grouping_rule_id}/delete", response_class=HTMLResponse
)
def delete_service_rule(
    request: Request, service_id: int, grouping_rule_id: int, posted: ResponderPost
) -> Response:
    delete_from_form(request, posted, grouping_rule_id, service_id)
    return RedirectResponse(f"/services/{service_id}/edit#grouping-h", status_code=303)


# --- global rules (the silences page) ------------------------------------------------------------


@router.post("/silences/grouping-rules", response_class=HTMLResponse)
def add_global_rule(request: Request, posted: ResponderPost) -> Response:
    from warroom.web.noise_pages import silences_page

    if posted.user.role != "admin":
        raise PageError(403, "Only admins change global grouping rules.", title="Not allowed")
    problems = create_from_form(request, posted, None)
    if problems:
        return silences_page(
            request, status=422, grouping_form=typed_of(posted), grouping_problems=problems
        )
    return RedirectResponse("/silences#grouping-rules", status_code=303)


@router.post("/silences/grouping-rules/{grouping_rule_id}/delete", response_class=HTMLResponse)
def delete_global_rule(request: Request, grouping_rule_id: int, posted: ResponderPost) -> Response:
    if posted.user.role != "admin":
        raise PageError(403, "Only admins change global grouping rules.", title="Not allowed")
    delete_from_form(request, posted, grouping_rule_id, None)
    return RedirectResponse("/silences#grouping-rules", status_code=303)
