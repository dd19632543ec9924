"""Archiving in the browser: the admin's button on the service page asks for a confirmation,
says beside it why it was refused (the open incidents, by number), and the archived service
leaves the pickers and the default /services list; /services is paged 50 to a page and its
filter survives paging."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from tests.web.conftest import Web
from tests.web.helpers import declared
from warroom.catalog import service as catalog
from warroom.catalog.models import Service


def _archived(web: Web, sid: int) -> bool:
    r = web.base.get(f"/api/v1/services/{sid}", headers=web.world.auth("admin"))
    return r.json()["archived_at"] is not None


def test_the_admin_archives_with_a_confirmation_and_unarchives(web: Web) -> None:
    w = web.world
    alice = web.browser("admin")
    page = alice.get(f"/services/{w.checkout_id}").text
    assert f'action="/services/{w.checkout_id}/archive"' in page
    assert 'id="archive-confirm"' in page and "required" in page

    # Not confirmed: refused beside the box, nothing changed.
    r = alice.post(f"/services/{w.checkout_id}/archive", {})
    assert r.status_code == 422 and 'id="archive-confirm-err"' in r.text
    assert "Tick the box" in r.text and not _archived(web, w.checkout_id)

    # An open incident: refused with its number, beside the button.
    incident_id = declared(web)
    r = alice.post(f"/services/{w.checkout_id}/archive", {"confirm": "yes"})
    assert r.status_code == 409 and f"#{incident_id}" in r.text
    assert 'id="archive-confirm-err"' in r.text and not _archived(web, w.checkout_id)
    r = web.base.post(f"/api/v1/incidents/{incident_id}/resolve", headers=w.auth())
    assert r.status_code == 200

    r = alice.post(f"/services/{w.checkout_id}/archive", {"confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"].endswith("done=archived")
    assert _archived(web, w.checkout_id)
    page = alice.get(f"/services/{w.checkout_id}").text
    assert 'id="archived-banner"' in page and "Service archived" not in page
    assert f'action="/services/{w.checkout_id}/unarchive"' in page
    # Its history stays linked from the war room.
    room = alice.get(f"/incidents/{incident_id}").text
    assert f'href="/services/{w.checkout_id}"' in room

    r = alice.post(f"/services/{w.checkout_id}/unarchive", {})
    assert r.status_code == 303 and not _archived(web, w.checkout_id)
    assert (
        f'action="/services/{w.checkout_id}/archive"'
        in alice.get(f"/services/{w.checkout_id}").text
    )


def test_responders_and_stakeholders_have_no_archive_button_and_are_refused(web: Web) -> None:
    w = web.world
    for who in ("responder", "stakeholder"):
        b = web.browser(who)
        assert "/archive" not in b.get(f"/services/{w.checkout_id}").text
        assert b.post(f"/services/{w.checkout_id}/archive", {"confirm": "yes"}).status_code == 403
        assert b.post(f"/services/{w.checkout_id}/unarchive", {}).status_code == 403
    assert not _archived(web, w.checkout_id)


def test_an_archived_service_leaves_the_pickers_and_the_default_list(web: Web) -> None:
    w = web.world
    alice = web.browser("admin")
    assert alice.post(f"/services/{w.database_id}/archive", {"confirm": "yes"}).status_code == 303
    for picker in ("/incidents/new", "/report"):
        page = alice.get(picker).text
        assert "checkout-api" in page and "payments-db" not in page, picker
    assert "payments-db" not in alice.get("/admin/status-page").text.split('name="service_id"')[1]
    # Another service's dependency picker keeps it only while it is a dependency already.
    edit = alice.get(f"/services/{w.checkout_id}/edit").text
    assert "payments-db (archived)" in edit
    with web.db.session() as s:
        other = catalog.create_service(s, name="search-api").id
    assert "payments-db" not in alice.get(f"/services/{other}/edit").text

    row = '<td data-label="Service"><a href="/services/{}">'
    listed = alice.get("/services").text
    assert row.format(w.database_id) not in listed and row.format(w.checkout_id) in listed
    assert "payments-db (archived)</a>" in listed  # checkout-api still depends on it
    shown = alice.get("/services?archived=1").text
    assert row.format(w.database_id) in shown
    assert (
        'class="badge archived"' in shown
        and 'id="s-archived" name="archived" value="1" checked' in shown
    )
    # The alert filter keeps it (its past alerts), marked.
    assert "payments-db (archived)" in alice.get("/alerts").text


def test_services_are_paged_fifty_to_a_page_and_the_filter_is_kept(web: Web) -> None:
    with web.db.session() as s:
        for n in range(60):
            svc = catalog.create_service(s, name=f"svc-{n:02d}", tier=3)
            if n % 2:
                svc.archived_at = func.now()
    with web.db.read_session() as s:
        in_use = s.scalar(
            select(func.count()).select_from(Service).where(Service.archived_at.is_(None))
        )
    assert in_use == 32  # the world's two and 30 of these
    bob = web.browser("stakeholder")
    first = bob.get("/services").text
    assert len(re.findall(r'<tr(?: class="archived")?>\s*<td data-label="Service">', first)) == 32
    assert "Next services" not in first  # 32 fit on one page

    shown = bob.get("/services?archived=1").text
    assert "62 services; page 1 of 2." in shown
    rows = re.findall(r'<td data-label="Service"><a href="/services/\d+">([^<]+)</a>', shown)
    assert len(rows) == 50
    nxt = re.search(r'href="/services\?([^"]+)" rel="next"', shown)
    assert nxt and "archived=1" in nxt.group(1) and "page=2" in nxt.group(1)
    second = bob.get("/services?" + nxt.group(1).replace("&amp;", "&")).text
    more = re.findall(r'<td data-label="Service"><a href="/services/\d+">([^<]+)</a>', second)
    assert len(more) == 12 and not set(more) & set(rows)
    assert "page 2 of 2" in second and 'rel="prev"' in second and 'rel="next"' not in second
    assert 'name="archived" value="1" checked' in second

    # A name search, kept in the page links too; past the last page shows the last one.
    found = bob.get("/services?q=svc-1&archived=1").text
    assert "10 services" in found and 'value="svc-1"' in found
    assert "page 2 of 2" in bob.get("/services?archived=1&page=99").text
