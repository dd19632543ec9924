"""The review pages: an incident's review (draft, edit, stars, workflow, action items,
feedback, exports), the lists of reviews and open action items, and the metrics page with its
CSV tables and SVG charts. Every form calls the same service function as the REST API."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from warroom.analytics import charts
from warroom.analytics import logic as metrics_logic
from warroom.analytics import queries as metrics
from warroom.common.clock import utcnow
from warroom.common.zones import zone_named
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.incidents.service import get_incident
from warroom.incidents.timeline import Actor
from warroom.reviews import draft as drafts
from warroom.reviews import export
from warroom.reviews import logic as review_logic
from warroom.reviews import service as reviews
from warroom.reviews.models import ACTION_ITEM_STATUSES, SECTIONS
from warroom.statuspage import service as statuspage
from warroom.web.auth import Posted, ResponderPost, Viewer
from warroom.web.queries import refs
from warroom.web.render import parse_local, render
from warroom.web.router import router, to_int

TEXT_MAX = 50_000
TITLE_MAX = 500
PERIODS = {"7": 7, "30": 30, "90": 90}
CSV_TABLES = ("summary", "sla", "on-call-load", "noisy-alerts", "recurring")
CHARTS = ("durations", "incidents", "on-call-load")


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _actor(posted: Posted) -> Actor:
    return Actor(posted.user.user_id, posted.user.display_name)


def _hooks(request: Request) -> reviews.Hooks:
    s = request.app.state.settings
    return reviews.Hooks(s.event_webhook_url, s.base_url)


def _typed(posted: Posted) -> dict[str, str]:
    return {k: v for k, v in posted.form.items() if isinstance(v, str) and k != "csrf_token"}


# --- an incident's review ------------------------------------------------------------------


def review_page(
    request: Request,
    incident_id: int,
    *,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    now = utcnow()
    with _db(request).read_session() as session:
        incident = get_incident(session, incident_id)
        d = drafts.build(session, incident, now)
        people = refs.people(session)
        teams = refs.team_refs(session)
    return render(
        request,
        "review.html",
        {
            "d": d,
            "incident": incident,
            "people": people,
            "teams": teams,
            "sections": SECTIONS,
            "status_labels": review_logic.STATUS_LABELS,
            "item_labels": review_logic.ACTION_ITEM_LABELS,
            "item_statuses": ACTION_ITEM_STATUSES,
            "roles": export.ROLE_LABELS,
            "error": error,
            "form": form or {},
        },
        status=status,
        now=now,
    )


@router.get("/incidents/{incident_id}/review", response_class=HTMLResponse)
def show_review(request: Request, incident_id: int, _: Viewer) -> HTMLResponse:
    return review_page(request, incident_id)


def _change(
    request: Request,
    incident_id: int,
    posted: Posted,
    change: Callable[[Any, datetime], object],
    anchor: str = "",
) -> Response:
    try:
        with _db(request).session() as session:
            change(session, utcnow())
    except ApiError as exc:
        if exc.status == 404:
            raise
        return review_page(
            request, incident_id, error=exc.message, status=exc.status, form=_typed(posted)
        )
    return RedirectResponse(f"/incidents/{incident_id}/review{anchor}", status_code=303)


def _review_id(session: Any, incident_id: int) -> int:
    review = reviews.review_of(session, incident_id)
    if review is None:
        raise ApiError(404, f"incident {incident_id} has no review yet")
    return review.id


@router.post("/incidents/{incident_id}/review", response_class=HTMLResponse)
def start(request: Request, incident_id: int, posted: ResponderPost) -> Response:
    return _change(
        request,
        incident_id,
        posted,
        lambda s, now: reviews.start_review(s, incident_id, _actor(posted), now),
    )


@router.post("/incidents/{incident_id}/review/edit", response_class=HTMLResponse)
def edit(request: Request, incident_id: int, posted: ResponderPost) -> Response:
    zone = posted.user.time_zone
    sections = {name: posted.text(name) for name, _h, _p in SECTIONS if name in posted.form}
    too_long = [name for name, text in sections.items() if len(text) > TEXT_MAX]
    if too_long:
        return review_page(
            request,
            incident_id,
            error=f"A section is longer than {TEXT_MAX} characters.",
            status=422,
            form=_typed(posted),
        )
    try:
        due = parse_local(posted.text("due_at"), zone)
        impact = parse_local(posted.text("impact_started_at"), zone)
    except ValueError:
        return review_page(
            request, incident_id, error="A date is not a date.", status=422, form=_typed(posted)
        )
    reviewer_ids = [
        n for n in (to_int(v, 1) for v in posted.texts("reviewer_ids")) if n is not None
    ]

    def change(session: Any, now: datetime) -> None:
        reviews.update_review(
            session,
            _review_id(session, incident_id),
            _actor(posted),
            now,
            sections=sections,
            due_at=due,
            impact_started_at=impact,
            reviewer_ids=reviewer_ids if "reviewers" in posted.form else None,
        )

    return _change(request, incident_id, posted, change, "#template")


@router.post("/incidents/{incident_id}/review/workflow/{action}", response_class=HTMLResponse)
def workflow(request: Request, incident_id: int, action: str, posted: ResponderPost) -> Response:
    def change(session: Any, now: datetime) -> None:
        reviews.advance(session, _review_id(session, incident_id), action, _actor(posted), now)
        if action == "publish":
            statuspage.changed_here(session)  # its public summary shows at once

    return _change(request, incident_id, posted, change)


@router.post("/incidents/{incident_id}/review/stars/{event_id}", response_class=HTMLResponse)
def star(request: Request, incident_id: int, event_id: int, posted: ResponderPost) -> Response:
    note = posted.text("note")
    if len(note) > 5000:
        return review_page(
            request, incident_id, error="The note is too long.", status=422, form=_typed(posted)
        )

    def change(session: Any, now: datetime) -> None:
        rid = _review_id(session, incident_id)
        if posted.text("unstar"):
            reviews.unstar(session, rid, event_id)
        else:
            reviews.star(session, rid, event_id, _actor(posted), now, note)

    return _change(request, incident_id, posted, change, f"#rev-ev-{event_id}")


@router.post("/incidents/{incident_id}/action-items", response_class=HTMLResponse)
def add_item(request: Request, incident_id: int, posted: ResponderPost) -> Response:
    title = posted.text("title")
    problems = []
    if not title:
        problems.append("Give the action item a title.")
    elif len(title) > TITLE_MAX:
        problems.append(f"The title is longer than {TITLE_MAX} characters.")
    try:
        due = parse_local(posted.text("due_at"), posted.user.time_zone)
    except ValueError:
        due = None
        problems.append("The due date is not a date.")
    if problems:
        return review_page(
            request, incident_id, error=" ".join(problems), status=422, form=_typed(posted)
        )

    def change(session: Any, now: datetime) -> None:
        reviews.add_action_item(
            session,
            incident_id,
            _actor(posted),
            now,
            title=title,
            description=posted.text("description")[:TEXT_MAX],
            owner_id=to_int(posted.text("owner_id"), 1),
            team_id=to_int(posted.text("team_id"), 1),
            priority=to_int(posted.text("priority"), 1, 4) or 3,
            due_at=due,
            hooks=_hooks(request),
        )

    return _change(request, incident_id, posted, change, "#action-items")


@router.post("/action-items/{item_id}", response_class=HTMLResponse)
def update_item(request: Request, item_id: int, posted: ResponderPost) -> Response:
    status = posted.text("status")
    back = posted.text("back")
    with _db(request).read_session() as session:
        incident_id = reviews.get_action_item(session, item_id).incident_id
    if status not in ACTION_ITEM_STATUSES:
        return review_page(request, incident_id, error="Choose a status.", status=422)
    try:
        with _db(request).session() as session:
            reviews.update_action_item(
                session, item_id, _actor(posted), utcnow(), status=status, hooks=_hooks(request)
            )
    except ApiError as exc:
        if exc.status == 404:
            raise
        return review_page(request, incident_id, error=exc.message, status=exc.status)
    target = "/action-items" if back == "list" else f"/incidents/{incident_id}/review#action-items"
    return RedirectResponse(target, status_code=303)


@router.post("/incidents/{incident_id}/feedback", response_class=HTMLResponse)
def feedback(request: Request, incident_id: int, posted: ResponderPost) -> Response:
    rating = to_int(posted.text("rating"), 1, 5)
    comment = posted.text("comment")
    if rating is None or len(comment) > 5000:
        return review_page(
            request,
            incident_id,
            error="Rate the handling from 1 to 5 (and keep the comment short).",
            status=422,
            form=_typed(posted),
        )
    return _change(
        request,
        incident_id,
        posted,
        lambda s, now: reviews.give_feedback(
            s, incident_id, posted.user.user_id, now, rating=rating, comment=comment
        ),
        "#feedback",
    )


def _draft(request: Request, incident_id: int) -> drafts.Draft:
    with _db(request).read_session() as session:
        return drafts.build(session, get_incident(session, incident_id), utcnow())


@router.get("/incidents/{incident_id}/review.md")
def review_markdown(request: Request, incident_id: int, _: Viewer) -> Response:
    d = _draft(request, incident_id)
    return Response(
        export.markdown(d),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="review-{incident_id}.md"'},
    )


@router.get("/incidents/{incident_id}/review.pdf")
def review_pdf(request: Request, incident_id: int, _: Viewer) -> Response:
    d = _draft(request, incident_id)
    return Response(
        export.pdf(d),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="review-{incident_id}.pdf"'},
    )


@router.get("/incidents/{incident_id}/review/chart.svg")
def review_chart(request: Request, incident_id: int, _: Viewer) -> Response:
    return _svg(export.response_chart(_draft(request, incident_id)))


def _svg(body: bytes) -> Response:
    return Response(body, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


# --- lists ---------------------------------------------------------------------------------


@router.get("/reviews", response_class=HTMLResponse)
def review_list(request: Request, _: Viewer) -> HTMLResponse:
    overdue = request.query_params.get("overdue") == "1"
    now = utcnow()
    with _db(request).read_session() as session:
        rows = reviews.list_reviews(session, now, overdue=overdue)
    return render(
        request,
        "reviews.html",
        {"rows": rows, "overdue": overdue, "status_labels": review_logic.STATUS_LABELS},
        now=now,
    )


@router.get("/action-items", response_class=HTMLResponse)
def item_list(request: Request, _: Viewer) -> HTMLResponse:
    params = request.query_params
    team_id = to_int(params.get("team"), 1)
    owner_id = to_int(params.get("owner"), 1)
    show_done = params.get("done") == "1"
    now = utcnow()
    with _db(request).read_session() as session:
        rows = reviews.list_action_items(
            session,
            now,
            statuses=ACTION_ITEM_STATUSES if show_done else ("open", "in_progress"),
            team_id=team_id,
            owner_id=owner_id,
        )
        people = refs.people(session)
        teams = refs.team_refs(session)
    return render(
        request,
        "action_items.html",
        {
            "rows": rows,
            "people": people,
            "teams": teams,
            "team_id": team_id,
            "owner_id": owner_id,
            "show_done": show_done,
            "item_labels": review_logic.ACTION_ITEM_LABELS,
            "item_statuses": ACTION_ITEM_STATUSES,
        },
        now=now,
    )


# --- metrics -------------------------------------------------------------------------------


def metrics_filter(request: Request, now: datetime) -> tuple[metrics.Filter, str, str]:
    """The page's filter: a preset period (7/30/90 days) or a from/to pair of dates (in the
    reader's zone), plus team, service and priority."""
    params = request.query_params
    period = params.get("period", "30")
    start, end = params.get("from", ""), params.get("to", "")
    me_zone = getattr(request.state, "signed_in", None)
    zone = zone_named(me_zone.time_zone if me_zone else "UTC")
    since = until = None
    if start and end:
        try:
            since = datetime.fromisoformat(start).replace(tzinfo=zone).astimezone(UTC)
            until = (
                datetime.fromisoformat(end).replace(tzinfo=zone) + timedelta(days=1)
            ).astimezone(UTC)
        except ValueError:
            since = until = None
        if (
            since is not None
            and until is not None
            and (since >= until or until - since > timedelta(days=366))
        ):
            since = until = None
    if since is None or until is None:
        days = PERIODS.get(period, 30)
        until, since = now, now - timedelta(days=days)
        start = end = ""
    f = metrics.Filter(
        since,
        until,
        team_id=to_int(params.get("team"), 1),
        service_id=to_int(params.get("service"), 1),
        priority=to_int(params.get("priority"), 1, 5),
    )
    return f, start, end


