"""The war room's blast-radius graph (inline SVG: escaped names, tiers, affected vs dependants,
bounded depth and size) and the major-incident forms (the proposal's buttons, a refused
decision keeping what was typed, the admins' rules page)."""

from __future__ import annotations

import re

from tests.web.conftest import Web, csrf_of
from tests.web.helpers import declared
from warroom.catalog import service as catalog
from warroom.catalog.blast_radius import MAX_NODES


def _chain(web: Web) -> None:
    """checkout-api (tier 2) depends on payments-db; above it a web shop with a hostile name,
    then three more levels, one of them beyond the graph's depth."""
    with web.db.session() as s:
        shop = catalog.create_service(
            s,
            name='<script>alert("x")</script> shop',
            tier=1,
            depends_on_ids=[web.world.checkout_id],
        )
        level3 = catalog.create_service(s, name="mobile-app", tier=3, depends_on_ids=[shop.id])
        catalog.create_service(s, name="partner-feed", tier=2, depends_on_ids=[level3.id])


def test_the_graph_draws_the_affected_service_and_its_dependants_escaped(web: Web) -> None:
    _chain(web)
    incident = declared(web, service_ids=[web.world.database_id])
    page = web.browser("stakeholder").get(f"/incidents/{incident}")
    assert page.status_code == 200
    html = page.text
    svg = re.search(
        r'<svg xmlns="http://www.w3.org/2000/svg" class="blast-graph.*?</svg>', html, re.S
    )
    assert svg, "no blast-radius graph"
    graph = svg.group(0)
    assert "<script>" not in graph and "&lt;script&gt;alert(&#34;x&#34;)" in graph
    assert 'class="node affected tier-1"' in graph and "AFFECTED · tier 1" in graph
    assert graph.count('class="node dependant') == 3  # checkout-api, the shop, mobile-app
    assert "partner-feed" not in graph  # four levels up: beyond the depth
    assert graph.count('class="edge"') == 3 and "marker-end" in graph
    dependants = re.search(r'<ul class="plain small" id="blast-dependants".*?</ul>', html, re.S)
    assert dependants
    listed = dependants.group(0)
    assert "checkout-api" in listed and "mobile-app" in listed and "3 levels up" in listed
    summary = re.search(r'<p class="small muted" id="blast-summary">(.*?)</p>', html, re.S)
    assert summary
    text = summary.group(1)
    assert "3 services depend on the affected ones, up to 3 levels up" in text
    assert "1 tier 1, 1 tier 2, 1 tier 3" in text and "further up (not shown)" in text


def test_a_large_blast_radius_is_capped_and_says_how_many_more(web: Web) -> None:
    with web.db.session() as s:
        for n in range(MAX_NODES + 5):
            catalog.create_service(
                s, name=f"consumer-{n:02d}", tier=3, depends_on_ids=[web.world.database_id]
            )
    incident = declared(web, service_ids=[web.world.database_id])
    html = web.browser("responder").get(f"/incidents/{incident}").text
    graph = re.search(r"<svg[^>]*blast-graph.*?</svg>", html, re.S)
    assert graph
    # checkout-api and 45 consumers depend on it; the affected one plus 39 are drawn.
    assert graph.group(0).count('<a href="/services/') == MAX_NODES
    assert "blast-graph wide" in graph.group(0)  # too wide to shrink: the panel scrolls
    assert "and 7 more dependants not drawn." in html
    assert "46 services depend on the affected ones" in html


def test_no_dependants_says_so_and_no_service_draws_nothing(web: Web) -> None:
    lonely = declared(web, service_ids=[web.world.checkout_id])
    html = web.browser("responder").get(f"/incidents/{lonely}").text
    assert "Nothing in the catalog depends on the affected services." in html
    assert html.count('class="node affected') == 1
    bare = declared(web, service_ids=[])
    assert "blast-graph" not in web.browser("responder").get(f"/incidents/{bare}").text


def test_the_proposal_shows_its_reasons_and_only_the_commander_or_an_admin_gets_buttons(
    web: Web,
) -> None:
    incident = declared(web, impact=1, urgency=1, service_ids=[web.world.database_id])
    responder = web.browser("responder")
    html = responder.get(f"/incidents/{incident}").text
    assert "Major incident proposed:</strong> tier-1 payments-db affected; priority P1." in html
    assert 'name="decision" value="accept"' not in html
    assert "The incident's commander or an admin accepts or rejects it." in html

    admin = web.browser("admin")
    page = admin.get(f"/incidents/{incident}").text
    assert 'name="decision" value="accept"' in page
    # No reason: refused beside the field, nothing decided.
    r = admin.post(f"/incidents/{incident}/major", {"decision": "reject", "major_reason": ""})
    assert r.status_code == 422
    assert 'id="major-reason-err"' in r.text and "Say why you reject it" in r.text
    assert 'aria-invalid="true"' in r.text
    # A responder who is not the commander is refused by the service, what they typed kept.
    r = responder.post(
        f"/incidents/{incident}/major", {"decision": "accept", "major_reason": "big one"}
    )
    assert r.status_code == 403 and "only the incident&#39;s commander or an admin" in r.text

    r = admin.post(
        f"/incidents/{incident}/major", {"decision": "reject", "major_reason": "a test window"}
    )
    assert r.status_code == 303
    html = admin.get(f"/incidents/{incident}").text
    assert "Major incident proposed" not in html
    assert "Major incident proposal rejected by Alice" in html and "a test window" in html


def test_admins_set_the_rules_in_the_browser_and_a_refusal_keeps_what_was_typed(
    web: Web,
) -> None:
    admin = web.browser("admin")
    page = admin.get("/admin/major-incidents")
    assert page.status_code == 200 and 'id="major-settings"' in page.text
    csrf = csrf_of(page.text)
    r = admin.post(
        "/admin/major-incidents",
        {"csrf_token": csrf, "on_tier_one": "on", "alert_burst": "lots", "burst_minutes": "0"},
    )
    assert r.status_code == 422
    assert 'id="mj-burst-err"' in r.text and 'id="mj-minutes-err"' in r.text
    assert 'value="lots"' in r.text
    assert (
        web.base.get(
            "/api/v1/major-incidents/settings", headers=web.world.auth("stakeholder")
        ).json()["alert_burst"]
        is None
    )
    r = admin.post(
        "/admin/major-incidents",
        {"csrf_token": csrf, "on_priority_one": "on", "alert_burst": "30", "burst_minutes": "5"},
    )
    assert r.status_code == 200 and "Saved." in r.text
    saved = web.base.get(
        "/api/v1/major-incidents/settings", headers=web.world.auth("stakeholder")
    ).json()
    assert saved == {
        "on_tier_one": False,
        "on_priority_one": True,
        "alert_burst": 30,
        "burst_minutes": 5,
        "escalation_policy_id": None,
    }
    assert web.browser("responder").get("/admin/major-incidents").status_code == 403
