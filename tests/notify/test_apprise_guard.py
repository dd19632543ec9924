"""Apprise URLs cannot reach private, loopback, link-local or metadata addresses: every plugin
connection passes safehttp's connect-time guard, plugins that cannot be guarded are refused, and
such URLs are refused when the contact method is saved. Only loopback traffic is sent."""

from __future__ import annotations

import inspect
import re
import tokenize
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apprise
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api.helpers import assert_error
from tests.conftest import World
from tests.notify.conftest import LocalHTTPServer
from warroom.app import create_app
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.engine import delivery
from warroom.notify.channels import (
    CHANNELS,
    AppriseConfig,
    AppriseTransport,
    DeliveryStatus,
    OutgoingMessage,
)
from warroom.notify.channels.apprise import NOT_HTTP
from warroom.notify.models import ContactMethod, Notification

LOOPBACK = ("127.0.0.0/8",)
MESSAGE = OutgoingMessage("apprise-guard-1", "Disk full on db-1", "Free space is 0%.", 7)
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

# Plugin schemes whose URL names the server to post to: each was delivered to internal
# addresses and marked "sent" before the guard.
HOSTED = [
    "json://127.0.0.1:{port}/chat",
    "xml://127.0.0.1:{port}/chat",
    "form://127.0.0.1:{port}/chat",
    "ntfy://127.0.0.1:{port}/pages",
    "gotify://127.0.0.1:{port}/AbCdEfGhIjKlMnO",
    "rocket://bot:secret@127.0.0.1:{port}/#ops",
    "matrix://bot:secret@127.0.0.1:{port}/#ops",
    "apprise://127.0.0.1:{port}/pager-token",
    "json://localhost:{port}/chat",  # a name, resolved and checked at connect time
]


@pytest.mark.parametrize("template", HOSTED, ids=lambda t: t.split(":")[0])
def test_plugin_urls_reach_loopback_only_when_allowed(
    template: str, http_server: LocalHTTPServer, connect_log: list[str]
) -> None:
    url = template.format(port=http_server.port)
    refused = AppriseTransport().deliver(MESSAGE, url, AppriseConfig())
    assert refused.status is DeliveryStatus.PERMANENT, refused
    assert "refused to connect" in refused.reason and "loopback" in refused.reason
    assert http_server.requests == [] and connect_log == []

    allowed = AppriseTransport().deliver(
        MESSAGE, url, AppriseConfig(allowed_networks=(*LOOPBACK, "::1/128"))
    )
    assert http_server.requests, allowed  # the same URL does reach a receiver that is allowed
    assert set(connect_log) <= {"127.0.0.1", "::1"}


@pytest.mark.parametrize(
    "url",
    [
        "ntfy://169.254.169.254/pages",
        "matrix://bot:secret@169.254.169.254/#ops",
        "json://[::ffff:169.254.169.254]/latest/meta-data/",
        "apprise://[64:ff9b::a9fe:a9fe]/token",  # NAT64 form of the metadata address
        "gotify://10.0.0.1/AbCdEfGhIjKlMnO",
        "rocket://bot:secret@192.168.1.1/#ops",
        "jsons://[fd00:ec2::254]/",
    ],
)
def test_metadata_and_private_addresses_are_refused_before_any_packet(
    url: str, connect_log: list[str]
) -> None:
    result = AppriseTransport().deliver(MESSAGE, url, AppriseConfig(allowed_networks=LOOPBACK))
    assert result.status is DeliveryStatus.PERMANENT
    assert "refused to connect" in result.reason
    assert connect_log == []


@pytest.mark.parametrize(
    ("url", "uses"),
    [
        ("mailto://pager:secret@example.com", "SMTP"),
        ("rsyslog://127.0.0.1", "syslog"),
        ("syslog://", "syslog"),
        ("irc://warroom@127.0.0.1/#ops", "IRC"),
    ],
)
def test_plugins_that_cannot_be_guarded_are_refused(
    url: str, uses: str, connect_log: list[str]
) -> None:
    result = AppriseTransport().deliver(MESSAGE, url, AppriseConfig(allowed_networks=LOOPBACK))
    assert result.status is DeliveryStatus.PERMANENT and uses in result.reason
    scheme = url.split(":", 1)[0]
    problem = CHANNELS["apprise"].address_problem(url, LOOPBACK)
    assert problem is not None and f"{scheme}://" in problem and uses in problem
    assert connect_log == []


def test_public_plugin_urls_pass_the_save_check() -> None:
    check = CHANNELS["apprise"].address_problem
    for url in ("ntfys://bob-pages", "slack://T1/B1/XXXX", "json://hooks.example.com/x"):
        assert check(url, ()) is None, url


_NON_HTTP_HINTS = re.compile(
    r"\bsocket \.|smtplib|paho|gntp|slixmpp|pika|proton|smpplib|websocket|utils \. socket|"
    r"\bsyslog \.|dbus|from gi\b|import gi\b|win32|\bhid\b|subprocess|email \. base|NotifyEmail"
)


def _code(path: Path) -> str:
    """The module's code without comments and strings, one space between tokens."""
    with path.open("rb") as source:
        tokens = tokenize.tokenize(source.readline)
        kept = (t.string for t in tokens if t.type in (tokenize.NAME, tokenize.OP))
        return " ".join(kept)


