"""The schema bases every request and response body builds on (`In`, `Out`, `Page`), and the
field types whose rules the OpenAPI document must show: ISO 8601 instants, ids, zone names."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar, get_args
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

T = TypeVar("T")

_ZONES = available_timezones()
# The widest id any table holds (PostgreSQL INTEGER); larger ones cannot exist, and saying so in
# the document keeps them out of the driver (where they overflow).
MAX_ID = 2**31 - 1
# The 64-bit id columns (alerts, timeline events, notifications).
MAX_BIG_ID = 2**63 - 1

# RFC 3339 / ISO 8601 date and time: pydantic alone also reads 1700000000 or "1700000000" as a
# Unix time, which the document (format: date-time) does not promise and a client cannot tell.
_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def iso_only(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_INSTANT.match(value):
        raise ValueError("use an ISO 8601 date and time with its offset, e.g. 2026-11-27T09:00:00Z")
    return value


# A point in time given by a client: ISO 8601 text only (strict=False lets pydantic parse the
# text; the validator before it refuses numbers and other forms).
Instant = Annotated[datetime, Field(strict=False), BeforeValidator(iso_only)]
# No NUL character: PostgreSQL text cannot hold one (SQLite can), so every string of a request
# body refuses it, on both databases alike, and the document says so.
NO_NUL = "^[^\\x00]*$"
# Also "holds a character that is not white space", in a character class both the validator
# (Rust regex, Unicode White_Space, applied after stripping) and Python's re (which also counts
# U+001C..U+001F as space) agree on: " " is refused by the document as much as by the server.
NONBLANK = (
    "^[^\\x00]*[^\\x00\t\n\x0b\x0c\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029"
    "\u202f\u205f\u3000][^\\x00]*$"
)
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
BigId = Annotated[int, Field(ge=1, le=MAX_BIG_ID)]


def _holds_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    return any(_holds_int(arg) for arg in get_args(annotation))


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _no_nul_in_schema(schema: dict[str, Any], cls: type) -> None:
    # Each plain string property (and plain string items) shows the NO_NUL pattern.
    for prop in schema.get("properties", {}).values():
        for node in [prop, *prop.get("anyOf", []), prop.get("items") or {}]:
            plain = node.get("type") == "string" and not {"pattern", "enum", "format"} & set(node)
            if plain:
                node["pattern"] = NO_NUL


class In(BaseModel):
    # strict: a JSON value of the wrong type is refused, not coerced ("impact": true is not 1,
    # "tier": "1" is not 1); Instant fields opt out to parse ISO 8601 strings.
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, strict=True, json_schema_extra=_no_nul_in_schema
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _holds_nul(value):
            raise ValueError("text cannot contain NUL (\\u0000) characters")
        return value

    @model_validator(mode="before")
    @classmethod
    def _integral_numbers(cls, data: Any) -> Any:
        # 2.0 is the integer 2 in JSON Schema (and to many JSON encoders): the document's
        # "type: integer" admits it, so integer fields do; 2.5 is still refused.
        if not isinstance(data, dict):
            return data
        ints = [n for n, f in cls.model_fields.items() if _holds_int(f.annotation)]
        return {k: _integral(v) if k in ints else v for k, v in data.items()}


def _without_null(schema: dict[str, Any], cls: type) -> None:
    # The document shows the patch's fields as their type alone: null is refused (see Patch).
    _no_nul_in_schema(schema, cls)
    nullable: frozenset[str] = getattr(cls, "nullable", frozenset())
    for name, prop in schema.get("properties", {}).items():
        alternatives = prop.get("anyOf")
        if name in nullable or not alternatives or {"type": "null"} not in alternatives:
            continue
        rest = [a for a in alternatives if a != {"type": "null"}]
        del prop["anyOf"]
        if len(rest) == 1:
            prop.update(rest[0])
        else:
            prop["anyOf"] = rest
        if prop.get("default", 0) is None:
            del prop["default"]


class Patch(In):
    """A partial update: a field left out keeps its value; null is refused, except for the
    fields named in `nullable` (where null clears the value)."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, strict=True, json_schema_extra=_without_null
    )
    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as ?cursor= to get the next page; null on the last page."
    )


def check_zone(value: str | None) -> str | None:
    """A field validator: an IANA time zone name this machine's tzdata knows, or ValueError."""
    if value is not None and value not in _ZONES:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Paris")
    return value


# An IANA zone name; the document lists the names this machine's tzdata knows, as the validator
# accepts exactly those.
TimeZone = Annotated[
    str, AfterValidator(check_zone), Field(json_schema_extra={"enum": sorted(_ZONES)})
]
