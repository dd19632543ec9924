"""Per-integration mapping templates: any JSON payload into a Warroom event, in a Jinja sandbox.

A generic integration may carry a mapping (stored on `integrations.mapping`): Jinja templates
for summary, severity, dedup_key, source and labels, and a "resolve when" expression. Each
template sees the payload as `payload`, and its top-level keys by name.

The sandbox (ADR 20): jinja2's ImmutableSandboxedEnvironment (no attribute starting with `_`,
no mutation of lists and dicts), narrowed to an allowlist of methods and filters, no globals
but a bounded `range`, no macros, imports or recursive loops, repeats and powers bounded, and a
time budget per event enforced between template lines. Missing fields are errors
(StrictUndefined): a mistyped field name is refused at save time against the sample payload
instead of silently becoming an empty dedup key; optional fields are written with `default`
or `is defined`.

Templates are compiled once per distinct mapping and cached; the intake route finds an
integration's compiled mapping through :class:`MappingCache` (per process, refreshed after a
few seconds, cleared at once by a save in this process).
"""

from __future__ import annotations

import hashlib
import logging
import math
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.logic import Signal
from warroom.catalog.models import Integration
from warroom.errors import ApiError
from warroom.intake.common import (
    MAX_DEDUP_KEY,
    MAX_SOURCE,
    MAX_SUMMARY,
    SEVERITIES,
    IntakeError,
    ParsedRequest,
    without_nul,
)

log = logging.getLogger("warroom.intake.mapping")

# The only integration type that takes a mapping: the others speak a fixed schema Warroom
# already reads (PagerDuty, Alertmanager), plain mail, or Warroom's own monitors.
MAPPABLE_TYPES = frozenset({"generic"})
TEMPLATE_FIELDS = ("summary", "severity", "dedup_key", "source")
MAX_TEMPLATE = 2000
MAX_LABELS = 20
MAX_LABEL_NAME = 100
MAX_LABEL_VALUE = 1024
MAX_EVENTS = 1000
# Sizes a template may build: a repeat, a range, a power's digits.
MAX_VALUE = 100_000
MAX_RANGE = 10_000
MAX_POWER_BITS = 4096
# Time one event's templates may take together, and one request's events.
EVENT_BUDGET = 0.05
REQUEST_BUDGET = 0.5
FALLBACK_PREFIX = "unmapped event: "

_STR_METHODS = frozenset(
    {
        "lower",
        "upper",
        "title",
        "capitalize",
        "casefold",
        "strip",
        "lstrip",
        "rstrip",
        "startswith",
        "endswith",
        "split",
        "rsplit",
        "partition",
        "rpartition",
        "find",
        "rfind",
        "count",
        "removeprefix",
        "removesuffix",
        "isdigit",
        "isalpha",
        "isalnum",
        "isspace",
        "islower",
        "isupper",
    }
)
_CONTAINER_METHODS = frozenset({"get", "items", "keys", "values", "index", "count"})
_FILTERS = frozenset(
    {
        "abs",
        "capitalize",
        "count",
        "d",
        "default",
        "dictsort",
        "first",
        "float",
        "int",
        "items",
        "join",
        "last",
        "length",
        "list",
        "lower",
        "map",
        "max",
        "min",
        "reject",
        "rejectattr",
        "reverse",
        "round",
        "select",
        "selectattr",
        "sort",
        "string",
        "sum",
        "title",
        "tojson",
        "trim",
        "truncate",
        "unique",
        "upper",
        "wordcount",
    }
)
# Nodes a mapping has no use for and that open ways out of the time budget or the sandbox.
_REFUSED_NODES: tuple[tuple[type[nodes.Node], str], ...] = (
    (nodes.Macro, "macros"),
    (nodes.CallBlock, "call blocks"),
    (nodes.Extends, "extends"),
    (nodes.Include, "include"),
    (nodes.Import, "import"),
    (nodes.FromImport, "import"),
    (nodes.Block, "blocks"),
)


class MappingTimeout(BaseException):
    """The template ran past its time budget (a BaseException: no `except Exception` in a
    filter or in jinja's runtime may swallow it)."""


