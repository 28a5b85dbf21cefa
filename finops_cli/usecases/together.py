"""Independent questions to one source, asked side by side where the source waits on a server.

A command that needs several answers from a Prometheus source (a report's sections; costs and
the unit costs' traffic) spends most of each waiting on its own few queries; asked at once, the
waits overlap. A source that computes on this machine (the sample) gains nothing from threads,
so ``CostSource.concurrent_questions`` decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")


def asked_together(calls: Sequence[Callable[[], _T]], at_once: bool) -> list[_T]:
    """Each call's answer, in order; the first failure in that order is raised (after the
    others finished: none is left running behind the command)."""
    if not at_once or len(calls) < 2:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="question") as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]
