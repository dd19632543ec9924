"""Escalation policies in the browser: everyone reads them, admins build and change them with
the API's rules (known, active targets; unique names; not deleted while a service uses it)."""

from __future__ import annotations

import re

from tests.web.conftest import Web


def test_an_admin_builds_a_policy_and_everyone_reads_it(web: Web) -> None:
    w = web.world
    alice = web.browser("admin")
    assert alice.get("/policies/new").status_code == 200
    r = alice.post(
        "/policies/new",
        {
            "name": "Checkout <on call>",
            "description": "",
            "team_id": "",
            "repeat": "1",
            "step0_targets": [f"user:{w.responder_id}"],
            "step0_delay": "5",
            "step1_targets": [f"user:{w.admin_id}"],
            "step1_delay": "10",
            "step2_delay": "",
        },
    )
    assert r.status_code == 303, r.text
    pid = int(re.search(r"/policies/(\d+)", r.headers["location"]).group(1))  # type: ignore[union-attr]
    policy = web.base.get(f"/api/v1/escalation-policies/{pid}", headers=w.auth("admin")).json()
    assert [s["delay_seconds"] for s in policy["steps"]] == [300, 600]
    assert policy["repeat"] == 1
    page = web.browser("stakeholder").get("/policies").text
    assert "Checkout &lt;on call&gt;" in page and "Bob" in page
    reader = web.browser("stakeholder").get(f"/policies/{pid}").text
    assert "Step 2" in reader and 'action="/policies/' not in reader

    # Attached to a service from its page; then it cannot be deleted.
    r = alice.post(f"/services/{w.checkout_id}/policy", {"escalation_policy_id": str(pid)})
    assert r.status_code == 303
    assert f'href="/policies/{pid}"' in alice.get(f"/services/{w.checkout_id}").text
    r = alice.post(f"/policies/{pid}/delete")
    assert r.status_code == 409 and "give them another policy first" in r.text

    # Edit: one step left, refused input first.
    r = alice.post(
        f"/policies/{pid}",
        {
            "name": "Checkout",
            "repeat": "12",
            "step0_targets": [f"user:{w.admin_id}"],
            "step0_delay": "x",
        },
    )
    assert r.status_code == 422
    assert "whole number of minutes" in r.text and "Repeats" in r.text
    assert 'value="x"' in r.text
    r = alice.post(
        f"/policies/{pid}",
        {
            "name": "Checkout",
            "repeat": "0",
            "step0_targets": [f"user:{w.admin_id}"],
            "step0_delay": "3",
        },
    )
    assert r.status_code == 303
    policy = web.base.get(f"/api/v1/escalation-policies/{pid}", headers=w.auth("admin")).json()
    assert policy["name"] == "Checkout" and len(policy["steps"]) == 1


def test_refusals_name_the_step_and_store_nothing(web: Web) -> None:
    alice = web.browser("admin")
    r = alice.post("/policies/new", {"name": "x", "repeat": "0", "step0_delay": "5"})
    assert r.status_code == 422 and "Step 1: choose whom it pages" in r.text
    r = alice.post(
        "/policies/new",
        {"name": "x", "repeat": "0", "step0_targets": ["user:99999"], "step0_delay": "1"},
    )
    assert r.status_code == 422 and "Step 1: user 99999 does not exist" in r.text
    r = alice.post("/policies/new", {"name": "x", "repeat": "0"})
    assert r.status_code == 422 and "at least one step" in r.text
    listed = web.base.get("/api/v1/escalation-policies", headers=web.world.auth("admin")).json()
    assert [p["name"] for p in listed["items"]] == []
    assert web.browser("responder").post("/policies/new", {"name": "y"}).status_code == 403


def test_the_list_pages_through_policies_by_name(web: Web) -> None:
    """Fifty to a page, in name order; the next page starts after the last name shown."""
    from warroom.oncall import policies
    from warroom.oncall.schemas import PolicyIn, StepIn, TargetIn

    with web.db.session() as s:
        for n in range(53):
            policies.create_policy(
                s,
                PolicyIn(
                    name=f"policy {n:02d}",
                    steps=[StepIn(targets=[TargetIn(type="user", id=web.world.responder_id)])],
                ),
            )
    alice = web.browser("admin")
    listed = web.base.get("/api/v1/escalation-policies?limit=100", headers=web.world.auth("admin"))
    third = next(p["id"] for p in listed.json()["items"] if p["name"] == "policy 03")
    chosen = {"escalation_policy_id": str(third)}
    r = alice.post(f"/services/{web.world.checkout_id}/policy", chosen)
    assert r.status_code == 303
    reader = web.browser("stakeholder")
    first = reader.get("/policies").text
    assert f'href="/services/{web.world.checkout_id}">checkout-api</a>' in first
    assert "policy 00" in first and "policy 49" in first and "policy 50" not in first
    assert 'href="/policies?after=policy+49"' in first
    second = reader.get("/policies?after=policy+49").text
    assert "policy 50" in second and "policy 52" in second and "policy 49" not in second
    assert "Next policies" not in second and 'href="/policies"' in second