class MappingFieldError(Exception):
    """One field of a mapping does not compile, or fails on a payload."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def _bounded_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    return rng


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple)) else None


def _times(left: Any, right: Any) -> Any:
    for seq, n in ((left, right), (right, left)):
        size = _size(seq)
        if size is not None and isinstance(n, int) and size * n > MAX_VALUE:
            raise SecurityError(f"a repeat may build at most {MAX_VALUE} items")
    return left * right


def _power(base: Any, exponent: Any) -> Any:
    ints = isinstance(base, int) and isinstance(exponent, int)
    if ints and abs(base) > 1 and exponent > 0 and exponent * math.log2(abs(base)) > MAX_POWER_BITS:
        raise SecurityError("the power is too large")
    return base**exponent


def _replace(text: Any, old: Any, new: Any, count: int | None = None) -> str:
    """jinja's replace filter, refusing what would build more than MAX_VALUE characters."""
    whole, before, after = str(text), str(old), str(new)
    times = whole.count(before) if before else len(whole) + 1
    if count is not None and count >= 0:
        times = min(times, count)
    if len(whole) + times * max(0, len(after) - len(before)) > MAX_VALUE:
        raise SecurityError(f"replace may build at most {MAX_VALUE} characters")
    return whole.replace(before, after, -1 if count is None else count)


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        raise SecurityError("'%' formatting of text is not available: join with ~ instead")
    return left % right


class _Sandbox(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox, narrowed to what a mapping needs."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False)
        self.globals.clear()
        self.globals["range"] = _bounded_range
        self.filters = {name: self.filters[name] for name in _FILTERS}
        self.filters["replace"] = _replace
        self.binop_table = dict(self.binop_table)
        self.binop_table.update({"*": _times, "**": _power, "%": _modulo})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if not callable(value):
            return True
        allowed = _STR_METHODS if isinstance(obj, str) else _CONTAINER_METHODS
        return attr in allowed and isinstance(obj, (str, dict, list, tuple))

    def wrap_str_format(self, value: Any) -> None:
        # str.format and format_map are refused (not in the allowlist) rather than wrapped:
        # a width like {:>999999999} would build a gigabyte.
        return None

    def getattr(self, obj: Any, attribute: str) -> Any:
        # A JSON key wins over a dict method: payload.items is the field "items", not dict.items.
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


_ENV = _Sandbox()


def _check_nodes(tree: nodes.Template) -> None:
    for node_type, what in _REFUSED_NODES:
        if tree.find(node_type) is not None:
            raise SecurityError(f"{what} are not available in a mapping")
    for loop in tree.find_all(nodes.For):
        if loop.recursive:
            raise SecurityError("recursive loops are not available in a mapping")


def _compile_template(field_name: str, source: str) -> Any:
    try:
        _check_nodes(_ENV.parse(source))
        return _ENV.from_string(source)
    except TemplateError as exc:
        raise MappingFieldError(field_name, _describe(exc)) from None


def _compile_expression(field_name: str, source: str) -> Any:
    try:
        _check_nodes(_ENV.parse("{{ " + source + " }}"))
        return _ENV.compile_expression(source, undefined_to_none=False)
    except TemplateError as exc:
        raise MappingFieldError(field_name, _describe(exc)) from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MappingTimeout):
        return (
            f"ran out of time (a mapping may take {int(EVENT_BUDGET * 1000)} ms per event and "
            f"{int(REQUEST_BUDGET * 1000)} ms per request): is a loop too large?"
        )
    message = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    lineno = getattr(exc, "lineno", None)
    if isinstance(exc, SecurityError):
        message = f"not allowed: {message}"
    elif lineno and lineno > 1:
        message = f"{message} (line {lineno})"
    return message[:300]


# --- the stored mapping and its compiled form ---------------------------------------------------


