"""The sample cluster with labelled anomalies planted on top, for the detection benchmark.

The fixed cast of ``scenario.workloads()`` already has strong daily patterns (training that runs
20 h a day, nightly fine-tuning, business-hours batch, diurnal inference) and ``simulate`` adds a
weekly one (quieter weekends). This module adds, for two weeks from ``REPORT_START``:

- a pool node (8 A100s) with a weekday-only research notebook pool on half of it, so cost itself
  has a weekly shape that a detector must not flag every Monday;
- planted anomalies, each labelled with its team, the metrics it moves and its time range:
  spikes (jobs that should not have run), a level shift (a new always-on service), a GPU left
  idle, and efficiency drops (jobs whose GPUs stall while the cost stays the same);
- labels for the base cast's own injected anomaly, the ``defect-sweep`` that runs one day in
  eleven, whenever it falls inside the evaluated range.

Everything is deterministic; the seed shifts schedules by whole 15-minute quanta as it does for
the base cast, and labels are read from the shifted schedules, so they always line up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

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
from finops_cli.sample.simulate import FloatArray, IntArray, SampleCluster

POOL_NODE = NodeSpec(
    "ip-10-0-9-90.ec2.internal",
    "p4d.24xlarge",
    "NVIDIA A100-SXM4-40GB",
    8,
    40960,
    96,
    1152,
    32.7726,
)
REPORT_START = datetime(2026, 10, 19, tzinfo=UTC)  # a Monday
REPORT_END = datetime(2026, 11, 2, tzinfo=UTC)
BASELINE_START = REPORT_START - timedelta(days=28)
ONE_OFF_PERIOD_S = 100 * 365 * DAY_S  # a "period" no window ever sees twice
WEEKDAYS = frozenset({0, 1, 4, 5, 6})  # days since 1970-01-01 (a Thursday) modulo 7: Mon-Fri

ALL_METRICS = ("hourly_cost", "daily_cost", "busy_share", "efficiency")
SHARE_METRICS = ("busy_share", "efficiency")


@dataclass(frozen=True)
class Label:
    """One planted anomaly: who, which metrics it moves, when, and what it is."""

    team: str
    metrics: tuple[str, ...]
    start: datetime
    end: datetime
    kind: str  # "spike", "level-shift", "idle-gpu" or "efficiency-drop"
    what: str


@dataclass(frozen=True)
class BusyDrop:
    """From ``start`` to ``end`` (unix s), the workload's GPUs do ``factor`` of their usual work."""

    workload: str
    start: int
    end: int
    factor: float


class PlantedCluster(SampleCluster):
    """A ``SampleCluster`` whose busy signal can drop for a while: the efficiency anomalies.

    Cost cannot show an efficiency drop, so it is planted in the busy signal itself; every
    consumer (the sample source, the OpenMetrics export, the ground truth) reads ``busy``.
    """

    def __init__(
        self,
        seed: int,
        drops: tuple[BusyDrop, ...],
        *,
        nodes: tuple[NodeSpec, ...],
        cast: tuple[WorkloadSpec, ...],
    ) -> None:
        super().__init__(seed, nodes=nodes, cast=cast)
        self.drops = drops

    def busy(self, workload: WorkloadSpec, gpu: int, instants: IntArray) -> FloatArray:
        out = super().busy(workload, gpu, instants)
        for drop in self.drops:
            if drop.workload == workload.name:
                inside = (instants >= drop.start) & (instants < drop.end)
                out = np.where(inside, np.round(out * drop.factor, 6), out)
        return out


def _at(day: int, hour: float) -> int:
    return int((REPORT_START + timedelta(days=day, hours=hour)).timestamp())


def _labels(team: str, project: str) -> dict[str, str]:
    return {TEAM_KEY: team, PROJECT_KEY: project, ENVIRONMENT_KEY: "production"}


def _one_off(start: int, hours: float) -> Schedule:
    return Schedule(period_s=ONE_OFF_PERIOD_S, duration_s=int(hours * HOUR_S), phase_s=start)


def _job(
    name: str,
    team: str,
    gpus: tuple[int, ...],
    schedule: Schedule,
    busy: float,
    swing: float = 0.0,
    kind: str = "training",
) -> WorkloadSpec:
    return WorkloadSpec(
        name,
        f"{team}-jobs",
        POOL_NODE.name,
        gpus,
        _labels(team, f"{team}-adhoc"),
        schedule,
        kind,
        busy_base=busy,
        busy_swing=swing,
        cpu_cores=12,
        memory_gib=96,
    )


