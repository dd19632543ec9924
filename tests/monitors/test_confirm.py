"""N-of-M confirmation: a reference model of the last M results decides every step."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from warroom.monitors.confirm import confirm


def run(results: list[bool], n: int, m: int) -> list[str | None]:
    recent: tuple[bool, ...] = ()
    status = "unknown"
    actions = []
    for passed in results:
        decided = confirm(recent, status, passed, n, m)
        recent, status = decided.recent, decided.status
        actions.append(decided.action)
    return actions


def test_one_blip_does_not_alert_two_of_three_do() -> None:
    assert run([True, False, True, True], 2, 3) == [None, None, None, None]
    assert run([True, False, True, False], 2, 3) == [None, None, None, "trigger"]
    # Back up after two passes in a row, and the old failures do not count again.
    assert run([False, False, True, True, True, False], 2, 3) == [
        None,
        "trigger",
        None,
        "resolve",
        None,
        None,
    ]


def test_one_of_one_is_immediate() -> None:
    assert run([False, True, False], 1, 1) == ["trigger", "resolve", "trigger"]


@given(
    st.integers(1, 6).flatmap(lambda n: st.tuples(st.just(n), st.integers(n, 8))),
    st.lists(st.booleans(), max_size=60),
)
def test_against_the_window(nm: tuple[int, int], results: list[bool]) -> None:
    n, m = nm
    recent: tuple[bool, ...] = ()
    status = "unknown"
    history: list[bool] = []
    since_resolve: list[bool] = []
    for passed in results:
        history.append(passed)
        since_resolve.append(passed)
        decided = confirm(recent, status, passed, n, m)
        assert len(decided.recent) <= m
        window = since_resolve[-m:]
        if decided.action == "trigger":
            assert status != "down" and window.count(False) >= n
        if status != "down" and window.count(False) >= n:
            assert decided.action == "trigger"
        if decided.action == "resolve":
            assert status == "down" and history[-n:] == [True] * n
            since_resolve = history[-n:]
        if status == "down" and decided.action is None:
            assert decided.status == "down"
        recent, status = decided.recent, decided.status
