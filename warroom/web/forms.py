"""Form errors in plain words: the API's refusals (pydantic's and the services' ApiError)
turned into a message beside the field, under the label the form gives it."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from warroom.errors import ApiError

# What a field's pattern allows, in words, by field name (the API's patterns are regexes).
PATTERN_HINTS = {
    "username": "letters, digits and . _ @ - only, no spaces",
    "start": "a time like 09:00",
    "end": "a time like 17:30",
}


def _plain(error: Any, label: str, field: str) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "string_too_short":
        return (
            f"{label} cannot be empty."
            if ctx.get("min_length", 1) <= 1
            else (f"{label} needs at least {ctx['min_length']} characters.")
        )
    if kind == "string_too_long":
        return f"{label}: at most {ctx.get('max_length')} characters."
    if kind == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get(field)
        return f"{label}: {hint}." if hint else f"{label} cannot be blank."
    if kind in ("greater_than_equal", "greater_than"):
        return f"{label} must be {ctx.get('ge', ctx.get('gt'))} or more."
    if kind in ("less_than_equal", "less_than"):
        return f"{label} must be {ctx.get('le', ctx.get('lt'))} or less."
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{label} must be a whole number."
    if kind == "literal_error":
        return f"Choose one of the offered values for {label.lower()}."
    if kind in ("too_short", "missing"):
        return f"{label} is required."
    if kind == "too_long":
        return f"{label}: too many entries (at most {ctx.get('max_length')})."
    message = str(error.get("msg", "is not valid"))
    message = message.removeprefix("Value error, ")
    return f"{label}: {message[:1].lower() + message[1:]}".rstrip(".") + "."


def validation_problems(exc: ValidationError, labels: dict[str, str]) -> dict[str, str]:
    """Field name → message, for each field pydantic refused (the first problem of each).
    A nested location (steps.0.targets) is reported under its first part."""
    return error_problems(list(exc.errors()), labels)


def error_problems(errors: list[Any], labels: dict[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        field = loc[0] if loc else ""
        label = labels.get(field, field.replace("_", " ").capitalize() or "This form")
        found.setdefault(field, _plain(error, label, loc[-1] if loc else field))
    return found


def api_problems(exc: ApiError, labels: dict[str, str]) -> dict[str, str]:
    """Field name → message from a service's refusal; its message under "" when it names no
    field of this form."""
    found: dict[str, str] = {}
    for detail in exc.details or []:
        field = str(detail.get("field", "")).split(".")[0]
        if field in labels:
            found.setdefault(field, f"{labels[field]}: {detail.get('message', 'not valid')}.")
    if not found:
        found[""] = sentence(exc.message)
    return found


def sentence(message: str) -> str:
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def summary(problems: dict[str, str]) -> str:
    """The banner over the form: the general problem, else how many fields need a look."""
    if "" in problems:
        return problems[""]
    n = len(problems)
    return f"Not saved: {n} field{'s' if n != 1 else ''} need{'s' if n == 1 else ''} a change."


_IDS = re.compile(r"\d+")


def ids(values: list[str]) -> list[int] | None:
    """Ids chosen in a form's checkboxes or selects; None if one is not a number."""
    out: list[int] = []
    for value in values:
        if not value:
            continue
        if not _IDS.fullmatch(value) or len(value) > 12:
            return None
        out.append(int(value))
    return out
