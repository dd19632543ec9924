"""Fault tests with real processes: the engine is SIGKILLed at each point between deciding a
page and recording its delivery, then restarted, and each page is delivered exactly once,
except across a kill after the receiver's 2xx and before the record, where one resend carrying
the same Idempotency-Key happens (a receiver deduping on it sees one). Targets that hang,
answer 500 or reset the connection are retried, then failed or fallen back, while the others
are delivered at once. The long form is bench/engine_faults.py."""

from __future__ import annotations

import signal
import subprocess

import pytest
from sqlalchemy import text

from tests.e2e.paging_harness import (
    FaultyReceiver,
    Output,
    free_port,
    seed_people,
    start,
    stop,
    trigger,
    wait_for,
)
from warroom.db.engine import Database

# Kill points reached through the engine's pause hook; "during_send" is reached by a receiver
# that holds the request instead.
KILL_POINTS = ["before_claim", "after_claim", "during_send", "after_send"]
# Every point on SQLite (a restart releases the dead process's claims); on PostgreSQL, where
# a claim is taken over only when its lease runs out, the two points that differ there (the
# long form, bench/engine_faults.py, runs them all on both, repeatedly).
CASES = [
    pytest.param(backend, point, id=f"{backend}-{point}")
    for backend, point in [("sqlite", p) for p in KILL_POINTS]
    + [("postgresql", "after_claim"), ("postgresql", "after_send")]
]


def outbox(url: str) -> list[tuple[str, int, str]]:
    db = Database(url)
    try:
        with db.read_session() as s:
            return [
                (r.status, r.attempts, r.target.rsplit("/", 1)[-1])
                for r in s.execute(
                    text("SELECT status, attempts, target FROM notifications ORDER BY id")
                )
            ]
    finally:
        db.dispose()


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize(("own_database_url", "point"), CASES, indirect=["own_database_url"])
def test_a_kill_between_decision_and_record_delivers_each_page_once(
    own_database_url: str, point: str
) -> None:
    check_kill_point(own_database_url, point)


def check_kill_point(url: str, point: str) -> None:
    behaviour = {"/alice": "hold"} if point == "during_send" else {}
    hooks = FaultyReceiver(behaviour)
    routing_key = seed_people(url, {"alice": [(hooks.url("/alice"), True)]})
    port = free_port()
    pause = {} if point == "during_send" else {"WARROOM_ENGINE_TEST_PAUSE": f"{point}:60"}
    proc = start(url, "all", port, **pause)
    try:
        output = Output(proc)
        trigger(port, routing_key)
        if point == "during_send":
            wait_for(lambda: hooks.to("/alice"), 20, "the request to reach the receiver")
        else:
            output.wait_for(f"warroom-engine-paused {point}")
        kill(proc)
        hooks.released.set()  # a held request is dropped unanswered: its sender is gone
        before = len(hooks.to("/alice"))
        assert before == (1 if point in ("during_send", "after_send") else 0)
        proc = start(url, "all", port)
        Output(proc)
        wait_for(lambda: hooks.deduped("/alice"), 20, "the page after the restart")
        wait_for(lambda: outbox(url) == [("sent", 1, "alice")], 10, "the record")
        arrivals = hooks.to("/alice")
        keys = {a.key for a in arrivals}
        assert len(keys) == 1, keys  # every attempt carried the same Idempotency-Key
        assert hooks.deduped("/alice") == sorted(keys)
        answered = [a for a in arrivals if a.answered]
        if point == "after_send":
            # The one window where the receiver saw it twice: 2xx given, record lost.
            assert (len(arrivals), len(answered)) == (2, 2)
        elif point == "during_send":
            assert (len(arrivals), len(answered)) == (2, 1)
        else:
            assert (len(arrivals), len(answered)) == (1, 1)
    finally:
        stop(proc)
        hooks.close()


@pytest.mark.parametrize("own_database_url", ["sqlite"], indirect=True)
def test_hanging_failing_and_resetting_targets_do_not_hold_up_the_others(
    own_database_url: str,
) -> None:
    check_faulty_targets(own_database_url)


def check_faulty_targets(url: str) -> None:
    hooks = FaultyReceiver({"/hang": "hang", "/500": "500", "/reset": "reset"}, hang_seconds=5)
    routing_key = seed_people(
        url,
        {
            "hana": [(hooks.url("/hang"), True)],
            "bob": [(hooks.url("/500"), True), (hooks.url("/bob-fallback"), False)],
            "rita": [(hooks.url("/reset"), True)],
            "olga": [(hooks.url("/ok"), True)],
        },
    )
    port = free_port()
    proc = start(
        url,
        "all",
        port,
        WARROOM_DELIVERY_TIMEOUT_SECONDS="1",
        WARROOM_DELIVERY_RETRY_BASE_SECONDS="0.2",
        WARROOM_DELIVERY_RETRY_CAP_SECONDS="0.5",
        WARROOM_DELIVERY_MAX_ATTEMPTS="3",
    )
    try:
        Output(proc)
        trigger(port, routing_key)

        def settled() -> bool:
            # One read: two could see no rows, then rows just written, and call it settled.
            rows = outbox(url)
            return bool(rows) and not any(status == "pending" for status, _, _ in rows)

        wait_for(settled, 40, "every delivery to succeed or fail for good")
        # On time: the healthy target was paged before the hanging one was even retried.
        oks = hooks.to("/ok")
        assert len(oks) == 1 and oks[0].answered, (outbox(url), hooks.arrivals)
        ok = oks[0]
        assert ok.at < hooks.to("/hang")[1].at
        assert [len(hooks.to(p)) for p in ("/hang", "/500", "/reset")] == [3, 3, 3]
        assert hooks.deduped("/bob-fallback") and len(hooks.to("/bob-fallback")) == 1
        assert sorted(outbox(url)) == sorted(
            [
                ("failed", 3, "hang"),
                ("failed", 3, "500"),
                ("failed", 3, "reset"),
                ("sent", 1, "ok"),
                ("sent", 1, "bob-fallback"),
            ]
        )
    finally:
        stop(proc)
        hooks.close()
