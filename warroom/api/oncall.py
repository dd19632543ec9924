"""REST routes of on-call: schedules, overrides, who is on call, shifts, calendar feeds,
escalation policies, a service's policy, and people's contact methods, notification rules and
quiet hours.

Who may call: everyone signed in reads; admins manage schedules and policies; responders add
and remove overrides; a person manages their own contact methods, rules and quiet hours (admins
anyone's). The two ``.ics`` feeds sit outside ``/api/v1`` because calendar apps cannot send a
Bearer header: the token in their URL is the credential (see :mod:`warroom.oncall.feeds`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from warroom.api.deps import (
    Admin,
    Principal,
    ReadDB,
    Reader,
    Responder,
    ServiceManager,
    WriteDB,
)
from warroom.api.openapi import ApiRouter
from warroom.api.pagination import page
from warroom.api.params import Cursor, InstantQuery, Limit, PathId
from warroom.api.schemas import Page
from warroom.catalog.models import Service, User
from warroom.db.base import utcnow
from warroom.errors import ApiError, responses
from warroom.incidents.paging import wake_peers
from warroom.instance import secret_key
from warroom.notify import preferences
from warroom.notify.schemas import (
    ContactMethodIn,
    ContactMethodOut,
    ContactMethodPatch,
    NewContactMethod,
)
from warroom.oncall import feeds, overrides, policies, schedules, views
from warroom.oncall.models import EscalationPolicy, Schedule, ScheduleOverride
from warroom.oncall.schemas import (
    FeedOut,
    NotificationRuleIn,
    NotificationRuleOut,
    NotificationRulePatch,
    OnCallOut,
    OnCallOverview,
    OverrideIn,
    OverrideOut,
    PolicyIn,
    PolicyOut,
    PolicyPatch,
    QuietHours,
    QuietHoursOut,
    ScheduleIn,
    ScheduleOut,
    SchedulePatch,
    ServicePolicyIn,
    ServicePolicyOut,
    ShiftsOut,
    TestSent,
)

api = ApiRouter(prefix="/api/v1")
calendar = ApiRouter(tags=["calendar feeds"])
# One router for app.py to include.
router = APIRouter()

DEFAULT_SHIFTS_RANGE = timedelta(days=7)
AtQuery = Annotated[InstantQuery, Query(description="ISO 8601 instant; default: now")]


def _instant(value: datetime | None, name: str) -> datetime:
    return utcnow() if value is None else schedules.check_instant(value, name)


def _self_or_admin(user_id: PathId, principal: Reader) -> Principal:
    # A dependency rather than a check in the handler: it refuses before the body is read,
    # so someone else's user id is a 403 whatever the body holds.
    if principal.id != user_id and not principal.at_least("admin"):
        raise ApiError(
            403,
            "you may change only your own contact methods, notification rules and quiet "
            "hours; admins may change anyone's",
        )
    return principal


SelfOrAdmin = Annotated[Principal, Depends(_self_or_admin)]


def _secret(request: Request) -> str:
    secret: str | None = getattr(request.app.state, "secret", None)
    if not secret:  # an app used without its lifespan (the secret is set at start-up)
        secret = secret_key(request.app.state.db, request.app.state.settings.secret_key)
    return secret


def _feed_url(request: Request, kind: feeds.FeedKind, ident: int) -> FeedOut:
    base = request.app.state.settings.base_url.rstrip("/")
    token = feeds.feed_token(_secret(request), kind, ident)
    return FeedOut(url=f"{base}/calendar/{kind}s/{ident}.ics?token={token}")


# --- schedules -------------------------------------------------------------------------------


@api.get("/schedules", response_model=Page[ScheduleOut], tags=["schedules"])
def list_schedules(
    _: Reader, session: ReadDB, limit: Limit = 50, cursor: Cursor = None
) -> Page[ScheduleOut]:
    rows, nxt = page(session, select(Schedule), Schedule.id, limit, cursor)
    return Page(items=views.schedule_outs(session, rows, utcnow()), next_cursor=nxt)


@api.post(
    "/schedules",
    response_model=ScheduleOut,
    status_code=201,
    tags=["schedules"],
    responses=responses(409),
)
def create_schedule(body: ScheduleIn, _: Admin, session: WriteDB) -> ScheduleOut:
    row = schedules.create_schedule(session, body)
    return views.schedule_outs(session, [row], utcnow())[0]


@api.get("/schedules/{schedule_id}", response_model=ScheduleOut, tags=["schedules"])
def get_schedule(schedule_id: PathId, _: Reader, session: ReadDB) -> ScheduleOut:
    row = schedules.get_schedule(session, schedule_id)
    return views.schedule_outs(session, [row], utcnow())[0]


@api.patch(
    "/schedules/{schedule_id}",
    response_model=ScheduleOut,
    tags=["schedules"],
    responses=responses(409),
)
def update_schedule(
    schedule_id: PathId, body: SchedulePatch, _: Admin, session: WriteDB
) -> ScheduleOut:
    row = schedules.update_schedule(session, schedule_id, body)
    return views.schedule_outs(session, [row], utcnow())[0]


@api.delete(
    "/schedules/{schedule_id}", status_code=204, tags=["schedules"], responses=responses(409)
)
def delete_schedule(schedule_id: PathId, _: Admin, session: WriteDB) -> Response:
    schedules.delete_schedule(session, schedule_id)
    return Response(status_code=204)


@api.get("/schedules/{schedule_id}/on-call", response_model=OnCallOut, tags=["schedules"])
def schedule_on_call(
    schedule_id: PathId, _: Reader, session: ReadDB, at: AtQuery = None
) -> OnCallOut:
    """Who is on call at ``at`` (default now), until when, and who takes over next."""
    return views.schedule_on_call(session, schedule_id, _instant(at, "at"))


@api.get("/schedules/{schedule_id}/shifts", response_model=ShiftsOut, tags=["schedules"])
def schedule_shifts(
    schedule_id: PathId,
    _: Reader,
    session: ReadDB,
    since: AtQuery = None,
    until: Annotated[
        InstantQuery, Query(description="default: 7 days after since; at most 366 days")
    ] = None,
) -> ShiftsOut:
    """The final shifts (overrides applied) and the gaps with nobody on call."""
    start = _instant(since, "since")
    end = start + DEFAULT_SHIFTS_RANGE if until is None else schedules.check_instant(until, "until")
    return views.schedule_shifts(session, schedule_id, start, end)


@api.get("/schedules/{schedule_id}/calendar-feed", response_model=FeedOut, tags=["schedules"])
def schedule_feed(request: Request, schedule_id: PathId, _: Reader, session: ReadDB) -> FeedOut:
    """The URL of this schedule's iCalendar feed (next 60 days)."""
    schedules.get_schedule(session, schedule_id)
    return _feed_url(request, "schedule", schedule_id)


