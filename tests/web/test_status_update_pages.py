"""The war room's status updates: the form posts and edits through the same service as the API,
refusals show again with what was typed, HTML shows as text, and a late update is red on the
incident page and the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import count_rows
from tests.web.conftest import Web
from tests.web.helpers import declared, set_times


def test_an_update_posted_and_edited_from_the_war_room(web: Web) -> None:
    iid = declared(web, "Checkout down", impact=1, urgency=1)
    bob = web.browser("responder")
    page = bob.get(f"/incidents/{iid}").text
    assert "We are investigating a major disruption affecting checkout-api" in page  # P1 template
    r = bob.post(
        f"/incidents/{iid}/status-updates",
        {
            "visibility": "public",
            "stage": "identified",
            "message": "<script>x</script> fixing",
            "impact": "<i>everyone</i>",
        },
    )
    assert r.status_code == 303, r.text
    page = bob.get(f"/incidents/{iid}").text
    assert "&lt;script&gt;x&lt;/script&gt; fixing" in page and "<script>x</script>" not in page
    assert "&lt;i&gt;everyone&lt;/i&gt;" in page
    update_id = web.base.get(
        f"/api/v1/incidents/{iid}/status-updates", headers=web.world.auth()
    ).json()[0]["id"]
    r = bob.post(f"/incidents/{iid}/status-updates/{update_id}", {"message": "Fixed the cause"})
    assert r.status_code == 303
    page = bob.get(f"/incidents/{iid}").text
    assert "History (1 earlier version)" in page and "Fixed the cause" in page

    # Refused: the page again with the message and what was typed, nothing stored.
    before = count_rows(web.db, "status_updates")
    past = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    for form in (
        {"visibility": "public", "message": ""},
        {"visibility": "everyone", "message": "x"},
        {"visibility": "public", "message": "kept text", "next_update_at": past},
        {"visibility": "public", "message": "x", "component_ids": "abc"},
        {"visibility": "public", "message": "x", "estimated_resolution_at": "soon"},
    ):
        r = bob.post(f"/incidents/{iid}/status-updates", form)
        assert r.status_code == 422, (form, r.status_code)
        assert form["message"] in r.text  # what was typed comes back
    assert count_rows(web.db, "status_updates") == before
    # Stakeholders read the updates but have no form and cannot post.
    carol = web.browser("stakeholder")
    page = carol.get(f"/incidents/{iid}").text
    assert "Fixed the cause" in page and "Post a status update" not in page
    assert (
        carol.post(
            f"/incidents/{iid}/status-updates", {"visibility": "public", "message": "x"}
        ).status_code
        == 403
    )


def test_a_late_update_is_red_on_the_incident_page_and_the_dashboard(web: Web) -> None:
    iid = declared(web, "Checkout down", impact=1, urgency=1)
    bob = web.browser("responder")
    assert "update overdue" not in bob.get("/").text
    assert 'id="update-due"' in bob.get(f"/incidents/{iid}").text
    set_times(web, iid, triggered_at=datetime.now(UTC) - timedelta(minutes=45))
    assert "update overdue" in bob.get("/").text
    page = bob.get(f"/incidents/{iid}").text
    assert 'id="update-overdue"' in page and "every 30m" in page
    bob.post(f"/incidents/{iid}/status-updates", {"visibility": "internal", "message": "on it"})
    assert "update overdue" not in bob.get("/").text
    assert 'id="update-overdue"' not in bob.get(f"/incidents/{iid}").text
