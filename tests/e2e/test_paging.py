"""Paging with real processes: an event in, a real email and a signed webhook out, escalation
after the step's delay, an acknowledgement through the signed link, and paging stopping."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.e2e.paging_harness import (
    Mailbox,
    WebhookReceiver,
    free_port,
    seed,
    start,
    stop,
    trigger,
    wait_for,
)
from tests.pgserver import create_postgres_database, drop_postgres_database
from warroom.db.engine import Database
from warroom.notify.signing import verify_webhook_signature


@pytest.fixture
def hooks() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.close()


@pytest.fixture
def url(own_database_url: str) -> str:
    return own_database_url


def timeline(port: int, token: str, incident_id: int = 1) -> list[str]:
    r = httpx.get(
        f"http://127.0.0.1:{port}/api/v1/incidents/{incident_id}/timeline",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    return [e["message"] for e in r.json()["items"]]


def events(port: int, token: str, incident_id: int = 1) -> list[tuple[str, datetime]]:
    r = httpx.get(
        f"http://127.0.0.1:{port}/api/v1/incidents/{incident_id}/timeline",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    return [(e["message"], datetime.fromisoformat(e["at"])) for e in r.json()["items"]]


def decided_at(story: list[tuple[str, datetime]], prefix: str) -> datetime:
    return next(at for message, at in story if message.startswith(prefix))


def test_page_escalates_then_stops_on_the_acknowledge_link(
    url: str, hooks: WebhookReceiver, mailbox: Mailbox
) -> None:
    setup = seed(url, hooks, step_delay=2, repeat=1)
    port = free_port()
    proc = start(url, "all", port, mailbox)
    try:
        trigger(port, setup.routing_key)
        # Step 1: Alice by email and by signed webhook, at once.
        mail = wait_for(lambda: mailbox.messages, 10, "the email to Alice")[0]
        assert mail["To"] == "alice@example.com"
        assert "Disk full on db-1" in mail["Subject"]
        alice_hook = wait_for(lambda: hooks.to("/alice"), 10, "Alice's webhook")[0]
        verify_webhook_signature(
            setup.secrets[setup.alice],
            alice_hook.headers["warroom-signature"],
            alice_hook.body,
            datetime.now(UTC),
        )
        payload = json.loads(alice_hook.body)
        assert payload["incident_id"] == 1 and set(payload["links"]) == {"ack", "resolve", "view"}

        # Nobody acknowledges: step 2 (Bob) after its 2 s delay.
        wait_for(lambda: hooks.to("/bob"), 10, "Bob's webhook")
        # Timing is measured between the engine's recorded decisions, not between webhook
        # arrivals (those include each delivery's own time, which varies with load).
        story = events(port, setup.secrets[0])
        triggered = decided_at(story, "Triggered by alert")
        step1 = decided_at(story, "Paging step 1")
        step2 = decided_at(story, "Paging step 2")
        assert (step1 - triggered).total_seconds() < 2, "step 1 must page at once"
        assert (step2 - step1).total_seconds() >= 2, "step 2 waits out step 1's delay"

        # The link in Alice's email: GET only shows a button and changes nothing.
        text_part = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
        body = text_part.get_payload(decode=True).decode()
        ack_url = next(
            u
            for u in re.findall(r"http://127\.0\.0\.1:\d+/act/\S+", body)
            if u == payload["links"]["ack"]
        )
        page = httpx.get(ack_url)
        assert page.status_code == 200 and '<form method="post">' in page.text
        incident = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/incidents/1",
            headers={"Authorization": f"Bearer {setup.secrets[0]}"},
        ).json()
        assert incident["status"] == "triggered"
        done = httpx.post(ack_url)
        assert done.status_code == 200 and "acknowledged" in done.text

        # The policy repeats once: without the acknowledgement Alice would be paged again 2 s
        # after Bob. Once the acknowledgement has committed, every escalation timer is done and
        # nothing is pending (waited for: today's link page may answer just before its commit).
        # Oversight keeps watching the resolution clock (its look timer stays), and the update
        # reminder of the open incident stays too.
        db = Database(url)

        def paging_stopped() -> bool:
            with db.read_session() as s:
                live = s.execute(
                    text("SELECT count(*) FROM timers WHERE done_at IS NULL AND kind = 'escalate'")
                )
                pending = s.execute(
                    text("SELECT count(*) FROM notifications WHERE status = 'pending'")
                )
                return live.scalar_one() == 0 and pending.scalar_one() == 0

        try:
            wait_for(paging_stopped, 5, "paging to stop")
        finally:
            db.dispose()
        count = len(hooks.received)
        story_text = timeline(port, setup.secrets[0])
        assert story_text[0].startswith("Triggered by alert: Disk full on db-1")
        assert any("Paging step 1" in m and "Alice" in m for m in story_text)
        assert any(m == "Notified Alice via email (page)" for m in story_text)
        assert any(m == "Notified Alice via webhook (page)" for m in story_text)
        assert any("Paging step 2" in m and "Bob" in m for m in story_text)
        assert any(m == "Notified Bob via webhook (page)" for m in story_text)
        assert story_text[-1] == "Acknowledged by Alice: via notification link"
        assert len(hooks.received) == count
        # A forged link is refused with a clear page and changes nothing.
        forged = httpx.post(ack_url[:-3] + ("AAA" if not ack_url.endswith("AAA") else "BBB"))
        assert forged.status_code == 400 and "not valid" in forged.text
    finally:
        stop(proc)


def test_crash_between_deciding_and_delivering_delivers_exactly_once(
    tmp_path: Path, hooks: WebhookReceiver
) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    setup = seed(url, hooks, step_delay=600)
    port = free_port()
    # The engine waits 30 s after claiming: the window in which we kill it.
    proc = start(url, "all", port, WARROOM_ENGINE_TEST_PAUSE="after_claim:30")
    db = Database(url)
    try:
        trigger(port, setup.routing_key)

        def decided() -> int:
            with db.read_session() as s:
                return int(
                    s.execute(
                        text("SELECT count(*) FROM notifications WHERE claimed_by IS NOT NULL")
                    ).scalar_one()
                )

        assert wait_for(decided, 10, "the page to be decided and claimed") >= 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert hooks.to("/alice") == [], "nothing was delivered before the crash"
    finally:
        stop(proc)
    proc = start(url, "all", port)
    try:
        wait_for(lambda: hooks.to("/alice"), 10, "the page after restart")
        time.sleep(1.5)  # a second delivery would show up well within this
        keys = [h.headers["idempotency-key"] for h in hooks.to("/alice")]
        assert len(keys) == 1, keys
        with db.read_session() as s:
            statuses = s.execute(
                text("SELECT status, attempts FROM notifications WHERE channel = 'webhook'")
            ).all()
        assert [tuple(r) for r in statuses] == [("sent", 1)]
    finally:
        stop(proc)
        db.dispose()


def test_two_engines_never_double_send_and_survive_a_kill(
    request: pytest.FixtureRequest, hooks: WebhookReceiver
) -> None:
    """What the design guarantees: while both engines live, never a resend; across a kill,
    at most one resend, and only of the page the dead engine had sent without recording,
    carrying the same Idempotency-Key (a receiver deduping on it sees each page once)."""
    base: str = request.getfixturevalue("postgres_base_url")
    url, name = create_postgres_database(base)
    setup = seed(url, hooks, step_delay=2, repeat=2)
    api_port = free_port()
    api = start(url, "api", api_port)
    engines = [start(url, "engine", free_port()) for _ in range(2)]
    try:
        time.sleep(1)  # both engines listening
        for n in range(5):
            trigger(api_port, setup.routing_key, dedup_key=f"key-{n}")
        # Five incidents? No: one service, grouping window -> one incident, paged once.
        # Steps 1 and 2 with both engines alive: every key exactly once.
        wait_for(lambda: hooks.to("/bob"), 10, "step 2")
        live = [h.headers["idempotency-key"] for h in hooks.received]
        assert len(live) == len(set(live)), f"sent twice between live engines: {live}"
        engines[0].send_signal(signal.SIGKILL)
        engines[0].wait()
        # The survivor carries on: the policy repeats (Alice, Bob, ...).
        wait_for(lambda: len(hooks.to("/bob")) >= 2, 20, "escalation to continue")
        keys = [h.headers["idempotency-key"] for h in hooks.received]
        resent = {k for k in keys if keys.count(k) > 1}
        assert len(resent) <= 1 and all(keys.count(k) == 2 for k in resent), keys
        assert all(keys.count(k) == 1 for k in live if k not in resent)
    finally:
        for proc in (api, *engines):
            stop(proc)
        drop_postgres_database(base, name)
