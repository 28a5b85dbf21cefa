"""``usecases.together.asked_together``: answers in order, on threads only when asked to."""

from __future__ import annotations

import threading

import pytest

from finops_cli.usecases.together import asked_together


def test_answers_come_back_in_the_order_asked_whatever_finishes_first():
    release = threading.Event()

    def slow() -> str:
        assert release.wait(5)
        return "slow"

    def fast() -> str:
        release.set()
        return "fast"

    # ``slow`` waits for ``fast``: only side by side can both finish
    assert asked_together([slow, fast], at_once=True) == ["slow", "fast"]


def test_one_after_the_other_on_the_callers_thread_unless_at_once():
    seen: list[str] = []

    def name() -> str:
        seen.append(threading.current_thread().name)
        return "x"

    assert asked_together([name, name], at_once=False) == ["x", "x"]
    assert set(seen) == {threading.current_thread().name}
    seen.clear()
    asked_together([name, name], at_once=True)
    assert all(n.startswith("question") for n in seen), seen


def test_the_first_failure_in_order_is_raised_after_the_others_finish():
    finished: list[str] = []

    def fails(message: str):
        def call() -> None:
            finished.append(message)
            raise ValueError(message)

        return call

    def ok() -> str:
        finished.append("ok")
        return "ok"

    with pytest.raises(ValueError, match="first"):
        asked_together([ok, fails("first"), fails("second")], at_once=True)
    assert sorted(finished) == ["first", "ok", "second"]
