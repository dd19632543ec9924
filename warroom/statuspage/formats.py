"""A snapshot in the public's formats: Atlassian Statuspage's public v2 JSON, RSS 2.0 and Atom.

The JSON keeps Statuspage's field names and types (ids are strings, times ISO 8601 with offset,
absent values null) so that widgets and tools written for Statuspage read this page. A published
review's public summary is the incident's `postmortem_body` (with `postmortem_published_at`), as
Statuspage carries a postmortem. Each occurrence of a recurring window is a scheduled maintenance
of its own (id `m<window>-<start>`), with one field Statuspage lacks, `recurrence` (the rule in
words; null for a one-off window).

The feeds list public incidents and maintenance, newest first: an incident's item carries its
public updates and, once published, the review's public summary (and is dated by it, so readers
see the item change); a recurring window is one item, as it is announced once. XML is built with
ElementTree, which escapes every text, so markup in an update reaches a feed reader as text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from xml.etree import ElementTree as ET

from warroom.statuspage.public import (
    PublicComponent,
    PublicIncident,
    PublicMaintenance,
    Snapshot,
)

PAGE_ID = "warroom"
INCIDENTS_LIMIT = 50
FEED_LIMIT = 50


def _t(value: datetime | None) -> str | None:
    return (
        value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if value
        else None
    )


def page(snapshot: Snapshot, base_url: str) -> dict[str, Any]:
    return {
        "id": PAGE_ID,
        "name": snapshot.settings.name,
        "url": f"{base_url.rstrip('/')}/status",
        "time_zone": "Etc/UTC",
        "updated_at": _t(snapshot.updated_at),
    }


def status(snapshot: Snapshot) -> dict[str, Any]:
    return {"indicator": snapshot.indicator, "description": snapshot.description}


def _component(c: PublicComponent) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "name": c.name,
        "status": c.status,
        "created_at": _t(c.created_at),
        "updated_at": _t(c.updated_at),
        "position": c.position,
        "description": c.description or None,
        "showcase": True,
        "start_date": c.created_at.date().isoformat(),
        "group_id": f"g{c.group_id}" if c.group_id is not None else None,
        "page_id": PAGE_ID,
        "group": False,
        "only_show_if_degraded": False,
    }


def components(snapshot: Snapshot) -> list[dict[str, Any]]:
    out = [_component(c) for c in snapshot.components]
    for g in snapshot.groups:
        out.append(
            {
                "id": f"g{g.id}",
                "name": g.name,
                "status": g.status,
                "created_at": _t(g.created_at),
                "updated_at": _t(max(snapshot.by_id[i].updated_at for i in g.component_ids)),
                "position": g.position,
                "description": g.description or None,
                "showcase": False,
                "start_date": None,
                "group_id": None,
                "page_id": PAGE_ID,
                "group": True,
                "only_show_if_degraded": False,
                "components": [str(i) for i in g.component_ids],
            }
        )
    return out


def _affected(snapshot: Snapshot, ids: tuple[int, ...]) -> list[dict[str, Any]]:
    return [_component(snapshot.by_id[i]) for i in ids if i in snapshot.by_id]


def incident(snapshot: Snapshot, i: PublicIncident, base_url: str) -> dict[str, Any]:
    return {
        "id": str(i.id),
        "name": i.name,
        "status": i.status,
        "created_at": _t(i.created_at),
        "updated_at": _t(i.updated_at),
        "monitoring_at": _t(i.monitoring_at),
        "resolved_at": _t(i.resolved_at),
        "impact": i.impact,
        "shortlink": f"{base_url.rstrip('/')}/status/incidents/{i.id}",
        "started_at": _t(i.started_at),
        "page_id": PAGE_ID,
        "incident_updates": [
            {
                "id": str(u.id),
                "status": u.stage,
                "body": u.message,
                "incident_id": str(i.id),
                "created_at": _t(u.created_at),
                "updated_at": _t(u.edited_at or u.created_at),
                "display_at": _t(u.created_at),
                "affected_components": [
                    {
                        "code": str(c),
                        "name": snapshot.by_id[c].name,
                        "old_status": snapshot.by_id[c].status,
                        "new_status": snapshot.by_id[c].status,
                    }
                    for c in u.component_ids
                    if c in snapshot.by_id
                ]
                or None,
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
            for u in i.updates
        ],
        "components": _affected(snapshot, i.component_ids),
        "postmortem_body": i.review_summary or None,
        "postmortem_published_at": _t(i.review_published_at) if i.review_summary else None,
    }


def anchor(m: PublicMaintenance) -> str:
    """The maintenance's element id on the HTML page."""
    return f"maintenance-{m.key[1:]}"