@dataclass(frozen=True)
class MappingSpec:
    """A mapping as stored: templates by field, labels by name, an optional sample payload."""

    summary: str
    severity: str = ""
    dedup_key: str = ""
    source: str = ""
    resolve_when: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    sample: Any = None

    @classmethod
    def of(cls, stored: dict[str, Any]) -> MappingSpec:
        return cls(
            summary=str(stored.get("summary", "")),
            severity=str(stored.get("severity", "")),
            dedup_key=str(stored.get("dedup_key", "")),
            source=str(stored.get("source", "")),
            resolve_when=str(stored.get("resolve_when", "")),
            labels={str(k): str(v) for k, v in (stored.get("labels") or {}).items()},
            sample=stored.get("sample"),
        )

    def stored(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "severity": self.severity,
            "dedup_key": self.dedup_key,
            "source": self.source,
            "resolve_when": self.resolve_when,
            "labels": dict(self.labels),
            "sample": self.sample,
        }

    def digest(self) -> str:
        rules = self.stored()
        rules.pop("sample")
        return hashlib.sha256(orjson.dumps(rules, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class MappedEvent:
    """What one payload became: the event's fields, and the errors of the fields that failed
    (then `unmapped` is true and the fields hold the fallbacks intake stores)."""

    action: str
    summary: str
    severity: str
    dedup_key: str
    source: str
    labels: dict[str, str]
    errors: list[str]

    @property
    def unmapped(self) -> bool:
        return bool(self.errors)


@dataclass(frozen=True)
class CompiledMapping:
    templates: dict[str, Any]
    resolve_when: Any
    labels: dict[str, Any]

    def apply(self, payload: Any, deadline: float | None = None) -> MappedEvent:
        """The payload as an event; never raises. A field that fails is listed in `errors` and
        the event carries fallbacks: summary "unmapped event: <error>", severity error (unless
        its own template worked), the rendered dedup key or else one made from the payload (so
        a re-sent payload counts on one alert), trigger."""
        end = time.perf_counter() + EVENT_BUDGET
        if deadline is not None:
            end = min(end, deadline)
        context = _context(payload)
        errors: list[str] = []
        out: dict[str, str] = {}
        for name, template in self.templates.items():
            try:
                out[name] = _bounded(name, partial(_render, template, context, name), end)
            except MappingFieldError as exc:
                errors.append(str(exc))
        labels: dict[str, str] = {}
        for name, template in self.labels.items():
            label = f"labels.{name}"
            try:
                rendered = _bounded(label, partial(_render, template, context, label), end)
                labels[name] = _tidy(rendered, MAX_LABEL_VALUE)
            except MappingFieldError as exc:
                errors.append(str(exc))
        resolve = False
        if self.resolve_when is not None:
            try:
                resolve = _bounded("resolve_when", lambda: _truth(self.resolve_when, context), end)
            except MappingFieldError as exc:
                errors.append(str(exc))

        severity = "error"
        if "severity" in out:
            given = out["severity"].strip().lower()
            if given in SEVERITIES:
                severity = given
            else:
                errors.append(
                    f"severity: the template gave {given[:40]!r}, "
                    f"not one of {', '.join(SEVERITIES)}"
                )
        key_failed = any(e.startswith("dedup_key:") for e in errors)
        key = "" if key_failed else out.get("dedup_key", "").strip()
        if "dedup_key" in out and not key_failed:
            if not key:
                errors.append("dedup_key: the template gave an empty key")
                key_failed = True
            elif len(key) > MAX_DEDUP_KEY:
                errors.append(f"dedup_key: longer than {MAX_DEDUP_KEY} characters")
                key_failed = True
        if resolve and not key_failed:
            # A resolve needs only its key: the other fields are not stored for it.
            return MappedEvent("resolve", "", severity, key, "", {}, [])
        summary = _tidy(out.get("summary", ""), MAX_SUMMARY)
        if not errors and not summary:
            errors.append("summary: the template gave an empty summary")
        if errors:
            summary = _cut(FALLBACK_PREFIX + errors[0], MAX_SUMMARY)
            if key_failed or not key:
                key = _payload_key(payload)
        elif not key:
            key = uuid.uuid4().hex  # no dedup key template: each event is its own alert
        return MappedEvent(
            "trigger",
            summary,
            severity,
            key,
            _tidy(out.get("source", ""), MAX_SOURCE),
            labels,
            errors,
        )


def _context(payload: Any) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if isinstance(payload, dict):
        context.update({k: v for k, v in payload.items() if isinstance(k, str)})
    context["payload"] = payload
    return context


def _tidy(text: str, limit: int) -> str:
    """Stripped and cut to `limit` with an ellipsis (rendering stopped at `limit` + 1, so a
    longer text may have been cut short: its trailing space is not its end)."""
    text = text.strip() if len(text) <= limit else text.lstrip()
    return _cut(text.strip() if len(text) <= limit else text, limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _payload_key(payload: Any) -> str:
    digest = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return "unmapped-" + digest[:32]


_FIELD_LIMITS = {
    "summary": MAX_SUMMARY,
    "severity": 40,
    "dedup_key": MAX_DEDUP_KEY,
    "source": MAX_SOURCE,
}


def _render(template: Any, context: dict[str, Any], name: str) -> str:
    """The template's text, reading its output only up to a bound past the field's limit
    (a longer summary or source is cut, a longer key refused by the caller)."""
    limit = _FIELD_LIMITS.get(name, MAX_LABEL_VALUE) + 1
    chunks: list[str] = []
    total = 0
    stream: Iterator[str] = template.generate(context)
    try:
        for chunk in stream:
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                break
    except Exception as exc:  # noqa: BLE001 - any failure of a user's template is its error
        raise MappingFieldError(name, _describe(exc)) from None
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return "".join(chunks)[:limit]


def _truth(expression: Any, context: dict[str, Any]) -> bool:
    try:
        return bool(expression(**context))
    except Exception as exc:  # noqa: BLE001
        raise MappingFieldError("resolve_when", _describe(exc)) from None


_TEMPLATE_FILE = "<template>"


def _bounded(name: str, work: Callable[[], Any], deadline: float) -> Any:
    """Runs template code, stopping it once `deadline` (perf_counter) passes: a trace function
    in this thread checks the clock on every call and on every line of template code (a loop
    jumping back counts as a line), so no loop of a template outlives its budget. What one C
    call does in one go (sorting the payload, say) finishes before the next check; the
    sandbox bounds those that could be large (repeats, powers, ranges)."""
    now = time.perf_counter

    def local(frame: Any, event: str, arg: Any) -> Any:
        if now() > deadline:
            raise MappingTimeout
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if now() > deadline:
            raise MappingTimeout
        return local if frame.f_code.co_filename == _TEMPLATE_FILE else None

    previous = sys.gettrace()
    timed_out = False
    sys.settrace(tracer)
    try:
        result = work()
    except MappingTimeout:
        timed_out = True
    finally:
        # Restored before anything else runs: the handler's own calls must not be traced.
        sys.settrace(previous)
    if timed_out:
        raise MappingFieldError(name, _describe(MappingTimeout()))
    return result


def compile_mapping(spec: MappingSpec) -> CompiledMapping:
    """Compiles every field; the first that does not compile raises MappingFieldError."""
    if not spec.summary.strip():
        raise MappingFieldError("summary", "a summary template is required")
    templates = {
        name: _compile_template(name, getattr(spec, name))
        for name in TEMPLATE_FIELDS
        if getattr(spec, name).strip()
    }
    resolve = (
        _compile_expression("resolve_when", spec.resolve_when)
        if spec.resolve_when.strip()
        else None
    )
    if resolve is not None and "dedup_key" not in templates:
        raise MappingFieldError(
            "dedup_key",
            "a dedup key template is needed to resolve: a resolve finds its alert by key",
        )
    labels = {
        name: _compile_template(f"labels.{name}", source) for name, source in spec.labels.items()
    }
    return CompiledMapping(templates, resolve, labels)


_compiled: OrderedDict[str, CompiledMapping] = OrderedDict()
_compiled_lock = threading.Lock()
_COMPILED_MAX = 256


def compiled(spec: MappingSpec) -> CompiledMapping:
    """The compiled mapping, from the per-process cache when this exact mapping was compiled
    before (templates are compiled per mapping, never per event)."""
    digest = spec.digest()
    with _compiled_lock:
        found = _compiled.get(digest)
        if found is not None:
            _compiled.move_to_end(digest)
            return found
    built = compile_mapping(spec)
    with _compiled_lock:
        _compiled[digest] = built
        while len(_compiled) > _COMPILED_MAX:
            _compiled.popitem(last=False)
    return built


# --- save time ----------------------------------------------------------------------------------


def validate(spec: MappingSpec) -> CompiledMapping:
    """What a save checks: every field compiles, and on the sample payload (if given) every
    template renders and the event it gives is valid. Raises ApiError 422 naming the field."""
    if len(spec.labels) > MAX_LABELS:
        raise _refused("labels", f"at most {MAX_LABELS} labels")
    for name, source in [(f, getattr(spec, f)) for f in (*TEMPLATE_FIELDS, "resolve_when")] + [
        (f"labels.{k}", v) for k, v in spec.labels.items()
    ]:
        if len(source) > MAX_TEMPLATE:
            raise _refused(name, f"at most {MAX_TEMPLATE} characters")
    for name in spec.labels:
        if not name or len(name) > MAX_LABEL_NAME or not name.replace("_", "a").isalnum():
            raise _refused(
                "labels",
                f"label name {name[:40]!r}: letters, digits and _ only, "
                f"1 to {MAX_LABEL_NAME} characters",
            )
    try:
        built = compile_mapping(spec)
    except MappingFieldError as exc:
        raise _refused(exc.field, exc.message) from None
    if spec.sample is not None:
        samples = spec.sample if isinstance(spec.sample, list) else [spec.sample]
        for index, sample in enumerate(samples[:MAX_EVENTS]):
            event = built.apply(sample)
            if event.errors:
                where = f" (sample event {index})" if isinstance(spec.sample, list) else ""
                first = event.errors[0]
                name, _, message = first.partition(": ")
                raise _refused(name, f"fails on the sample payload{where}: {message}", event.errors)
    return built


def _refused(name: str, message: str, others: list[str] | None = None) -> ApiError:
    details = [{"field": f"mapping.{name}", "message": message}]
    for other in (others or [])[1:]:
        other_name, _, other_message = other.partition(": ")
        details.append({"field": f"mapping.{other_name}", "message": other_message})
    return ApiError(422, f"mapping {name}: {message}", details)


def set_mapping(session: Session, integ: Integration, spec: MappingSpec | None) -> None:
    """Validates and stores the integration's mapping (None removes it)."""
    if spec is None:
        integ.mapping = None
        return
    if integ.type not in MAPPABLE_TYPES:
        raise ApiError(
            422,
            f"a {integ.type} integration takes no mapping: only generic JSON integrations do "
            "(the other senders speak a format Warroom already reads)",
            [{"field": "mapping", "message": "only for generic integrations"}],
        )
    validate(spec)
    integ.mapping = spec.stored()


# --- intake -------------------------------------------------------------------------------------


def parse_mapped(
    body: bytes, routing_key: str, mapping: CompiledMapping, integration_id: int | None = None
) -> ParsedRequest:
    """A mapped integration's request: one JSON value, or a list of up to 1,000, each mapped.
    Only a body that is not JSON is refused; an event its mapping fails on is kept as an
    unmapped alert holding the raw payload (details.payload, details.mapping_error)."""
    try:
        data = orjson.loads(without_nul(body))
    except orjson.JSONDecodeError as exc:
        raise IntakeError(400, "Body is not valid JSON", [f"JSON parse error: {exc}"]) from None
    payloads = data if isinstance(data, list) else [data]
    if not payloads:
        raise IntakeError(400, "Body must be a JSON value or a non-empty list of them", [])
    if len(payloads) > MAX_EVENTS:
        raise IntakeError(413, f"At most {MAX_EVENTS} events per request", [])
    deadline = time.perf_counter() + REQUEST_BUDGET
    events = [mapping.apply(p, deadline) for p in payloads]
    failed = [e for e in events if e.errors]
    if failed:
        log.warning(
            "integration %s: mapping failed on %d of %d events, kept as unmapped alerts: %s",
            integration_id,
            len(failed),
            len(events),
            failed[0].errors[0],
        )
    signals = [to_signal(e, p) for e, p in zip(events, payloads, strict=True)]
    return ParsedRequest("generic", routing_key, signals, unmapped=len(failed))


def to_signal(event: MappedEvent, payload: Any) -> Signal:
    details: dict[str, Any] = {"payload": payload}
    if event.errors:
        details["mapping_error"] = "; ".join(event.errors)
    return Signal(
        action=event.action,
        dedup_key=event.dedup_key,
        severity=event.severity,
        summary=event.summary,
        source=event.source,
        details=details,
        labels=event.labels,
    )


def try_mapping(mapping: CompiledMapping, payload: Any) -> list[MappedEvent]:
    """What a pasted payload becomes (nothing stored): one event per list item."""
    payloads = payload if isinstance(payload, list) else [payload]
    deadline = time.perf_counter() + REQUEST_BUDGET
    return [mapping.apply(p, deadline) for p in payloads[:MAX_EVENTS]]


@dataclass(frozen=True)
class _Entry:
    expires: float
    integration_id: int | None
    mapping: CompiledMapping | None


class MappingCache:
    """Routing key -> its integration's compiled mapping (None: not mapped, or no such
    generic integration), per process.

    Entries are read again after `ttl` seconds, so a mapping saved by another process (several
    API processes on PostgreSQL) applies within that time; a save in this process calls
    :meth:`forget` and applies from the next request. Bounded in size: a flood of unknown keys
    evicts the oldest entries, it does not grow memory."""

    def __init__(
        self,
        load: Callable[[str], tuple[int, dict[str, Any] | None] | None],
        ttl: float = 5.0,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def cached(self, routing_key: str) -> _Entry | None:
        """The fresh entry, if one is held (no database read); None: ask :meth:`get`."""
        with self._lock:
            entry = self._entries.get(routing_key)
            if entry is None or entry.expires <= self._clock():
                return None
            return entry

    def get(self, routing_key: str) -> _Entry:
        """The entry, read from the database (in the caller's thread) when not fresh."""
        entry = self.cached(routing_key)
        if entry is not None:
            return entry
        self.loads += 1
        found = self._load(routing_key)
        integration_id, stored = found if found is not None else (None, None)
        mapping: CompiledMapping | None = None
        if stored is not None:
            try:
                mapping = compiled(MappingSpec.of(stored))
            except MappingFieldError as exc:
                # Saved mappings were validated; one that no longer compiles (a sandbox rule
                # tightened since) keeps its events as unmapped alerts rather than refusing them.
                log.warning("integration %s: mapping fails to compile: %s", integration_id, exc)
                mapping = CompiledMapping({"summary": _Failing(str(exc))}, None, {})
        entry = _Entry(self._clock() + self.ttl, integration_id, mapping)
        with self._lock:
            self._entries[routing_key] = entry
            self._entries.move_to_end(routing_key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return entry

    def forget(self, *routing_keys: str) -> None:
        with self._lock:
            for key in routing_keys:
                self._entries.pop(key, None)


class _Failing:
    """A template stand-in that fails with the stored mapping's compile error."""

    def __init__(self, message: str) -> None:
        self.message = message

    def generate(self, context: dict[str, Any]) -> Iterator[str]:
        raise RuntimeError(self.message)


def stored_mapping(session: Session, routing_key: str) -> tuple[int, dict[str, Any] | None] | None:
    """The id and mapping of the generic integration with this key (None: no such one)."""
    row = session.execute(
        select(Integration.id, Integration.type, Integration.mapping).where(
            Integration.routing_key == routing_key
        )
    ).first()
    if row is None or row.type not in MAPPABLE_TYPES:
        return None
    return row.id, row.mapping


__all__ = [
    "MAPPABLE_TYPES",
    "CompiledMapping",
    "MappedEvent",
    "MappingCache",
    "MappingFieldError",
    "MappingSpec",
    "compile_mapping",
    "compiled",
    "parse_mapped",
    "set_mapping",
    "stored_mapping",
    "try_mapping",
    "validate",
]
