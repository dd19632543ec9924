"""The schemathesis run against the app's own /openapi.json, in-process, shared by the CI test
(tests/api/test_openapi_fuzz.py) and its long form (bench/api_fuzz.py)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.python import asgi as schemathesis_asgi

from warroom import errors
from warroom.catalog import service as catalog
from warroom.catalog.models import ApiToken, User
from warroom.db.engine import Database

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Any, Any], Awaitable[None]]


@dataclass
class Identity:
    """A user the run signs in as, with a spare token and a decoy twin (same role)."""

    role: str
    user_id: int
    token_id: int
    token: str
    spare_token_id: int
    decoy_user_id: int
    decoy_token: str


def make_identities(db: Database) -> dict[str, Identity]:
    """One admin and one stakeholder for the run, each with a decoy twin.

    The run must not sign itself out halfway (a revoked token or a deactivated or demoted
    account turns every later request into a 401 or 403 and the rest of the run into noise).
    The fuzzer picks ids freely, so no id is out of its reach; instead the Guard re-aims the
    few requests that could do that: revoking the run's token revokes its spare one, changing
    the run's user changes its decoy twin, and PATCH /users/me is sent as the twin. Every
    operation is still called, with every id, and the run's credentials stay valid."""
    out: dict[str, Identity] = {}
    with db.session() as s:
        for role in ("admin", "stakeholder"):
            user = catalog.create_user(s, username=f"fuzz-{role}", name="Fuzz", role=role)
            decoy = catalog.create_user(s, username=f"decoy-{role}", name="Decoy", role=role)
            token, row = catalog.create_token(s, user.id, "fuzz run")
            _, spare = catalog.create_token(s, user.id, "spare")
            decoy_token, _ = catalog.create_token(s, decoy.id, "decoy")
            s.flush()
            out[role] = Identity(role, user.id, row.id, token, spare.id, decoy.id, decoy_token)
    return out


class Guard:
    """ASGI wrapper that keeps the run signed in (see make_identities); the answer is always
    the operation's own answer to the re-aimed request."""

    _token = re.compile(r"^/api/v1/tokens/(\d+)$")
    _user = re.compile(r"^/api/v1/users/(\d+)$")

    def __init__(self, app: ASGI, identities: dict[str, Identity]) -> None:
        self.app = app
        self.tokens = {i.token_id: i.spare_token_id for i in identities.values()}
        self.users = {i.user_id: i.decoy_user_id for i in identities.values()}
        self.twins = {
            f"Bearer {i.token}".encode(): f"Bearer {i.decoy_token}".encode()
            for i in identities.values()
        }
        self.redirected = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            for pattern, mapping in ((self._token, self.tokens), (self._user, self.users)):
                match = pattern.match(path)
                if match and int(match.group(1)) in mapping:
                    new = path[: match.start(1)] + str(mapping[int(match.group(1))])
                    scope = dict(scope, path=new, raw_path=new.encode())
                    self.redirected += 1
            if path == "/api/v1/users/me" and scope["method"] != "GET":
                headers = [
                    (k, self.twins.get(v, v) if k == b"authorization" else v)
                    for k, v in scope["headers"]
                ]
                scope = dict(scope, headers=headers)
                self.redirected += 1
        await self.app(scope, receive, send)


@dataclass
class Report:
    """What one run found: failures by check, and how many cases/operations it exercised."""

    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (check, operation, text)
    errors: list[str] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    # Schema-valid requests the service refused by its rules (see semantic_refusal).
    semantic_refusals: Counter[str] = field(default_factory=Counter)

    def by_check(self) -> Counter[str]:
        return Counter(check for check, _, _ in self.failures)

    def summary(self, limit: int = 30) -> str:
        lines = [
            f"{self.cases} cases on {len(self.operations)} operations; {dict(self.by_check())}"
        ]
        seen: set[tuple[str, str]] = set()
        for check, operation, text in self.failures:
            if (check, operation) in seen:
                continue
            seen.add((check, operation))
            lines.append(f"- {check} {operation}: {text[-1200:]}")
            if len(seen) >= limit:
                break
        lines += [f"! {e[:600]}" for e in self.errors[:10]]
        lines.append(f"refused by rules (not failures): {dict(self.semantic_refusals)}")
        return "\n".join(lines)


