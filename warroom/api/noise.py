"""REST routes that cut the noise: silences (in the spirit of Alertmanager's /api/v2/silences),
inhibition rules (Alertmanager's inhibit_rules, as data rather than configuration) and
maintenance windows per service.

Silences use Alertmanager's field names (`matchers` with `isRegex`/`isEqual`, `startsAt`,
`endsAt`, `createdBy`, `comment`, `status.state`) so a client written for Alertmanager needs
little change. Differences: the path is /api/v1/silences[/{id}] (Alertmanager: /api/v2/silences
and /api/v2/silence/{id}); ids are integers; `createdBy` is the caller, not a free field; POST
only creates (no update by id: expire and create again); DELETE expires and answers the
expired silence; matchers may also name Warroom's alert fields (service, integration, severity,
summary, source, dedup_key); regular expressions are RE2's.

Who may call: everyone signed in reads; responders (and admins) create and expire silences and
windows, and create and delete inhibition rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Query, Response
from pydantic import Field
from sqlalchemy import select

from warroom.alerts import inhibit_rules, silences
from warroom.alerts.matchers import MatcherError, parse_text
from warroom.alerts.models import Alert, InhibitRule, Silence
from warroom.alerts.release_timers import schedule_releases
from warroom.api.deps import ReadDB, Reader, Responder, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.params import PathId
from warroom.catalog.models import Service
from warroom.common.schemas import In, Instant, Out
from warroom.db.base import utcnow
from warroom.errors import ApiError, responses
from warroom.maintenance import service as maintenance
from warroom.maintenance.models import MaintenanceWindow, maintenance_services

router = ApiRouter(prefix="/api/v1")
LIST_MAX = 500


class MatcherIn(In):
    name: str = Field(min_length=1, max_length=100)
    value: str = Field(max_length=1_000)
    isRegex: bool = False  # noqa: N815 - Alertmanager's field names
    isEqual: bool = True  # noqa: N815


class SilenceIn(In):
    matchers: list[MatcherIn] = Field(min_length=1, max_length=silences.MATCHERS_MAX)
    startsAt: Instant | None = Field(default=None, description="default: now")  # noqa: N815
    endsAt: Instant  # noqa: N815
    comment: str = Field(default="", max_length=silences.COMMENT_MAX)


class SilenceStatus(Out):
    state: Literal["pending", "active", "expired"]


class SilenceOut(Out):
    id: int
    matchers: list[dict[str, Any]]
    startsAt: datetime  # noqa: N815
    endsAt: datetime  # noqa: N815
    updatedAt: datetime  # noqa: N815
    createdBy: str  # noqa: N815
    comment: str
    status: SilenceStatus


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ApiError(422, f"{name} needs a time zone, e.g. 2026-11-27T10:00:00Z")
    return value


def silence_out(s: Silence, now: datetime) -> SilenceOut:
    return SilenceOut(
        id=s.id,
        matchers=s.matchers,
        startsAt=s.starts_at,
        endsAt=s.ends_at,
        updatedAt=s.updated_at,
        createdBy=s.created_by,
        comment=s.comment,
        status=SilenceStatus(state=silences.state_of(s, now)),  # type: ignore[arg-type]
    )


@router.get("/silences", response_model=list[SilenceOut], tags=["silences"])
def list_silences(
    _: Reader,
    session: ReadDB,
    state: Annotated[list[Literal["pending", "active", "expired"]] | None, Query()] = None,
    filter: Annotated[  # noqa: A002 - Alertmanager's parameter name
        list[str] | None,
        Query(description='matchers the silence must have, as name="value" (Alertmanager)'),
    ] = None,
) -> list[SilenceOut]:
    """Silences, newest first (at most 500): pending and active ones, then the last expired."""
    now = utcnow()
    query = select(Silence).order_by(Silence.ends_at.desc(), Silence.id.desc()).limit(LIST_MAX)
    wanted = set(state or [])
    if wanted == {"expired"}:
        query = query.where(Silence.ends_at <= now)
    elif wanted and "expired" not in wanted:
        query = query.where(Silence.ends_at > now)
    wanted_matchers = [_filter_matcher(f) for f in filter or []]
    found = []
    for s in session.scalars(query):
        out = silence_out(s, now)
        if wanted and out.status.state not in wanted:
            continue
        if wanted_matchers and not all(m in s.matchers for m in wanted_matchers):
            continue
        found.append(out)
    return found


def _filter_matcher(text: str) -> dict[str, Any]:
    try:
        return parse_text(text).to_json()
    except MatcherError as exc:
        raise ApiError(422, f"filter: {exc}") from None


@router.get(
    "/silences/{silence_id}", response_model=SilenceOut, tags=["silences"], responses=responses(404)
)
def get_silence(silence_id: PathId, _: Reader, session: ReadDB) -> SilenceOut:
    s = session.get(Silence, silence_id)
    if s is None:
        raise ApiError(404, "no such silence")
    return silence_out(s, utcnow())


@router.post(
    "/silences",
    response_model=SilenceOut,
    status_code=201,
    tags=["silences"],
    responses=responses(422),
)
def create_silence(body: SilenceIn, principal: Responder, session: WriteDB) -> SilenceOut:
    """Alerts matching every matcher are stored but do not page from startsAt to endsAt; when
    it ends, the ones still firing page. 422: end before start or in the past, matchers that
    would match every alert, a regular expression RE2 refuses."""
    now = utcnow()
    starts = _aware(body.startsAt, "startsAt") or now
    ends = _aware(body.endsAt, "endsAt")
    assert ends is not None
    try:
        matchers = silences.parse_matchers([m.model_dump() for m in body.matchers])
        s = silences.create_silence(
            session,
            silences.SilenceIn(matchers, starts, ends, body.comment),
            principal.name or principal.username,
            principal.id,
            now,
        )
    except silences.SilenceError as exc:
        raise ApiError(422, str(exc)) from None
    return silence_out(s, now)


@router.delete(
    "/silences/{silence_id}",
    response_model=SilenceOut,
    tags=["silences"],
    responses=responses(404, 409),
)
def expire_silence(silence_id: PathId, _: Responder, session: WriteDB) -> SilenceOut:
    """Expire now (Alertmanager's DELETE); the alerts it held that still fire page. 409 if it
    has already expired."""
    now = utcnow()
    try:
        s = silences.expire_silence(session, silence_id, now)
    except LookupError:
        raise ApiError(404, "no such silence") from None
    except silences.SilenceError as exc:
        raise ApiError(409, str(exc)) from None
    return silence_out(s, now)


# --- maintenance windows ---------------------------------------------------------------------


class WindowIn(In):
    title: str = Field(min_length=1, max_length=maintenance.TITLE_MAX)
    description: str = Field(default="", max_length=10_000)
    starts_at: Instant
    ends_at: Instant
    rrule: str | None = Field(
        default=None,
        max_length=500,
        description="RFC 5545 RRULE read in time_zone, e.g. FREQ=WEEKLY;BYDAY=SU "
        "(each occurrence starts at starts_at's local time and lasts ends_at - starts_at)",
    )
    recur_until: Instant | None = None
    time_zone: str = Field(default="UTC", max_length=64)
    public: bool = Field(default=False, description="announced on the status page")
    service_ids: list[int] = Field(default_factory=list, max_length=200)


class CancelIn(In):
    """No fields today (an empty object or no body)."""


class OccurrenceOut(Out):
    starts_at: datetime
    ends_at: datetime


class WindowOut(Out):
    id: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    rrule: str | None
    recur_until: datetime | None
    time_zone: str
    public: bool
    service_ids: list[int]
    cancelled_at: datetime | None
    in_progress: bool
    next: OccurrenceOut | None = Field(description="in progress now, else the next to start")


def window_out(session: Any, w: MaintenanceWindow, now: datetime) -> WindowOut:
    [spec] = maintenance.specs(session, [w])
    occ = maintenance.next_of(spec, now)
    return WindowOut(
        id=w.id,
        title=w.title,
        description=w.description,
        starts_at=w.starts_at,
        ends_at=w.ends_at,
        rrule=w.rrule,
        recur_until=w.recur_until,
        time_zone=w.time_zone,
        public=w.public,
        service_ids=sorted(spec.service_ids),
        cancelled_at=w.cancelled_at,
        in_progress=occ is not None and occ.starts_at <= now,
        next=None if occ is None else OccurrenceOut(starts_at=occ.starts_at, ends_at=occ.ends_at),
    )


@router.get(
    "/services/{service_id}/maintenance-windows",
    response_model=list[WindowOut],
    tags=["maintenance"],
    responses=responses(404),
)
def list_windows(
    service_id: PathId,
    _: Reader,
    session: ReadDB,
    include_past: bool = False,
) -> list[WindowOut]:
    """The service's windows: in progress or to come (include_past: all, newest first)."""
    if session.get(Service, service_id) is None:
        raise ApiError(404, "no such service")
    now = utcnow()
    s = maintenance_services.c
    rows = session.scalars(
        select(MaintenanceWindow)
        .join(maintenance_services, s.window_id == MaintenanceWindow.id)
        .where(s.service_id == service_id)
        .order_by(MaintenanceWindow.starts_at.desc())
        .limit(LIST_MAX)
    ).all()
    found = [window_out(session, w, now) for w in rows]
    return found if include_past else [w for w in found if w.next is not None]


@router.post(
    "/services/{service_id}/maintenance-windows",
    response_model=WindowOut,
    status_code=201,
    tags=["maintenance"],
    responses=responses(404, 422),
)
def create_window(
    service_id: PathId, body: WindowIn, principal: Responder, session: WriteDB
) -> WindowOut:
    """A one-off or recurring window: alerts of its services are stored but do not page while
    an occurrence is in progress; those still firing at its end page then."""
    ids = sorted({service_id, *body.service_ids})
    found = set(session.scalars(select(Service.id).where(Service.id.in_(ids))))
    if service_id not in found:
        raise ApiError(404, "no such service")
    if missing := [i for i in ids if i not in found]:
        raise ApiError(422, f"no such services: {missing}")
    now = utcnow()
    starts = _aware(body.starts_at, "starts_at")
    ends = _aware(body.ends_at, "ends_at")
    assert starts is not None and ends is not None
    if body.rrule is None and ends <= now:
        raise ApiError(422, "the window would already be over (ends_at is in the past)")
    if ends - starts > timedelta(days=366):
        raise ApiError(422, "one occurrence lasts at most 366 days")
    try:
        w = maintenance.create_window(
            session,
            maintenance.WindowIn(
                title=body.title,
                starts_at=starts,
                ends_at=ends,
                service_ids=ids,
                description=body.description,
                rrule=body.rrule,
                recur_until=_aware(body.recur_until, "recur_until"),
                time_zone=body.time_zone,
                public=body.public,
            ),
            principal.id,
        )
    except maintenance.WindowError as exc:
        raise ApiError(422, str(exc)) from None
    return window_out(session, w, now)


@router.get(
    "/maintenance-windows/{window_id}",
    response_model=WindowOut,
    tags=["maintenance"],
    responses=responses(404),
)
def get_window(window_id: PathId, _: Reader, session: ReadDB) -> WindowOut:
    w = session.get(MaintenanceWindow, window_id)
    if w is None:
        raise ApiError(404, "no such maintenance window")
    return window_out(session, w, utcnow())


@router.post(
    "/maintenance-windows/{window_id}/cancel",
    response_model=WindowOut,
    tags=["maintenance"],
    responses=responses(404, 409),
)
def cancel_window(
    window_id: PathId, _: Responder, session: WriteDB, body: CancelIn | None = None
) -> WindowOut:
    """Ends the window now (an occurrence in progress stops: held alerts still firing page)."""
    now = utcnow()
    try:
        w = maintenance.cancel_window(session, window_id, now)
    except LookupError:
        raise ApiError(404, "no such maintenance window") from None
    except maintenance.WindowError as exc:
        raise ApiError(409, str(exc)) from None
    schedule_releases(session.connection(), {now}, now)
    return window_out(session, w, now)


# --- inhibition rules ------------------------------------------------------------------------


class InhibitRuleIn(In):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "a node down mutes its pods' warnings",
                    "source_matchers": [{"name": "alertname", "value": "NodeDown"}],
                    "target_matchers": [{"name": "severity", "value": "warning"}],
                    "equal": ["node"],
                }
            ]
        }
    }
    name: str = Field(min_length=1, max_length=inhibit_rules.NAME_LEN)
    source_matchers: list[MatcherIn] = Field(min_length=1, max_length=inhibit_rules.MATCHERS_MAX)
    target_matchers: list[MatcherIn] = Field(min_length=1, max_length=inhibit_rules.MATCHERS_MAX)
    equal: list[str] = Field(default_factory=list, max_length=20)
    comment: str = Field(default="", max_length=inhibit_rules.COMMENT_MAX)


