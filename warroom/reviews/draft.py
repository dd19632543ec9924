"""The review's draft, read from what Warroom recorded: a few queries, then `logic.py`.

Built again every time it is shown or exported, so it stays linked to the data: the key times
are the incident's own (a corrected impact start moves the durations), alerts are counted and
grouped in the database (a 60,000-alert incident is a handful of rows here), the timeline is
every entry except the alert aggregates, which the alerts section summarises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert, of_incident
from warroom.catalog.models import Service, User
from warroom.incidents.models import Incident, StatusUpdate, TimelineEvent, incident_services
from warroom.notify.models import Notification
from warroom.reviews import logic
from warroom.reviews.models import (
    ActionItem,
    ResponderFeedback,
    Review,
    ReviewReviewer,
    StarredEntry,
)

ALERT_GROUPS = 25


@dataclass(frozen=True)
class AlertGroup:
    summary: str
    severity: str
    service: str
    count: int
    events: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class Entry:
    event: logic.Event
    starred: bool
    note: str


@dataclass(frozen=True)
class ItemView:
    id: int
    title: str
    owner: str
    owner_id: int | None
    priority: int
    status: str
    due_at: datetime | None
    overdue: bool


@dataclass(frozen=True)
class FeedbackView:
    user: str
    rating: int
    comment: str
    at: datetime


@dataclass(frozen=True)
class UpdateView:
    at: datetime
    visibility: str  # internal | public
    stage: str
    message: str
    impact: str


@dataclass
class Draft:
    incident: Incident
    review: Review | None
    services: list[str]
    key_times: list[logic.KeyTime]
    steps: list[logic.Step]
    priorities: list[logic.PriorityHold]
    time_at_priority: dict[int, timedelta]
    roles: list[tuple[logic.RoleHold, str]]
    response: list[logic.Event]
    timeline: list[Entry]
    alert_total: int
    alert_groups: list[AlertGroup]
    alerts_by_severity: dict[str, int]
    pages: int
    people_paged: list[str]
    reviewers: list[tuple[int, str]]
    action_items: list[ItemView]
    feedback: list[FeedbackView] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    status_updates: list[UpdateView] = field(default_factory=list)

    @property
    def starred(self) -> list[Entry]:
        return [e for e in self.timeline if e.starred]

    @property
    def customers_told(self) -> str:
        public = [u for u in self.status_updates if u.visibility == "public"]
        if not public:
            internal = len(self.status_updates)
            return "No public status update was posted" + (
                f" ({internal} internal)." if internal else "."
            )
        first = public[0].at.strftime("%Y-%m-%d %H:%M UTC")
        return f"{len(public)} public status update(s), the first at {first}."


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    ids.discard(0)
    if not ids:
        return {}
    return {
        uid: name or username
        for uid, name, username in session.execute(
            select(User.id, User.name, User.username).where(User.id.in_(ids))
        )
    }


def build(session: Session, incident: Incident, now: datetime) -> Draft:
    review = session.scalars(select(Review).where(Review.incident_id == incident.id)).first()
    services = list(
        session.scalars(
            select(Service.name)
            .join(incident_services, incident_services.c.service_id == Service.id)
            .where(incident_services.c.incident_id == incident.id)
            .order_by(Service.name)
        )
    )
    events = [
        logic.Event(*row)
        for row in session.execute(
            select(
                TimelineEvent.id,
                TimelineEvent.at,
                TimelineEvent.kind,
                TimelineEvent.actor_name,
                TimelineEvent.message,
                TimelineEvent.before,
                TimelineEvent.after,
            )
            .where(TimelineEvent.incident_id == incident.id)
            .order_by(TimelineEvent.id)
        )
    ]
    stars: dict[int, str] = {}
    reviewers: list[int] = []
    if review is not None:
        stars = dict(
            session.execute(
                select(StarredEntry.timeline_event_id, StarredEntry.note).where(
                    StarredEntry.review_id == review.id
                )
            ).all()
        )
        reviewers = list(
            session.scalars(
                select(ReviewReviewer.user_id)
                .where(ReviewReviewer.review_id == review.id)
                .order_by(ReviewReviewer.added_at)
            )
        )
    times = logic.key_times(
        incident.impact_started_at,
        incident.triggered_at,
        incident.acknowledged_at,
        incident.mitigated_at,
        incident.resolved_at,
    )
    end = incident.resolved_at or incident.closed_at or now
    priorities = logic.priority_holds(incident.priority, incident.triggered_at, end, events)
    holds = logic.role_holds(events)

    groups_query = of_incident(
        select(
            Alert.summary,
            Alert.severity,
            Alert.service_id,
            func.count(),
            func.sum(Alert.event_count),
            func.min(Alert.created_at),
            func.max(Alert.last_event_at),
        ),
        incident.id,
    )
    groups_query = groups_query.group_by(Alert.summary, Alert.severity, Alert.service_id).order_by(
        None
    )
    rows = list(session.execute(groups_query))
    service_names = dict(session.execute(select(Service.id, Service.name)).all())
    by_severity: dict[str, int] = {}
    for _s, sev, _sid, n, *_ in rows:
        by_severity[sev] = by_severity.get(sev, 0) + int(n)
    rows.sort(key=lambda r: (-int(r[3]), r[0]))
    alert_groups = [
        AlertGroup(s, sev, service_names.get(sid, "?"), int(n), int(e or 0), first, last)
        for s, sev, sid, n, e, first, last in rows[:ALERT_GROUPS]
    ]
    page_rows = session.execute(
        select(Notification.user_id, Notification.idempotency_key).where(
            Notification.incident_id == incident.id,
            Notification.kind.in_(("page", "mobilise")),
        )
    ).all()
    page_groups = {(uid, key.split("-r", 1)[0]) for uid, key in page_rows if uid is not None}

    items = list(
        session.scalars(
            select(ActionItem).where(ActionItem.incident_id == incident.id).order_by(ActionItem.id)
        )
    )
    feedback_rows = list(
        session.scalars(
            select(ResponderFeedback)
            .where(ResponderFeedback.incident_id == incident.id)
            .order_by(ResponderFeedback.id)
        )
    )
    updates = [
        UpdateView(*row)
        for row in session.execute(
            select(
                StatusUpdate.created_at,
                StatusUpdate.visibility,
                StatusUpdate.stage,
                StatusUpdate.message,
                StatusUpdate.impact,
            )
            .where(StatusUpdate.incident_id == incident.id)
            .order_by(StatusUpdate.created_at, StatusUpdate.id)
        )
    ]
    names = _names(
        session,
        {h.user_id for h in holds}
        | set(reviewers)
        | {uid for uid, _ in page_groups}
        | {i.owner_id for i in items if i.owner_id}
        | {f.user_id for f in feedback_rows},
    )
    return Draft(
        incident=incident,
        review=review,
        services=services,
        key_times=times,
        steps=logic.steps(times),
        priorities=priorities,
        time_at_priority=logic.time_at_priority(priorities),
        roles=[(h, names.get(h.user_id, "someone")) for h in holds],
        response=[e for e in events if e.kind in logic.RESPONSE_KINDS],
        timeline=[
            Entry(e, e.id in stars, stars.get(e.id, ""))
            for e in events
            if e.kind not in logic.ALERT_KINDS
        ],
        alert_total=sum(by_severity.values()),
        alert_groups=alert_groups,
        alerts_by_severity=by_severity,
        pages=len(page_groups),
        people_paged=sorted({names.get(uid, "someone") for uid, _ in page_groups}),
        reviewers=[(uid, names.get(uid, "someone")) for uid in reviewers],
        action_items=[
            ItemView(
                i.id,
                i.title,
                names.get(i.owner_id or 0, "nobody"),
                i.owner_id,
                i.priority,
                i.status,
                i.due_at,
                logic.overdue(i.due_at, i.status == "done", now),
            )
            for i in items
        ],
        feedback=[
            FeedbackView(names.get(f.user_id, "someone"), f.rating, f.comment, f.created_at)
            for f in feedback_rows
        ],
        names=names,
        status_updates=updates,
    )
