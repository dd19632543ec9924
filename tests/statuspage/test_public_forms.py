"""The status page's public forms: signed form tokens (missing, forged, for the other form,
expired), the problem report form (thank-you page, plain-word errors, HTML as text, the trap
field, the API's rate limit, the opt-in email), and a published review's public summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import declare
from tests.conftest import World, count_rows
from tests.statuspage.conftest import Mailbox
from tests.statuspage.helpers import component, form_token, post_update
from warroom.db.engine import Database
from warroom.notify.signing import make_purpose_token
from warroom.reports.models import UserReport


def _secret(client: TestClient) -> str:
    app: Any = client.app
    return str(app.state.secret)


def test_subscribe_form_refuses_missing_forged_foreign_and_expired_tokens(
    client: TestClient, db: Database, mailbox: Mailbox
) -> None:
    typed = {"channel": "email", "address": "fan@example.com"}
    missing = client.post("/status/subscribe", data=typed)
    assert missing.status_code == 400
    assert "security token is missing" in missing.text
    assert 'value="fan@example.com"' in missing.text  # what was typed comes back
    token = form_token(client, "/status/subscribe")
    forged = client.post("/status/subscribe", data={**typed, "form_token": token[:-4] + "AAAA"})
    assert forged.status_code == 403 and "not valid" in forged.text
    report_token = make_purpose_token(
        _secret(client), "status-report-form", 0, datetime.now(UTC) + timedelta(hours=1)
    )
    foreign = client.post("/status/subscribe", data={**typed, "form_token": report_token})
    assert foreign.status_code == 403
    old = make_purpose_token(
        _secret(client), "status-subscribe-form", 0, datetime.now(UTC) - timedelta(minutes=1)
    )
    expired = client.post("/status/subscribe", data={**typed, "form_token": old})
    assert expired.status_code == 400 and "open for too long" in expired.text
    assert count_rows(db, "status_subscribers") == 0
    # The refusal page carries a fresh token: sending it again works.
    fresh = expired.text.split('name="form_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/status/subscribe", data={**typed, "form_token": fresh}).status_code == 202
    assert count_rows(db, "status_subscribers") == 1


def _report_scene(client: TestClient, world: World) -> dict[str, Any]:
    return {
        "checkout": component(
            client, world, name="Checkout <i>web</i>", service_id=world.checkout_id
        ),
        "private": component(
            client, world, name="Fraud engine", service_id=world.checkout_id, private=True
        ),
        "unmapped": component(client, world, name="Brochure site"),
    }


def _report(client: TestClient, **fields: Any) -> Any:
    token = form_token(client, "/status/report")
    return client.post(
        "/status/report/form", data={"form_token": token, **fields}, follow_redirects=False
    )


def _reports(db: Database) -> list[UserReport]:
    with db.read_session() as s:
        return list(s.scalars(select(UserReport).order_by(UserReport.id)))


def test_report_form_lists_public_services_and_thanks_the_reporter(
    client: TestClient, world: World, db: Database
) -> None:
    scene = _report_scene(client, world)
    form = client.get("/status/report")
    assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
    assert "Checkout &lt;i&gt;web&lt;/i&gt;" in form.text and "<i>web</i>" not in form.text
    assert "Fraud engine" not in form.text  # private
    assert "Brochure site" not in form.text  # no service behind it: nobody to tell
    assert 'href="/status/report"' in client.get("/status").text
    sent = _report(
        client,
        component_id=str(scene["checkout"]["id"]),
        description="The pay button <script>alert(1)</script> does nothing",
        notify="yes",
        email="fan@example.com",
    )
    assert sent.status_code == 303
    thanks = client.get(sent.headers["location"])
    assert thanks.status_code == 200 and "Thank you" in thanks.text
    assert "We will email you when it is fixed" in thanks.text
    assert "Checkout &lt;i&gt;web&lt;/i&gt;" in thanks.text
    # An address typed without ticking the box is not kept.
    quiet = _report(
        client,
        component_id=str(scene["checkout"]["id"]),
        description="Checkout is very slow today",
        email="other@example.com",
    )
    assert quiet.status_code == 303 and "email=1" not in quiet.headers["location"]
    first, second = _reports(db)
    assert (first.service_id, first.source) == (world.checkout_id, "public")
    assert first.description == "The pay button <script>alert(1)</script> does nothing"
    assert first.reporter_email == "fan@example.com" and second.reporter_email == ""


def test_report_form_refusals_are_plain_words_and_store_nothing(
    client: TestClient, world: World, db: Database
) -> None:
    scene = _report_scene(client, world)
    good = {"component_id": str(scene["checkout"]["id"]), "description": "Checkout hangs"}
    short = _report(client, **{**good, "description": "<b>x</b>"})
    assert short.status_code == 422 and "10 to 2000 characters" in short.text
    assert "&lt;b&gt;x&lt;/b&gt;</textarea>" in short.text  # kept, as text
    assert _report(client, **{**good, "component_id": "x"}).status_code == 422
    private = _report(client, **{**good, "component_id": str(scene["private"]["id"])})
    assert private.status_code == 422 and "Choose what is not working" in private.text
    unmapped = _report(client, **{**good, "component_id": str(scene["unmapped"]["id"])})
    assert unmapped.status_code == 422
    bad_mail = _report(client, **good, notify="yes", email="not-an-address")
    assert bad_mail.status_code == 422 and "email address does not look right" in bad_mail.text
    missing = client.post("/status/report/form", data=good)
    assert missing.status_code == 400 and "security token is missing" in missing.text
    forged = client.post("/status/report/form", data={**good, "form_token": "bm90LmEudG9rZW4.AAAA"})
    assert forged.status_code == 403
    old = make_purpose_token(
        _secret(client), "status-report-form", 0, datetime.now(UTC) - timedelta(seconds=1)
    )
    expired = client.post("/status/report/form", data={**good, "form_token": old})
    assert expired.status_code == 400 and "Checkout hangs</textarea>" in expired.text
    assert _reports(db) == []
    # The trap field: thanked like a person, nothing stored.
    trapped = _report(client, **good, website="http://spam.example")
    assert trapped.status_code == 303 and _reports(db) == []


def test_report_form_shares_the_report_apis_rate_limit(
    client: TestClient, world: World, db: Database
) -> None:
    scene = _report_scene(client, world)
    good = {"component_id": str(scene["checkout"]["id"]), "description": "Checkout hangs again"}
    for _ in range(4):
        api = client.post(
            "/status/report", data={"service_id": world.checkout_id, **good}
        )  # the API's form endpoint
        assert api.status_code == 202
    assert _report(client, **good).status_code == 303  # the fifth from this address
    limited = _report(client, **good)
    assert limited.status_code == 429 and "Too many reports" in limited.text
    assert int(limited.headers["retry-after"]) > 0
    assert len(_reports(db)) == 5


def test_a_published_reviews_public_summary_shows_on_the_incident_and_history(
    client: TestClient, world: World, db: Database
) -> None:
    component(client, world, name="Checkout", service_id=world.checkout_id)
    incident = declare(
        client, world, title="Card payments failing", service_ids=[world.checkout_id]
    )
    post_update(db, incident["id"], "Payments are failing; we are on it.")
    admin = world.auth("admin")
    assert client.post(f"/api/v1/incidents/{incident['id']}/resolve", headers=admin).is_success
    review = client.post(f"/api/v1/incidents/{incident['id']}/review", headers=admin).json()
    r = client.patch(
        f"/api/v1/reviews/{review['id']}",
        json={
            "what_happened": "INTERNAL: db-3 ran out of disk",
            "lessons": "INTERNAL: page storage earlier",
            "public_summary": "Card payments failed for 20 minutes.\n\n"
            "We added <b>disk</b> alerts.",
        },
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["public_summary"].startswith("Card payments")
    page = f"/status/incidents/{incident['id']}"
    assert "Post-incident review" not in client.get(page).text  # a draft is not public
    assert client.post(f"/api/v1/reviews/{review['id']}/actions/submit", headers=admin).is_success
    assert "Post-incident review" not in client.get(page).text
    assert client.post(f"/api/v1/reviews/{review['id']}/actions/publish", headers=admin).is_success
    shown = client.get(page).text  # at once: publishing changes the page's version
    assert "Post-incident review" in shown
    assert "<p>Card payments failed for 20 minutes.</p>" in shown
    assert "We added &lt;b&gt;disk&lt;/b&gt; alerts." in shown
    assert "INTERNAL" not in shown
    history = client.get("/status/history").text
    assert f'href="/status/incidents/{incident["id"]}#review"' in history
    assert "INTERNAL" not in history
    for feed in ("/status/history.rss", "/status/api/v2/incidents.json"):
        assert "INTERNAL" not in client.get(feed).text
