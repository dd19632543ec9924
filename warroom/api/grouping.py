"""REST routes for grouping rules (/api/v1/grouping-rules): how alerts group into incidents,
per service or global, by content keys (Alertmanager's `group_by`), a window and, optionally,
a direct dependency's open incident (alerts/grouping.py, ADR 21).

Who may call (ADR 10): everyone signed in reads; a service's rules are created, changed and
deleted by admins and responders of its owning team; global rules (no service) by admins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from fastapi import Depends, Query, Request, Response
from pydantic import Field

from warroom.alerts import grouping_rules
from warroom.alerts.grouping import KEYS_MAX, GroupingError
from warroom.alerts.models import GroupingRule
from warroom.api.deps import Principal, ReadDB, Reader, Responder, WriteDB, path_id
from warroom.api.noise import MatcherIn
from warroom.api.openapi import ApiRouter
from warroom.api.params import PathId
from warroom.common.schemas import Id, In, Out, Patch
from warroom.db.base import utcnow
from warroom.errors import ApiError, responses

router = ApiRouter(prefix="/api/v1")

# The schema says what alerts.grouping.check_keys accepts, so a client (and the API fuzzer) can
# tell a valid key before sending it; the pattern is published, not enforced here, so a wrong key
# is still answered with check_keys' message instead of pydantic's "should match pattern".
KEY_PATTERN = (
    r"^\s*(severity|summary|source|integration|dedup_key|labels\.[A-Za-z_][A-Za-z0-9_]{0,99})\s*$"
)
Key = Annotated[
    str,
    Field(min_length=1, max_length=120, json_schema_extra={"pattern": KEY_PATTERN}),
]
KEYS_DOC = (
    "content keys: severity, summary, source, integration, dedup_key, or labels.<name>; alerts "
    "with equal values share an incident, a missing key counts as the empty value"
)


class GroupingRuleIn(In):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "service_id": 3,
                    "keys": ["labels.alertname", "labels.cluster"],
                    "matchers": [{"name": "severity", "value": "critical"}],
                    "window_seconds": 1800,
                    "dependency_aware": True,
                }
            ]
        }
    }
    service_id: Id | None = Field(default=None, description="null: a global rule (admins)")
    keys: list[Key] = Field(min_length=1, max_length=KEYS_MAX, description=KEYS_DOC)
    matchers: list[MatcherIn] = Field(
        default_factory=list,
        max_length=grouping_rules.MATCHERS_MAX,
        description="which alerts the rule applies to (Alertmanager's matchers; none: all)",
    )
    window_seconds: int | None = Field(
        default=None,
        ge=0,
        le=grouping_rules.WINDOW_MAX,
        description="null: the service's grouping window; 0: one incident per alert",
    )
    dependency_aware: bool = Field(
        default=False,
        description="an alert that would open an incident joins instead the open incident of "
        "a service its service depends on directly, if that one's last alert is in the window",
    )
    comment: str = Field(default="", max_length=grouping_rules.COMMENT_MAX)
    position: int | None = Field(
        default=None,
        ge=0,
        le=grouping_rules.POSITION_MAX,
        description="order within its scope (lower first; ties by id); default: last",
    )


class GroupingRulePatch(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"window_seconds"})
    keys: list[Key] | None = Field(default=None, min_length=1, max_length=KEYS_MAX)
    matchers: list[MatcherIn] | None = Field(default=None, max_length=grouping_rules.MATCHERS_MAX)
    window_seconds: int | None = Field(default=None, ge=0, le=grouping_rules.WINDOW_MAX)
    dependency_aware: bool | None = None
    comment: str | None = Field(default=None, max_length=grouping_rules.COMMENT_MAX)
    position: int | None = Field(default=None, ge=0, le=grouping_rules.POSITION_MAX)


class GroupingRuleOut(Out):
    id: int
    service_id: int | None
    position: int
    keys: list[str]
    matchers: list[dict[str, Any]]
    window_seconds: int | None
    dependency_aware: bool
    comment: str
    created_by: str
    created_at: datetime
    updated_at: datetime


def _refused(exc: GroupingError) -> ApiError:
    return ApiError(
        422, str(exc), [{"field": exc.field, "message": str(exc)}] if exc.field else None
    )


def _rule(session: Any, rule_id: int) -> GroupingRule:
    row = session.get(GroupingRule, rule_id)
    if row is None:
        raise ApiError(404, f"grouping rule {rule_id} does not exist")
    assert isinstance(row, GroupingRule)
    return row


def _rule_manager(request: Request, principal: Responder, session: ReadDB) -> Principal:
    """An admin, or for a service's rule a responder of its owning team. A dependency: it
    refuses before the body is read."""
    row = _rule(session, path_id(request.path_params, "grouping_rule_id"))
    grouping_rules.check_may_change(session, row.service_id, principal.id, principal.role)
    return principal


RuleManager = Annotated[Principal, Depends(_rule_manager)]


@router.get("/grouping-rules", response_model=list[GroupingRuleOut], tags=["grouping-rules"])
def list_grouping_rules(
    _: Reader,
    session: ReadDB,
    service_id: Annotated[int | None, Query(ge=1, description="only this service's rules")] = None,
    scope: Annotated[
        str | None, Query(pattern="^global$", description="global: only the global rules")
    ] = None,
) -> list[GroupingRuleOut]:
    """Grouping rules in the order they are tried: for an alert of a service, that service's
    rules by position, then the global ones; the first whose matchers all match applies."""
    if service_id is not None and scope is not None:
        raise ApiError(422, "give service_id or scope=global, not both")
    if service_id is None and scope is None:
        rows = grouping_rules.list_rules(session, every=True)
    else:
        rows = grouping_rules.list_rules(session, service_id)
    return [GroupingRuleOut.model_validate(r) for r in rows]


@router.post(
    "/grouping-rules",
    response_model=GroupingRuleOut,
    status_code=201,
    tags=["grouping-rules"],
    responses=responses(403, 404, 422),
)
def create_grouping_rule(
    body: GroupingRuleIn, principal: Responder, session: WriteDB
) -> GroupingRuleOut:
    """A grouping rule for a service (admins, responders of its owning team) or, without
    service_id, for every service (admins). New alerts it applies to join the open incident of
    their service with the same values of the keys whose last alert came within the window;
    other values open their own incident. 422: an unknown key name, no keys, a matcher RE2
    refuses."""
    grouping_rules.check_may_change(session, body.service_id, principal.id, principal.role)
    try:
        row = grouping_rules.create_rule(
            session,
            body.service_id,
            grouping_rules.RuleIn(
                body.keys,
                [m.model_dump() for m in body.matchers],
                body.window_seconds,
                body.dependency_aware,
                body.comment,
                body.position,
            ),
            principal.name or principal.username,
            principal.id,
            utcnow(),
        )
    except GroupingError as exc:
        raise _refused(exc) from None
    return GroupingRuleOut.model_validate(row)


@router.get(
    "/grouping-rules/{grouping_rule_id}",
    response_model=GroupingRuleOut,
    tags=["grouping-rules"],
    responses=responses(404),
)
def get_grouping_rule(grouping_rule_id: PathId, _: Reader, session: ReadDB) -> GroupingRuleOut:
    return GroupingRuleOut.model_validate(_rule(session, grouping_rule_id))


@router.patch(
    "/grouping-rules/{grouping_rule_id}",
    response_model=GroupingRuleOut,
    tags=["grouping-rules"],
    responses=responses(403, 404, 422),
)
def update_grouping_rule(
    grouping_rule_id: PathId, body: GroupingRulePatch, _: RuleManager, session: WriteDB
) -> GroupingRuleOut:
    """Changes the given parts (a rule's service does not change: delete and create).
    window_seconds null goes back to the service's grouping window."""
    row = _rule(session, grouping_rule_id)
    changes = body.model_dump(exclude_unset=True)
    if "matchers" in changes:
        changes["matchers"] = [m.model_dump() for m in body.matchers or []]
    try:
        grouping_rules.update_rule(session, row, changes, utcnow())
    except GroupingError as exc:
        raise _refused(exc) from None
    return GroupingRuleOut.model_validate(row)


@router.delete(
    "/grouping-rules/{grouping_rule_id}",
    status_code=204,
    tags=["grouping-rules"],
    responses=responses(403, 404),
)
def delete_grouping_rule(grouping_rule_id: PathId, _: RuleManager, session: WriteDB) -> Response:
    """Deletes the rule; open incidents keep their alerts, new alerts group without it."""
    row = _rule(session, grouping_rule_id)
    grouping_rules.delete_rule(session, row)
    return Response(status_code=204)
