"""Load-decide-store for reviews, action items and responder feedback.

Each change is one transaction: the row, its timeline event (through incidents/timeline.py),
its reminder timers (fired by the engine, which calls :func:`fire_reminder`) and, for action
items, the signed event webhook's outbox row. A refusal raises ApiError before anything is
written, so nothing is half-stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.catalog.models import Team, User
from warroom.errors import ApiError
from warroom.incidents import service as incidents
from warroom.incidents.models import Incident, TimelineEvent
from warroom.incidents.service import get_incident
from warroom.incidents.timeline import Actor, add_event
from warroom.notify import outbox
from warroom.reviews import logic
from warroom.reviews.models import (
    ACTION_ITEM_STATUSES,
    SECTION_FIELDS,
    ActionItem,
    ResponderFeedback,
    Review,
    ReviewReviewer,
    StarredEntry,
)
from warroom.timers.models import Timer

REVIEW_REMINDER = "review_reminder"
ACTION_ITEM_REMINDER = "action_item_reminder"
TIMER_KINDS = (REVIEW_REMINDER, ACTION_ITEM_REMINDER)
REVIEWABLE = ("resolved", "closed")


def _refuse(exc: logic.ReviewError) -> ApiError:
    return ApiError(exc.status, str(exc))


def _active_user(session: Session, user_id: int, field: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise ApiError(
            422, f"user {user_id} does not exist", [{"field": field, "message": "unknown user"}]
        )
    if not user.active:
        raise ApiError(
            422,
            f"{user.name or user.username} is deactivated and cannot own or review anything",
            [{"field": field, "message": "deactivated user"}],
        )
    return user


# --- reviews -------------------------------------------------------------------------------


def get_review(session: Session, review_id: int, lock: bool = False) -> Review:
    query = select(Review).where(Review.id == review_id)
    if lock:
        query = query.with_for_update()
    review = session.scalars(query).first()
    if review is None:
        raise ApiError(404, f"review {review_id} does not exist")
    return review


def review_of(session: Session, incident_id: int) -> Review | None:
    return session.scalars(select(Review).where(Review.incident_id == incident_id)).first()


def start_review(session: Session, incident_id: int, actor: Actor, now: datetime) -> Review:
    incident = get_incident(session, incident_id, lock=True)
    if incident.merged_into_id is not None:
        raise ApiError(
            409,
            f"incident {incident_id} was merged into #{incident.merged_into_id}: review that one",
        )
    if incident.status not in REVIEWABLE:
        raise ApiError(
            409, f"incident {incident_id} is {incident.status}: a review starts once it is resolved"
        )
    if review_of(session, incident_id) is not None:
        raise ApiError(409, f"incident {incident_id} already has a review")
    ended = incident.resolved_at or incident.closed_at or now
    review = Review(
        incident_id=incident.id,
        status="draft",
        due_at=logic.due_for(incident.priority, ended),
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
        summary=incident.description or "",
    )
    session.add(review)
    session.flush()
    add_event(
        session,
        incident.id,
        "review_started",
        f"Review started by {actor.name}; due {review.due_at:%Y-%m-%d}",
        now,
        actor=actor,
        after={"review_id": review.id, "due_at": review.due_at.isoformat()},
    )
    _schedule(
        session,
        REVIEW_REMINDER,
        incident.id,
        {"review_id": review.id},
        review.due_at,
        now,
        logic.REVIEW_REMINDERS,
    )
    return review


def _editable(review: Review) -> None:
    if review.status == "published":
        raise ApiError(409, "the review is published; a published review cannot be changed")


def update_review(
    session: Session,
    review_id: int,
    actor: Actor,
    now: datetime,
    *,
    sections: dict[str, str] | None = None,
    due_at: datetime | None = None,
    impact_started_at: datetime | None = None,
    reviewer_ids: Sequence[int] | None = None,
) -> Review:
    """Change what people wrote, the due date, the impact start (the incident's own, through
    the incidents service) or the reviewers; all checked before anything is written."""
    review = get_review(session, review_id, lock=True)
    _editable(review)
    incident = get_incident(session, review.incident_id)
    unknown = set(sections or {}) - set(SECTION_FIELDS)
    if unknown:
        raise ApiError(422, f"unknown review section(s): {', '.join(sorted(unknown))}")
    ended = incident.resolved_at or incident.closed_at or incident.triggered_at
    if due_at is not None:
        try:
            logic.check_due(due_at, ended, "the incident was resolved")
        except logic.ReviewError as exc:
            raise _refuse(exc) from None
    reviewers = list(dict.fromkeys(reviewer_ids)) if reviewer_ids is not None else None
    for uid in reviewers or []:
        _active_user(session, uid, "reviewer_ids")
    if impact_started_at is not None:
        incidents.correct_impact_start(session, incident.id, actor, now, impact_started_at)
    for name, text in (sections or {}).items():
        setattr(review, name, text)
    if due_at is not None and due_at != review.due_at:
        review.due_at = due_at
        _cancel(session, REVIEW_REMINDER, incident.id, "review_id", review.id, now)
        _schedule(
            session,
            REVIEW_REMINDER,
            incident.id,
            {"review_id": review.id},
            due_at,
            now,
            logic.REVIEW_REMINDERS,
        )
    if reviewers is not None:
        current = set(
            session.scalars(
                select(ReviewReviewer.user_id).where(ReviewReviewer.review_id == review.id)
            )
        )
        for uid in current - set(reviewers):
            row = session.get(ReviewReviewer, (review.id, uid))
            if row is not None:
                session.delete(row)
        for uid in reviewers:
            if uid not in current:
                session.add(ReviewReviewer(review_id=review.id, user_id=uid, added_at=now))
    review.updated_at = now
    return review


def advance(session: Session, review_id: int, action: str, actor: Actor, now: datetime) -> Review:
    """The workflow: submit (draft -> in review), return (back to draft), publish."""
    review = get_review(session, review_id, lock=True)
    try:
        status = logic.next_status(review.status, action)
    except logic.ReviewError as exc:
        raise _refuse(exc) from None
    before = review.status
    review.status, review.updated_at = status, now
    if action == "submit":
        review.submitted_at = now
    if status == "published":
        review.published_at, review.published_by_id = now, actor.id
        _cancel(session, REVIEW_REMINDER, review.incident_id, "review_id", review.id, now)
    add_event(
        session,
        review.incident_id,
        f"review_{status}",
        f"Review {logic.STATUS_LABELS[status].lower()} by {actor.name}",
        now,
        actor=actor,
        before={"status": before},
        after={"status": status, "review_id": review.id},
    )
    return review


def star(
    session: Session, review_id: int, event_id: int, actor: Actor, now: datetime, note: str = ""
) -> StarredEntry:
    review = get_review(session, review_id, lock=True)
    _editable(review)
    owner = session.scalar(select(TimelineEvent.incident_id).where(TimelineEvent.id == event_id))
    if owner != review.incident_id:
        raise ApiError(404, f"timeline entry {event_id} is not on incident {review.incident_id}")
    entry = session.scalars(
        select(StarredEntry).where(
            StarredEntry.review_id == review.id, StarredEntry.timeline_event_id == event_id
        )
    ).first()
    if entry is None:
        entry = StarredEntry(
            review_id=review.id, timeline_event_id=event_id, starred_by_id=actor.id, starred_at=now
        )
        session.add(entry)
    entry.note = note
    review.updated_at = now
    session.flush()
    return entry


def unstar(session: Session, review_id: int, event_id: int) -> None:
    review = get_review(session, review_id, lock=True)
    _editable(review)
    entry = session.scalars(
        select(StarredEntry).where(
            StarredEntry.review_id == review.id, StarredEntry.timeline_event_id == event_id
        )
    ).first()
    if entry is None:
        raise ApiError(404, f"timeline entry {event_id} is not starred on this review")
    session.delete(entry)


@dataclass(frozen=True)
class ReviewRow:
    review: Review
    incident_title: str
    priority: int
    overdue: bool


def list_reviews(
    session: Session, now: datetime, *, status: str | None = None, overdue: bool = False
) -> list[ReviewRow]:
    query = select(Review, Incident.title, Incident.priority).join(
        Incident, Incident.id == Review.incident_id
    )
    if status:
        query = query.where(Review.status == status)
    if overdue:
        query = query.where(Review.status != "published", Review.due_at < now)
    rows = session.execute(query.order_by(Review.due_at, Review.id)).all()
    return [
        ReviewRow(r, title, prio, logic.overdue(r.due_at, r.status == "published", now))
        for r, title, prio in rows
    ]


def public_summaries(session: Session) -> dict[int, tuple[str, datetime]]:
    """The status page's read: incident id -> (public summary, published at) of every
    published review that has one. Nothing else of a review ever leaves this function."""
    rows = session.execute(
        select(Review.incident_id, Review.public_summary, Review.published_at).where(
            Review.status == "published", Review.public_summary != ""
        )
    ).all()
    return {
        iid: (text.replace("\r\n", "\n"), at)
        for iid, text, at in rows
        if text.strip() and at is not None
    }


def published_count() -> Any:
    """A scalar subquery that changes whenever a review is published (a published review
    cannot change or go back), for the status page's cache version."""
    return (
        select(func.count()).select_from(Review).where(Review.status == "published")
    ).scalar_subquery()