def _report(request: Request) -> tuple[metrics.Report, list[int], datetime]:
    now = utcnow()
    f, _s, _e = metrics_filter(request, now)
    with _db(request).read_session() as session:
        r = metrics.report(session, f, now)
        ratings = reviews.feedback_ratings(session, metrics.incident_ids(f))
    return r, ratings, now


@router.get("/analytics", response_class=HTMLResponse)
def metrics_page(request: Request, _: Viewer) -> HTMLResponse:
    now = utcnow()
    f, start, end = metrics_filter(request, now)
    with _db(request).read_session() as session:
        r = metrics.report(session, f, now)
        ratings = reviews.feedback_ratings(session, metrics.incident_ids(f))
        services = refs.service_refs(session, archived=True)
        teams = refs.team_refs(session)
    count, mean, spread = metrics_logic.feedback_summary(ratings)
    return render(
        request,
        "metrics.html",
        {
            "r": r,
            "definitions": metrics_logic.DEFINITIONS,
            "feedback": {"count": count, "mean": mean, "spread": spread},
            "services": services,
            "teams": teams,
            "period": request.query_params.get("period", "30") if not start else "",
            "start": start,
            "end": end,
            "query": request.url.query,
            "tables": CSV_TABLES,
        },
        now=now,
    )


def csv_rows(table: str, r: metrics.Report, ratings: list[int]) -> list[list[Any]]:
    s, p = r.summary, r.previous_summary
    if table == "summary":
        rows: list[list[Any]] = [
            [
                "metric",
                "count",
                "excluded",
                "mean_seconds",
                "median_seconds",
                "previous_mean_seconds",
                "definition",
            ]
        ]
        rows.append(
            ["incidents", s.incidents, 0, "", "", "", metrics_logic.DEFINITIONS["incidents"]]
        )
        for name in ("mttd", "mtta", "mttm", "mttr"):
            d, b = getattr(s, name), getattr(p, name)
            rows.append(
                [
                    name,
                    d.count,
                    d.excluded,
                    _num(d.mean_seconds),
                    _num(d.median.total_seconds() if d.median else None),
                    _num(b.mean_seconds),
                    metrics_logic.DEFINITIONS[name],
                ]
            )
        count, mean, _spread = metrics_logic.feedback_summary(ratings)
        rows.append(
            ["feedback", count, 0, _num(mean), "", "", metrics_logic.DEFINITIONS["feedback"]]
        )
        return rows
    if table == "sla":
        return [["priority", "clock", "met", "missed", "share"]] + [
            [f"P{x.priority}", x.kind, x.met, x.missed, _num(x.share)] for x in s.sla
        ]
    if table == "on-call-load":
        return [["user_id", "name", "pages", "out_of_hours"]] + [
            [x.user_id, r.names.get(x.user_id, ""), x.pages, x.out_of_hours] for x in r.load
        ]
    if table == "noisy-alerts":
        return [["service", "signature", "alerts", "incidents"]] + [
            [r.services.get(n.service_id or 0, ""), n.signature, n.alerts, n.incidents]
            for n in r.noisy
        ]
    return [["service", "signature", "incidents", "incident_ids"]] + [
        [
            r.services.get(g.service_id or 0, ""),
            g.signature,
            len(g.incident_ids),
            " ".join(map(str, g.incident_ids)),
        ]
        for g in r.recurring
    ]


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


