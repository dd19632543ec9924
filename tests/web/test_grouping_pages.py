"""Grouping rules in the browser's forms: a service's own on its edit page (admins and its
owning team's responders), the global ones on the silences page (admins)."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import count_rows
from tests.web.conftest import Web
from warroom.alerts.models import GroupingRule


def test_a_services_grouping_rules_are_added_refused_beside_the_field_and_deleted(
    web: Web,
) -> None:
    sid = web.world.checkout_id
    alice = web.browser("admin")
    page = alice.get(f"/services/{sid}/edit")
    assert "Grouping rules" in page.text and "No grouping rules" in page.text
    typed = {"keys": "labels.cluster, cluster", "matchers": 'job="<b>api</b>"', "window": "5"}
    r = alice.post(f"/services/{sid}/grouping-rules", typed)
    assert r.status_code == 422
    # Beside the keys field, what was typed kept (escaped), nothing stored.
    assert 'id="g-service-keys-err"' in r.text and "unknown key &#39;cluster&#39;" in r.text
    assert 'aria-describedby="g-service-keys-err"' in r.text
    assert 'value="labels.cluster, cluster"' in r.text
    assert "job=&#34;&lt;b&gt;api&lt;/b&gt;&#34;" in r.text
    r = alice.post(
        f"/services/{sid}/grouping-rules", {**typed, "keys": "labels.cluster", "window": "x"}
    )
    assert r.status_code == 422 and 'id="g-service-window-err"' in r.text
    r = alice.post(
        f"/services/{sid}/grouping-rules",
        {**typed, "keys": "labels.cluster", "matchers": 'job=~"(a"'},
    )
    assert r.status_code == 422 and 'id="g-service-matchers-err"' in r.text
    assert count_rows(web.db, "grouping_rules") == 0

    r = alice.post(
        f"/services/{sid}/grouping-rules",
        {"keys": "labels.alertname labels.cluster", "window": "5", "dependency_aware": "1"},
    )
    assert r.status_code == 303 and r.headers["location"].endswith("#grouping-h")
    with web.db.read_session() as s:
        made = s.scalars(select(GroupingRule)).one()
    assert (made.service_id, made.keys, made.window_seconds, made.dependency_aware) == (
        sid,
        ["labels.alertname", "labels.cluster"],
        300,
        True,
    )
    page = alice.get(f"/services/{sid}/edit").text
    assert "labels.alertname, labels.cluster" in page and "5 min" in page
    assert "joins a dependency" in page
    # A responder of another team may not; the delete needs its confirmation.
    bob = web.browser("responder")
    assert bob.post(f"/services/{sid}/grouping-rules", {"keys": "severity"}).status_code == 403
    assert (
        bob.post(f"/services/{sid}/grouping-rules/{made.id}/delete", {"confirm": "yes"}).status_code
        == 403
    )
    assert alice.post(f"/services/{sid}/grouping-rules/{made.id}/delete").status_code == 422
    r = alice.post(f"/services/{sid}/grouping-rules/{made.id}/delete", {"confirm": "yes"})
    assert r.status_code == 303
    assert count_rows(web.db, "grouping_rules") == 0


def test_global_grouping_rules_on_the_silences_page_are_for_admins(web: Web) -> None:
    alice, bob = web.browser("admin"), web.browser("responder")
    assert "New grouping rule" not in bob.get("/silences").text
    assert bob.post("/silences/grouping-rules", {"keys": "severity"}).status_code == 403
    r = alice.post("/silences/grouping-rules", {"keys": ""})
    assert r.status_code == 422 and 'id="g-global-keys-err"' in r.text
    assert "at least one key" in r.text
    r = alice.post(
        "/silences/grouping-rules", {"keys": "labels.alertname", "matchers": 'severity="critical"'}
    )
    assert r.status_code == 303
    page = alice.get("/silences").text
    assert "Global grouping rules" in page and "labels.alertname" in page
    assert "severity=&#34;critical&#34;" in page
    with web.db.read_session() as s:
        made = s.scalars(select(GroupingRule)).one()
    assert made.service_id is None
    # It is not listed as one of a service's own rules.
    assert "No grouping rules" in alice.get(f"/services/{web.world.checkout_id}/edit").text
    r = alice.post(f"/silences/grouping-rules/{made.id}/delete", {"confirm": "yes"})
    assert r.status_code == 303 and count_rows(web.db, "grouping_rules") == 0