# --- action items --------------------------------------------------------------------------


def _item_data(item: ActionItem, base_url: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "incident_id": item.incident_id,
        "review_id": item.review_id,
        "title": item.title,
        "description": item.description,
        "owner_id": item.owner_id,
        "team_id": item.team_id,
        "priority": item.priority,
        "status": item.status,
        "due_at": item.due_at.isoformat() if item.due_at else None,
        "done_at": item.done_at.isoformat() if item.done_at else None,
        "url": f"{base_url.rstrip('/')}/incidents/{item.incident_id}/review",
    }


def _hook(session: Session, item: ActionItem, what: str, hooks: Hooks, now: datetime) -> None:
    if not hooks.url:
        return
    outbox.event_webhook(
        session,
        hooks.url,
        key=f"action-item-{item.id}-{what}-{now.timestamp():.0f}",
        event_type=f"action_item.{what}",
        data=_item_data(item, hooks.base_url),
        now=now,
        incident_id=item.incident_id,
    )


@dataclass(frozen=True)
class Hooks:
    """Where action item events go (WARROOM_EVENT_WEBHOOK_URL; empty: nowhere) and the base
    URL their links point at."""

    url: str = ""
    base_url: str = ""


def get_action_item(session: Session, item_id: int, lock: bool = False) -> ActionItem:
    query = select(ActionItem).where(ActionItem.id == item_id)
    if lock:
        query = query.with_for_update()
    item = session.scalars(query).first()
    if item is None:
        raise ApiError(404, f"action item {item_id} does not exist")
    return item


