"""One run of an HTTP(S) or TCP check, through safehttp's connect-time guard.

The target is typed in by an admin but is still a user-supplied address: private, loopback,
link-local and metadata addresses are refused at connect time (after resolution, so DNS
rebinding cannot move a check inside) unless `WARROOM_OUTBOUND_ALLOW_NETWORKS` allows them.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpcore
import httpx
import re2

from warroom.notify.safehttp import BlockedDestination, GuardedBackend, build_client

# Bytes of a response body read for `body_contains` / `body_regex` at most.
MAX_BODY_BYTES = 1_000_000
_STATUS = re.compile(r"^(?:[1-5](?:[0-9]{2}|xx))(?:,(?:[1-5](?:[0-9]{2}|xx)))*$")


@dataclass(frozen=True)
class CheckSpec:
    kind: str  # http | tcp
    target: str
    method: str = "GET"
    expected_status: str = "2xx"
    body_contains: str = ""
    body_regex: str = ""
    max_response_ms: int | None = None
    cert_expiry_days: int | None = None
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    latency_ms: float | None = None
    status_code: int | None = None
    error: str = ""
    cert_days_left: float | None = None


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False
    return options


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` is refused, or None. RE2 matches in linear time, so no pattern can
    backtrack catastrophically; it refuses backreferences and lookaround instead."""
    try:
        re2.compile(pattern, options=_re2_options())
    except re2.error as exc:
        return f"invalid or unsupported regular expression (RE2 syntax): {exc}"
    return None


def compile_regex(pattern: str) -> Any:
    return re2.compile(pattern, options=_re2_options())


def status_problem(expected: str) -> str | None:
    if not _STATUS.match(expected):
        return "expected status is a list like '2xx' or '200,301'"
    return None


def status_matches(expected: str, code: int) -> bool:
    text = str(code)
    return any(
        part == text or (part.endswith("xx") and part[0] == text[0]) for part in expected.split(",")
    )


def split_host_port(target: str) -> tuple[str, int] | None:
    host, sep, port = target.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def probe(spec: CheckSpec, allowed_networks: Iterable[str] = ()) -> ProbeResult:
    try:
        if spec.kind == "tcp":
            return _probe_tcp(spec, tuple(allowed_networks))
        return _probe_http(spec, tuple(allowed_networks))
    except BlockedDestination as exc:
        return ProbeResult(False, error=f"refused by the outbound address guard: {exc}")


def _probe_tcp(spec: CheckSpec, allowed: tuple[str, ...]) -> ProbeResult:
    hp = split_host_port(spec.target)
    if hp is None:
        return ProbeResult(False, error="target must be host:port")
    backend = GuardedBackend(allowed, attempt_timeout=spec.timeout_seconds)
    start = time.perf_counter()
    try:
        stream = backend.connect_tcp(hp[0], hp[1], timeout=spec.timeout_seconds)
    except BlockedDestination:
        raise
    except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
        return ProbeResult(False, error=f"cannot connect: {exc or type(exc).__name__}")
    latency = (time.perf_counter() - start) * 1000
    stream.close()
    return _within_time(spec, ProbeResult(True, latency_ms=latency))


def _within_time(spec: CheckSpec, result: ProbeResult) -> ProbeResult:
    if (
        result.ok
        and spec.max_response_ms is not None
        and result.latency_ms is not None
        and result.latency_ms > spec.max_response_ms
    ):
        return ProbeResult(
            False,
            result.latency_ms,
            result.status_code,
            f"took {result.latency_ms:.0f} ms, more than {spec.max_response_ms} ms",
            result.cert_days_left,
        )
    return result


def _cert_days_left(response: httpx.Response, now: datetime) -> float | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    cert = ssl_object.getpeercert()
    not_after = cert.get("notAfter") if cert else None
    if not isinstance(not_after, str):
        return None
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)
    return (expires - now).total_seconds() / 86400


def _probe_http(spec: CheckSpec, allowed: tuple[str, ...]) -> ProbeResult:
    start = time.perf_counter()
    try:
        with (
            build_client(allowed, timeout=spec.timeout_seconds) as client,
            client.stream(spec.method, spec.target) as response,
        ):
            latency = (time.perf_counter() - start) * 1000
            cert_days = _cert_days_left(response, datetime.now(UTC))
            body = b""
            if spec.body_contains or spec.body_regex:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) >= MAX_BODY_BYTES:
                        body = body[:MAX_BODY_BYTES]
                        break
    except BlockedDestination:
        raise
    except httpx.HTTPError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, BlockedDestination):
            raise cause from None
        return ProbeResult(False, error=f"{type(exc).__name__}: {exc}"[:500])
    code = response.status_code

    def failed(error: str) -> ProbeResult:
        return ProbeResult(False, latency, code, error, cert_days)

    if not status_matches(spec.expected_status, code):
        return failed(f"status {code}, expected {spec.expected_status}")
    text = body.decode("utf-8", errors="replace")
    if spec.body_contains and spec.body_contains not in text:
        return failed(f"the body does not contain {spec.body_contains[:100]!r}")
    if spec.body_regex and compile_regex(spec.body_regex).search(text) is None:
        return failed(f"the body does not match /{spec.body_regex[:100]}/")
    expiry = spec.cert_expiry_days
    if expiry is not None and cert_days is not None and cert_days < expiry:
        return failed(f"the TLS certificate expires in {cert_days:.1f} days (alert below {expiry})")
    return _within_time(spec, ProbeResult(True, latency, code, "", cert_days))
