"""The war room says how paging stands: which policy, the step due next, whom and when, and a
warning when nobody is being paged and why."""

from __future__ import annotations

import re

from tests.web.conftest import Web
from tests.web.helpers import declared


def test_the_next_step_and_whom_it_pages_are_shown(web: Web) -> None:
    w = web.world
    admin = w.auth("admin")
    policy = web.base.post(
        "/api/v1/escalation-policies",
        headers=admin,
        json={
            "name": "Checkout on call",
            "steps": [
                {"delay_seconds": 180, "targets": [{"type": "user", "id": w.responder_id}]},
                {"delay_seconds": 300, "targets": [{"type": "user", "id": w.admin_id}]},
            ],
        },
    ).json()
    r = web.base.put(
        f"/api/v1/services/{w.checkout_id}/escalation-policy",
        headers=admin,
        json={"escalation_policy_id": policy["id"]},
    )
    assert r.status_code == 200
    incident_id = declared(web, "Checkout down", impact=1, urgency=1)
    page = web.browser("stakeholder").get(f"/incidents/{incident_id}").text
    assert "Checkout on call" in page
    # The engine fires step 1 at once: the page shows it due now, or fired with step 2 next.
    assert re.search(r"Next: step 1 — Bob — now|Next: step 2 — Alice — in [23]m", page), page
    fragment = web.browser("stakeholder").get(f"/incidents/{incident_id}/panels.fragment").text
    assert 'id="incident-escalation"' in fragment


def test_nobody_paged_is_a_warning_that_says_why(web: Web) -> None:
    incident_id = declared(web, "No policy here", impact=1, urgency=1)
    page = web.browser("responder").get(f"/incidents/{incident_id}").text
    assert "Nobody is paged: the service has no escalation policy" in page
    assert 'role="alert"' in page