class InhibitRuleOut(Out):
    id: int
    name: str
    source_matchers: list[dict[str, Any]]
    target_matchers: list[dict[str, Any]]
    equal: list[str]
    comment: str
    created_by: str
    created_at: datetime
    inhibiting: int = Field(description="open alerts this rule holds now")


def _held_by_rule(session: Any) -> dict[int, int]:
    held: dict[int, int] = {}
    for by in session.scalars(
        select(Alert.suppressed_by).where(
            Alert.suppression == "inhibited",
            Alert.incident_id.is_(None),
            Alert.status != "resolved",
        )
    ):
        if by and "rule_id" in by:
            held[by["rule_id"]] = held.get(by["rule_id"], 0) + 1
    return held


def rule_out(r: InhibitRule, held: dict[int, int]) -> InhibitRuleOut:
    return InhibitRuleOut(
        id=r.id,
        name=r.name,
        source_matchers=r.source_matchers,
        target_matchers=r.target_matchers,
        equal=r.equal,
        comment=r.comment,
        created_by=r.created_by,
        created_at=r.created_at,
        inhibiting=held.get(r.id, 0),
    )


@router.get("/inhibit-rules", response_model=list[InhibitRuleOut], tags=["inhibit-rules"])
def list_inhibit_rules(_: Reader, session: ReadDB) -> list[InhibitRuleOut]:
    """Every inhibition rule (at most 500), oldest first: the order they are tried in."""
    held = _held_by_rule(session)
    return [rule_out(r, held) for r in inhibit_rules.list_rules(session)]