# name -> (team, kind, metrics, description); the schedules are in ``planted_cast``.
_PLANTS = {
    "nlp-runaway-eval": ("nlp", "spike", ALL_METRICS, "2 A100s for 6 h, an eval nobody asked for"),
    "mlp-backfill": ("ml-platform", "spike", ALL_METRICS, "1 A100 for 3 h at night"),
    "research-new-service": (
        "research",
        "level-shift",
        ALL_METRICS,
        "a new always-on service on 2 A100s",
    ),
    "vision-forgotten-pod": ("vision", "idle-gpu", ALL_METRICS, "1 A100 held for 48 h, unused"),
    "vision-night-job": ("vision", "spike", ALL_METRICS, "1 A100 for 4 h at night"),
}
_DROPS = {
    "embeddings-0": ("ml-platform", 9, 12.0, 8.0, 0.2, "embeddings at 20 % of their usual work"),
    "llm-pretrain": ("research", 11, 10.0, 8.0, 0.3, "pre-training stalled at 30 %"),
    "triton-resnet": ("vision", 3, 9.0, 12.0, 0.5, "the Triton server at half its usual work"),
}


def planted_cast() -> tuple[WorkloadSpec, ...]:
    """The base cast, a weekday notebook pool, and the planted jobs (times from REPORT_START)."""
    notebooks = _job(
        "research-notebooks",
        "research",
        (4, 5, 6, 7),
        Schedule(
            period_s=DAY_S,
            duration_s=10 * HOUR_S,
            phase_s=8 * HOUR_S,
            days_modulo=7,
            only_days=WEEKDAYS,
        ),
        busy=0.35,
        swing=0.25,
        kind="notebook",
    )
    plants = (
        _job("nlp-runaway-eval", "nlp", (0, 1), _one_off(_at(1, 13), 6), busy=0.9),
        _job("mlp-backfill", "ml-platform", (0,), _one_off(_at(3, 2), 3), busy=0.8),
        _job(
            "research-new-service",
            "research",
            (2, 3),
            _one_off(_at(5, 6), 24 * 365),
            busy=0.5,
            swing=0.2,
            kind="inference",
        ),
        _job("vision-forgotten-pod", "vision", (1,), _one_off(_at(8, 9), 48), busy=0.0),
        _job("vision-night-job", "vision", (0,), _one_off(_at(13, 1), 4), busy=0.85),
    )
    return (*workloads(), notebooks, *plants)


def planted_cluster(seed: int = 42) -> PlantedCluster:
    """The benchmark cluster for ``seed``: base nodes plus the pool node, the planted cast, and
    the efficiency drops (shifted like every other schedule, by the seed)."""
    cast = planted_cast()
    probe = SampleCluster(seed, nodes=(*NODES, POOL_NODE), cast=cast)
    shift = {w.name: w.schedule.phase_s for w in probe.workloads}
    base = {w.name: w.schedule.phase_s for w in cast}
    drops = tuple(
        BusyDrop(
            name,
            _at(day, hour) + shift[name] - base[name],
            _at(day, hour + hours) + shift[name] - base[name],
            factor,
        )
        for name, (_, day, hour, hours, factor, _) in _DROPS.items()
    )
    return PlantedCluster(seed, drops, nodes=(*NODES, POOL_NODE), cast=cast)


def planted_labels(
    cluster: PlantedCluster, start: datetime = REPORT_START, end: datetime = REPORT_END
) -> list[Label]:
    """Every planted anomaly overlapping ``[start, end)``, with its exact (shifted) time range."""
    lo, hi = int(start.timestamp()), int(end.timestamp())
    by_name = {w.name: w for w in cluster.workloads}
    out: list[Label] = []

    def add(team: str, metrics: tuple[str, ...], a: int, b: int, kind: str, what: str) -> None:
        if a < hi and b > lo:
            out.append(
                Label(
                    team,
                    metrics,
                    datetime.fromtimestamp(max(a, lo), UTC),
                    datetime.fromtimestamp(min(b, hi), UTC),
                    kind,
                    what,
                )
            )

    for name, (team, kind, metrics, what) in _PLANTS.items():
        s = by_name[name].schedule
        add(team, metrics, s.phase_s, s.phase_s + s.duration_s, kind, what)
    for drop in cluster.drops:
        team, *_, what = _DROPS[drop.workload]
        add(team, SHARE_METRICS, drop.start, drop.end, "efficiency-drop", what)
    sweep = by_name["defect-sweep"]
    quanta = np.arange(lo - DAY_S, hi + DAY_S, 900, dtype=np.int64)
    runs = cluster.runs_at(sweep, quanta)
    for run in np.unique(runs[runs >= 0]).tolist():
        held = quanta[runs == run]
        add(
            "vision",
            ALL_METRICS,
            int(held[0]),
            int(held[-1]) + 900,
            "spike",
            "defect-sweep: 4 H100s for 14 h, one day in eleven (the base cast's own anomaly)",
        )
    return sorted(out, key=lambda label: (label.start, label.team))