@api.get("/on-call", response_model=OnCallOverview, tags=["schedules"])
def on_call_everywhere(_: Reader, session: ReadDB, at: AtQuery = None) -> OnCallOverview:
    """Who is on call now (or at ``at``) and next on every schedule, with every warning."""
    instant = _instant(at, "at")
    statuses, warnings = views.overview(session, instant)
    return OnCallOverview(at=instant, schedules=statuses, warnings=warnings)


# --- overrides -------------------------------------------------------------------------------


@api.get("/schedules/{schedule_id}/overrides", response_model=list[OverrideOut], tags=["schedules"])
def list_overrides(
    schedule_id: PathId,
    _: Reader,
    session: ReadDB,
    since: Annotated[
        InstantQuery, Query(description="still running at or after; default now")
    ] = None,
    until: Annotated[InstantQuery, Query(description="starting before")] = None,
) -> list[OverrideOut]:
    end = None if until is None else schedules.check_instant(until, "until")
    rows = overrides.list_overrides(session, schedule_id, _instant(since, "since"), end)
    return [_override_out(r) for r in rows]


def _override_out(row: ScheduleOverride) -> OverrideOut:
    return OverrideOut(
        id=row.id,
        schedule_id=row.schedule_id,
        kind=row.kind,
        user_id=row.user_id,
        replacement_id=row.replacement_id,
        start=row.start_at,
        end=row.end_at,
        note=row.note,
        created_by_id=row.created_by_id,
        created_at=row.created_at,
    )


@api.post(
    "/schedules/{schedule_id}/overrides",
    response_model=OverrideOut,
    status_code=201,
    tags=["schedules"],
    responses=responses(409),
)
def create_override(
    schedule_id: PathId, body: OverrideIn, principal: Responder, session: WriteDB
) -> OverrideOut:
    """Add, remove or replace someone for a while; 409 if it overlaps an override of the
    same person."""
    return _override_out(overrides.add_override(session, schedule_id, body, principal.id))


@api.delete("/schedules/{schedule_id}/overrides/{override_id}", status_code=204, tags=["schedules"])
def delete_override(
    schedule_id: PathId, override_id: PathId, _: Responder, session: WriteDB
) -> Response:
    overrides.delete_override(session, schedule_id, override_id)
    return Response(status_code=204)


# --- escalation policies ---------------------------------------------------------------------


@api.get("/escalation-policies", response_model=Page[PolicyOut], tags=["escalation policies"])
def list_policies(
    _: Reader, session: ReadDB, limit: Limit = 50, cursor: Cursor = None
) -> Page[PolicyOut]:
    rows, nxt = page(session, select(EscalationPolicy), EscalationPolicy.id, limit, cursor)
    return Page(items=policies.policy_outs(session, rows, utcnow()), next_cursor=nxt)


