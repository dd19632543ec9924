"""The public status page end to end through the app: what shows, what never shows, the
Statuspage-shaped JSON, the feeds, and subscribing by email (aiosmtpd) and webhook (a real local
HTTP server), with the signed links followed and forged ones refused."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import declare
from tests.conftest import World, count_rows
from tests.notify.conftest import LocalHTTPServer
from tests.statuspage.conftest import Driver, Mailbox
from tests.statuspage.helpers import component, post_update, subscribe, window
from warroom.db.engine import Database
from warroom.notify.models import Notification
from warroom.notify.signing import verify_webhook_signature
from warroom.statuspage.models import StatusSubscriber

SHAPE = json.loads((Path(__file__).parent / "shape.json").read_text())
TYPES = {"string": str, "number": (int, float), "boolean": bool, "array": list, "null": type(None)}
LINK = re.compile(r"http://warroom\.test(/status/(?:confirm|unsubscribe)/[A-Za-z0-9_.-]+)")


def _matches(obj: dict[str, Any], shape: dict[str, str], where: str) -> None:
    missing = sorted(set(shape) - set(obj))
    assert not missing, f"{where}: missing {missing}"
    for key, kinds in shape.items():
        allowed = tuple(t for k in kinds.split("|") for t in (TYPES[k],) if True)
        flat: tuple[type, ...] = ()
        for a in allowed:
            flat += a if isinstance(a, tuple) else (a,)
        assert isinstance(obj[key], flat), f"{where}.{key}: {obj[key]!r} is not {kinds}"


def _scene(client: TestClient, world: World, db: Database) -> dict[str, Any]:
    """A P1 on checkout with two public updates and one internal one, a private component on
    the same service, and an announced maintenance window."""
    checkout = component(client, world, name="Checkout", service_id=world.checkout_id)
    secret_box = component(
        client, world, name="Fraud engine (internal)", service_id=world.checkout_id, private=True
    )
    db_comp = component(client, world, name="Payments <b>DB</b> {{ 7*7 }}")
    incident = declare(
        client,
        world,
        title="Card payments failing",
        impact=1,
        urgency=1,
        service_ids=[world.checkout_id],
    )
    now = datetime.now(UTC)
    post_update(db, incident["id"], "We are looking into failed card payments.", at=now)
    post_update(db, incident["id"], "INTERNAL: db-3 disk full, paging storage", "internal")
    post_update(
        db,
        incident["id"],
        "Fix identified: <script>alert(1)</script>",
        stage="identified",
        at=now + timedelta(seconds=1),
    )
    maint = window(
        client,
        world,
        title="Database upgrade",
        description="Short read-only period {% raw %}",
        starts_at=(now + timedelta(days=1)).isoformat(),
        ends_at=(now + timedelta(days=1, hours=1)).isoformat(),
        component_ids=[db_comp["id"], secret_box["id"]],
    )
    return {
        "checkout": checkout,
        "private": secret_box,
        "db": db_comp,
        "incident": incident,
        "window": maint,
    }


def test_the_page_shows_public_things_only_and_as_text(
    client: TestClient, world: World, db: Database
) -> None:
    scene = _scene(client, world, db)
    r = client.get("/status")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    html = r.text
    assert "<script" not in html  # no JavaScript needed, none served, none injected
    assert "Major System Outage" in html
    assert "Card payments failing" in html and "We are looking into failed card payments." in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Payments &lt;b&gt;DB&lt;/b&gt; {{ 7*7 }}" in html and "DB&lt;/b&gt; 49" not in html
    assert "INTERNAL" not in html and "db-3" not in html
    assert "Fraud engine" not in html
    assert "Database upgrade" in html and "{% raw %}" in html
    assert "90 days ago" in html
    # A page per incident; unknown or private things are simply not found.
    page = client.get(f"/status/incidents/{scene['incident']['id']}")
    assert page.status_code == 200 and "INTERNAL" not in page.text
    assert client.get("/status/incidents/999999").status_code == 404
    # The other incident (no public update) does not exist for the public.
    quiet = declare(client, world, title="Quiet internal thing", service_ids=[world.checkout_id])
    assert client.get(f"/status/incidents/{quiet['id']}").status_code == 404
    assert "Quiet internal thing" not in client.get("/status").text


def test_json_has_statuspage_field_names_and_types(
    client: TestClient, world: World, db: Database
) -> None:
    scene = _scene(client, world, db)
    summary = client.get("/status/api/v2/summary.json").json()
    _matches(summary["page"], SHAPE["page"], "page")
    _matches(summary["status"], SHAPE["status"], "status")
    assert summary["status"]["indicator"] == "critical"
    assert summary["status"]["indicator"] in SHAPE["indicators"]
    names = {c["name"]: c for c in summary["components"]}
    assert "Fraud engine (internal)" not in names
    assert names["Checkout"]["status"] == "major_outage"
    for c in summary["components"]:
        _matches(c, SHAPE["component"], "component")
        assert c["status"] in SHAPE["component_statuses"]
    [incident] = summary["incidents"]
    _matches(incident, SHAPE["incident"], "incident")
    assert incident["status"] == "identified" and incident["impact"] == "critical"
    assert [u["body"] for u in incident["incident_updates"]] == [
        "Fix identified: <script>alert(1)</script>",
        "We are looking into failed card payments.",
    ]
    for u in incident["incident_updates"]:
        _matches(u, SHAPE["incident_update"], "incident_update")
    assert [c["name"] for c in incident["components"]] == ["Checkout"]
    [maint] = summary["scheduled_maintenances"]
    _matches(maint, SHAPE["scheduled_maintenance"], "scheduled_maintenance")
    assert maint["status"] == "scheduled" and maint["status"] in SHAPE["maintenance_statuses"]
    assert [c["id"] for c in maint["components"]] == [str(scene["db"]["id"])]
    for name, key in [
        ("status", "status"),
        ("components", "components"),
        ("incidents", "incidents"),
        ("incidents/unresolved", "incidents"),
        ("scheduled-maintenances", "scheduled_maintenances"),
        ("scheduled-maintenances/upcoming", "scheduled_maintenances"),
        ("scheduled-maintenances/active", "scheduled_maintenances"),
    ]:
        body = client.get(f"/status/api/v2/{name}.json").json()
        assert set(body) == {"page", key}, name
    assert (
        client.get("/status/api/v2/scheduled-maintenances/active.json").json()[
            "scheduled_maintenances"
        ]
        == []
    )
    assert "INTERNAL" not in client.get("/status/api/v2/incidents.json").text


def test_feeds_parse_back_and_hold_no_internal_text(
    client: TestClient, world: World, db: Database
) -> None:
    _scene(client, world, db)
    for path in ("/status/history.rss", "/status/history.atom"):
        r = client.get(path)
        assert r.status_code == 200
        feed = feedparser.parse(r.content)
        assert not feed.bozo, (path, feed.bozo_exception)
        titles = [e.title for e in feed.entries]
        assert "Card payments failing" in titles and "Database upgrade" in titles
        assert "INTERNAL" not in r.text
        text = " ".join(e.get("summary", "") for e in feed.entries)
        assert "<script>alert(1)</script>" in text or "&lt;script&gt;" in r.text
    assert feedparser.parse(client.get("/status/history.rss").content).version == "rss20"
    assert feedparser.parse(client.get("/status/history.atom").content).version == "atom10"


def test_email_subscription_is_confirmed_by_its_link_then_mailed(
    client: TestClient, world: World, db: Database, engine: Driver, mailbox: Mailbox
) -> None:
    scene = _scene(client, world, db)
    engine.run(
        datetime.now(UTC) + timedelta(seconds=2)
    )  # the updates written before anyone subscribed go to nobody
    assert mailbox.envelopes == []
    r = subscribe(client, {"channel": "email", "address": "fan@example.com"})
    assert r.status_code == 202, r.text
    engine.run()
    [confirm_mail] = mailbox.messages()
    assert confirm_mail["To"] == "fan@example.com"
    path = LINK.search(confirm_mail.get_body(("plain",)).get_content()).group(1)  # type: ignore[union-attr]
    # An update while unconfirmed: not mailed.
    post_update(db, scene["incident"]["id"], "Still working on it", stage="identified")
    engine.run()
    assert len(mailbox.envelopes) == 1
    # Forged and altered links change nothing.
    assert client.post(path[:-3] + "AAA").status_code == 400
    assert client.post("/status/confirm/bm90LmEudG9rZW4.AAAA").status_code == 400
    with db.read_session() as s:
        assert s.scalar(select(StatusSubscriber.confirmed_at)) is None
    # Following the link: a page with one button, then confirmed.
    page = client.get(path)
    assert page.status_code == 200 and f'action="{path}"' in page.text
    assert client.post(path).status_code == 200
    post_update(db, scene["incident"]["id"], "Payments recovering", stage="monitoring")
    engine.run()
    assert len(mailbox.envelopes) == 2
    notice = mailbox.messages()[1]
    text = notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Payments recovering" in text and "Card payments failing" in notice["Subject"]
    leave = LINK.findall(text)
    assert leave and "/status/unsubscribe/" in leave[0]
    assert client.post(leave[0]).status_code == 200
    post_update(db, scene["incident"]["id"], "Resolved", stage="resolved")
    engine.run()
    assert len(mailbox.envelopes) == 2


def test_component_subscriptions_filter_and_private_ones_are_refused(
    client: TestClient, world: World, db: Database, engine: Driver, mailbox: Mailbox
) -> None:
    scene = _scene(client, world, db)
    engine.run(datetime.now(UTC) + timedelta(seconds=2))
    r = subscribe(
        client,
        {
            "channel": "email",
            "address": "db-only@example.com",
            "component_ids": [str(scene["db"]["id"])],
        },
    )
    assert r.status_code == 202
    refused = subscribe(
        client,
        {
            "channel": "email",
            "address": "nosy@example.com",
            "component_ids": [str(scene["private"]["id"])],
        },
    )
    assert refused.status_code == 422
    engine.run()
    path = LINK.search(mailbox.messages()[0].get_body(("plain",)).get_content()).group(1)  # type: ignore[union-attr]
    client.post(path)
    post_update(db, scene["incident"]["id"], "Checkout only", stage="identified")
    engine.run()
    assert len(mailbox.envelopes) == 1  # a checkout incident: not for a DB-only subscriber


def test_bad_addresses_and_mail_bombing_are_refused(
    client: TestClient, world: World, db: Database, engine: Driver, mailbox: Mailbox
) -> None:
    for bad in ("not-an-address", "a@b", "x y@example.com", "<a@example.com>"):
        r = subscribe(client, {"channel": "email", "address": bad})
        assert r.status_code == 422, bad
    assert subscribe(client, {"channel": "email", "address": "v@example.com"}).status_code == 202
    again = subscribe(client, {"channel": "email", "address": "V@example.com"})
    assert again.status_code == 429
    engine.run()
    assert len(mailbox.envelopes) == 1
    assert count_rows(db, "status_subscribers") == 1
    # Per client address: a handful of attempts, then refused whatever the mailbox.
    codes = [
        subscribe(client, {"channel": "email", "address": f"n{i}@example.com"}).status_code
        for i in range(8)
    ]
    assert 429 in codes


def test_webhook_subscriber_receives_signed_notices(
    client: TestClient,
    world: World,
    db: Database,
    engine: Driver,
    http_server: LocalHTTPServer,
) -> None:
    scene = _scene(client, world, db)
    engine.run(datetime.now(UTC) + timedelta(seconds=2))
    r = client.post(
        "/api/v1/status-subscribers",
        json={"channel": "webhook", "address": f"{http_server.url}/hook"},
        headers=world.auth("admin"),
    )
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    post_update(db, scene["incident"]["id"], "Webhook, hello", stage="identified")
    engine.run()
    [request] = http_server.requests
    verify_webhook_signature(
        secret, request.headers.get("Warroom-Signature"), request.body, datetime.now(UTC)
    )
    payload = json.loads(request.body)
    assert "Webhook, hello" in payload["text"] and "unsubscribe" in payload["links"]
    with db.read_session() as s:
        assert (
            s.scalar(select(Notification.status).where(Notification.kind == "subscriber")) == "sent"
        )


def test_maintenance_is_announced_started_and_ended(
    client: TestClient, world: World, db: Database, engine: Driver, mailbox: Mailbox
) -> None:
    comp = component(client, world, name="API")
    subscribe(client, {"channel": "email", "address": "m@example.com"})
    engine.run()
    path = LINK.search(mailbox.messages()[0].get_body(("plain",)).get_content()).group(1)  # type: ignore[union-attr]
    client.post(path)
    now = datetime.now(UTC)
    w = window(
        client,
        world,
        title="Network work",
        starts_at=(now + timedelta(hours=1)).isoformat(),
        ends_at=(now + timedelta(hours=2)).isoformat(),
        component_ids=[comp["id"]],
    )
    engine.run(now + timedelta(seconds=1))
    engine.run(now + timedelta(hours=1, seconds=1))
    page = client.get("/status/api/v2/components.json").json()
    assert page["components"][0]["status"] in ("under_maintenance", "operational")
    engine.run(now + timedelta(hours=2, seconds=1))
    subjects = [m["Subject"] for m in mailbox.messages()[1:]]
    assert subjects == [
        "[Status] Scheduled maintenance: Network work",
        "[Status] Maintenance in progress: Network work",
        "[Status] Maintenance completed: Network work",
    ]
    # Cancelled windows say so once and never start.
    w2 = window(
        client,
        world,
        title="Later work",
        starts_at=(now + timedelta(hours=5)).isoformat(),
        ends_at=(now + timedelta(hours=6)).isoformat(),
        component_ids=[comp["id"]],
    )
    r = client.post(f"/api/v1/maintenance-windows/{w2['id']}/cancel", headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["cancelled_at"]
    engine.run(now + timedelta(hours=7))
    subjects = [m["Subject"] for m in mailbox.messages()[4:]]
    assert subjects == ["[Status] Maintenance cancelled: Later work"]
    assert w["id"] != w2["id"]