def maintenance(snapshot: Snapshot, m: PublicMaintenance, base_url: str) -> dict[str, Any]:
    body = m.description or m.name
    if m.recurrence:
        body = f"Recurring: {m.recurrence}.\n\n{body}"
    return {
        "id": m.key,
        "name": m.name,
        "status": m.status,
        "created_at": _t(m.created_at),
        "updated_at": _t(m.created_at),
        "monitoring_at": None,
        "resolved_at": None,
        "impact": "maintenance",
        "shortlink": f"{base_url.rstrip('/')}/status#{anchor(m)}",
        "started_at": _t(m.scheduled_for),
        "page_id": PAGE_ID,
        "incident_updates": [
            {
                "id": f"{m.key}u",
                "status": m.status,
                "body": body,
                "incident_id": m.key,
                "created_at": _t(m.created_at),
                "updated_at": _t(m.created_at),
                "display_at": _t(m.created_at),
                "affected_components": None,
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
        ],
        "components": _affected(snapshot, m.component_ids),
        "scheduled_for": _t(m.scheduled_for),
        "scheduled_until": _t(m.scheduled_until),
        "recurrence": m.recurrence or None,
    }


def document(snapshot: Snapshot, name: str, base_url: str) -> dict[str, Any]:
    """The body of /status/api/v2/<name>.json."""
    body: dict[str, Any] = {"page": page(snapshot, base_url)}
    maint = snapshot.maintenance
    if name == "status":
        body["status"] = status(snapshot)
    elif name == "components":
        body["components"] = components(snapshot)
    elif name == "incidents":
        body["incidents"] = [
            incident(snapshot, i, base_url) for i in snapshot.incidents[:INCIDENTS_LIMIT]
        ]
    elif name == "incidents/unresolved":
        body["incidents"] = [incident(snapshot, i, base_url) for i in snapshot.unresolved]
    elif name in ("scheduled-maintenances", "scheduled-maintenances/upcoming"):
        chosen = (
            maint
            if name == "scheduled-maintenances"
            else [m for m in maint if m.status == "scheduled"]
        )
        body["scheduled_maintenances"] = [maintenance(snapshot, m, base_url) for m in chosen]
    elif name == "scheduled-maintenances/active":
        body["scheduled_maintenances"] = [
            maintenance(snapshot, m, base_url) for m in maint if m.status == "in_progress"
        ]
    elif name == "summary":
        body["components"] = components(snapshot)
        body["incidents"] = [incident(snapshot, i, base_url) for i in snapshot.unresolved]
        body["scheduled_maintenances"] = [maintenance(snapshot, m, base_url) for m in maint]
        body["status"] = status(snapshot)
    else:
        raise KeyError(name)
    return body


DOCUMENTS = (
    "summary",
    "status",
    "components",
    "incidents",
    "incidents/unresolved",
    "scheduled-maintenances",
    "scheduled-maintenances/upcoming",
    "scheduled-maintenances/active",
)


# --- feeds ---------------------------------------------------------------------------------------


def _entries(snapshot: Snapshot, base_url: str) -> list[tuple[str, str, str, datetime, str]]:
    """(id, title, link, updated, text) of the feed's items, newest first."""
    base = base_url.rstrip("/")
    items = []
    for i in snapshot.incidents[:FEED_LIMIT]:
        text = "\n\n".join(f"{u.stage.capitalize()} — {u.message}" for u in i.updates)
        updated = i.updated_at
        if i.review_summary:
            text = f"Post-incident review — {i.review_summary}\n\n{text}"
            updated = max(updated, i.review_published_at or updated)
        link = f"{base}/status/incidents/{i.id}"
        items.append((link, i.name, link, updated, text))
    seen: set[int] = set()
    for m in snapshot.maintenance:
        if m.id in seen:
            continue  # a recurring window is one item: the first of its occurrences shown
        seen.add(m.id)
        link = f"{base}/status#{anchor(m)}"
        when = f"{m.scheduled_for:%Y-%m-%d %H:%M} to {m.scheduled_until:%Y-%m-%d %H:%M} UTC"
        if m.recurrence:
            state = "In progress" if m.status == "in_progress" else "Next"
            text = f"Recurring maintenance, {m.recurrence}. {state}: {when}. {m.description}"
        else:
            text = f"Scheduled maintenance {when}. {m.description}"
        items.append(
            (f"{base}/status/maintenance/{m.id}", m.name, link, m.created_at, text.strip())
        )
    items.sort(key=lambda e: e[3], reverse=True)
    return items


def _xml(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8")
    return body


def rss(snapshot: Snapshot, base_url: str) -> bytes:
    base = base_url.rstrip("/")
    root = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(root, "channel")
    ET.SubElement(channel, "title").text = f"{snapshot.settings.name} status"
    ET.SubElement(channel, "link").text = f"{base}/status"
    ET.SubElement(
        channel, "description"
    ).text = f"Incidents and maintenance of {snapshot.settings.name}"
    ET.SubElement(channel, "lastBuildDate").text = format_datetime(
        snapshot.updated_at.astimezone(UTC)
    )
    for ident, title, link, updated, text in _entries(snapshot, base_url):
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = title
        ET.SubElement(item, "link").text = link
        ET.SubElement(item, "guid", {"isPermaLink": "false"}).text = ident
        ET.SubElement(item, "pubDate").text = format_datetime(updated.astimezone(UTC))
        ET.SubElement(item, "description").text = text
    return _xml(root)


def atom(snapshot: Snapshot, base_url: str) -> bytes:
    base = base_url.rstrip("/")
    ns = "http://www.w3.org/2005/Atom"
    root = ET.Element("feed", {"xmlns": ns})
    ET.SubElement(root, "id").text = f"{base}/status"
    ET.SubElement(root, "title").text = f"{snapshot.settings.name} status"
    ET.SubElement(root, "updated").text = _t(snapshot.updated_at)
    ET.SubElement(root, "link", {"href": f"{base}/status"})
    ET.SubElement(root, "link", {"rel": "self", "href": f"{base}/status/history.atom"})
    author = ET.SubElement(root, "author")
    ET.SubElement(author, "name").text = snapshot.settings.name
    for ident, title, link, updated, text in _entries(snapshot, base_url):
        entry = ET.SubElement(root, "entry")
        ET.SubElement(entry, "id").text = ident
        ET.SubElement(entry, "title").text = title
        ET.SubElement(entry, "updated").text = _t(updated)
        ET.SubElement(entry, "link", {"href": link})
        ET.SubElement(entry, "content", {"type": "text"}).text = text
    return _xml(root)