@router.post(
    "/inhibit-rules",
    response_model=InhibitRuleOut,
    status_code=201,
    tags=["inhibit-rules"],
    responses=responses(422),
)
def create_inhibit_rule(
    body: InhibitRuleIn, principal: Responder, session: WriteDB
) -> InhibitRuleOut:
    """Alertmanager's inhibit_rule: while an alert matching source_matchers fires, alerts
    matching target_matchers with the same values of every `equal` label (a label missing on
    both counts as equal) are stored as inhibited and do not page; when the source resolves, the
    ones still firing page. An alert matching both sides is not inhibited by another such alert.
    Differences from Alertmanager: each side needs a matcher that requires a value (a side that
    matches every alert is refused); matchers and `equal` may name Warroom's alert fields
    (service, integration, severity, summary, source, dedup_key); rules act on alerts as they
    arrive, so one already paging keeps paging. Responders and admins may create and delete
    rules. 422: matchers that match every alert, a regular expression RE2 refuses, an `equal`
    entry that is not a label name."""
    now = utcnow()
    try:
        rule = inhibit_rules.create_rule(
            session,
            inhibit_rules.RuleIn(
                body.name,
                [m.model_dump() for m in body.source_matchers],
                [m.model_dump() for m in body.target_matchers],
                body.equal,
                body.comment,
            ),
            principal.name or principal.username,
            principal.id,
            now,
        )
    except inhibit_rules.RuleError as exc:
        raise ApiError(
            422, str(exc), [{"field": exc.field, "message": str(exc)}] if exc.field else None
        ) from None
    return rule_out(rule, {})


@router.get(
    "/inhibit-rules/{inhibit_rule_id}",
    response_model=InhibitRuleOut,
    tags=["inhibit-rules"],
    responses=responses(404),
)
def get_inhibit_rule(inhibit_rule_id: PathId, _: Reader, session: ReadDB) -> InhibitRuleOut:
    r = session.get(InhibitRule, inhibit_rule_id)
    if r is None:
        raise ApiError(404, "no such inhibition rule")
    return rule_out(r, _held_by_rule(session))


@router.delete(
    "/inhibit-rules/{inhibit_rule_id}",
    status_code=204,
    tags=["inhibit-rules"],
    responses=responses(404),
)
def delete_inhibit_rule(inhibit_rule_id: PathId, _: Responder, session: WriteDB) -> Response:
    """Deletes the rule; the alerts it held that still fire are planned again and page."""
    try:
        inhibit_rules.delete_rule(session, inhibit_rule_id, utcnow())
    except LookupError:
        raise ApiError(404, "no such inhibition rule") from None
    return Response(status_code=204)
