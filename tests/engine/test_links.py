"""Signed action links: a GET never changes anything; expired, forged and misused links are
refused with a page that says so, and nothing changes."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.conftest import World
from tests.engine.test_engine import trigger
from warroom.db.base import utcnow
from warroom.notify.signing import make_action_token


def incident(client: TestClient, world: World) -> dict[str, object]:
    return client.get("/api/v1/incidents/1", headers=world.auth("admin")).json()  # type: ignore[no-any-return]


def link(client: TestClient, action: str, user_id: int, expires_in: timedelta) -> str:
    secret = client.app.state.secret  # type: ignore[attr-defined]
    return "/act/" + make_action_token(secret, action, user_id, 1, utcnow() + expires_in)


def test_get_shows_a_button_and_post_acts(quiet_client: TestClient, world: World) -> None:
    trigger(quiet_client, world)
    url = link(quiet_client, "resolve", world.responder_id, timedelta(hours=1))
    page = quiet_client.get(url)
    assert page.status_code == 200 and "Resolve incident #1?" in page.text
    assert incident(quiet_client, world)["status"] == "triggered"
    done = quiet_client.post(url)
    assert done.status_code == 200 and "resolved" in done.text
    assert incident(quiet_client, world)["status"] == "resolved"
    # Following it again changes nothing and says why.
    again = quiet_client.post(url)
    assert again.status_code == 409 and "already resolved" in again.text


def test_expired_forged_and_view_links_change_nothing(
    quiet_client: TestClient,
    world: World,
) -> None:
    trigger(quiet_client, world)
    expired = link(quiet_client, "ack", world.responder_id, timedelta(seconds=-1))
    for response in (quiet_client.get(expired), quiet_client.post(expired)):
        assert response.status_code == 410 and "expired" in response.text
    good = link(quiet_client, "ack", world.responder_id, timedelta(hours=1))
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    assert quiet_client.post(forged).status_code == 400
    # A link signed with another key is as good as forged.
    other = "/act/" + make_action_token(
        "not-the-key", "ack", world.responder_id, 1, utcnow() + timedelta(hours=1)
    )
    assert quiet_client.post(other).status_code == 400
    view = link(quiet_client, "view", world.responder_id, timedelta(hours=1))
    assert quiet_client.post(view).status_code == 400
    assert incident(quiet_client, world)["status"] == "triggered"


def test_a_deactivated_persons_link_no_longer_acts(
    quiet_client: TestClient,
    world: World,
) -> None:
    trigger(quiet_client, world)
    url = link(quiet_client, "ack", world.responder_id, timedelta(hours=1))
    r = quiet_client.patch(
        f"/api/v1/users/{world.responder_id}", headers=world.auth("admin"), json={"active": False}
    )
    assert r.status_code == 200, r.text
    assert quiet_client.post(url).status_code == 403
    assert incident(quiet_client, world)["status"] == "triggered"
