"""The war room's people: mobilise through the page, merge duplicates, who is involved, and the
messages sent (without anyone's signed action links)."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.api.helpers import get_incident, timeline
from tests.oncall.helpers import API, make_schedule, weekly_layer
from tests.web.conftest import Web
from tests.web.helpers import declared
from warroom.notify.models import Notification


def _reachable(web: Web, who: str, user_id: int) -> None:
    """A contact method on the local channel (the engine prints the page)."""
    r = web.base.post(
        f"{API}/users/{user_id}/contact-methods",
        json={"channel": "local", "address": f"desk-terminal-{user_id}", "label": "terminal"},
        headers=web.world.auth(who),
    )
    assert r.status_code == 201, r.text


def test_mobilise_through_the_page_pages_people_and_lists_the_messages(web: Web) -> None:
    _reachable(web, "admin", web.world.admin_id)
    _reachable(web, "responder", web.world.responder_id)
    rota = make_schedule(
        web.base, web.world, "Primary", "UTC", [weekly_layer(web.world.responder_id)]
    )
    incident_id = declared(web, "Checkout down", impact=1, urgency=1)
    url = f"/incidents/{incident_id}"
    bob = web.browser("responder")
    page = bob.get(url).text
    assert "Mobilise more people" in page and "Primary <span" in page and "now: Bob" in page

    r = bob.post(
        f"{url}/mobilise",
        {
            "user_ids": [str(web.world.admin_id)],
            "schedule_ids": [str(rota["id"])],
            "message": "Need a DBA on the bridge",
        },
    )
    assert (r.status_code, r.headers["location"]) == (303, f"{url}#messages")
    events = [e for e in timeline(web.base, web.world, incident_id) if e["kind"] == "mobilised"]
    assert len(events) == 1
    assert events[0]["message"] == "Bob mobilised Alice, Bob: Need a DBA on the bridge"
    with web.db.read_session() as s:
        rows = list(s.scalars(select(Notification).where(Notification.incident_id == incident_id)))
    assert sorted(n.user_id for n in rows) == sorted([web.world.admin_id, web.world.responder_id])
    assert {(n.kind, n.channel, n.urgency) for n in rows} == {("mobilise", "local", "high")}
    assert all("/act/" in n.body for n in rows)  # each message carries its signed links

    page = bob.get(url).text
    messages = re.search(r'<section class="card" id="messages".*?</section>', page, re.S)
    assert messages and "Alice" in messages.group(0) and "mobilised" in messages.group(0)
    assert '<td data-label="Channel">local</td>' in messages.group(0)
    # Nobody's signed action links (they act as the person) nor addresses are on the page.
    assert "/act/" not in page and "desk-terminal-" not in page
    people = re.search(r'id="incident-people".*?</section>', page, re.S)
    assert people
    assert re.search(r"Alice</strong>\s*<span[^>]*>paged", people.group(0))
    assert re.search(r"Bob</strong>\s*<span[^>]*>on the timeline · paged", people.group(0))
    # The same sections for a stakeholder, without the forms.
    carol = web.browser("stakeholder")
    page = carol.get(url).text
    assert "Sent messages" in page and "People involved" in page and "/act/" not in page
    assert "Mobilise more people" not in page and "Merge into" not in page
    assert carol.post(f"{url}/mobilise", {"user_ids": ["1"]}).status_code == 403
    fragment = bob.get(f"{url}/panels.fragment").text
    assert 'id="messages"' in fragment and 'id="incident-people"' in fragment

    # Refusals show the war room again with the reason.
    r = bob.post(f"{url}/mobilise", {"message": "anyone?"})
    assert r.status_code == 422 and "name at least one user, team or schedule" in r.text
    assert "anyone?" in r.text  # what was typed stays
    r = bob.post(f"{url}/mobilise", {"user_ids": ["999999"]})
    assert r.status_code == 422 and "unknown user id(s): 999999" in r.text
    assert bob.post(f"{url}/actions/resolve").status_code == 303
    r = bob.post(f"{url}/mobilise", {"user_ids": [str(web.world.admin_id)]})
    assert r.status_code == 409 and "reopen it to mobilise" in r.text
    assert "Mobilise more people" not in bob.get(url).text  # not offered on a resolved one


def test_merge_through_the_page_goes_to_the_surviving_incident(web: Web) -> None:
    duplicate = declared(web, "Checkout slow (dup)")
    survivor = declared(web, "Checkout slow", service_ids=[web.world.database_id])
    bob = web.browser("responder")
    page = bob.get(f"/incidents/{duplicate}").text
    assert f'<option value="{survivor}">#{survivor} Checkout slow</option>' in page

    r = bob.post(f"/incidents/{duplicate}/merge", {"into_id": "", "merge_reason": "same"})
    assert r.status_code == 422 and "Choose the incident this one duplicates" in r.text
    r = bob.post(f"/incidents/{duplicate}/merge", {"into_id": str(survivor), "merge_reason": ""})
    assert r.status_code == 422 and "Say why" in r.text
    r = bob.post(f"/incidents/{duplicate}/merge", {"into_number": "999999", "merge_reason": "x"})
    assert r.status_code == 422 and "incident 999999 does not exist" in r.text
    r = bob.post(
        f"/incidents/{duplicate}/merge", {"into_number": str(duplicate), "merge_reason": "x"}
    )
    assert r.status_code == 422 and "cannot be merged into itself" in r.text
    carol = web.browser("stakeholder")
    r = carol.post(f"/incidents/{duplicate}/merge", {"into_id": str(survivor), "merge_reason": "x"})
    assert r.status_code == 403

    # A typed number wins over the list (here "#N", as people write it).
    r = bob.post(
        f"/incidents/{duplicate}/merge",
        {"into_id": "", "into_number": f"#{survivor}", "merge_reason": "Same checkout outage"},
    )
    assert (r.status_code, r.headers["location"]) == (303, f"/incidents/{survivor}")
    merged = get_incident(web.base, web.world, duplicate)
    assert (merged["status"], merged["merged_into_id"]) == ("closed", survivor)
    kept = get_incident(web.base, web.world, survivor)
    assert sorted(kept["service_ids"]) == sorted([web.world.checkout_id, web.world.database_id])
    events = [e["message"] for e in timeline(web.base, web.world, survivor)]
    assert any(
        m.startswith(f"#{duplicate} (Checkout slow (dup)) merged into this incident by Bob")
        for m in events
    )
    page = bob.get(f"/incidents/{duplicate}").text
    assert f'Merged into <a href="/incidents/{survivor}">incident #{survivor}</a>' in page
    assert "Merge into another incident" not in page  # closed: nothing more to merge
    r = bob.post(f"/incidents/{duplicate}/merge", {"into_id": str(survivor), "merge_reason": "x"})
    assert r.status_code == 409 and "is closed" in r.text
    assert (
        bob.post("/incidents/999999/merge", {"into_id": "1", "merge_reason": "x"}).status_code
        == 404
    )
