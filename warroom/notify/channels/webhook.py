"""The webhook channel: a signed JSON POST to the contact method's URL, through safehttp."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from warroom.config import Settings
from warroom.notify import safehttp
from warroom.notify.channels.base import (
    Channel,
    Contact,
    DeliveryResult,
    OutgoingMessage,
    Transport,
    check_networks,
    is_http_url,
)
from warroom.notify.channels.http import http_send
from warroom.notify.signing import SIGNATURE_HEADER, sign_webhook


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    # Per contact method: the dispatcher merges it into the admin-level settings.
    secret: str = field(repr=False)
    allowed_networks: tuple[str, ...] = ()
    timeout: float = safehttp.DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("a webhook needs a signing secret")
        check_networks(self.allowed_networks)


class WebhookTransport(Transport[WebhookConfig]):
    """Signed JSON POST; the receiver checks `Warroom-Signature` with the shared secret."""

    name = "webhook"
    config_type = WebhookConfig

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))

    @staticmethod
    def payload(message: OutgoingMessage) -> dict[str, Any]:
        if message.event is not None:
            return {
                "type": message.event.get("type"),
                "idempotency_key": message.idempotency_key,
                "data": message.event.get("data"),
            }
        return {
            "type": "incident.notification",
            "idempotency_key": message.idempotency_key,
            "incident_id": message.incident_id,
            "urgency": message.urgency,
            "subject": message.subject,
            "text": message.text,
            "links": dict(message.links),
        }

    def deliver(
        self, message: OutgoingMessage, target: str, config: WebhookConfig
    ) -> DeliveryResult:
        if not is_http_url(target):
            return DeliveryResult.fail(f"webhook URL must be http or https: {target!r}")
        # The signature covers these exact bytes, so serialise once and send them as they are.
        body = json.dumps(self.payload(message), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Warroom-Webhook/1",
            "Accept-Encoding": "identity",
            "Idempotency-Key": message.idempotency_key,
            SIGNATURE_HEADER: sign_webhook(config.secret, body, self._clock()),
        }
        return http_send(
            lambda client: client.send(
                client.build_request("POST", target, content=body, headers=headers),
                stream=True,
            ),
            allowed_networks=config.allowed_networks,
            timeout=config.timeout,
        )


def address_problem(address: str, allowed_networks: tuple[str, ...]) -> str | None:
    if any(c.isspace() for c in address):
        return "an address has no spaces"
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "a webhook needs an http:// or https:// URL with a host"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "a webhook needs an http:// or https:// URL with a host"
    return safehttp.host_problem(parts.hostname, allowed_networks)


def settings(settings: Settings, contact: Contact) -> dict[str, Any]:
    return {
        "secret": contact.secret or "",
        "allowed_networks": tuple(settings.outbound_allow_networks),
    }


CHANNEL = Channel(
    name="webhook",
    label="webhook",
    transport=WebhookTransport(),
    address_problem=address_problem,
    settings=settings,
    signed=True,
)
