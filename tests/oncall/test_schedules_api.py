"""Schedules through the REST API: creating and changing them, refusing bad ones, who is on call
at fixed instants, final shifts with gaps, overrides and their overlap rule, the overview."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import assert_error, fields
from tests.conftest import World, count_rows
from tests.oncall.helpers import API, make_schedule, weekly_layer
from warroom.db.engine import Database


def on_call(client: TestClient, world: World, sid: int, at: str) -> dict[str, Any]:
    r = client.get(f"{API}/schedules/{sid}/on-call", params={"at": at}, headers=world.auth())
    assert r.status_code == 200, r.text
    return dict(r.json())


def who(status: dict[str, Any]) -> list[tuple[int, str | None]]:
    return [(u["user_id"], u["until"]) for u in status["on_call"]]


def override(client: TestClient, world: World, sid: int, **body: Any) -> Any:
    return client.post(f"{API}/schedules/{sid}/overrides", json=body, headers=world.auth())


# --- creating, reading, changing -------------------------------------------------------------


def test_create_read_update_delete(client: TestClient, world: World, db: Database) -> None:
    admin = world.auth("admin")
    created = make_schedule(client, world)
    sid = created["id"]
    layer = created["layers"][0]
    assert (created["name"], created["time_zone"]) == ("Primary", "Europe/London")
    assert layer["rotation"] == "weekly" and layer["start"] == "2026-01-05T09:00:00"
    assert layer["member_ids"] == [world.admin_id, world.responder_id]
    assert client.get(f"{API}/schedules/{sid}", headers=world.auth("stakeholder")).json() == created
    listed = client.get(f"{API}/schedules", headers=world.auth("stakeholder")).json()
    assert [s["id"] for s in listed["items"]] == [sid]

    # Layers are replaced as a whole: now a daily rotation of Bob alone, with office hours.
    r = client.patch(
        f"{API}/schedules/{sid}",
        json={
            "name": "Primary (daily)",
            "layers": [
                {
                    "name": "Days",
                    "rotation": "daily",
                    "start": "2026-01-05T09:00",
                    "member_ids": [world.responder_id],
                    "restrictions": [
                        {"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}
                    ],
                }
            ],
        },
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Primary (daily)"
    assert r.json()["layers"][0]["restrictions"] == [
        {"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}
    ]
    # Office hours only: nights and weekends are gaps, and the schedule says so.
    assert any("has nobody on call in the next 7 days" in w for w in r.json()["warnings"])
    assert count_rows(db, "schedule_layers") == 1 and count_rows(db, "layer_members") == 1
    assert who(on_call(client, world, sid, "2026-01-07T12:00:00Z")) == [
        (world.responder_id, "2026-01-07T17:00:00Z")
    ]
    assert who(on_call(client, world, sid, "2026-01-10T12:00:00Z")) == []  # a Saturday

    # A new zone moves the wall-clock handoffs with it: 09:00 in New York is 14:00 UTC.
    r = client.patch(
        f"{API}/schedules/{sid}", json={"time_zone": "America/New_York"}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert who(on_call(client, world, sid, "2026-01-07T13:59:00Z")) == []
    assert on_call(client, world, sid, "2026-01-07T14:00:00Z")["on_call"][0]["user_id"] == (
        world.responder_id
    )

    assert client.delete(f"{API}/schedules/{sid}", headers=admin).status_code == 204
    assert_error(client.get(f"{API}/schedules/{sid}", headers=admin), 404)
    assert_error(client.delete(f"{API}/schedules/{sid}", headers=admin), 404)
    assert count_rows(db, "schedule_layers") == 0 and count_rows(db, "layer_members") == 0


def test_bad_schedules_are_refused_with_a_clear_message(
    client: TestClient, world: World, db: Database
) -> None:
    admin = world.auth("admin")

    def refused(layer: dict[str, Any] | None = None, status: int = 422, **body: Any) -> str:
        payload = {
            "name": "Bad",
            "time_zone": "Europe/London",
            "layers": [layer or weekly_layer(world.admin_id)],
            **body,
        }
        err = assert_error(client.post(f"{API}/schedules", json=payload, headers=admin), status)
        return str(err["message"]) + " " + " ".join(d.get("message", "") for d in err["details"])

    err = assert_error(
        client.post(
            f"{API}/schedules",
            json={"name": "Bad", "time_zone": "Mars/Olympus_Mons", "layers": [weekly_layer(1)]},
            headers=admin,
        ),
        422,
    )
    assert fields(err) == ["time_zone"] and "Mars/Olympus_Mons" in err["details"][0]["message"]

    custom = {"rotation": "custom", "start": "2026-01-05T09:00", "member_ids": [world.admin_id]}
    assert "shift_seconds must be positive, got 0" in refused({**custom, "shift_seconds": 0})
    assert "shift_seconds must be positive, got -3600" in refused(
        {**custom, "shift_seconds": -3600}
    )
    assert "at least an hour" in refused({**custom, "shift_seconds": 60})
    assert "needs shift_seconds" in refused(custom)
    assert "only custom rotations" in refused(weekly_layer(world.admin_id, shift_seconds=3600))
    assert "layer 0: members must not be empty" in refused(weekly_layer())
    assert "user 99999 does not exist" in refused(weekly_layer(world.admin_id, 99999))
    assert "offset" in refused(weekly_layer(world.admin_id, start="2026-01-05T09:00+01:00"))
    assert "not a date and time" in refused(weekly_layer(world.admin_id, start="next monday"))
    assert "end" in refused(weekly_layer(world.admin_id, end="2025-01-01T00:00"))
    window = {"weekdays": [0], "start": "09:00", "end": "09:00"}
    assert "positive length" in refused(weekly_layer(world.admin_id, restrictions=[window]))
    window = {"weekdays": [7], "start": "09:00", "end": "17:00"}
    assert "weekdays are 0 (Monday) to 6" in refused(
        weekly_layer(world.admin_id, restrictions=[window])
    )
    window = {"weekdays": [0], "start": "25:00", "end": "17:00"}
    refused(weekly_layer(world.admin_id, restrictions=[window]))
    assert "team 99999 does not exist" in refused(team_id=99999)
    refused(layers=[])
    # Every problem at once, each pointing at its layer.
    err = assert_error(
        client.post(
            f"{API}/schedules",
            json={
                "name": "Bad",
                "time_zone": "UTC",
                "layers": [
                    weekly_layer(),
                    {**custom, "shift_seconds": 0},
                ],
            },
            headers=admin,
        ),
        422,
    )
    assert fields(err) == ["layers.1", "layers.0"]

    # A deactivated person cannot be put on a rotation.
    r = client.patch(f"{API}/users/{world.responder_id}", json={"active": False}, headers=admin)
    assert r.status_code == 200
    assert f"user {world.responder_id} is deactivated" in refused(
        weekly_layer(world.admin_id, world.responder_id)
    )

    make_schedule(client, world, "Taken", layers=[weekly_layer(world.admin_id)])
    assert "already exists" in refused(name="Taken", status=409)
    assert count_rows(db, "schedules") == 1 and count_rows(db, "schedule_layers") == 1

    # A bad change leaves the schedule as it was.
    sid = client.get(f"{API}/schedules", headers=admin).json()["items"][0]["id"]
    before = client.get(f"{API}/schedules/{sid}", headers=admin).json()
    r = client.patch(
        f"{API}/schedules/{sid}",
        json={"name": "Renamed", "layers": [weekly_layer(99999)]},
        headers=admin,
    )
    assert_error(r, 422)
    assert_error(client.patch(f"{API}/schedules/{sid}", json={"name": None}, headers=admin), 422)
    assert_error(
        client.patch(f"{API}/schedules/{sid}", json={"time_zone": "Nowhere"}, headers=admin), 422
    )
    after = client.get(f"{API}/schedules/{sid}", headers=admin).json()
    assert after["name"] == before["name"] and after["layers"] == before["layers"]


# --- who is on call, shifts ----------------------------------------------------------------------


def test_who_is_on_call_at_fixed_instants(client: TestClient, world: World) -> None:
    sid = make_schedule(client, world)["id"]
    alice, bob = world.admin_id, world.responder_id
    status = on_call(client, world, sid, "2026-01-07T12:00:00Z")
    assert status["at"] == "2026-01-07T12:00:00Z" and status["schedule_name"] == "Primary"
    assert who(status) == [(alice, "2026-01-12T09:00:00Z")]
    assert status["on_call"][0]["name"] == "Alice"
    assert status["next"]["at"] == "2026-01-12T09:00:00Z"
    assert [(u["user_id"], u["until"]) for u in status["next"]["users"]] == [
        (bob, "2026-01-19T09:00:00Z")
    ]
    # The handoff stays at 09:00 London time after the clocks go forward (08:00 UTC).
    status = on_call(client, world, sid, "2026-03-25T12:00:00+01:00")
    assert who(status) == [(bob, "2026-03-30T08:00:00Z")]
    # Before the rotation starts: a gap, and who starts it.
    status = on_call(client, world, sid, "2026-01-01T00:00:00Z")
    assert status["on_call"] == [] and status["next"]["at"] == "2026-01-05T09:00:00Z"
    assert [u["user_id"] for u in status["next"]["users"]] == [alice]

    for bad in ("2026-01-07T12:00:00", "tomorrow", "1900-01-01T00:00:00Z"):
        r = client.get(f"{API}/schedules/{sid}/on-call", params={"at": bad}, headers=world.auth())
        assert_error(r, 422)
    assert_error(client.get(f"{API}/schedules/99999/on-call", headers=world.auth()), 404)
    # Without ?at= it answers for now.
    assert client.get(f"{API}/schedules/{sid}/on-call", headers=world.auth()).status_code == 200


def test_shifts_with_gaps(client: TestClient, world: World) -> None:
    alice, bob = world.admin_id, world.responder_id
    sid = make_schedule(
        client,
        world,
        layers=[
            weekly_layer(alice, bob),
            # A higher layer wins where it has someone: Carol covers Tuesday nights.
            {
                "rotation": "daily",
                "start": "2026-01-05T00:00",
                "member_ids": [world.stakeholder_id],
                "restrictions": [{"weekdays": [1], "start": "22:00", "end": "06:00"}],
            },
        ],
    )["id"]
    r = client.get(
        f"{API}/schedules/{sid}/shifts",
        params={"since": "2026-01-01T00:00:00Z", "until": "2026-01-15T00:00:00Z"},
        headers=world.auth("stakeholder"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["gaps"] == [{"start": "2026-01-01T00:00:00Z", "end": "2026-01-05T09:00:00Z"}]
    shifts = [(s["user_id"], s["start"], s["end"], s["layer"]) for s in body["shifts"]]
    assert shifts == [
        (alice, "2026-01-05T09:00:00Z", "2026-01-06T22:00:00Z", 0),
        (world.stakeholder_id, "2026-01-06T22:00:00Z", "2026-01-07T06:00:00Z", 1),
        (alice, "2026-01-07T06:00:00Z", "2026-01-12T09:00:00Z", 0),
        (bob, "2026-01-12T09:00:00Z", "2026-01-13T22:00:00Z", 0),
        (world.stakeholder_id, "2026-01-13T22:00:00Z", "2026-01-14T06:00:00Z", 1),
        (bob, "2026-01-14T06:00:00Z", "2026-01-15T00:00:00Z", 0),
    ]
    assert body["shifts"][0]["name"] == "Alice"

    def shifts_status(**params: str) -> int:
        return client.get(
            f"{API}/schedules/{sid}/shifts", params=params, headers=world.auth()
        ).status_code

    assert shifts_status(since="2026-01-01T00:00:00Z", until="2027-01-02T00:00:00Z") == 200
    assert shifts_status(since="2026-01-01T00:00:00Z", until="2027-01-02T00:00:01Z") == 422
    assert shifts_status(since="2026-01-02T00:00:00Z", until="2026-01-01T00:00:00Z") == 422
    assert shifts_status(since="2026-01-01T00:00:00") == 422
    assert shifts_status() == 200  # the next 7 days


# --- overrides ---------------------------------------------------------------------------------


def test_overrides_and_the_overlap_rule(client: TestClient, world: World, db: Database) -> None:
    alice, bob, carol = world.admin_id, world.responder_id, world.stakeholder_id
    sid = make_schedule(client, world)["id"]
    r = override(
        client,
        world,
        sid,
        kind="replace",
        user_id=alice,
        replacement_id=carol,
        start="2026-01-06T00:00:00Z",
        end="2026-01-07T00:00:00Z",
        note="Alice at the dentist",
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["kind"], first["created_by_id"], first["note"]) == (
        "replace",
        world.responder_id,
        "Alice at the dentist",
    )
    status = on_call(client, world, sid, "2026-01-06T12:00:00Z")
    assert who(status) == [(carol, "2026-01-07T00:00:00Z")]
    assert [u["user_id"] for u in status["next"]["users"]] == [alice]

    # Overlapping, and involving Carol again: refused, naming the override it clashes with.
    r = override(
        client, world, sid, kind="add", user_id=carol,
        start="2026-01-06T12:00:00Z", end="2026-01-08T00:00:00Z",
    )  # fmt: skip
    err = assert_error(r, 409, "conflict")
    assert f"override {first['id']}" in err["message"] and "Alice with Carol" in err["message"]
    assert err["details"] == [{"override_id": first["id"]}]
    # Touching end-to-start is fine, and so is an overlap that shares nobody.
    r = override(
        client, world, sid, kind="add", user_id=carol,
        start="2026-01-07T00:00:00Z", end="2026-01-08T00:00:00Z",
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = override(
        client, world, sid, kind="remove", user_id=bob,
        start="2026-01-05T00:00:00Z", end="2026-01-20T00:00:00Z",
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert who(on_call(client, world, sid, "2026-01-07T12:00:00Z")) == [
        (alice, "2026-01-12T09:00:00Z"),
        (carol, "2026-01-08T00:00:00Z"),
    ]
    # Bob is removed for his whole week: a gap until the removal ends.
    assert who(on_call(client, world, sid, "2026-01-13T12:00:00Z")) == []
    shifts = client.get(
        f"{API}/schedules/{sid}/shifts",
        params={"since": "2026-01-06T00:00:00Z", "until": "2026-01-07T00:00:00Z"},
        headers=world.auth(),
    ).json()["shifts"]
    assert [(s["user_id"], s["layer"]) for s in shifts] == [(carol, None)]

    def bad(message: str, **body: Any) -> None:
        payload = {"kind": "add", "user_id": carol, "start": "2026-02-01T00:00:00Z",
                   "end": "2026-02-02T00:00:00Z", **body}  # fmt: skip
        err = assert_error(override(client, world, sid, **payload), 422)
        assert message in err["message"] + str(err["details"]), err

    bad("must be after start", end="2026-01-31T00:00:00Z")
    bad("time zone", start="2026-02-01T00:00:00")
    bad("needs replacement_id", kind="replace")
    bad("different from user", kind="replace", replacement_id=carol)
    bad("only replace overrides", replacement_id=alice)
    bad("user 99999 does not exist", user_id=99999)
    bad("unknown field", who="me")

    listed = client.get(
        f"{API}/schedules/{sid}/overrides",
        params={"since": "2026-01-01T00:00:00Z"},
        headers=world.auth("stakeholder"),
    ).json()
    assert [o["kind"] for o in listed] == ["remove", "replace", "add"]  # by start
    listed = client.get(
        f"{API}/schedules/{sid}/overrides",
        params={"since": "2026-01-06T12:00:00Z", "until": "2026-01-07T00:00:00Z"},
        headers=world.auth(),
    ).json()
    assert [o["kind"] for o in listed] == ["remove", "replace"]  # the add starts at the end
    url = f"{API}/schedules/{sid}/overrides/{first['id']}"
    assert client.delete(url, headers=world.auth()).status_code == 204
    assert_error(client.delete(url, headers=world.auth()), 404)
    other = make_schedule(client, world, "Other")["id"]
    assert_error(
        client.delete(f"{API}/schedules/{other}/overrides/{listed[0]['id']}", headers=world.auth()),
        404,
    )
    r = override(client, world, 99999, kind="add", user_id=carol,
                 start="2026-02-01T00:00:00Z", end="2026-02-02T00:00:00Z")  # fmt: skip
    assert_error(r, 404)
    assert count_rows(db, "schedule_overrides") == 2


def test_overview_of_every_schedule_and_the_warnings(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    make_schedule(client, world)
    make_schedule(
        client, world, "Later", layers=[weekly_layer(world.admin_id, start="2100-01-04T09:00")]
    )
    r = client.get(f"{API}/on-call", params={"at": "2026-01-07T12:00:00Z"}, headers=world.auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["at"] == "2026-01-07T12:00:00Z"
    by_name = {s["schedule_name"]: s for s in body["schedules"]}
    assert who(by_name["Primary"]) == [(world.admin_id, "2026-01-12T09:00:00Z")]
    assert by_name["Later"]["on_call"] == [] and by_name["Later"]["next"] is None
    warnings = body["warnings"]
    assert "service 'checkout-api' has no escalation policy: its incidents page nobody" in warnings
    assert any(w.startswith("schedule 'Later' has nobody on call") for w in warnings)
    assert not any(w.startswith("schedule 'Primary'") for w in warnings)
    # A member deactivated later is flagged: their shifts page nobody.
    client.patch(f"{API}/users/{world.responder_id}", json={"active": False}, headers=admin)
    warnings = client.get(f"{API}/on-call", headers=admin).json()["warnings"]
    assert any("Bob (user" in w and "deactivated" in w for w in warnings), warnings


def test_who_may_do_what(client: TestClient, world: World) -> None:
    sid = make_schedule(client, world)["id"]
    body = {"name": "X", "time_zone": "UTC", "layers": [weekly_layer(world.admin_id)]}
    anonymous = [("GET", f"{API}/schedules"), ("GET", f"{API}/on-call"),
                 ("POST", f"{API}/schedules"), ("DELETE", f"{API}/schedules/{sid}")]  # fmt: skip
    for method, url in anonymous:
        r = client.request(method, url, json=body if method == "POST" else None)
        assert_error(r, 401)
    carol, bob = world.auth("stakeholder"), world.auth("responder")
    assert client.get(f"{API}/schedules/{sid}", headers=carol).status_code == 200
    assert_error(client.post(f"{API}/schedules", json=body, headers=carol), 403)
    assert_error(client.post(f"{API}/schedules", json=body, headers=bob), 403)
    assert_error(client.patch(f"{API}/schedules/{sid}", json={"name": "Y"}, headers=bob), 403)
    assert_error(client.delete(f"{API}/schedules/{sid}", headers=bob), 403)
    window = {"kind": "add", "user_id": world.responder_id,
              "start": "2026-01-06T00:00:00Z", "end": "2026-01-07T00:00:00Z"}  # fmt: skip
    assert_error(client.post(f"{API}/schedules/{sid}/overrides", json=window, headers=carol), 403)
    r = client.post(f"{API}/schedules/{sid}/overrides", json=window, headers=bob)
    assert r.status_code == 201
    url = f"{API}/schedules/{sid}/overrides/{r.json()['id']}"
    assert_error(client.delete(url, headers=carol), 403)
    assert client.delete(url, headers=bob).status_code == 204