@api.post(
    "/escalation-policies",
    response_model=PolicyOut,
    status_code=201,
    tags=["escalation policies"],
    responses=responses(409),
)
def create_policy(body: PolicyIn, _: Admin, session: WriteDB) -> PolicyOut:
    row = policies.create_policy(session, body)
    return policies.policy_outs(session, [row], utcnow())[0]


@api.get("/escalation-policies/{policy_id}", response_model=PolicyOut, tags=["escalation policies"])
def get_policy(policy_id: PathId, _: Reader, session: ReadDB) -> PolicyOut:
    return policies.policy_outs(session, [policies.get_policy(session, policy_id)], utcnow())[0]


@api.patch(
    "/escalation-policies/{policy_id}",
    response_model=PolicyOut,
    tags=["escalation policies"],
    responses=responses(409),
)
def update_policy(policy_id: PathId, body: PolicyPatch, _: Admin, session: WriteDB) -> PolicyOut:
    row = policies.update_policy(session, policy_id, body)
    return policies.policy_outs(session, [row], utcnow())[0]


@api.delete(
    "/escalation-policies/{policy_id}",
    status_code=204,
    tags=["escalation policies"],
    responses=responses(409),
)
def delete_policy(policy_id: PathId, _: Admin, session: WriteDB) -> Response:
    policies.delete_policy(session, policy_id)
    return Response(status_code=204)


@api.get(
    "/services/{service_id}/escalation-policy",
    response_model=ServicePolicyOut,
    tags=["escalation policies"],
)
def get_service_policy(service_id: PathId, _: Reader, session: ReadDB) -> ServicePolicyOut:
    row = session.get(Service, service_id)
    if row is None:
        raise ApiError(404, f"service {service_id} does not exist")
    return ServicePolicyOut(service_id=row.id, escalation_policy_id=row.escalation_policy_id)


@api.put(
    "/services/{service_id}/escalation-policy",
    response_model=ServicePolicyOut,
    tags=["escalation policies"],
)
def set_service_policy(
    service_id: PathId, body: ServicePolicyIn, _: ServiceManager, session: WriteDB
) -> ServicePolicyOut:
    """Which policy pages for the service's incidents; null detaches it (a warning then).
    Admins, and responders of the team that owns the service."""
    row = policies.set_service_policy(session, service_id, body.escalation_policy_id)
    return ServicePolicyOut(service_id=row.id, escalation_policy_id=row.escalation_policy_id)


# --- contact methods, notification rules, quiet hours ------------------------------------------


@api.get("/users/{user_id}/contact-methods", response_model=list[ContactMethodOut], tags=["users"])
def list_contact_methods(
    user_id: PathId, principal: Reader, session: ReadDB
) -> list[ContactMethodOut]:
    """Everyone sees which ways a person is reached; addresses only they and admins see."""
    show = principal.id == user_id or principal.at_least("admin")
    return [preferences.method_out(r, show) for r in preferences.list_methods(session, user_id)]


@api.post(
    "/users/{user_id}/contact-methods",
    response_model=NewContactMethod,
    status_code=201,
    tags=["users"],
)
def create_contact_method(
    user_id: PathId, body: ContactMethodIn, _: SelfOrAdmin, session: WriteDB, request: Request
) -> NewContactMethod:
    """A webhook gets a signing secret, returned here once and never again."""
    networks = request.app.state.settings.outbound_allow_networks
    row, secret = preferences.create_method(session, user_id, body, networks)
    return NewContactMethod(secret=secret, **preferences.method_out(row, True).model_dump())


@api.patch(
    "/users/{user_id}/contact-methods/{method_id}",
    response_model=ContactMethodOut,
    tags=["users"],
)
def update_contact_method(
    user_id: PathId,
    method_id: PathId,
    body: ContactMethodPatch,
    _: SelfOrAdmin,
    session: WriteDB,
    request: Request,
) -> ContactMethodOut:
    networks = request.app.state.settings.outbound_allow_networks
    row = preferences.update_method(session, user_id, method_id, body, utcnow(), networks)
    return preferences.method_out(row, True)


@api.delete("/users/{user_id}/contact-methods/{method_id}", status_code=204, tags=["users"])
def delete_contact_method(
    user_id: PathId, method_id: PathId, _: SelfOrAdmin, session: WriteDB
) -> Response:
    preferences.delete_method(session, user_id, method_id)
    return Response(status_code=204)


@api.post(
    "/users/{user_id}/contact-methods/{method_id}/test",
    response_model=TestSent,
    status_code=202,
    tags=["users"],
    responses=responses(409),
)
def test_contact_method(
    user_id: PathId, method_id: PathId, _: SelfOrAdmin, session: WriteDB
) -> TestSent:
    """Queue a test message to this contact method; the engine delivers it like a page and
    ``GET /notifications`` (or the account page) shows whether it went out."""
    row = preferences.send_test(session, user_id, method_id, utcnow())
    wake_peers(session)
    return TestSent(notification_id=row.id)


