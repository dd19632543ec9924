"""The service page shows its heartbeats (status, last pings) and checks; ping bodies are text."""

from __future__ import annotations

from tests.web.conftest import Web


def test_service_page_shows_heartbeats_pings_and_checks(web: Web) -> None:
    world = web.world
    admin = world.auth("admin")
    hb = web.base.post(
        "/api/v1/heartbeats",
        json={
            "service_id": world.checkout_id,
            "name": "nightly <b>backup</b>",
            "period_seconds": 3600,
        },
        headers=admin,
    ).json()
    key = hb["ping_url"].rsplit("/ping/", 1)[1]
    assert (
        web.base.post(f"/ping/{key}", content=b"<script>alert(1)</script> done").status_code == 200
    )
    web.base.post(
        "/api/v1/checks",
        json={
            "service_id": world.checkout_id,
            "name": "shop front",
            "kind": "http",
            "target": "https://shop.example/health",
        },
        headers=admin,
    )
    page = web.browser("responder").get(f"/services/{world.checkout_id}").text
    assert "nightly &lt;b&gt;backup&lt;/b&gt;" in page
    assert "monitor-up" in page and ">up<" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; done" in page and "<script>alert" not in page
    assert "shop front" in page and "Not run yet" in page
    assert key not in page  # the ping URL is a credential: admins only
    assert key in web.browser("admin").get(f"/services/{world.checkout_id}").text


def test_the_report_form_takes_a_report_and_shows_html_as_text(web: Web) -> None:
    carol = web.browser("stakeholder")
    form = carol.get("/report")
    assert form.status_code == 200 and "checkout-api" in form.text
    r = carol.post(
        "/report",
        {"service_id": str(web.world.checkout_id), "description": "<img src=x onerror=alert(1)>"},
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/report?sent=")
    assert "Thank you" in carol.get(r.headers["location"]).text
    listed = web.base.get("/api/v1/reports", headers=web.world.auth()).json()["items"]
    assert listed[0]["description"] == "<img src=x onerror=alert(1)>"
    bad = carol.post("/report", {"service_id": "", "description": "<b>x</b>"})
    assert bad.status_code == 422 and "&lt;b&gt;x&lt;/b&gt;" in bad.text
    assert carol.post("/report", {"service_id": "999999", "description": "x"}).status_code == 422
    no_csrf = carol.post("/report", {"service_id": "1", "description": "x"}, csrf=False)
    assert no_csrf.status_code in (400, 403)