# Messages of refusals that mean the document is wrong (it should have said so), never a rule.
_DOCUMENT_FAULTS = (errors.SCHEMA_REFUSAL, "out of range", "cannot be null", "limit must be")


def semantic_refusal(failure: Any, case: Any, response: Any) -> bool:
    """A schema-valid request refused by a rule no schema can state: a reference to an id that
    does not exist, a cross-field rule ("give impact, urgency or both"), an unknown routing
    key, a forged action link. The positive_data_acceptance check expects 2xx/404 for these;
    the API answers 422 in its error format with the rule's own message (400 for intake, in
    each tool's format). Everything else the checks report stays a failure, and so does a 422
    whose message is the schema validator's or one of _DOCUMENT_FAULTS."""
    if failure.code != "ST202":  # RejectedPositiveData
        return False
    status = response.status_code
    if case.path == "/act/{token}":
        return status in (400, 410)  # a token the server did not sign, or an old one
    try:
        body = response.json()
    except ValueError:
        return False
    if case.path == "/v2/enqueue":  # PagerDuty's body: the key is refused at commit
        return status == 400 and any("'routing_key'" in e for e in body.get("errors", []))
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return False
    if case.path.startswith("/integrations/") and status == 400:
        # The key of an integration of another type (the stateful phase passes keys around).
        return "this routing key belongs to" in str(error.get("message", ""))
    if status != 422:
        return False
    message = str(error.get("message", ""))
    return not any(fault in message for fault in _DOCUMENT_FAULTS)


def run(
    app: ASGI,
    token: str,
    *,
    max_examples: int,
    seed: int,
    phases: list[str] | None = None,
    max_failures: int | None = None,
) -> Report:
    """All checks, every operation of the document, as the token's holder."""
    config = SchemathesisConfig(seed=seed, max_failures=max_failures)
    project = config.projects.override
    project.update(headers={"Authorization": f"Bearer {token}"})
    project.checks.update(included_check_names=["all"])
    # The run's own token on every request (ignored_auth still drops it to expect a 401);
    # generated bearer values would only ever get 401s.
    project.generation.update(
        max_examples=max_examples, database="none", with_security_parameters=False
    )
    # 413 is how the batch intake refuses more events than it takes (documented as such).
    negative = project.checks.negative_data_rejection
    negative.expected_statuses = [*negative.expected_statuses, "413"]
    # ...and also how intake refuses a body over its size in bytes, which no schema can state.
    positive = project.checks.positive_data_acceptance
    positive.expected_statuses = [*positive.expected_statuses, "413"]
    if phases is not None:
        project.phases.update(phases=phases)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    report = Report()

    @schema.hook
    def filter_failure(_context: Any, failure: Any, case: Any, response: Any) -> bool:
        if semantic_refusal(failure, case, response):
            report.semantic_refusals[f"{case.method} {case.path}"] += 1
            return False
        return True

    try:
        for event in from_schema(schema).execute():
            _collect(report, event)
    finally:
        schemathesis_asgi.shutdown_lifespans()
    return report


def _collect(report: Report, event: events.EngineEvent) -> None:
    recorder = getattr(event, "recorder", None)
    if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished) and recorder:
        for case_id, node in recorder.cases.items():
            report.cases += 1
            report.operations.add(f"{node.value.operation.method.upper()} {node.value.path}")
            interaction = recorder.interactions.get(case_id)
            if interaction is not None and interaction.response is not None:
                report.statuses[interaction.response.status_code] += 1
        for checks in recorder.checks.values():
            for check in checks:
                if check.failure_info is not None:
                    failure = check.failure_info.failure
                    report.failures.append(
                        (
                            check.name,
                            failure.operation or recorder.label,
                            f"{failure.title}: {failure.message} | "
                            + check.failure_info.code_sample,
                        )
                    )
    elif isinstance(event, events.NonFatalError):
        report.errors.append(f"{event.label}: {event.info.format()}")
    elif isinstance(event, events.FatalError):
        report.errors.append(f"fatal: {event.exception!r}")


def still_signed_in(db: Database, identities: dict[str, Identity]) -> bool:
    """The run's tokens are live and their users active, in their role."""
    with db.read_session() as s:
        for i in identities.values():
            token = s.get(ApiToken, i.token_id)
            user = s.get(User, i.user_id)
            if token is None or token.revoked_at is not None or user is None:
                return False
            if not user.active or user.role != i.role:
                return False
    return True
