"""The SMS and voice channels: one text message or one call through any provider that speaks
Twilio's REST API (Twilio itself, or a compatible gateway), through safehttp."""

from __future__ import annotations

import json
import re
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

import httpx

from warroom.config import Settings
from warroom.notify import safehttp
from warroom.notify.channels.base import (
    LINK_LABELS,
    Channel,
    Contact,
    DeliveryResult,
    OutgoingMessage,
    Transport,
    check_networks,
    is_http_url,
    one_line,
)
from warroom.notify.channels.http import describe_plain, http_send

# E.164: "+", a country code and up to 15 digits in all.
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    """Any provider speaking Twilio's REST API (Twilio itself, or a compatible gateway)."""

    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str
    base_url: str = "https://api.twilio.com"
    allowed_networks: tuple[str, ...] = ()
    timeout: float = safehttp.DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        check_networks(self.allowed_networks)


def _e164(number: str) -> bool:
    digits = number[1:]
    return (
        number.startswith("+") and digits.isascii() and digits.isdigit() and 7 <= len(digits) <= 15
    )


def _describe_twilio(response: httpx.Response, body: bytes) -> str:
    try:
        error = json.loads(body)
        if isinstance(error, dict) and "message" in error:
            code = error.get("code")
            return f"HTTP {response.status_code}: {error['message']}" + (
                f" (code {code})" if code else ""
            )
    except ValueError:
        pass
    return describe_plain(response, body)


def _twilio_sid(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    sid = data.get("sid") if isinstance(data, dict) else None
    return sid if isinstance(sid, str) else None


class _TwilioTransport(Transport[TwilioConfig]):
    resource: ClassVar[str]
    config_type = TwilioConfig

    @abstractmethod
    def fields(self, message: OutgoingMessage) -> dict[str, str]:
        """The channel-specific form fields besides To and From."""

    def deliver(
        self, message: OutgoingMessage, target: str, config: TwilioConfig
    ) -> DeliveryResult:
        if not _e164(target):
            return DeliveryResult.fail(f"not an E.164 phone number: {target!r}")
        if not is_http_url(config.base_url):
            return DeliveryResult.fail(f"provider base URL must be http(s): {config.base_url!r}")
        url = (
            f"{config.base_url.rstrip('/')}/2010-04-01/Accounts/"
            f"{quote(config.account_sid, safe='')}/{self.resource}"
        )
        form = {"To": target, "From": config.from_number, **self.fields(message)}
        # Honoured by gateways that support idempotency keys, ignored by the others.
        headers = {
            "Idempotency-Key": message.idempotency_key,
            "User-Agent": "Warroom/1",
            "Accept-Encoding": "identity",
        }
        auth = httpx.BasicAuth(config.account_sid, config.auth_token)
        return http_send(
            lambda client: client.send(
                client.build_request("POST", url, data=form, headers=headers),
                auth=auth,
                stream=True,
            ),
            allowed_networks=config.allowed_networks,
            timeout=config.timeout,
            describe=_describe_twilio,
            provider_id=_twilio_sid,
        )


class SmsTransport(_TwilioTransport):
    name = "sms"
    resource = "Messages.json"
    # Twilio's limit for one (concatenated) message body.
    max_chars = 1600

    def fields(self, message: OutgoingMessage) -> dict[str, str]:
        lines = [f"Warroom: {one_line(message.subject)}"]
        for name in ("ack", "view"):
            if name in message.links and is_http_url(message.links[name]):
                lines.append(f"{LINK_LABELS[name]}: {message.links[name]}")
        return {"Body": "\n".join(lines)[: self.max_chars]}


class VoiceTransport(_TwilioTransport):
    name = "voice"
    resource = "Calls.json"

    def fields(self, message: OutgoingMessage) -> dict[str, str]:
        # Said twice: the first words of a call are often lost while the phone is brought up.
        said = xml_escape(f"Warroom alert. {one_line(message.subject)[:300]}.")
        twiml = f'<Response><Say>{said}</Say><Pause length="1"/><Say>{said}</Say></Response>'
        return {"Twiml": twiml}


def address_problem(address: str, allowed_networks: tuple[str, ...]) -> str | None:
    # A phone number; the provider URL is the admin's setting, checked by safehttp at send time.
    if any(c.isspace() for c in address):
        return "an address has no spaces"
    if not _E164.match(address):
        return "a phone number in E.164 form, like +14155550123"
    return None


def settings(settings: Settings, contact: Contact) -> dict[str, Any]:
    return {
        "base_url": settings.sms_base_url,
        "account_sid": settings.sms_account_sid,
        "auth_token": settings.sms_auth_token,
        "from_number": settings.sms_from,
        "allowed_networks": tuple(settings.outbound_allow_networks),
    }


SMS = Channel(
    name="sms",
    label="SMS",
    transport=SmsTransport(),
    address_problem=address_problem,
    settings=settings,
)
VOICE = Channel(
    name="voice",
    label="voice call",
    transport=VoiceTransport(),
    address_problem=address_problem,
    settings=settings,
)
