"""The pages and forms that cut the noise: silences (list, create, expire, "silence alerts like
this" from an alert), inhibition rules (list, create, delete; on the silences page) and a
service's maintenance windows (create one-off or recurring, cancel).
They call the same functions as the REST API (warroom/api/noise.py), refusals included."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from warroom.alerts import inhibit_rules, silences
from warroom.alerts.matchers import Matcher, MatcherError, matcher, parse_text
from warroom.alerts.models import Alert
from warroom.alerts.release_timers import schedule_releases
from warroom.catalog.models import Service
from warroom.common.clock import utcnow
from warroom.db.engine import Database
from warroom.maintenance import service as maintenance
from warroom.web import grouping_forms
from warroom.web.auth import PageError, ResponderPost, Viewer
from warroom.web.queries import noise_data
from warroom.web.render import parse_local, render
from warroom.web.router import router

# The durations offered by "silence alerts like this" and the silence form, in hours.
DURATIONS = (1, 2, 4, 8, 24, 72)
DEFAULT_HOURS = 2


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _confirmed(posted: ResponderPost) -> None:
    """Forms that end something carry confirm=yes: an empty post changes nothing."""
    if posted.text("confirm") != "yes":
        raise PageError(422, "The form was incomplete; nothing was changed. Use the button.")


def _hours(posted: ResponderPost) -> int:
    try:
        hours = int(posted.text("hours"))
    except ValueError:
        hours = 0
    if hours not in DURATIONS:
        raise PageError(422, f"Choose a duration of {', '.join(map(str, DURATIONS))} hours.")
    return hours


def like_this(alert: Alert, service_name: str) -> tuple[Matcher, ...]:
    """Alertmanager's "silence this alert": all its labels; an alert without labels (a
    PagerDuty or generic event) by its dedup key. Always its service."""
    found = [matcher("service", "=", service_name)]
    if alert.labels:
        found += [matcher(k, "=", v) for k, v in sorted(alert.labels.items()) if k != "service"]
    else:
        found.append(matcher("dedup_key", "=", alert.dedup_key))
    return tuple(found)


@router.get("/silences", response_class=HTMLResponse)
def silences_get(request: Request, me: Viewer) -> HTMLResponse:
    return silences_page(request)


def silences_page(
    request: Request,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
    rule_form: dict[str, str] | None = None,
    rule_problems: dict[str, str] | None = None,
    grouping_form: dict[str, object] | None = None,
    grouping_problems: dict[str, str] | None = None,
) -> HTMLResponse:
    """The silences page, also re-rendered with a refused form's reason and what was typed."""
    now = utcnow()
    with _db(request).read_session() as session:
        rows = noise_data.silences_page(session, now)
        rules = noise_data.inhibit_rules_page(session)
        grouping = grouping_forms.rows(session, None)
    return render(
        request,
        "silences.html",
        {
            "rows": rows,
            "durations": DURATIONS,
            "default_hours": DEFAULT_HOURS,
            "error": error,
            "form": form or {},
            "created": request.query_params.get("created", ""),
            "rules": rules,
            "rule_form": rule_form or {},
            "rule_problems": rule_problems or {},
            "grouping_rules": grouping,
            "grouping_form": grouping_form or {},
            "grouping_problems": grouping_problems or {},
        },
        status=status,
        now=now,
    )


def _create(request: Request, posted: ResponderPost, matchers: tuple[Matcher, ...]) -> Response:
    now = utcnow()
    hours = _hours(posted)
    comment = posted.text("comment")
    with _db(request).session() as session:
        s = silences.create_silence(
            session,
            silences.SilenceIn(matchers, now, now + timedelta(hours=hours), comment),
            posted.user.display_name,
            posted.user.user_id,
            now,
        )
        silence_id = s.id
    return RedirectResponse(f"/silences?created={silence_id}#silence-{silence_id}", 303)


@router.post("/silences", response_class=HTMLResponse)
def create_silence(request: Request, posted: ResponderPost) -> Response:
    typed = {"matchers": posted.text("matchers"), "comment": posted.text("comment")}
    try:
        lines = [line for line in typed["matchers"].replace(",", "\n").splitlines() if line.strip()]
        matchers = silences.parse_matchers([parse_text(line).to_json() for line in lines])
        return _create(request, posted, matchers)
    except (MatcherError, silences.SilenceError) as exc:
        return silences_page(request, error=str(exc), status=422, form=typed)


@router.post("/alerts/{alert_id}/silence", response_class=HTMLResponse)
def silence_alert(request: Request, alert_id: int, posted: ResponderPost) -> Response:
    """ "Silence alerts like this": its labels (or its key) and its service, for a while."""
    with _db(request).read_session() as session:
        row = session.execute(
            select(Alert, Service.name)
            .join(Service, Service.id == Alert.service_id)
            .where(Alert.id == alert_id)
        ).first()
    if row is None:
        raise PageError(404, "There is no such alert.")
    try:
        return _create(request, posted, like_this(row[0], row[1]))
    except (MatcherError, silences.SilenceError) as exc:
        raise PageError(422, str(exc)) from None


