"""A published review's public summary in the status page's JSON (Statuspage's
`postmortem_body` and `postmortem_published_at`) and in the RSS and Atom items of its incident,
parsed back by feedparser: absent while the review is a draft or submitted, absent for an
incident the public never saw, and only the public summary ever."""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any

import feedparser
from fastapi.testclient import TestClient

from tests.api.helpers import declare
from tests.conftest import World
from tests.statuspage.helpers import component, post_update
from warroom.db.engine import Database

SUMMARY = "Card payments failed for 20 minutes.\n\nWe added <b>disk</b> alerts."


def _reviewed(client: TestClient, world: World, db: Database, *, public: bool) -> dict[str, Any]:
    """A resolved incident (with a public update or only an internal one) and its review,
    written with a public summary and internal sections, not yet published."""
    incident = declare(
        client, world, title="Card payments failing", service_ids=[world.checkout_id]
    )
    post_update(
        db,
        incident["id"],
        "Payments are failing; we are on it." if public else "INTERNAL: disk full",
        "public" if public else "internal",
    )
    admin = world.auth("admin")
    assert client.post(f"/api/v1/incidents/{incident['id']}/resolve", headers=admin).is_success
    review = client.post(f"/api/v1/incidents/{incident['id']}/review", headers=admin).json()
    r = client.patch(
        f"/api/v1/reviews/{review['id']}",
        json={"what_happened": "INTERNAL: db-3 ran out of disk", "public_summary": SUMMARY},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    return {"incident": incident, "review": review}


def _act(client: TestClient, world: World, review_id: int, action: str) -> None:
    r = client.post(f"/api/v1/reviews/{review_id}/actions/{action}", headers=world.auth("admin"))
    assert r.status_code == 200, r.text


def _entry(client: TestClient, incident_id: int) -> dict[str, Any]:
    body = client.get("/status/api/v2/incidents.json").json()
    [found] = [i for i in body["incidents"] if i["id"] == str(incident_id)]
    return dict(found)


def _feed_items(client: TestClient, title: str) -> list[Any]:
    items = []
    for path, version in (("/status/history.rss", "rss20"), ("/status/history.atom", "atom10")):
        feed = feedparser.parse(client.get(path).content)
        assert not feed.bozo and feed.version == version, (path, feed.bozo_exception)
        [item] = [e for e in feed.entries if e.title == title]
        items.append(item)
    return items


def _dated(item: Any) -> Any:
    """An RSS item's pubDate or an Atom entry's updated, as feedparser parsed it."""
    return item["published_parsed"] if "published" in item else item["updated_parsed"]


def test_the_public_summary_joins_json_and_feeds_once_published(
    client: TestClient, world: World, db: Database
) -> None:
    component(client, world, name="Checkout", service_id=world.checkout_id)
    made = _reviewed(client, world, db, public=True)
    iid, rid = made["incident"]["id"], made["review"]["id"]
    for step in (None, "submit"):  # a draft, then a submitted review: not public yet
        if step:
            _act(client, world, rid, step)
        entry = _entry(client, iid)
        assert entry["postmortem_body"] is None and entry["postmortem_published_at"] is None
        for item in _feed_items(client, "Card payments failing"):
            assert "Post-incident review" not in item.summary

    _act(client, world, rid, "publish")
    entry = _entry(client, iid)
    assert entry["postmortem_body"] == SUMMARY  # JSON carries the text as written
    published = client.get(f"/api/v1/reviews/{rid}", headers=world.auth()).json()["published_at"]
    assert entry["postmortem_published_at"][:19] == published[:19]
    assert entry["status"] == "resolved"
    # summary.json lists unresolved incidents only; its entries carry the fields too (null).
    summary = client.get("/status/api/v2/summary.json").json()
    assert all("postmortem_body" in i for i in summary["incidents"])
    at = int(datetime.fromisoformat(published).timestamp())
    for item in _feed_items(client, "Card payments failing"):
        assert "Post-incident review — Card payments failed for 20 minutes." in item.summary
        assert "Payments are failing; we are on it." in item.summary
        # Dated by the publication, so feed readers see the item change.
        assert calendar.timegm(_dated(item)) == at
    for path in ("/status/history.rss", "/status/history.atom"):
        text = client.get(path).text
        assert "INTERNAL" not in text
        assert "<b>disk</b>" not in text and "&lt;b&gt;disk&lt;/b&gt;" in text  # text, not markup
    assert "INTERNAL" not in client.get("/status/api/v2/incidents.json").text


def test_a_review_of_an_incident_the_public_never_saw_stays_out(
    client: TestClient, world: World, db: Database
) -> None:
    component(client, world, name="Checkout", service_id=world.checkout_id)
    made = _reviewed(client, world, db, public=False)
    _act(client, world, made["review"]["id"], "submit")
    _act(client, world, made["review"]["id"], "publish")
    for path in (
        "/status",
        "/status/history",
        "/status/history.rss",
        "/status/history.atom",
        "/status/api/v2/incidents.json",
        "/status/api/v2/summary.json",
    ):
        text = client.get(path).text
        assert "Card payments failed" not in text and "Card payments failing" not in text, path
    assert client.get(f"/status/incidents/{made['incident']['id']}").status_code == 404