def _cell(value: Any) -> Any:
    # A cell a spreadsheet would run as a formula (=, +, -, @) is kept as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@router.get("/analytics/{table}.csv")
def metrics_csv(request: Request, table: str, _: Viewer) -> Response:
    if table not in CSV_TABLES:
        raise ApiError(404, f"there is no metrics table {table!r}")
    r, ratings, _now = _report(request)
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv_rows(table, r, ratings):
        writer.writerow([_cell(v) for v in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="warroom-{table}.csv"'},
    )


@router.get("/analytics/charts/{name}.svg")
def metrics_chart(request: Request, name: str, _: Viewer) -> Response:
    if name not in CHARTS:
        raise ApiError(404, f"there is no chart {name!r}")
    r, _ratings, _now = _report(request)
    s, p = r.summary, r.previous_summary
    if name == "durations":
        labels = ["MTTD", "MTTA", "MTTM", "MTTR"]
        keys = ("mttd", "mtta", "mttm", "mttr")
        body = charts.compare(
            "Mean times, this period and the previous one",
            labels,
            [charts.minutes(getattr(s, k).mean_seconds) for k in keys],
            [charts.minutes(getattr(p, k).mean_seconds) for k in keys],
            "minutes",
        )
    elif name == "incidents":
        priorities = sorted(set(s.by_priority) | set(p.by_priority))
        body = charts.compare(
            "Incidents by priority",
            [f"P{x}" for x in priorities],
            [s.by_priority.get(x, 0) for x in priorities],
            [p.by_priority.get(x, 0) for x in priorities],
            "incidents",
        )
    else:
        top = r.load[:15]
        body = charts.counts(
            "Pages per person", {r.names.get(x.user_id, str(x.user_id)): x.pages for x in top}
        )
    return _svg(body)
