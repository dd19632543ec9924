"""A person's contact methods, notification rules and quiet hours through the REST API: each
person manages their own (admins anyone's), addresses are checked per channel and shown only
to their owner and admins, a webhook's signing secret is shown once."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import assert_error, fields
from tests.conftest import World, count_rows
from tests.oncall.helpers import API
from warroom.db.engine import Database
from warroom.notify.models import ContactMethod


def add_method(client: TestClient, world: World, user_id: int, who: str = "responder",
               **body: Any) -> Any:  # fmt: skip
    return client.post(f"{API}/users/{user_id}/contact-methods", json=body, headers=world.auth(who))


def test_contact_methods(client: TestClient, world: World, db: Database) -> None:
    bob = world.responder_id
    methods = f"{API}/users/{bob}/contact-methods"
    r = add_method(client, world, bob, channel="webhook", address="https://hooks.example.com/x",
                   label="Pager bridge")  # fmt: skip
    assert r.status_code == 201, r.text
    hook = r.json()
    assert len(hook["secret"]) >= 40 and hook["address"] == "https://hooks.example.com/x"
    with db.read_session() as s:
        stored = s.scalar(select(ContactMethod.secret).where(ContactMethod.id == hook["id"]))
    assert stored == hook["secret"]  # kept for signing, and shown this once only
    for channel, address in (("email", "bob@example.com"), ("sms", "+14155550123"),
                             ("voice", "+442071838750"), ("apprise", "ntfys://bob-pages"),
                             ("local", "console")):  # fmt: skip
        r = add_method(client, world, bob, channel=channel, address=address)
        assert r.status_code == 201, (channel, r.text)
        assert r.json()["secret"] is None
    listed = client.get(methods, headers=world.auth()).json()
    assert [m["channel"] for m in listed] == ["webhook", "email", "sms", "voice", "apprise",
                                              "local"]  # fmt: skip
    assert "secret" not in listed[0] and hook["secret"] not in str(listed)
    # Others see how Bob is reached, not where; admins see everything.
    assert all(m["address"] is None for m in client.get(methods,
               headers=world.auth("stakeholder")).json())  # fmt: skip
    assert client.get(methods, headers=world.auth("admin")).json() == listed

    for channel, address in (("email", "bob"), ("email", "Bob <bob@example.com>"),
                             ("sms", "4155550123"), ("voice", "+1 415 555 0123"),
                             ("webhook", "ftp://example.com"), ("webhook", "https://"),
                             ("apprise", "slack"), ("local", "")):  # fmt: skip
        err = assert_error(add_method(client, world, bob, channel=channel, address=address), 422)
        assert fields(err) == ["address"], (channel, address, err)
    assert_error(add_method(client, world, bob, channel="pigeon", address="roof"), 422)

    url = f"{methods}/{hook['id']}"
    r = client.patch(url, json={"label": "Bridge", "disabled": True}, headers=world.auth())
    assert r.status_code == 200 and r.json()["disabled"] and r.json()["label"] == "Bridge"
    assert client.patch(url, json={"disabled": False}, headers=world.auth()).json()[
        "disabled"] is False  # fmt: skip
    assert_error(client.patch(url, json={"address": "not a url"}, headers=world.auth()), 422)
    assert_error(client.patch(url, json={"channel": "email"}, headers=world.auth()), 422)
    assert_error(client.patch(url, json={"label": None}, headers=world.auth()), 422)

    # Bob's things are Bob's: a stakeholder or another responder may not touch them.
    alice_methods = f"{API}/users/{world.admin_id}/contact-methods"
    assert_error(add_method(client, world, world.admin_id, channel="local", address="x"), 403)
    assert_error(client.patch(url, json={"label": "x"}, headers=world.auth("stakeholder")), 403)
    assert_error(client.delete(url, headers=world.auth("stakeholder")), 403)
    assert client.get(alice_methods, headers=world.auth()).json() == []
    # An admin may manage anyone's.
    r = add_method(client, world, world.stakeholder_id, who="admin", channel="local", address="c")
    assert r.status_code == 201
    # A method id of another person is not found under this person.
    assert_error(client.delete(f"{API}/users/{world.stakeholder_id}/contact-methods/{hook['id']}",
                               headers=world.auth("admin")), 404)  # fmt: skip
    assert_error(client.get(f"{API}/users/99999/contact-methods", headers=world.auth("admin")), 404)

    assert client.delete(url, headers=world.auth()).status_code == 204
    assert_error(client.delete(url, headers=world.auth()), 404)
    assert count_rows(db, "contact_methods") == 6
    assert_error(client.get(methods), 401)


def test_notification_rules(client: TestClient, world: World, db: Database) -> None:
    bob = world.responder_id
    rules = f"{API}/users/{bob}/notification-rules"
    sms = add_method(client, world, bob, channel="sms", address="+14155550123").json()
    mail = add_method(client, world, bob, channel="email", address="bob@example.com").json()
    alices = add_method(client, world, world.admin_id, who="admin", channel="local",
                        address="console").json()  # fmt: skip

    def post(**body: Any) -> Any:
        return client.post(rules, json=body, headers=world.auth())

    r = post(contact_method_id=sms["id"], urgency="high", delay_seconds=0)
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["user_id"], first["urgency"], first["delay_seconds"]) == (bob, "high", 0)
    assert post(contact_method_id=mail["id"], urgency="low", delay_seconds=300).status_code == 201
    assert post(contact_method_id=mail["id"]).json()["urgency"] == "high"  # the default
    err = assert_error(post(contact_method_id=alices["id"]), 422)
    assert fields(err) == ["contact_method_id"]
    assert fields(assert_error(post(contact_method_id=sms["id"], delay_seconds=-1), 422)) == [
        "delay_seconds"
    ]
    assert_error(post(contact_method_id=sms["id"], urgency="medium"), 422)
    listed = client.get(rules, headers=world.auth("stakeholder")).json()
    assert [(r["urgency"], r["delay_seconds"]) for r in listed] == [
        ("high", 0), ("high", 0), ("low", 300),
    ]  # fmt: skip

    url = f"{rules}/{first['id']}"
    r = client.patch(url, json={"delay_seconds": 120, "contact_method_id": mail["id"]},
                     headers=world.auth())  # fmt: skip
    assert r.status_code == 200 and r.json()["delay_seconds"] == 120
    assert_error(client.patch(url, json={"contact_method_id": alices["id"]},
                              headers=world.auth()), 422)  # fmt: skip
    assert_error(client.patch(url, json={"urgency": None}, headers=world.auth()), 422)
    assert_error(client.patch(url, json={"delay_seconds": 1}, headers=world.auth("stakeholder")),
                 403)  # fmt: skip
    assert client.delete(url, headers=world.auth()).status_code == 204
    assert_error(client.delete(url, headers=world.auth()), 404)
    # Deleting a contact method takes its rules with it.
    assert count_rows(db, "notification_rules") == 2
    client.delete(f"{API}/users/{bob}/contact-methods/{mail['id']}", headers=world.auth())
    assert count_rows(db, "notification_rules") == 0


def test_quiet_hours(client: TestClient, world: World) -> None:
    url = f"{API}/users/{world.responder_id}/quiet-hours"
    assert client.get(url, headers=world.auth("stakeholder")).json() == {
        "user_id": world.responder_id, "time_zone": "America/New_York",
        "start": None, "end": None,
    }  # fmt: skip
    r = client.put(url, json={"start": "22:00", "end": "07:00"}, headers=world.auth())
    assert r.status_code == 200 and (r.json()["start"], r.json()["end"]) == ("22:00", "07:00")
    assert client.get(url, headers=world.auth()).json()["start"] == "22:00"
    for bad in ({"start": "22:00"}, {"start": "09:00", "end": "09:00"},
                {"start": "24:00", "end": "07:00"}, {"start": "9pm", "end": "07:00"}):  # fmt: skip
        assert_error(client.put(url, json=bad, headers=world.auth()), 422)
    assert_error(client.put(url, json={"start": None, "end": None},
                            headers=world.auth("stakeholder")), 403)  # fmt: skip
    r = client.put(url, json={"start": None, "end": None}, headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["start"] is None
