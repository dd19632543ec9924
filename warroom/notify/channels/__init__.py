"""The channel registry: every way Warroom reaches a person, one module each, in one map.

`CHANNELS` is the only list of channels. It supplies the names (the contact-method schema's
choices and the database CHECK constraint), the labels the timeline shows, the transport's
settings built from Warroom's settings and the contact method, the address check run when a
contact method is saved, and the transport that delivers. Adding a channel is one module here
(a transport and its `Channel` entry) and one line below, plus the migration that widens the
CHECK constraint.

Outgoing HTTP to user-supplied URLs (webhook, Apprise, and the SMS/voice provider base URL)
goes through `warroom.notify.safehttp`, which refuses internal addresses at connect time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from warroom.config import Settings
from warroom.notify.channels import apprise, email, local, twilio, webhook
from warroom.notify.channels.apprise import AppriseConfig, AppriseTransport
from warroom.notify.channels.base import (
    Channel,
    Contact,
    DeliveryResult,
    DeliveryStatus,
    OutgoingMessage,
    Transport,
    render_html,
    render_text,
)
from warroom.notify.channels.email import EmailConfig, EmailTransport
from warroom.notify.channels.http import classify_http_status
from warroom.notify.channels.local import Delivered, LocalConfig, LocalTransport
from warroom.notify.channels.twilio import SmsTransport, TwilioConfig, VoiceTransport
from warroom.notify.channels.webhook import WebhookConfig, WebhookTransport

__all__ = [
    "CHANNELS",
    "TRANSPORTS",
    "AppriseConfig",
    "AppriseTransport",
    "Channel",
    "Delivered",
    "DeliveryResult",
    "DeliveryStatus",
    "EmailConfig",
    "EmailTransport",
    "LocalConfig",
    "LocalTransport",
    "OutgoingMessage",
    "SmsTransport",
    "Transport",
    "TwilioConfig",
    "VoiceTransport",
    "WebhookConfig",
    "WebhookTransport",
    "address_problem",
    "classify_http_status",
    "deliver",
    "label",
    "render_html",
    "render_text",
    "transport_settings",
]

# The order is the order people see the choices in.
CHANNELS: dict[str, Channel] = {
    channel.name: channel
    for channel in (
        email.CHANNEL,
        webhook.CHANNEL,
        apprise.CHANNEL,
        twilio.SMS,
        twilio.VOICE,
        local.CHANNEL,
    )
}

# The column holding a channel name (contact_methods.channel, notifications.channel) is this wide.
NAME_LENGTH = 8
for _name, _channel in CHANNELS.items():
    if len(_name) > NAME_LENGTH or _channel.transport.name != _name:
        raise RuntimeError(f"channel {_name!r}: name too long or not its transport's name")

# Each channel's transport by name (the engine's tests read the local channel's outbox).
TRANSPORTS: dict[str, Transport[Any]] = {name: c.transport for name, c in CHANNELS.items()}


def label(name: str) -> str:
    """How people read the channel ("chat/push", "voice call"); the name itself if unknown."""
    channel = CHANNELS.get(name)
    return channel.label if channel is not None else name


def transport_settings(name: str, settings: Settings, contact: Contact) -> dict[str, Any]:
    """The settings mapping `deliver` takes for this channel and contact method."""
    channel = CHANNELS.get(name)
    return channel.settings(settings, contact) if channel is not None else {}


def address_problem(name: str, address: str, allowed_networks: tuple[str, ...] = ()) -> str | None:
    """Why `address` cannot be a contact method of channel `name`, or None when it can."""
    channel = CHANNELS.get(name)
    if channel is None:
        return f"unknown channel {name!r}"
    return channel.address_problem(address, tuple(allowed_networks))


def deliver(
    channel: str,
    message: OutgoingMessage,
    target: str,
    settings: Mapping[str, Any] | None = None,
) -> DeliveryResult:
    """Deliver through the named channel, with its config built from stored `settings`.

    An unknown channel or invalid settings is a permanent failure, not an exception: the
    dispatcher falls back to the person's next contact method either way.
    """
    entry = CHANNELS.get(channel)
    if entry is None:
        return DeliveryResult.fail(f"unknown channel {channel!r}")
    try:
        config = entry.transport.make_config(settings)
    except ValueError as exc:
        return DeliveryResult.fail(f"{channel} is misconfigured: {exc}")
    return entry.transport.deliver(message, target, config)
