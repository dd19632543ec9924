"""REST routes of post-incident reviews, action items, responder feedback and the metrics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.analytics import logic as metrics_logic
from warroom.analytics import queries as metrics
from warroom.api.deps import Principal, ReadDB, Reader, Responder, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.pagination import check_range, page
from warroom.api.params import Cursor, InstantQuery, Limit, PathId, QueryId
from warroom.common.schemas import Page
from warroom.db.base import utcnow
from warroom.errors import ApiError, responses
from warroom.incidents.service import get_incident
from warroom.incidents.timeline import Actor
from warroom.reviews import draft as drafts
from warroom.reviews import export
from warroom.reviews import logic as review_logic
from warroom.reviews import service as reviews
from warroom.reviews.models import SECTION_FIELDS, ActionItem, ResponderFeedback, Review
from warroom.reviews.schemas import (
    ActionItemIn,
    ActionItemOut,
    ActionItemPatch,
    DurationOut,
    FeedbackIn,
    FeedbackOut,
    LoadOut,
    MetricsSummaryOut,
    NoisyOut,
    RecurringOut,
    ReviewListItem,
    ReviewOut,
    ReviewPatch,
    SlaOut,
    StarIn,
    StarOut,
)
from warroom.statuspage import service as statuspage

router = ApiRouter(prefix="/api/v1")

ItemStatus = Literal["open", "in_progress", "done"]
ReviewStatus = Literal["draft", "in_review", "published"]
ReviewAction = Literal["submit", "return", "publish"]
DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=366)


def _actor(p: Principal) -> Actor:
    return Actor(p.id, p.name or p.username)


def _hooks(request: Request) -> reviews.Hooks:
    settings = request.app.state.settings
    return reviews.Hooks(settings.event_webhook_url, settings.base_url)


def review_out(d: drafts.Draft, now: datetime) -> ReviewOut:
    r = d.review
    assert r is not None
    data: dict[str, Any] = dict(
        id=r.id,
        incident_id=d.incident.id,
        status=r.status,
        title=d.incident.title,
        priority=d.incident.priority,
        services=d.services,
        **{name: getattr(r, name) for name in SECTION_FIELDS},
        due_at=r.due_at,
        overdue=review_logic.overdue(r.due_at, r.status == "published", now),
        created_at=r.created_at,
        updated_at=r.updated_at,
        submitted_at=r.submitted_at,
        published_at=r.published_at,
        reviewer_ids=[uid for uid, _ in d.reviewers],
        key_times=[{"name": t.name, "label": t.label, "at": t.at} for t in d.key_times],
        durations=[
            {
                "label": s.label,
                "start": s.start,
                "end": s.end,
                "seconds": s.duration.total_seconds(),
            }
            for s in d.steps
        ],
        seconds_at_priority={f"P{p}": v.total_seconds() for p, v in d.time_at_priority.items()},
        roles=[
            {"role": h.role, "user_id": h.user_id, "name": n, "start": h.start, "end": h.end}
            for h, n in d.roles
        ],
        pages=d.pages,
        people_paged=d.people_paged,
        alert_total=d.alert_total,
        alerts_by_severity=d.alerts_by_severity,
        alert_groups=[vars(g) for g in d.alert_groups],
        starred=[
            StarOut(
                timeline_event_id=e.event.id, at=e.event.at, message=e.event.message, note=e.note
            )
            for e in d.starred
        ],
        action_item_ids=[i.id for i in d.action_items],
    )
    return ReviewOut.model_validate(data)


def _draft_of_review(session: Session, review_id: int, now: datetime) -> drafts.Draft:
    review = reviews.get_review(session, review_id)
    return drafts.build(session, get_incident(session, review.incident_id), now)


# --- reviews -------------------------------------------------------------------------------


@router.get("/incidents/{incident_id}/review", response_model=ReviewOut, tags=["reviews"])
def get_incident_review(incident_id: PathId, _: Reader, session: ReadDB) -> ReviewOut:
    incident = get_incident(session, incident_id)
    now = utcnow()
    d = drafts.build(session, incident, now)
    if d.review is None:
        raise ApiError(404, f"incident {incident_id} has no review yet")
    return review_out(d, now)


@router.post(
    "/incidents/{incident_id}/review",
    response_model=ReviewOut,
    status_code=201,
    tags=["reviews"],
    responses=responses(409),
)
def start_review(incident_id: PathId, principal: Responder, session: WriteDB) -> ReviewOut:
    now = utcnow()
    review = reviews.start_review(session, incident_id, _actor(principal), now)
    session.flush()
    return review_out(_draft_of_review(session, review.id, now), now)


@router.get("/reviews", response_model=list[ReviewListItem], tags=["reviews"])
def list_reviews(
    _: Reader,
    session: ReadDB,
    status: ReviewStatus | None = None,
    overdue: Annotated[bool, Query(description="only reviews past their due date")] = False,
) -> list[ReviewListItem]:
    rows = reviews.list_reviews(session, utcnow(), status=status, overdue=overdue)
    return [
        ReviewListItem(
            id=r.review.id,
            incident_id=r.review.incident_id,
            incident_title=r.incident_title,
            priority=r.priority,
            status=r.review.status,
            due_at=r.review.due_at,
            overdue=r.overdue,
        )
        for r in rows
    ]


@router.get("/reviews/{review_id}", response_model=ReviewOut, tags=["reviews"])
def get_review(review_id: PathId, _: Reader, session: ReadDB) -> ReviewOut:
    now = utcnow()
    return review_out(_draft_of_review(session, review_id, now), now)


@router.patch(
    "/reviews/{review_id}", response_model=ReviewOut, tags=["reviews"], responses=responses(409)
)
def update_review(
    review_id: PathId, body: ReviewPatch, principal: Responder, session: WriteDB
) -> ReviewOut:
    now = utcnow()
    changes = body.model_dump(exclude_unset=True)
    reviews.update_review(
        session,
        review_id,
        _actor(principal),
        now,
        sections={k: v for k, v in changes.items() if k in SECTION_FIELDS},
        due_at=changes.get("due_at"),
        impact_started_at=changes.get("impact_started_at"),
        reviewer_ids=changes.get("reviewer_ids"),
    )
    session.flush()
    return review_out(_draft_of_review(session, review_id, now), now)


@router.post(
    "/reviews/{review_id}/actions/{action}",
    response_model=ReviewOut,
    tags=["reviews"],
    responses=responses(409),
    summary="Move a review on: submit (draft → in review), return (→ draft), publish",
)
def advance_review(
    review_id: PathId, action: ReviewAction, principal: Responder, session: WriteDB
) -> ReviewOut:
    now = utcnow()
    reviews.advance(session, review_id, action, _actor(principal), now)
    if action == "publish":
        statuspage.changed_here(session)  # its public summary shows at once
    session.flush()
    return review_out(_draft_of_review(session, review_id, now), now)


@router.put(
    "/reviews/{review_id}/stars/{event_id}",
    response_model=StarOut,
    tags=["reviews"],
    responses=responses(409),
    summary="Star a timeline entry for the review, with a note",
)
def star_entry(
    review_id: PathId, event_id: PathId, body: StarIn, principal: Responder, session: WriteDB
) -> StarOut:
    entry = reviews.star(session, review_id, event_id, _actor(principal), utcnow(), body.note)
    d = _draft_of_review(session, review_id, utcnow())
    found = next(e for e in d.starred if e.event.id == entry.timeline_event_id)
    return StarOut(
        timeline_event_id=found.event.id,
        at=found.event.at,
        message=found.event.message,
        note=found.note,
    )


@router.delete(
    "/reviews/{review_id}/stars/{event_id}",
    status_code=204,
    tags=["reviews"],
    responses=responses(409),
)
def unstar_entry(review_id: PathId, event_id: PathId, _: Responder, session: WriteDB) -> Response:
    reviews.unstar(session, review_id, event_id)
    return Response(status_code=204)


@router.get(
    "/reviews/{review_id}/export.md",
    tags=["reviews"],
    response_class=Response,
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}},
    summary="The review as Markdown",
)
def export_markdown(review_id: PathId, _: Reader, session: ReadDB) -> Response:
    d = _draft_of_review(session, review_id, utcnow())
    return Response(
        export.markdown(d),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="review-{d.incident.id}.md"'},
    )


@router.get(
    "/reviews/{review_id}/export.pdf",
    tags=["reviews"],
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
    },
    summary="The review as PDF, with its charts",
)
def export_pdf(review_id: PathId, _: Reader, session: ReadDB) -> Response:
    d = _draft_of_review(session, review_id, utcnow())
    return Response(
        export.pdf(d),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="review-{d.incident.id}.pdf"'},
    )


# --- action items --------------------------------------------------------------------------


@router.get("/action-items", response_model=Page[ActionItemOut], tags=["action items"])
def list_action_items(
    _: Reader,
    session: ReadDB,
    status: Annotated[list[ItemStatus] | None, Query()] = None,
    team_id: QueryId = None,
    owner_id: QueryId = None,
    incident_id: QueryId = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ActionItemOut]:
    query = select(ActionItem)
    if status:
        query = query.where(ActionItem.status.in_(status))
    if team_id is not None:
        query = query.where(ActionItem.team_id == team_id)
    if owner_id is not None:
        query = query.where(ActionItem.owner_id == owner_id)
    if incident_id is not None:
        query = query.where(ActionItem.incident_id == incident_id)
    rows, nxt = page(session, query, ActionItem.id, limit, cursor)
    return Page(items=[ActionItemOut.model_validate(i) for i in rows], next_cursor=nxt)


@router.post(
    "/incidents/{incident_id}/action-items",
    response_model=ActionItemOut,
    status_code=201,
    tags=["action items"],
)
def add_action_item(
    incident_id: PathId,
    body: ActionItemIn,
    principal: Responder,
    session: WriteDB,
    request: Request,
) -> ActionItem:
    return reviews.add_action_item(
        session,
        incident_id,
        _actor(principal),
        utcnow(),
        title=body.title,
        description=body.description,
        owner_id=body.owner_id,
        team_id=body.team_id,
        priority=body.priority,
        due_at=body.due_at,
        hooks=_hooks(request),
    )


@router.get("/action-items/{item_id}", response_model=ActionItemOut, tags=["action items"])
def get_action_item(item_id: PathId, _: Reader, session: ReadDB) -> ActionItem:
    return reviews.get_action_item(session, item_id)


@router.patch("/action-items/{item_id}", response_model=ActionItemOut, tags=["action items"])
def update_action_item(
    item_id: PathId,
    body: ActionItemPatch,
    principal: Responder,
    session: WriteDB,
    request: Request,
) -> ActionItem:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    return reviews.update_action_item(
        session, item_id, _actor(principal), utcnow(), hooks=_hooks(request), **changes
    )


# --- feedback ------------------------------------------------------------------------------


@router.get("/incidents/{incident_id}/feedback", response_model=list[FeedbackOut], tags=["reviews"])
def list_feedback(incident_id: PathId, _: Reader, session: ReadDB) -> list[ResponderFeedback]:
    get_incident(session, incident_id)
    return list(
        session.scalars(
            select(ResponderFeedback)
            .where(ResponderFeedback.incident_id == incident_id)
            .order_by(ResponderFeedback.id)
        )
    )


@router.put(
    "/incidents/{incident_id}/feedback",
    response_model=FeedbackOut,
    tags=["reviews"],
    responses=responses(409),
    summary="Give (or replace) your feedback on how this incident was handled",
)
def give_feedback(
    incident_id: PathId, body: FeedbackIn, principal: Responder, session: WriteDB
) -> ResponderFeedback:
    return reviews.give_feedback(
        session, incident_id, principal.id, utcnow(), rating=body.rating, comment=body.comment
    )


# --- metrics -------------------------------------------------------------------------------


def metrics_filter(
    since: datetime | None,
    until: datetime | None,
    team_id: int | None,
    service_id: int | None,
    priority: int | None,
    now: datetime,
) -> metrics.Filter:
    check_range(since, until)
    until = until or now
    since = since or until - DEFAULT_PERIOD
    if since >= until:
        raise ApiError(422, "'since' must be before 'until'")
    if until - since > MAX_PERIOD:
        raise ApiError(422, "the period is at most 366 days")
    return metrics.Filter(since, until, team_id, service_id, priority)


Since = Annotated[InstantQuery, Query(description="period start (default: 30 days before until)")]
Until = Annotated[InstantQuery, Query(description="period end, exclusive (default: now)")]
PriorityQuery = Annotated[int | None, Query(ge=1, le=5)]


def _duration_out(name: str, r: metrics.Report) -> DurationOut:
    d: metrics_logic.Duration = getattr(r.summary, name)
    before: metrics_logic.Duration = getattr(r.previous_summary, name)
    return DurationOut(
        count=d.count,
        excluded=d.excluded,
        mean_seconds=d.mean_seconds,
        median_seconds=d.median.total_seconds() if d.median is not None else None,
        previous_mean_seconds=before.mean_seconds,
        trend=r.trend(name),
        definition=metrics_logic.DEFINITIONS[name],
    )


def summary_out(r: metrics.Report, ratings: list[int]) -> MetricsSummaryOut:
    count, mean, _spread = metrics_logic.feedback_summary(ratings)
    return MetricsSummaryOut(
        since=r.filter.since,
        until=r.filter.until,
        previous_since=r.previous.since,
        incidents=r.summary.incidents,
        previous_incidents=r.previous_summary.incidents,
        incidents_trend=r.trend("incidents"),
        by_priority={f"P{p}": n for p, n in r.summary.by_priority.items()},
        mttd=_duration_out("mttd", r),
        mtta=_duration_out("mtta", r),
        mttm=_duration_out("mttm", r),
        mttr=_duration_out("mttr", r),
        sla=[
            SlaOut(priority=s.priority, kind=s.kind, met=s.met, missed=s.missed, share=s.share)
            for s in r.summary.sla
        ],
        feedback_count=count,
        feedback_mean=mean,
        definitions=metrics_logic.DEFINITIONS,
    )


def load_report(
    session: Session, f: metrics.Filter, now: datetime
) -> tuple[metrics.Report, list[int]]:
    r = metrics.report(session, f, now)
    return r, reviews.feedback_ratings(session, metrics.incident_ids(f))


@router.get("/metrics/summary", response_model=MetricsSummaryOut, tags=["metrics"])
def metrics_summary(
    _: Reader,
    session: ReadDB,
    since: Since = None,
    until: Until = None,
    team_id: QueryId = None,
    service_id: QueryId = None,
    priority: PriorityQuery = None,
) -> MetricsSummaryOut:
    now = utcnow()
    f = metrics_filter(since, until, team_id, service_id, priority, now)
    return summary_out(*load_report(session, f, now))


@router.get("/metrics/on-call-load", response_model=list[LoadOut], tags=["metrics"])
def metrics_load(
    _: Reader,
    session: ReadDB,
    since: Since = None,
    until: Until = None,
    team_id: QueryId = None,
    service_id: QueryId = None,
    priority: PriorityQuery = None,
) -> list[LoadOut]:
    now = utcnow()
    r = metrics.report(
        session, metrics_filter(since, until, team_id, service_id, priority, now), now
    )
    return [
        LoadOut(
            user_id=x.user_id,
            name=r.names.get(x.user_id, ""),
            pages=x.pages,
            out_of_hours=x.out_of_hours,
        )
        for x in r.load
    ]


@router.get("/metrics/noisy-alerts", response_model=list[NoisyOut], tags=["metrics"])
def metrics_noisy(
    _: Reader,
    session: ReadDB,
    since: Since = None,
    until: Until = None,
    team_id: QueryId = None,
    service_id: QueryId = None,
    priority: PriorityQuery = None,
) -> list[NoisyOut]:
    now = utcnow()
    f = metrics_filter(since, until, team_id, service_id, priority, now)
    names = metrics.service_names(session)
    return [
        NoisyOut(
            service_id=n.service_id,
            service=names.get(n.service_id or 0, ""),
            signature=n.signature,
            alerts=n.alerts,
            incidents=n.incidents,
        )
        for n in metrics_logic.noisy(metrics.incidents(session, f))
    ]


@router.get("/metrics/recurring", response_model=list[RecurringOut], tags=["metrics"])
def metrics_recurring(
    _: Reader,
    session: ReadDB,
    since: Since = None,
    until: Until = None,
    team_id: QueryId = None,
    service_id: QueryId = None,
    priority: PriorityQuery = None,
) -> list[RecurringOut]:
    now = utcnow()
    f = metrics_filter(since, until, team_id, service_id, priority, now)
    names = metrics.service_names(session)
    return [
        RecurringOut(
            service_id=g.service_id,
            service=names.get(g.service_id or 0, ""),
            signature=g.signature,
            incident_ids=list(g.incident_ids),
        )
        for g in metrics_logic.recurring(metrics.incidents(session, f))
    ]


__all__ = ["Review", "router"]