@router.post("/silences/{silence_id}/expire", response_class=HTMLResponse)
def expire_silence(request: Request, silence_id: int, posted: ResponderPost) -> Response:
    _confirmed(posted)
    try:
        with _db(request).session() as session:
            silences.expire_silence(session, silence_id, utcnow())
    except LookupError:
        raise PageError(404, "There is no such silence.") from None
    except silences.SilenceError as exc:
        return silences_page(request, error=str(exc), status=409)
    return RedirectResponse(f"/silences#silence-{silence_id}", 303)


# --- inhibition rules ------------------------------------------------------------------------


def _matcher_lines(text: str, side: str) -> list[dict[str, object]]:
    lines = [line for line in text.replace(",", "\n").splitlines() if line.strip()]
    try:
        return [parse_text(line).to_json() for line in lines]
    except MatcherError as exc:
        raise inhibit_rules.RuleError(f"{side} matchers: {exc}", side) from None


@router.post("/silences/inhibit-rules", response_class=HTMLResponse)
def create_inhibit_rule(request: Request, posted: ResponderPost) -> Response:
    typed = {k: posted.text(k) for k in ("name", "source", "target", "equal", "comment")}
    try:
        data = inhibit_rules.RuleIn(
            typed["name"],
            _matcher_lines(typed["source"], "source"),
            _matcher_lines(typed["target"], "target"),
            [e for e in typed["equal"].replace(",", " ").split() if e],
            typed["comment"],
        )
        with _db(request).session() as session:
            rule = inhibit_rules.create_rule(
                session, data, posted.user.display_name, posted.user.user_id, utcnow()
            )
            rule_id = rule.id
    except inhibit_rules.RuleError as exc:
        return silences_page(
            request,
            status=422,
            rule_form=typed,
            rule_problems={exc.field or "name": str(exc)},
        )
    return RedirectResponse(f"/silences#inhibit-rule-{rule_id}", 303)


@router.post("/silences/inhibit-rules/{inhibit_rule_id}/delete", response_class=HTMLResponse)
def delete_inhibit_rule(request: Request, inhibit_rule_id: int, posted: ResponderPost) -> Response:
    _confirmed(posted)
    try:
        with _db(request).session() as session:
            inhibit_rules.delete_rule(session, inhibit_rule_id, utcnow())
    except LookupError:
        raise PageError(404, "There is no such inhibition rule.") from None
    return RedirectResponse("/silences#inhibit-rules", 303)


# --- maintenance windows ---------------------------------------------------------------------


@router.post("/services/{service_id}/maintenance", response_class=HTMLResponse)
def create_window(request: Request, service_id: int, posted: ResponderPost) -> Response:
    zone = posted.text("time_zone") or posted.user.time_zone or "UTC"

    def when(name: str) -> datetime | None:
        try:
            return parse_local(posted.text(name), zone)
        except ValueError:
            return None

    starts, ends = when("starts_at"), when("ends_at")
    rule = posted.text("rrule") or None
    problem = None
    if starts is None or ends is None:
        problem = "Give the start and the end (date and time)."
    elif ends <= starts:
        problem = "The window must end after it starts."
    elif rule is None and ends <= utcnow():
        problem = "The window would already be over."
    if problem is None:
        assert starts is not None and ends is not None
        try:
            with _db(request).session() as session:
                if session.get(Service, service_id) is None:
                    raise PageError(404, "There is no such service.")
                maintenance.create_window(
                    session,
                    maintenance.WindowIn(
                        title=posted.text("title"),
                        starts_at=starts,
                        ends_at=ends,
                        service_ids=[service_id],
                        rrule=rule,
                        recur_until=when("recur_until"),
                        time_zone=zone,
                    ),
                    posted.user.user_id,
                )
        except maintenance.WindowError as exc:
            problem = str(exc)
    if problem is not None:
        from warroom.web.pages import service_view

        typed = {k: v for k, v in posted.form.items() if isinstance(v, str) and k != "csrf_token"}
        return service_view(request, service_id, error=problem, status=422, form=typed)
    return RedirectResponse(f"/services/{service_id}#maintenance", 303)


@router.post("/maintenance/{window_id}/cancel", response_class=HTMLResponse)
def cancel_window(request: Request, window_id: int, posted: ResponderPost) -> Response:
    _confirmed(posted)
    now = utcnow()
    back = posted.text("service_id")
    try:
        with _db(request).session() as session:
            maintenance.cancel_window(session, window_id, now)
            schedule_releases(session.connection(), {now}, now)
    except LookupError:
        raise PageError(404, "There is no such maintenance window.") from None
    except maintenance.WindowError as exc:
        raise PageError(409, str(exc)) from None
    target = f"/services/{back}#maintenance" if back.isdigit() else "/services"
    return RedirectResponse(target, 303)