@api.get(
    "/users/{user_id}/notification-rules",
    response_model=list[NotificationRuleOut],
    tags=["users"],
)
def list_notification_rules(
    user_id: PathId, _: Reader, session: ReadDB
) -> list[NotificationRuleOut]:
    return [NotificationRuleOut.model_validate(r) for r in preferences.list_rules(session, user_id)]


@api.post(
    "/users/{user_id}/notification-rules",
    response_model=NotificationRuleOut,
    status_code=201,
    tags=["users"],
)
def create_notification_rule(
    user_id: PathId, body: NotificationRuleIn, _: SelfOrAdmin, session: WriteDB
) -> NotificationRuleOut:
    """Notify through a contact method ``delay_seconds`` after being paged, for an urgency."""
    return NotificationRuleOut.model_validate(preferences.create_rule(session, user_id, body))


@api.patch(
    "/users/{user_id}/notification-rules/{rule_id}",
    response_model=NotificationRuleOut,
    tags=["users"],
)
def update_notification_rule(
    user_id: PathId, rule_id: PathId, body: NotificationRulePatch, _: SelfOrAdmin, session: WriteDB
) -> NotificationRuleOut:
    row = preferences.update_rule(session, user_id, rule_id, body)
    return NotificationRuleOut.model_validate(row)


@api.delete("/users/{user_id}/notification-rules/{rule_id}", status_code=204, tags=["users"])
def delete_notification_rule(
    user_id: PathId, rule_id: PathId, _: SelfOrAdmin, session: WriteDB
) -> Response:
    preferences.delete_rule(session, user_id, rule_id)
    return Response(status_code=204)


@api.get("/users/{user_id}/quiet-hours", response_model=QuietHoursOut, tags=["users"])
def get_quiet_hours(user_id: PathId, _: Reader, session: ReadDB) -> QuietHoursOut:
    return _quiet_out(preferences.get_user(session, user_id))


@api.put("/users/{user_id}/quiet-hours", response_model=QuietHoursOut, tags=["users"])
def set_quiet_hours(
    user_id: PathId, body: QuietHours, _: SelfOrAdmin, session: WriteDB
) -> QuietHoursOut:
    """Low-urgency notifications wait until quiet hours end (in the user's time zone); high
    urgency always goes through. Both times null clears them."""
    return _quiet_out(preferences.set_quiet_hours(session, user_id, body))


def _quiet_out(user: User) -> QuietHoursOut:
    return QuietHoursOut(
        user_id=user.id,
        time_zone=user.time_zone,
        start=user.quiet_hours_start,
        end=user.quiet_hours_end,
    )


@api.get("/users/me/calendar-feed", response_model=FeedOut, tags=["users"])
def my_feed(request: Request, principal: Reader) -> FeedOut:
    """The URL of your own shifts' iCalendar feed (every schedule, next 60 days)."""
    return _feed_url(request, "user", principal.id)


# --- iCalendar feeds (token in the URL, no Bearer header) ---------------------------------------

_ICS = "text/calendar; charset=utf-8"


def _not_found() -> ApiError:
    # One answer for a forged token, a wrong id and a deleted schedule: a guesser learns nothing.
    return ApiError(404, "no such calendar")


def _ics(body: bytes | None) -> Response:
    if body is None:
        raise _not_found()
    return Response(
        body,
        media_type=_ICS,
        headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
    )


@calendar.get("/calendar/schedules/{schedule_id}.ics", response_class=Response)
def schedule_ics(request: Request, schedule_id: str, session: ReadDB, token: str = "") -> Response:
    """A schedule's shifts and gaps from today to 60 days ahead."""
    ident = _feed_id(request, "schedule", schedule_id, token)
    return _ics(feeds.schedule_calendar(session, ident, utcnow()))


@calendar.get("/calendar/users/{user_id}.ics", response_class=Response)
def user_ics(request: Request, user_id: str, session: ReadDB, token: str = "") -> Response:
    """One person's shifts on every schedule from today to 60 days ahead."""
    ident = _feed_id(request, "user", user_id, token)
    return _ics(feeds.user_calendar(session, ident, utcnow()))


def _feed_id(request: Request, kind: feeds.FeedKind, raw_id: str, token: str) -> int:
    # The id is read as text so a malformed one is a 404 like any other wrong URL, not a 422.
    if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18):
        raise _not_found()
    ident = int(raw_id)
    if not token or not feeds.token_matches(_secret(request), kind, ident, token):
        raise _not_found()
    return ident


router.include_router(api)
router.include_router(calendar)