def _check_team(session: Session, team_id: int | None) -> None:
    if team_id is not None and session.get(Team, team_id) is None:
        raise ApiError(
            422, f"team {team_id} does not exist", [{"field": "team_id", "message": "unknown team"}]
        )


def add_action_item(
    session: Session,
    incident_id: int,
    actor: Actor,
    now: datetime,
    *,
    title: str,
    description: str = "",
    owner_id: int | None = None,
    team_id: int | None = None,
    priority: int = 3,
    due_at: datetime | None = None,
    hooks: Hooks = Hooks(),  # noqa: B008 - frozen
) -> ActionItem:
    incident = get_incident(session, incident_id)
    if owner_id is not None:
        _active_user(session, owner_id, "owner_id")
    _check_team(session, team_id)
    if due_at is not None and due_at < incident.triggered_at:
        raise ApiError(
            422,
            "the due date is before the incident began",
            [{"field": "due_at", "message": "before the incident"}],
        )
    review = review_of(session, incident_id)
    item = ActionItem(
        incident_id=incident.id,
        review_id=review.id if review else None,
        title=title,
        description=description,
        owner_id=owner_id,
        team_id=team_id,
        priority=priority,
        status="open",
        due_at=due_at,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    add_event(
        session,
        incident.id,
        "action_item_added",
        f"Action item added by {actor.name}: {title}",
        now,
        actor=actor,
        after={"action_item_id": item.id, "owner_id": owner_id},
    )
    _hook(session, item, "created", hooks, now)
    if due_at is not None and owner_id is not None:
        _schedule(
            session,
            ACTION_ITEM_REMINDER,
            incident.id,
            {"action_item_id": item.id},
            due_at,
            now,
            logic.ACTION_ITEM_REMINDERS,
        )
    return item


_UNSET: Any = object()


def update_action_item(
    session: Session,
    item_id: int,
    actor: Actor,
    now: datetime,
    *,
    title: str | None = None,
    description: str | None = None,
    owner_id: int | None = _UNSET,
    team_id: int | None = _UNSET,
    priority: int | None = None,
    status: str | None = None,
    due_at: datetime | None = _UNSET,
    hooks: Hooks = Hooks(),  # noqa: B008 - frozen
) -> ActionItem:
    item = get_action_item(session, item_id, lock=True)
    incident = get_incident(session, item.incident_id)
    if owner_id is not _UNSET and owner_id is not None:
        _active_user(session, owner_id, "owner_id")
    if team_id is not _UNSET:
        _check_team(session, team_id)
    if status is not None and status not in ACTION_ITEM_STATUSES:
        raise ApiError(422, f"unknown status {status!r}")
    if due_at is not _UNSET and due_at is not None and due_at < incident.triggered_at:
        raise ApiError(
            422,
            "the due date is before the incident began",
            [{"field": "due_at", "message": "before the incident"}],
        )
    was = item.status
    if title is not None:
        item.title = title
    if description is not None:
        item.description = description
    if owner_id is not _UNSET:
        item.owner_id = owner_id
    if team_id is not _UNSET:
        item.team_id = team_id
    if priority is not None:
        item.priority = priority
    reschedule = owner_id is not _UNSET or due_at is not _UNSET
    if due_at is not _UNSET:
        item.due_at = due_at
    if status is not None:
        item.status = status
        item.done_at = now if status == "done" else None
    item.updated_at = now
    if was != item.status:
        add_event(
            session,
            item.incident_id,
            "action_item_updated",
            f"Action item {logic.ACTION_ITEM_LABELS[item.status].lower()} ({actor.name}): "
            f"{item.title}",
            now,
            actor=actor,
            before={"status": was},
            after={"status": item.status, "action_item_id": item.id},
        )
        if item.status == "done":
            _hook(session, item, "done", hooks, now)
    if item.status == "done" or reschedule:
        _cancel(session, ACTION_ITEM_REMINDER, item.incident_id, "action_item_id", item.id, now)
    if (
        item.status != "done"
        and reschedule
        and item.due_at is not None
        and item.owner_id is not None
    ):
        _schedule(
            session,
            ACTION_ITEM_REMINDER,
            item.incident_id,
            {"action_item_id": item.id},
            item.due_at,
            now,
            logic.ACTION_ITEM_REMINDERS,
        )
    return item


@dataclass(frozen=True)
class ItemRow:
    item: ActionItem
    incident_title: str
    owner: str
    team: str
    overdue: bool


def list_action_items(
    session: Session,
    now: datetime,
    *,
    statuses: Iterable[str] = ("open", "in_progress"),
    team_id: int | None = None,
    owner_id: int | None = None,
    incident_id: int | None = None,
    limit: int = 500,
) -> list[ItemRow]:
    query = select(ActionItem, Incident.title).join(Incident, Incident.id == ActionItem.incident_id)
    statuses = list(statuses)
    if statuses:
        query = query.where(ActionItem.status.in_(statuses))
    if team_id is not None:
        query = query.where(ActionItem.team_id == team_id)
    if owner_id is not None:
        query = query.where(ActionItem.owner_id == owner_id)
    if incident_id is not None:
        query = query.where(ActionItem.incident_id == incident_id)
    rows = session.execute(
        query.order_by(ActionItem.due_at.is_(None), ActionItem.due_at, ActionItem.id).limit(limit)
    ).all()
    users = {i.owner_id for i, _ in rows if i.owner_id}
    teams = {i.team_id for i, _ in rows if i.team_id}
    names = (
        {
            u: n or un
            for u, n, un in session.execute(
                select(User.id, User.name, User.username).where(User.id.in_(users))
            )
        }
        if users
        else {}
    )
    team_names = (
        dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(teams))).all())
        if teams
        else {}
    )
    return [
        ItemRow(
            i,
            title,
            names.get(i.owner_id or 0, "nobody"),
            team_names.get(i.team_id or 0, ""),
            logic.overdue(i.due_at, i.status == "done", now),
        )
        for i, title in rows
    ]


