"""The channel registry is the one list of channels: the schema's choices, the database's CHECK
values (as migrated), the timeline's labels, each transport's settings and the address check
all come from it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from tests.conftest import World
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.notify import channels
from warroom.notify.channels import CHANNELS, TRANSPORTS
from warroom.notify.models import ContactMethod
from warroom.notify.schemas import ContactMethodIn


@dataclass(frozen=True)
class Method:
    secret: str | None = None


def test_the_registry_supplies_names_labels_and_transports() -> None:
    assert list(CHANNELS) == ["email", "webhook", "apprise", "sms", "voice", "local"]
    assert {name: c.label for name, c in CHANNELS.items()} == {
        "email": "email",
        "webhook": "webhook",
        "apprise": "chat/push",
        "sms": "SMS",
        "voice": "voice call",
        "local": "console",
    }
    assert all(TRANSPORTS[name] is c.transport for name, c in CHANNELS.items())
    assert channels.label("pigeon") == "pigeon"
    # Only webhooks get a signing secret when saved.
    assert [name for name, c in CHANNELS.items() if c.signed] == ["webhook"]


def test_the_contact_method_schema_offers_exactly_the_registered_channels() -> None:
    schema = ContactMethodIn.model_json_schema()
    assert schema["properties"]["channel"]["enum"] == list(CHANNELS)
    with pytest.raises(ValueError, match="email"):
        ContactMethodIn(channel="pigeon", address="roof")  # type: ignore[arg-type]


def test_the_migrated_check_constraint_accepts_exactly_the_registered_channels(
    db: Database, world: World
) -> None:
    """A channel added to the registry without its migration fails here."""
    with db.session() as s:
        for name in CHANNELS:
            s.add(ContactMethod(user_id=world.responder_id, channel=name, address="x"))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(ContactMethod(user_id=world.responder_id, channel="pigeon", address="x"))


def test_each_channel_builds_its_transport_settings() -> None:
    settings = Settings(
        smtp_host="mail.example.com",
        smtp_port=587,
        smtp_starttls=True,
        smtp_from="pager@example.com",
        sms_base_url="https://sms.example.com",
        sms_account_sid="AC1",
        sms_auth_token="tok",
        sms_from="+15005550006",
        outbound_allow_networks=["10.0.0.0/8"],
    )
    built = {
        name: channels.transport_settings(name, settings, Method(secret="s3")) for name in CHANNELS
    }
    assert built["email"]["host"] == "mail.example.com" and built["email"]["starttls"] is True
    assert built["webhook"] == {"secret": "s3", "allowed_networks": ("10.0.0.0/8",)}
    assert built["apprise"] == {"allowed_networks": ("10.0.0.0/8",)}
    assert built["sms"] == built["voice"]
    assert built["sms"]["base_url"] == "https://sms.example.com"
    assert built["local"] == {}
    # Every mapping is one its transport accepts.
    for name, raw in built.items():
        CHANNELS[name].transport.make_config(raw)
    assert channels.transport_settings("pigeon", settings, Method()) == {}


@pytest.mark.parametrize(
    ("channel", "address", "problem"),
    [
        ("email", "bob@example.com", None),
        ("email", "bob", "not an email address"),
        ("webhook", "https://hooks.example.com/x", None),
        ("webhook", "ftp://example.com", "http:// or https://"),
        ("webhook", "http://127.0.0.1:9000/", "loopback"),
        ("webhook", "http://example.com:99999/", "http:// or https://"),
        ("apprise", "ntfys://bob-pages", None),
        ("apprise", "slack", "an Apprise URL like"),
        ("sms", "+14155550123", None),
        ("voice", "+1 415 555 0123", "no spaces"),
        ("local", "desk terminal 3", None),
        ("pigeon", "roof", "unknown channel"),
    ],
)
def test_addresses_are_checked_by_their_channel(
    channel: str, address: str, problem: str | None
) -> None:
    found = channels.address_problem(channel, address)
    assert found is None if problem is None else (found is not None and problem in found), found


def test_the_allow_list_reaches_the_address_check() -> None:
    assert channels.address_problem("webhook", "http://127.0.0.1:9000/", ("127.0.0.0/8",)) is None


def test_a_mistyped_allow_list_stops_the_start() -> None:
    # Otherwise every save check and every webhook delivery would fail on it, mid-incident.
    with pytest.raises(ValidationError, match="invalid network 'intranet'"):
        Settings(outbound_allow_networks="10.0.0.0/8, intranet")  # type: ignore[arg-type]
    assert Settings(outbound_allow_networks="10.0.0.0/8, ::1").outbound_allow_networks == [  # type: ignore[arg-type]
        "10.0.0.0/8",
        "::1",
    ]