def test_the_not_http_table_covers_the_installed_apprise() -> None:
    """A plugin module that talks anything but requests-HTTP must be listed in NOT_HTTP, so an
    Apprise upgrade that adds one fails here instead of slipping past the guard."""
    plugins = Path(inspect.getfile(apprise)).parent / "plugins"
    unlisted = []
    for path in sorted(plugins.rglob("*.py")):
        module = "apprise." + ".".join(path.relative_to(plugins.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        if module in ("apprise.plugins", "apprise.plugins.base"):
            continue
        if not _NON_HTTP_HINTS.search(_code(path)):
            continue
        if not any(module == m or module.startswith(m + ".") for m in NOT_HTTP):
            unlisted.append(module)
    assert unlisted == []


# --- saving a contact method ---------------------------------------------------------------


@pytest.fixture
def api(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db, run_engine=False)) as client:
        yield client


def _methods(db: Database) -> int:
    with db.read_session() as s:
        return int(s.scalar(select(func.count()).select_from(ContactMethod)) or 0)


def test_saving_an_internal_url_is_refused_with_422(
    api: TestClient, world: World, db: Database, settings: Settings
) -> None:
    url = f"/api/v1/users/{world.responder_id}/contact-methods"
    for channel, address, words in (
        ("apprise", "json://127.0.0.1:8080/chat", ("json://", "127.0.0.1", "loopback")),
        ("apprise", "ntfy://169.254.169.254/pages", ("ntfy://", "169.254.169.254", "metadata")),
        ("apprise", "gotify://2130706433/AbCdEfGhIjKlMnO", ("gotify://", "loopback")),
        ("apprise", "mailto://pager:secret@example.com", ("mailto://", "SMTP")),
        ("webhook", "http://10.0.0.1/hook", ("10.0.0.1", "private")),
        ("webhook", "https://[::1]/hook", ("::1", "loopback")),
    ):
        body = {"channel": channel, "address": address}
        error = assert_error(api.post(url, json=body, headers=world.auth()), 422)
        assert all(w in error["message"] for w in words), error
        assert error["details"][0]["field"] == "address"
    assert _methods(db) == 0  # nothing half-stored

    ok = api.post(
        url, json={"channel": "apprise", "address": "ntfys://bob-pages"}, headers=world.auth()
    )
    assert ok.status_code == 201, ok.text
    patch = api.patch(
        f"{url}/{ok.json()['id']}",
        json={"address": "json://192.168.1.1/chat"},
        headers=world.auth(),
    )
    assert_error(patch, 422)
    with db.read_session() as s:
        assert s.scalar(select(ContactMethod.address)) == "ntfys://bob-pages"


def test_saving_a_loopback_url_is_accepted_when_the_admin_allows_it(
    settings: Settings, db: Database, world: World
) -> None:
    allowing = settings.model_copy(update={"outbound_allow_networks": ["127.0.0.0/8"]})
    with TestClient(create_app(allowing, db, run_engine=False)) as client:
        r = client.post(
            f"/api/v1/users/{world.responder_id}/contact-methods",
            json={"channel": "apprise", "address": "json://127.0.0.1:8080/chat"},
            headers=world.auth(),
        )
    assert r.status_code == 201, r.text


# --- the delivery's record -----------------------------------------------------------------


def _queue(db: Database, world: World, address: str) -> None:
    with db.session() as s:
        cm = ContactMethod(user_id=world.responder_id, channel="apprise", address=address)
        s.add(cm)
        s.flush()
        s.add(
            Notification(
                idempotency_key=f"guard-u{world.responder_id}-r0-cm{cm.id}",
                user_id=world.responder_id,
                contact_method_id=cm.id,
                channel="apprise",
                target=address,
                subject="Disk full",
                body="Free space is 0%.",
                next_attempt_at=T0,
            )
        )


def _deliver_once(db: Database, settings: Settings) -> Notification:
    [job] = delivery.claim_due(db, T0, "engine-1", timedelta(seconds=60))
    delivery.record(db, job, delivery.send(job, settings), T0)
    with db.read_session() as s:
        row = s.scalars(select(Notification)).one()
        s.expunge(row)
    return row


def test_a_refused_apprise_delivery_is_recorded_as_a_permanent_failure(
    db: Database, world: World, settings: Settings, http_server: LocalHTTPServer
) -> None:
    _queue(db, world, f"ntfy://127.0.0.1:{http_server.port}/pages")
    row = _deliver_once(db, settings)
    assert (row.status, row.attempts) == ("failed", 1)  # not retried: it can never work
    assert "refused to connect to 127.0.0.1: loopback" in row.last_error
    assert http_server.requests == []


def test_an_allowed_apprise_delivery_is_sent(
    db: Database, world: World, settings: Settings, http_server: LocalHTTPServer
) -> None:
    _queue(db, world, f"ntfy://127.0.0.1:{http_server.port}/pages")
    allowing = settings.model_copy(update={"outbound_allow_networks": ["127.0.0.0/8"]})
    row = _deliver_once(db, allowing)
    assert (row.status, row.attempts) == ("sent", 1)
    assert [r.path for r in http_server.requests] == ["/"]


def test_the_guard_fails_closed_when_it_cannot_be_installed(
    http_server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch, connect_log: list[str]
) -> None:
    import urllib3.connection

    # As if a future urllib3 opened connections through some other module.
    monkeypatch.setattr(urllib3.connection, "connection", object())
    url = f"json://127.0.0.1:{http_server.port}/chat"
    result = AppriseTransport().deliver(MESSAGE, url, AppriseConfig(allowed_networks=LOOPBACK))
    assert result.status is DeliveryStatus.PERMANENT and "cannot install" in result.reason
    assert http_server.requests == [] and connect_log == []


def test_success_without_a_guarded_connection_is_not_counted_as_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from apprise.plugins.custom_json import NotifyJSON

    # A plugin that reached its service some way the guard did not see.
    monkeypatch.setattr(NotifyJSON, "send", lambda self, *args, **kwargs: True)
    result = AppriseTransport().deliver(MESSAGE, "json://hooks.example.com/x", AppriseConfig())
    assert result.status is DeliveryStatus.PERMANENT
    assert "without a guarded connection" in result.reason
