"""A generic integration's mapping page: edit its templates, paste a payload and see what it
becomes ("try it", nothing stored), save (the payload becomes the sample it is checked on).

The same functions as the REST API (`intake.mapping.set_mapping`, `api.catalog.try_on`), so
the page refuses what the API refuses, with the message beside the field it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from warroom.api.catalog import forget_mapping, mapping_spec, try_on
from warroom.api.schemas import MappedEventOut, MappingIn
from warroom.catalog import service as catalog
from warroom.catalog.models import Integration, Service
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.intake import mapping as mappings
from warroom.web import forms
from warroom.web.auth import PageError, Posted, Responder, ResponderPost
from warroom.web.render import render
from warroom.web.router import router
from warroom.web.sessions import SignedIn

LABELS = {
    "summary": "Summary",
    "severity": "Severity",
    "dedup_key": "Dedup key",
    "source": "Source",
    "resolve_when": "Resolve when",
    "labels": "Labels",
    "payload": "Payload",
    "sample": "Payload",
}
FIELDS = ("summary", "severity", "dedup_key", "source", "resolve_when")
EXAMPLE_PAYLOAD = {
    "title": "[Triggered] CPU above 90% on web-1",
    "alert_id": "1234567",
    "alert_priority": "P1",
    "alert_transition": "Triggered",
    "hostname": "web-1",
}


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@dataclass
class _Page:
    service: Service
    integration: Integration


def _load(request: Request, service_id: int, integration_id: int, me: SignedIn) -> _Page:
    """The integration of this service, if this person may set the service up."""
    with _db(request).read_session() as session:
        svc = catalog.get_service(session, service_id)
        catalog.check_service_manager(session, svc, me.user_id, me.role)
        integ = session.get(Integration, integration_id)
        if integ is None or integ.service_id != service_id:
            raise PageError(
                404, f"There is no integration {integration_id} here.", title="Not found"
            )
        if integ.type not in mappings.MAPPABLE_TYPES:
            raise PageError(
                404,
                f"A {integ.type} integration takes no mapping: only generic JSON ones do.",
                title="No mapping",
            )
        session.expunge_all()
    return _Page(svc, integ)


def _labels_text(labels: dict[str, str]) -> str:
    return "\n".join(f"{name} = {template}" for name, template in labels.items())


def _typed_from(integ: Integration) -> dict[str, str]:
    stored = integ.mapping or {}
    sample = stored.get("sample")
    return {
        **{name: str(stored.get(name, "")) for name in FIELDS},
        "labels": _labels_text(stored.get("labels") or {}),
        "payload": orjson.dumps(
            EXAMPLE_PAYLOAD if sample is None else sample, option=orjson.OPT_INDENT_2
        ).decode(),
    }


def _typed(posted: Posted) -> dict[str, str]:
    # Templates are kept as typed (only trimmed): their inner spacing may matter.
    return {name: posted.text(name) for name in (*FIELDS, "labels", "payload")}


def _read(typed: dict[str, str], problems: dict[str, str]) -> tuple[dict[str, Any], Any]:
    """The API's mapping body and the payload from what was typed (problems filled in)."""
    labels: dict[str, str] = {}
    for number, line in enumerate(typed["labels"].splitlines(), 1):
        if not line.strip():
            continue
        name, sep, template = line.partition("=")
        if not sep or not name.strip():
            problems["labels"] = (
                f"Labels, line {number}: write one label a line as name = template."
            )
            break
        labels[name.strip()] = template.strip()
    payload: Any = None
    try:
        payload = orjson.loads(typed["payload"]) if typed["payload"] else None
    except orjson.JSONDecodeError as exc:
        problems["payload"] = f"Payload: not valid JSON ({exc})."
    body = {name: typed[name] for name in FIELDS} | {"labels": labels}
    return body, payload


def _problems(exc: ApiError) -> dict[str, str]:
    found: dict[str, str] = {}
    for detail in exc.details or []:
        field = str(detail.get("field", "")).removeprefix("mapping.").split(".")[0]
        if field in LABELS:
            message = str(detail.get("message", "not valid")).rstrip(".")
            found.setdefault(field, f"{LABELS[field]}: {message}.")
    return found or {"": forms.sentence(exc.message)}


def _validation_problems(exc: ValidationError) -> dict[str, str]:
    problems = forms.validation_problems(exc, LABELS)
    if "sample" in problems:
        problems["payload"] = problems.pop("sample")
    return problems


def _page(
    request: Request,
    loaded: _Page,
    typed: dict[str, str],
    problems: dict[str, str] | None = None,
    results: list[MappedEventOut] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    problems = problems or {}
    return render(
        request,
        "integration_mapping.html",
        {
            "service": loaded.service,
            "integ": loaded.integration,
            "typed": typed,
            "problems": problems,
            "error": forms.summary(problems) if problems else None,
            "results": results,
            "notice": notice,
        },
        status=status,
    )


PATH = "/services/{service_id}/integrations/{integration_id}/mapping"


@router.get(PATH, response_class=HTMLResponse)
def mapping_form(request: Request, service_id: int, integration_id: int, me: Responder) -> Response:
    loaded = _load(request, service_id, integration_id, me)
    notice = {"saved": "Mapping saved.", "removed": "Mapping removed."}.get(
        request.query_params.get("done", "")
    )
    return _page(request, loaded, _typed_from(loaded.integration), notice=notice)


@router.post(PATH, response_class=HTMLResponse)
def mapping_post(
    request: Request, service_id: int, integration_id: int, posted: ResponderPost
) -> Response:
    """One form, three buttons: try it (nothing stored), save, remove."""
    loaded = _load(request, service_id, integration_id, posted.user)
    intent = posted.text("intent")
    if intent == "remove":
        _store(request, integration_id, None)
        return RedirectResponse(
            f"/services/{service_id}/integrations/{integration_id}/mapping?done=removed",
            status_code=303,
        )
    typed = _typed(posted)
    problems: dict[str, str] = {}
    body, payload = _read(typed, problems)
    if intent == "try" and payload is None and "payload" not in problems:
        problems["payload"] = "Payload: paste a payload to try the mapping on."
    checked: MappingIn | None = None
    if not problems:
        try:
            checked = MappingIn(**body, sample=payload if intent == "save" else None)
        except ValidationError as exc:
            problems = _validation_problems(exc)
    if checked is None:
        return _page(request, loaded, typed, problems, status=422)
    try:
        if intent == "save":
            _store(request, integration_id, mapping_spec(checked))
            return RedirectResponse(
                f"/services/{service_id}/integrations/{integration_id}/mapping?done=saved",
                status_code=303,
            )
        results = try_on(loaded.integration, mapping_spec(checked), payload)
    except ApiError as exc:
        return _page(request, loaded, typed, _problems(exc), status=422)
    return _page(request, loaded, typed, results=results)


def _store(request: Request, integration_id: int, spec: mappings.MappingSpec | None) -> None:
    with _db(request).session() as session:
        integ = session.get(Integration, integration_id)
        if integ is None:
            raise PageError(404, "That integration was deleted meanwhile.", title="Not found")
        mappings.set_mapping(session, integ, spec)
        key = integ.routing_key
    forget_mapping(request, key)  # after the commit: the next event reads the new mapping
