"""One HTTP request of an HTTP-based channel (webhook, SMS, voice), through safehttp, classified
into a `DeliveryResult`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import httpx

from warroom.notify import safehttp
from warroom.notify.channels.base import DeliveryResult, DeliveryStatus

# Enough of an error response to explain a failure; the rest is never read, so a hostile
# endpoint cannot make a delivery worker buffer megabytes.
MAX_RESPONSE_BYTES = 64 * 1024


def classify_http_status(code: int) -> DeliveryStatus:
    """2xx delivered; timeouts, rate limits and server errors may pass; other answers won't."""
    if 200 <= code < 300:
        return DeliveryStatus.OK
    if code in (408, 425, 429) or code >= 500:
        return DeliveryStatus.RETRYABLE
    return DeliveryStatus.PERMANENT


def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    # Raw bytes: decompressing a hostile gzip stream could blow up far beyond the cap.
    for chunk in response.iter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_BYTES:
            break
    return b"".join(chunks)[:MAX_RESPONSE_BYTES]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    # Only the delay-seconds form; an HTTP date would need the clock, and is rare from APIs.
    return float(value) if value.isascii() and value.isdigit() else None


def describe_plain(response: httpx.Response, body: bytes) -> str:
    if response.is_redirect:
        # Redirects are never followed: a receiver moved elsewhere must be reconfigured.
        location = response.headers.get("location", "?")
        return f"HTTP {response.status_code} redirect to {location} (not followed)"
    snippet = body[:200].decode("utf-8", "replace")
    return f"HTTP {response.status_code} {response.reason_phrase}: {snippet}".rstrip(": ")


def http_send(
    request: Callable[[httpx.Client], httpx.Response],
    *,
    allowed_networks: Iterable[str],
    timeout: float,
    describe: Callable[[httpx.Response, bytes], str] = describe_plain,
    provider_id: Callable[[bytes], str | None] = lambda body: None,
) -> DeliveryResult:
    """Run one request through safehttp and classify the answer."""
    try:
        with safehttp.build_client(allowed_networks, timeout=timeout) as client:
            response = request(client)
            try:
                body = _read_capped(response)
            finally:
                response.close()
    except safehttp.BlockedDestination as exc:
        return DeliveryResult.fail(str(exc))
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        return DeliveryResult.fail(f"invalid URL: {exc}")
    except httpx.TimeoutException as exc:
        return DeliveryResult.retry(f"timed out: {exc or type(exc).__name__}")
    except httpx.TransportError as exc:
        return DeliveryResult.retry(f"connection failed: {exc or type(exc).__name__}")
    status = classify_http_status(response.status_code)
    if status is DeliveryStatus.OK:
        return DeliveryResult.success(provider_id(body))
    reason = describe(response, body)
    if status is DeliveryStatus.RETRYABLE:
        return DeliveryResult.retry(reason, retry_after=_retry_after(response))
    return DeliveryResult.fail(reason)