# --- responder feedback --------------------------------------------------------------------


def give_feedback(
    session: Session, incident_id: int, user_id: int, now: datetime, *, rating: int, comment: str
) -> ResponderFeedback:
    """One answer per person and incident (given again, it replaces the first)."""
    incident = get_incident(session, incident_id)
    if incident.status not in REVIEWABLE:
        raise ApiError(
            409, f"incident {incident_id} is {incident.status}: feedback comes after it is resolved"
        )
    if not 1 <= rating <= 5:
        raise ApiError(422, "the rating is 1 to 5", [{"field": "rating", "message": "1 to 5"}])
    row = session.scalars(
        select(ResponderFeedback).where(
            ResponderFeedback.incident_id == incident_id, ResponderFeedback.user_id == user_id
        )
    ).first()
    if row is None:
        row = ResponderFeedback(
            incident_id=incident_id, user_id=user_id, rating=rating, comment=comment, created_at=now
        )
        session.add(row)
    else:
        row.rating, row.comment, row.created_at = rating, comment, now
    session.flush()
    return row


def feedback_ratings(session: Session, incident_ids: Any) -> list[int]:
    """Ratings given on the incidents this select of ids yields (the metrics' population)."""
    return list(
        session.scalars(
            select(ResponderFeedback.rating).where(ResponderFeedback.incident_id.in_(incident_ids))
        )
    )


