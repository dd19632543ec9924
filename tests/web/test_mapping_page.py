"""A generic integration's mapping in the browser: try a pasted payload (nothing stored), save
(refused beside the field that fails, typed text kept), and the mapped integration at work."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.conftest import count_rows
from tests.web.conftest import Web

PAYLOAD = {"title": "Disk <b>full</b> on db-2", "level": "critical", "id": "disk-db-2"}
FORM = {
    "summary": "{{ title }}",
    "severity": "{{ level }}",
    "dedup_key": "{{ id }}",
    "source": "",
    "resolve_when": "level == 'ok'",
    "labels": "host = db-2\nlevel = {{ level }}",
    "payload": json.dumps(PAYLOAD),
}


def _generic(web: Web) -> dict[str, Any]:
    items = web.base.get(
        f"/api/v1/integrations?service_id={web.world.checkout_id}",
        headers=web.world.auth("admin"),
    ).json()
    return next(i for i in items if i["type"] == "generic")


def _url(web: Web) -> str:
    return f"/services/{web.world.checkout_id}/integrations/{_generic(web)['id']}/mapping"


def test_try_it_shows_what_the_payload_becomes_and_stores_nothing(web: Web) -> None:
    alice = web.browser("admin")
    service_page = alice.get(f"/services/{web.world.checkout_id}").text
    assert f'href="{_url(web)}"' in service_page and "Add a mapping" in service_page
    form = alice.get(_url(web))
    assert form.status_code == 200 and 'id="m-summary"' in form.text
    r = alice.post(_url(web), {**FORM, "intent": "try"})
    assert r.status_code == 200, r.text
    result = r.text.split('id="result-h"', 1)[1]
    assert "Disk &lt;b&gt;full&lt;/b&gt; on db-2" in result and "<b>full</b>" not in result
    assert "sev-critical" in result and "disk-db-2" in result
    assert "level=critical" in result and "host=db-2" in result
    # What was typed is kept in the form, escaped.
    assert 'value="{{ title }}"' in r.text
    assert _generic(web)["mapping"] is None
    assert count_rows(web.db, "alerts") == 0

    resolved = alice.post(
        _url(web), {**FORM, "payload": json.dumps({**PAYLOAD, "level": "ok"}), "intent": "try"}
    )
    assert "<dd>resolve</dd>" in resolved.text

    failing = alice.post(_url(web), {**FORM, "payload": '{"id": "x"}', "intent": "try"})
    assert failing.status_code == 200
    assert "The mapping fails on this payload" in failing.text
    assert "unmapped event: summary: &#39;title&#39; is undefined" in failing.text


def test_save_refuses_beside_the_field_and_keeps_what_was_typed(web: Web) -> None:
    alice = web.browser("admin")
    r = alice.post(_url(web), {**FORM, "severity": "{{ levle }}", "intent": "save"})
    assert r.status_code == 422
    err = re.search(r'<p class="field-error" id="m-severity-err">([^<]+)</p>', r.text)
    assert err and "fails on the sample payload" in err.group(1)
    assert "&#39;levle&#39; is undefined" in err.group(1)
    assert 'value="{{ levle }}"' in r.text
    assert _generic(web)["mapping"] is None

    broken = alice.post(_url(web), {**FORM, "summary": "{{ title", "intent": "save"})
    assert broken.status_code == 422 and 'id="m-summary-err"' in broken.text
    not_json = alice.post(_url(web), {**FORM, "payload": "{oops", "intent": "try"})
    assert not_json.status_code == 422 and 'id="m-payload-err"' in not_json.text
    bad_label = alice.post(_url(web), {**FORM, "labels": "no equals sign", "intent": "save"})
    assert bad_label.status_code == 422 and 'id="m-labels-err"' in bad_label.text
    assert _generic(web)["mapping"] is None


def test_a_saved_mapping_maps_the_next_event_and_can_be_removed(web: Web) -> None:
    alice = web.browser("admin")
    r = alice.post(_url(web), {**FORM, "intent": "save"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=saved")
    page = alice.get(r.headers["location"]).text
    assert "Mapping saved." in page and "Remove mapping" in page
    assert _generic(web)["mapping"]["sample"] == PAYLOAD
    service_page = alice.get(f"/services/{web.world.checkout_id}").text
    assert "mapped" in service_page and "Edit mapping and try a payload" in service_page

    sent = web.base.post(f"/integrations/generic/{web.world.generic_key}", json=PAYLOAD)
    assert sent.status_code == 202
    assert sent.json()["events"] == [{"dedup_key": "disk-db-2", "result": "opened"}]

    removed = alice.post(_url(web), {"intent": "remove"})
    assert removed.status_code == 303 and _generic(web)["mapping"] is None


def test_only_those_who_set_the_service_up_see_the_page(web: Web) -> None:
    for who in ("stakeholder", "responder"):  # bob is in no team owning checkout-api
        b = web.browser(who)
        assert b.get(_url(web)).status_code == 403
        assert b.post(_url(web), {**FORM, "intent": "save"}).status_code == 403
    alice = web.browser("admin")
    assert alice.post(_url(web), {**FORM, "intent": "try"}, csrf=False).status_code == 403
    am = f"/services/{web.world.checkout_id}/integrations/999999/mapping"
    assert alice.get(am).status_code == 404
