"""The admins' status-page page: settings, a component with a status set by hand, and a
maintenance window announced, moved and cancelled, all through the forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.web.conftest import Web


def test_an_admin_sets_up_the_page_through_the_forms(web: Web) -> None:
    admin = web.browser("admin")
    assert admin.get("/admin/status-page").status_code == 200
    r = admin.post(
        "/admin/status-page/settings",
        {
            "name": "Acme <i>status</i>",
            "logo_text": "A",
            "accent_colour": "#112233",
            "header_colour": "#000000",
            "header_text_colour": "#ffffff",
        },
    )
    assert r.status_code == 200 and "Page settings saved." in r.text
    bad = admin.post(
        "/admin/status-page/settings",
        {
            "name": "x",
            "accent_colour": "red;}body{",
            "header_colour": "#000000",
            "header_text_colour": "#ffffff",
        },
    )
    assert bad.status_code == 422
    assert "--sp-accent: #112233" in web.base.get("/status/theme.css").text
    r = admin.post(
        "/admin/status-page/components",
        {"name": "API {{ 1+1 }}", "service_id": str(web.world.checkout_id)},
    )
    assert r.status_code == 200 and "API {{ 1+1 }}" in r.text
    page = web.base.get("/status").text
    assert "Acme &lt;i&gt;status&lt;/i&gt;" in page and "API {{ 1+1 }}" in page
    comps = web.base.get("/api/v1/components", headers=web.world.auth("admin")).json()["items"]
    cid = comps[0]["id"]
    r = admin.post(
        f"/admin/status-page/components/{cid}",
        {"manual_status": "partial_outage", "manual_reason": "Upstream DNS"},
    )
    assert r.status_code == 200
    got = web.base.get(f"/api/v1/components/{cid}", headers=web.world.auth("admin")).json()
    assert (got["status"], got["status_source"], got["manual_reason"]) == (
        "partial_outage",
        "manual",
        "Upstream DNS",
    )
    start = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    end = (datetime.now(UTC) + timedelta(days=1, hours=2)).strftime("%Y-%m-%dT%H:%M")
    r = admin.post(
        "/admin/status-page/maintenance",
        {"title": "Router swap", "starts_at": start, "ends_at": end, "component_ids": str(cid)},
    )
    assert r.status_code == 200 and "Router swap" in r.text
    wid = web.base.get("/api/v1/maintenance-windows", headers=web.world.auth("admin")).json()[
        "items"
    ][0]["id"]
    backwards = admin.post(
        f"/admin/status-page/maintenance/{wid}",
        {"title": "Router swap", "starts_at": end, "ends_at": start},
    )
    assert backwards.status_code == 422
    assert admin.post(f"/admin/status-page/maintenance/{wid}/cancel").status_code == 200
    window = web.base.get(
        f"/api/v1/maintenance-windows/{wid}", headers=web.world.auth("admin")
    ).json()
    assert window["cancelled_at"] is not None
    # Not for responders.
    assert web.browser("responder").get("/admin/status-page").status_code == 403


def test_an_admin_announces_a_recurring_window_in_their_own_time_zone(web: Web) -> None:
    admin = web.browser("admin")  # Alice, Europe/London
    day = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    typed = {
        "title": "Sunday patching",
        "starts_at": f"{day}T02:00",
        "ends_at": f"{day}T04:00",
        "rrule": "FREQ=WEEKLY;BYDAY=SU",
    }
    r = admin.post("/admin/status-page/maintenance", typed)
    assert r.status_code == 200, r.text
    words = "every Sunday 02:00–04:00 Europe/London"
    assert f"Repeats {words} (the times below" in r.text
    public_page = web.base.get("/status").text
    assert "Sunday patching" in public_page and f"Repeats {words}." in public_page
    refused = admin.post("/admin/status-page/maintenance", {**typed, "rrule": "FREQ=MINUTELY"})
    assert refused.status_code == 422 and "more often than every" in refused.text
    listed = web.base.get("/api/v1/maintenance-windows", headers=web.world.auth("admin")).json()
    assert [w["recurrence"] for w in listed["items"]] == [words]