# --- reminders -----------------------------------------------------------------------------


def _schedule(
    session: Session,
    kind: str,
    incident_id: int,
    payload: dict[str, Any],
    due_at: datetime,
    now: datetime,
    offsets: Sequence[timedelta],
) -> None:
    for n, at in enumerate(logic.reminder_times(due_at, now, offsets)):
        session.add(
            Timer(
                kind=kind,
                incident_id=incident_id,
                due_at=at,
                created_at=now,
                payload={**payload, "due_at": due_at.isoformat(), "n": n},
            )
        )


def _cancel(
    session: Session, kind: str, incident_id: int, key: str, value: int, now: datetime
) -> None:
    for timer in session.scalars(
        select(Timer).where(
            Timer.incident_id == incident_id, Timer.kind == kind, Timer.done_at.is_(None)
        )
    ):
        if timer.payload.get(key) == value:
            timer.done_at = now


def fire_reminder(session: Session, timer: Timer, now: datetime, base_url: str) -> None:
    """The engine's call for a reminder timer: remind whoever it is for, if still due."""
    timer.done_at = now
    base = base_url.rstrip("/")
    if timer.kind == REVIEW_REMINDER:
        review = session.get(Review, int(timer.payload.get("review_id", 0)))
        if review is None or review.status == "published":
            return
        incident = session.get(Incident, review.incident_id)
        if incident is None:
            return
        people = [
            review.created_by_id,
            *session.scalars(
                select(ReviewReviewer.user_id).where(ReviewReviewer.review_id == review.id)
            ),
        ]
        late = review.due_at < now
        subject = (
            f"Review of #{incident.id} {'overdue' if late else 'due'} {review.due_at:%Y-%m-%d}: "
            f"{incident.title}"
        )
        link = f"{base}/incidents/{incident.id}/review"
        for uid in dict.fromkeys(p for p in people if p):
            outbox.remind(
                session,
                uid,
                key=f"review-{review.id}-t{timer.id}-u{uid}",
                subject=subject,
                body=f"{subject}\nOpen the review: {link}",
                now=now,
                incident_id=incident.id,
                links={"view": link},
            )
        return
    item = session.get(ActionItem, int(timer.payload.get("action_item_id", 0)))
    if item is None or item.status == "done" or item.owner_id is None or item.due_at is None:
        return
    late = item.due_at < now
    subject = f"Action item {'overdue' if late else 'due'} {item.due_at:%Y-%m-%d}: {item.title}"
    link = f"{base}/incidents/{item.incident_id}/review"
    outbox.remind(
        session,
        item.owner_id,
        key=f"action-item-{item.id}-t{timer.id}",
        subject=subject,
        body=f"{subject}\nIncident #{item.incident_id}: {link}",
        now=now,
        incident_id=item.incident_id,
        links={"view": link},
    )
