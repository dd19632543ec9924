"""The review, action item and metrics pages through their forms: what a person sees, the
refusals shown as pages with nothing stored, user text escaped, CSV cells safe."""

from __future__ import annotations

from tests.web.conftest import Web
from tests.web.helpers import declared


def _resolved(web: Web, title: str = "Checkout is slow") -> int:
    iid = declared(web, title=title)
    r = web.base.post(f"/api/v1/incidents/{iid}/resolve", headers=web.world.auth())
    assert r.status_code == 200
    return iid


def test_a_review_through_its_forms(web: Web) -> None:
    iid = _resolved(web, title="<script>alert(1)</script> checkout")
    bob = web.browser("responder")
    page = bob.get(f"/incidents/{iid}/review")
    assert page.status_code == 200 and "Start the review" in page.text
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    assert bob.post(f"/incidents/{iid}/review").status_code == 303
    page = bob.get(f"/incidents/{iid}/review")
    assert "Draft" in page.text and "Time to resolve" in page.text
    # An action item without a title, and one owned by nobody real: refused, nothing stored.
    r = bob.post(f"/incidents/{iid}/action-items", {"title": ""})
    assert r.status_code == 422 and "Give the action item a title" in r.text
    r = bob.post(f"/incidents/{iid}/action-items", {"title": "x", "owner_id": "9999"})
    assert r.status_code == 422 and "does not exist" in r.text
    assert "None yet." in bob.get(f"/incidents/{iid}/review").text
    r = bob.post(f"/incidents/{iid}/action-items", {"title": "Add <b>alerts</b>", "priority": "2"})
    assert r.status_code == 303
    page = bob.get(f"/incidents/{iid}/review")
    assert "Add &lt;b&gt;alerts&lt;/b&gt;" in page.text
    r = bob.post(
        f"/incidents/{iid}/review/edit",
        {
            "lessons": "Watch <i>disks</i>",
            "reviewers": "1",
            "reviewer_ids": str(web.world.admin_id),
        },
    )
    assert r.status_code == 303
    page = bob.get(f"/incidents/{iid}/review")
    assert "Watch &lt;i&gt;disks&lt;/i&gt;" in page.text
    # An impact start after the trigger is refused and the text typed is kept, not stored.
    r = bob.post(
        f"/incidents/{iid}/review/edit",
        {"lessons": "changed", "impact_started_at": "2099-01-01T00:00"},
    )
    assert r.status_code == 422 and "future" in r.text
    assert "Watch &lt;i&gt;disks&lt;/i&gt;" in bob.get(f"/incidents/{iid}/review").text
    assert bob.post(f"/incidents/{iid}/review/workflow/publish").status_code == 303
    r = bob.post(f"/incidents/{iid}/review/edit", {"lessons": "after"})
    assert r.status_code == 409 and "published" in r.text
    # Stakeholders read, never write.
    carol = web.browser("stakeholder")
    assert carol.get(f"/incidents/{iid}/review").status_code == 200
    assert carol.post(f"/incidents/{iid}/feedback", {"rating": "5"}).status_code == 403
    md = carol.get(f"/incidents/{iid}/review.md")
    assert md.status_code == 200 and "\\<script\\>" in md.text
    assert carol.get(f"/incidents/{iid}/review.pdf").content.startswith(b"%PDF")


def test_a_review_needs_a_resolved_incident(web: Web) -> None:
    iid = declared(web)
    bob = web.browser("responder")
    assert "starts once the incident is resolved" in bob.get(f"/incidents/{iid}/review").text
    r = bob.post(f"/incidents/{iid}/review")
    assert r.status_code == 409 and "resolved" in r.text
    assert bob.post(f"/incidents/{iid}/feedback", {"rating": "4"}).status_code == 409


def test_metrics_page_and_csv(web: Web) -> None:
    iid = _resolved(web, title='=HYPERLINK("http://evil") db-1')
    bob = web.browser("responder")
    page = bob.get("/analytics?period=7")
    assert page.status_code == 200
    assert "triggered → first acknowledged" in page.text and "MTTR" in page.text
    assert "/analytics/charts/durations.svg?period=7" in page.text
    svg = bob.get("/analytics/charts/durations.svg?period=7")
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<script" not in svg.content
    csv = bob.get("/analytics/summary.csv?period=7")
    assert csv.status_code == 200 and csv.text.splitlines()[1].startswith("incidents,1,")
    rec = bob.get("/analytics/recurring.csv").text
    assert rec.startswith("service,signature")
    assert bob.get("/analytics/nothing.csv").status_code == 404
    # The same incident twice makes it recurring; the title's formula is kept as text.
    _resolved(web, title='=HYPERLINK("http://evil") db-2')
    rec = bob.get("/analytics/recurring.csv?period=7").text
    assert "'=hyperlink" in rec and str(iid) in rec
