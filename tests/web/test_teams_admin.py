"""Admins create teams, rename them and set their members on the teams page; everybody else
only reads it. The rules are the API's: unique names (409), known members (422)."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import Web


def _teams(web: Web) -> list[dict[str, Any]]:
    r = web.base.get("/api/v1/teams", headers=web.world.auth("admin"))
    assert r.status_code == 200, r.text
    return sorted(
        ({k: t[k] for k in ("id", "name", "description", "member_ids")} for t in r.json()["items"]),
        key=lambda t: t["id"],
    )


def _box(prefix: str, user_id: int) -> str:
    return f'id="{prefix}-m-{user_id}" name="member_ids" value="{user_id}"'


def test_an_admin_creates_renames_and_restaffs_a_team(web: Web) -> None:
    w = web.world
    alice = web.browser("admin")
    page = alice.get("/teams").text
    assert 'action="/admin/teams"' in page and 'for="nt-name"' in page
    assert _box("nt", w.responder_id) in page

    r = alice.post(
        "/admin/teams",
        {"name": "Payments", "description": "Money", "member_ids": [w.admin_id, w.responder_id]},
    )
    assert r.status_code == 200 and "Team Payments created." in r.text
    [team] = _teams(web)
    assert team["name"] == "Payments" and team["description"] == "Money"
    assert team["member_ids"] == sorted([w.admin_id, w.responder_id])
    tid = team["id"]
    assert f'action="/admin/teams/{tid}"' in r.text
    assert _box(f"t{tid}", w.responder_id) + " checked" in r.text

    r = alice.post(
        f"/admin/teams/{tid}",
        {"name": "Payments SRE", "description": "", "member_ids": [str(w.stakeholder_id)]},
    )
    assert r.status_code == 200 and "Team Payments SRE saved." in r.text
    assert _teams(web) == [
        {"id": tid, "name": "Payments SRE", "description": "", "member_ids": [w.stakeholder_id]}
    ]
    # No boxes ticked: nobody.
    assert alice.post(f"/admin/teams/{tid}", {"name": "Payments SRE"}).status_code == 200
    assert _teams(web)[0]["member_ids"] == []
    assert "Nobody." in web.browser("stakeholder").get("/teams").text


def test_refusals_rerender_the_page_and_change_nothing(web: Web) -> None:
    w = web.world
    alice = web.browser("admin")
    for name in ("Payments", "Platform"):
        assert alice.post("/admin/teams", {"name": name}).status_code == 200
    before = _teams(web)
    pay, plat = (t["id"] for t in before)

    r = alice.post("/admin/teams", {"name": "Payments", "description": "again"})
    assert r.status_code == 409 and "There is already a team &#39;Payments&#39;." in r.text
    assert 'value="Payments"' in r.text and ">again</textarea>" in r.text  # typed values kept
    r = alice.post(
        f"/admin/teams/{plat}",
        {"name": "Payments", "description": "typed", "member_ids": [w.responder_id]},
    )
    assert r.status_code == 409 and "There is already a team" in r.text
    assert '<details class="assign" open>' in r.text and ">typed</textarea>" in r.text
    assert _box(f"t{plat}", w.responder_id) + " checked" in r.text
    for url in ("/admin/teams", f"/admin/teams/{pay}"):
        r = alice.post(url, {"name": "  ", "description": "kept"})
        assert r.status_code == 422 and "Give the team a name" in r.text
        assert ">kept</textarea>" in r.text
        r = alice.post(url, {"name": "x" * 121})
        assert r.status_code == 422
        r = alice.post(url, {"name": "Ghosts", "member_ids": ["999999"]})
        assert r.status_code == 422 and "unknown user id(s): 999999" in r.text
        assert alice.post(url, {"name": "Ghosts", "member_ids": ["me"]}).status_code == 422
    r = alice.post("/admin/teams/999999", {"name": "Nobody's"})
    assert r.status_code == 404 and "There is no team 999999." in r.text
    assert alice.post("/admin/teams/abc", {"name": "x"}).status_code == 404
    # Renaming a team to its own name is no clash.
    assert alice.post(f"/admin/teams/{pay}", {"name": "Payments"}).status_code == 200
    assert _teams(web) == before


def test_only_admins_with_the_form_token_change_teams(web: Web) -> None:
    alice = web.browser("admin")
    assert alice.post("/admin/teams", {"name": "Payments"}).status_code == 200
    before = _teams(web)
    tid = before[0]["id"]
    for who in ("responder", "stakeholder"):
        b = web.browser(who)
        page = b.get("/teams")
        assert page.status_code == 200 and "Payments" in page.text
        main = page.text.split('<main id="main"', 1)[1].split("</main>", 1)[0]
        assert 'action="/admin/teams' not in main and "<form" not in main
        for url in ("/admin/teams", f"/admin/teams/{tid}"):
            r = b.post(url, {"name": "Hijacked"})
            assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    for url in ("/admin/teams", f"/admin/teams/{tid}"):
        r = alice.post(url, {"name": "Forged"}, csrf=False)
        assert r.status_code == 403 and "security token" in r.text
        r = alice.post(url, {"name": "Forged", "csrf_token": "wrong"})
        assert r.status_code == 403
    assert web.browser().post("/admin/teams", {"name": "Anon"}).status_code == 303
    assert _teams(web) == before


def test_team_names_are_escaped(web: Web) -> None:
    alice = web.browser("admin")
    evil = '<script>alert("x")</script>'
    r = alice.post("/admin/teams", {"name": evil, "description": "<b>bold</b>"})
    assert r.status_code == 200
    for page in (r.text, web.browser("stakeholder").get("/teams").text):
        assert "<script>alert" not in page and "<b>bold" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert _teams(web)[0]["name"] == evil
    # The page has no inline script or style for the CSP to refuse.
    assert not re.search(r"<script(?![^>]*\bsrc=)", r.text) and "<style" not in r.text
    assert " style=" not in r.text
