"""Sample clusters for the forecast backtest: a flat month, a month of growth, a month with steps.

Each scenario is the base cast plus a pool of A100 nodes on which teams add work around the
month being forecast, so that the month-end spend of some teams differs from what a simple
run-rate expects. Every scenario also has a weekday-only notebook pool, so cost has a
weekday/weekend shape. The seed picks the step days and the growth pace, deterministically.

- ``flat``: nothing changes; the test that a method does not invent trends.
- ``growth``: nlp adds an inference replica every four days or so from five weeks before the
  month to its end; ml-platform adds one a week from three weeks before.
- ``step``: ml-platform starts an 8-GPU training run early in the month, research's 8-GPU run
  ends in the second week, and nlp started a 4-GPU service twelve days before the month (a step
  in the history that must not be mistaken for the current month's trend).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from finops_cli.sample.scenario import (
    DAY_S,
    ENVIRONMENT_KEY,
    HOUR_S,
    NODES,
    PROJECT_KEY,
    TEAM_KEY,
    NodeSpec,
    Schedule,
    WorkloadSpec,
    workloads,
)
from finops_cli.sample.simulate import SampleCluster

SCENARIOS = ("flat", "growth", "step")
ONE_OFF_PERIOD_S = 100 * 365 * DAY_S
WEEKDAYS = frozenset({0, 1, 4, 5, 6})  # days since 1970-01-01 (a Thursday) modulo 7: Mon-Fri


def _pool_node(number: int) -> NodeSpec:
    return NodeSpec(
        f"ip-10-0-5-{50 + number}.ec2.internal",
        "p4d.24xlarge",
        "NVIDIA A100-SXM4-40GB",
        8,
        40960,
        96,
        1152,
        32.7726,
    )


POOL = tuple(_pool_node(i) for i in range(4))


def _work(
    name: str, team: str, node: NodeSpec, gpus: tuple[int, ...], schedule: Schedule, busy: float
) -> WorkloadSpec:
    return WorkloadSpec(
        name,
        f"{team}-pool",
        node.name,
        gpus,
        {TEAM_KEY: team, PROJECT_KEY: f"{team}-pool", ENVIRONMENT_KEY: "production"},
        schedule,
        "inference",
        busy_base=busy,
        cpu_cores=12,
        memory_gib=96,
    )


def _between(start: int, end: int) -> Schedule:
    return Schedule(period_s=ONE_OFF_PERIOD_S, duration_s=end - start, phase_s=start)


def _notebooks() -> WorkloadSpec:
    return _work(
        "research-notebooks",
        "research",
        POOL[0],
        (4, 5, 6, 7),
        Schedule(
            period_s=DAY_S,
            duration_s=10 * HOUR_S,
            phase_s=8 * HOUR_S,
            days_modulo=7,
            only_days=WEEKDAYS,
        ),
        busy=0.35,
    )


def scenario_cast(kind: str, month_start: datetime, seed: int) -> tuple[WorkloadSpec, ...]:
    """The cast of scenario ``kind`` around the month starting at ``month_start``."""
    t0 = int(month_start.timestamp())
    far = t0 + 400 * DAY_S
    long_ago = t0 - 400 * DAY_S
    extra: list[WorkloadSpec] = [_notebooks()]
    if kind == "growth":
        # nlp: a new replica every 4.1-4.5 days from five weeks before the month to its end.
        pace = (4.1 + 0.2 * (seed % 3)) * DAY_S
        first = t0 - 35 * DAY_S
        slots = [(POOL[n], g) for n in (1, 2) for g in range(8)]
        for k, (node, gpu) in enumerate(slots):
            start = first + int(k * pace) // 900 * 900
            extra.append(_work(f"chat-replica-{k}", "nlp", node, (gpu,), _between(start, far), 0.5))
        # ml-platform: one more ranking replica every week, from three weeks before.
        for k in range(7):
            start = t0 + (k - 3) * 7 * DAY_S + 9 * HOUR_S
            extra.append(
                _work(f"rank-replica-{k}", "ml-platform", POOL[3], (k,), _between(start, far), 0.4)
            )
    elif kind == "step":
        up = t0 + (3 + seed % 4) * DAY_S + 10 * HOUR_S  # day 4-7 of the month
        down = t0 + (9 + seed % 5) * DAY_S + 15 * HOUR_S  # day 10-14
        extra.append(
            _work("ranker-train", "ml-platform", POOL[1], tuple(range(8)), _between(up, far), 0.8)
        )
        extra.append(
            _work("llm-sft", "research", POOL[2], tuple(range(8)), _between(long_ago, down), 0.9)
        )
        history_step = t0 - 12 * DAY_S + 14 * HOUR_S
        extra.append(
            _work("chat-70b", "nlp", POOL[3], (0, 1, 2, 3), _between(history_step, far), 0.6)
        )
    elif kind != "flat":
        raise ValueError(f"unknown scenario {kind!r}; expected one of {', '.join(SCENARIOS)}")
    return (*workloads(), *extra)


def scenario_cluster(kind: str, month_start: datetime, seed: int) -> SampleCluster:
    """A sample cluster (base nodes plus the A100 pool) running scenario ``kind``."""
    return SampleCluster(seed, nodes=(*NODES, *POOL), cast=scenario_cast(kind, month_start, seed))


def month_after(month_start: datetime) -> datetime:
    """The first of the next month (what the backtest scores against)."""
    nxt = month_start + timedelta(days=32)
    return nxt.replace(day=1)
