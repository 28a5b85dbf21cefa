"""The recorded ledger's per-GPU and per-workload statistics (``gpus``, ``rightsize``).

``gpus`` and ``rightsize`` answer with a handful of numbers per GPU or per workload over the
window: sums (cost, held samples), counts (the denominators of averages) and maxima, each a
window function over a per-instant expression (``GpuQueries``). Each is recorded per hour (and
per UTC day) as the same window function over the hour: ``ledger:finops_<stat>:<op>_1h`` and
``…:<op>_1d``, ``op`` being ``sum``, ``count`` or ``max``. Sums and counts of the hours add up to
the window's and maxima take the largest, over the same sample instants (``S`` apart, aligned to
``S``) the raw window function reads, so the window's figure is the raw one; an average is its
recorded sum over its recorded count.

Grains, and what keeps them small (docs/deployment.md, "The recorded ledger"):

- per GPU (``GPU_KEY``: node, gpu index, MIG instance; ``present`` by ``GPU_IDENTITY``, with
  UUID and model): one series per GPU and statistic;
- per GPU and pod (``holder``: held samples and the last one, with the pod's team, project and
  model): what names a GPU's main holder; a series per pod that held the GPU, per hour;
- per workload (cluster, namespace, ``workload_kind``, ``workload``: a Deployment's or job
  family's pods are one series, however many pods rollouts leave behind);
- per workload and pod (``workload_pod``: GPU samples with the pod's node and GPU product):
  what names a workload's main pod and lists its pods, one series per pod per hour it ran;
- per workload and label set (``workload_labels``); per node (``node_held``).

The 95th percentile of busy over the window's samples cannot be rebuilt from hours: the recorded
``busy_p95`` is the 95th percentile of the hourly maxima (``…busy_max…:max_1h``), which is never
below the samples' one (a GPU under ``x`` in 95% of its hours is under ``x`` in at least 95% of
its samples), so rightsizing on it never shrinks more than raw would. ``--raw`` gives the sample
percentile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from finops_cli.promql import duration, label_name
from finops_cli.queries.context import QueryContext
from finops_cli.queries.gpu import GpuQueries
from finops_cli.queries.names import (
    BUSY_PROFILING,
    BUSY_UTIL,
    GPU_KEY,
    GPU_PRESENCE,
    GPU_TEMPERATURE,
)
from finops_cli.queries.recorded import RecordedQueries

HOUR_S = 3600
DAY_S = 86400
HOLDER_KEYS = ("team", "project", "model")
RECORDED_BUSY = frozenset({BUSY_PROFILING, BUSY_UTIL})
INTERRUPTIBLE = "label_ai_finops_io_interruptible"  # kube_label_to_prometheus(INTERRUPTIBLE_LABEL)

Build = Callable[[GpuQueries], str]


@dataclass(frozen=True)
class Stat:
    """One recorded statistic: ``build`` makes its window expression for a ``GpuQueries`` of
    any window (an hour, a day, a raw piece of the CLI's window); ``op`` says how windows
    combine (``sum``: add, ``max``: the largest, ``group``: the union of label sets)."""

    name: str
    op: str
    build: Build
    daily: bool = True

    def hourly_name(self) -> str:
        return f"ledger:finops_{self.name}:{self.op}_1h"

    def daily_name(self) -> str:
        return f"ledger:finops_{self.name}:{self.op}_1d"


def _over(function: str, per_instant: Callable[[GpuQueries], str]) -> Build:
    return lambda gq: gq.over_window(function, per_instant(gq))


def _metric(name: str) -> Callable[[GpuQueries], str]:
    return lambda gq: gq.metric(name)


def _busy(gq: GpuQueries) -> str:
    return gq.busy(RECORDED_BUSY)


def holder_samples(gq: GpuQueries) -> str:
    """Per GPU and pod, the samples the pod held the GPU, with its team/project/model labels
    (the pods ``GpuQueries.holders`` chooses from)."""
    ctx = gq.ctx
    by = ctx.grouping([*GPU_KEY, "namespace", "pod"])
    held = f"max by ({by}) ({gq._normalised(GPU_PRESENCE, bound_only=True)})"
    wide = replace(ctx, attribute_lookback_s=int(gq.window_s))
    carried = sorted({ctx.prom_label(k) for k in HOLDER_KEYS})
    return (
        f"{gq.over_window('count_over_time', held)} * on ({ctx.pod_join}) "
        f"group_left ({', '.join(carried)}) {wide.pod_attributes(list(HOLDER_KEYS), {})}"
    )


def holder_last(gq: GpuQueries) -> str:
    """Per GPU and pod, the time of the last sample the pod held it (ties between holders)."""
    by = gq.ctx.grouping([*GPU_KEY, "namespace", "pod"])
    held = f"max by ({by}) ({gq._normalised(GPU_PRESENCE, bound_only=True)})"
    return gq.over_window("max_over_time", f"timestamp({held})")


GPU_STATS: tuple[Stat, ...] = (
    Stat("gpu_present_samples", "sum", _over("count_over_time", lambda gq: gq.inventory())),
    Stat("gpu_held_samples", "sum", _over("count_over_time", lambda gq: gq.bound())),
    Stat("gpu_memory_used_mib", "sum", _over("sum_over_time", _metric("DCGM_FI_DEV_FB_USED"))),
    Stat(
        "gpu_memory_used_samples",
        "sum",
        _over("count_over_time", _metric("DCGM_FI_DEV_FB_USED")),
    ),
    Stat("gpu_memory_used_mib", "max", _over("max_over_time", _metric("DCGM_FI_DEV_FB_USED"))),
    Stat("gpu_memory_total_mib", "max", _over("max_over_time", lambda gq: gq.memory_total())),
    Stat("gpu_power_w", "sum", _over("sum_over_time", _metric("DCGM_FI_DEV_POWER_USAGE"))),
    Stat("gpu_power_samples", "sum", _over("count_over_time", _metric("DCGM_FI_DEV_POWER_USAGE"))),
    Stat("gpu_temperature_c", "sum", _over("sum_over_time", _metric(GPU_TEMPERATURE))),
    Stat("gpu_temperature_samples", "sum", _over("count_over_time", _metric(GPU_TEMPERATURE))),
    Stat("gpu_temperature_c", "max", _over("max_over_time", _metric(GPU_TEMPERATURE))),
    Stat("gpu_price", "sum", _over("sum_over_time", lambda gq: gq.price())),
    Stat("gpu_price_samples", "sum", _over("count_over_time", lambda gq: gq.price())),
    Stat("gpu_busy", "sum", _over("sum_over_time", _busy)),
    Stat("gpu_busy_samples", "sum", _over("count_over_time", _busy)),
    Stat("gpu_busy", "max", _over("max_over_time", _busy), daily=False),
    Stat("gpu_busy_any", "sum", _over("sum_over_time", lambda gq: gq.busy_any(RECORDED_BUSY))),
    Stat(
        "gpu_busy_any_samples",
        "sum",
        _over("count_over_time", lambda gq: gq.busy_any(RECORDED_BUSY)),
    ),
    Stat("gpu_used_price", "sum", _over("sum_over_time", lambda gq: gq.used_price(RECORDED_BUSY))),
    Stat("gpu_holder_samples", "sum", holder_samples),
    Stat("gpu_holder_last", "max", holder_last),
)
"""Per GPU: what ``gpus`` reads (and ``rightsize``'s capacity advice: present, held, price)."""


def _pod_gpus(gq: GpuQueries) -> str:
    return gq.pod_gpus()


def _per_workload(function: str, per_pod: Callable[[GpuQueries], str], aggregate: str) -> Build:
    return lambda gq: gq.per_workload(gq.over_window(function, per_pod(gq)), aggregate)


def workload_pod_samples(gq: GpuQueries) -> str:
    """Per workload and pod, the pod's GPU samples, with the node and GPU product it ran on."""
    ctx = gq.ctx
    placed = (
        f"({gq.over_window('sum_over_time', gq.pod_gpus())}) * on ({ctx.pod_join}) "
        f"group_left (node, modelName) topk by ({ctx.pod_join}) (1, {gq.pod_placement()})"
    )
    return gq.per_workload(placed, "sum", ["pod", "node", "modelName"])


def workload_labels(gq: GpuQueries) -> str:
    return gq.workload_labels(list(HOLDER_KEYS), [INTERRUPTIBLE])


def node_held(gq: GpuQueries) -> str:
    ctx = gq.ctx
    return gq.over_window("sum_over_time", f"sum by ({ctx.node_join}) ({ctx.pod_gpus()})")


WORKLOAD_STATS: tuple[Stat, ...] = (
    Stat("workload_gpu_samples", "sum", _per_workload("sum_over_time", _pod_gpus, "sum")),
    Stat("workload_gpus", "max", _per_workload("max_over_time", _pod_gpus, "max")),
    Stat(
        "workload_memory_used_mib",
        "max",
        _per_workload("max_over_time", lambda gq: gq.pod_memory(total=False), "max"),
    ),
    Stat(
        "workload_memory_total_mib",
        "max",
        _per_workload("max_over_time", lambda gq: gq.pod_memory(total=True), "max"),
    ),
    Stat("workload_price", "sum", _per_workload("sum_over_time", lambda gq: gq.pod_cost(), "sum")),
    Stat(
        "workload_busy",
        "sum",
        _per_workload("sum_over_time", lambda gq: gq.pod_busy(RECORDED_BUSY, "sum"), "sum"),
    ),
    Stat(
        "workload_busy_samples",
        "sum",
        _per_workload("sum_over_time", lambda gq: gq.pod_busy(RECORDED_BUSY, "count"), "sum"),
    ),
    Stat(
        "workload_busy",
        "max",
        _per_workload("max_over_time", lambda gq: gq.pod_busy(RECORDED_BUSY, "max"), "max"),
        daily=False,
    ),
    Stat("workload_pod_gpu_samples", "sum", workload_pod_samples),
    Stat("workload_labels", "group", workload_labels),
    Stat("node_held_gpu_samples", "sum", node_held),
)
"""Per workload (and per node): what ``rightsize`` reads."""

RECORDED_STATS = (*GPU_STATS, *WORKLOAD_STATS)
STATS = {(s.name, s.op): s for s in RECORDED_STATS}


def stat(name: str, op: str) -> Stat:
    return STATS[(name, op)]


# ---- the rules -----------------------------------------------------------------------------
def from_raw(rq: RecordedQueries, s: Stat, *, days: bool = False) -> str:
    """The hour's (UTC day's) statistic from the raw series, kept at the group's first
    evaluation after the hour (day) as the ledger's rollups (``RecordedQueries.hourly``): live
    and in a backfill."""
    if days:
        return rq.daily(f"({s.build(GpuQueries(rq.ctx, DAY_S - 0.001))})")
    return rq.hourly(f"({s.build(GpuQueries(rq.ctx, HOUR_S - 0.001))})")


def daily_from_hourly(rq: RecordedQueries, s: Stat) -> str:
    """The UTC day's statistic from its 24 hourly ones, recorded before it (live rules, and a
    replay's second run)."""
    function = {"sum": "sum_over_time", "max": "max_over_time", "group": "last_over_time"}[s.op]
    return rq.from_hours(f"{function}({s.hourly_name()}[{duration(DAY_S - 0.001)}])")


# ---- the CLI's reads -----------------------------------------------------------------------
def read(ctx: QueryContext, s: Stat, length_s: float, *, days: bool = False) -> str:
    """``s`` over ``length_s`` (whole hours, or UTC days with ``days``) ending ``READ_LAG_S``
    before the evaluation time, from the rollups."""
    function = {"sum": "sum_over_time", "max": "max_over_time", "group": "last_over_time"}[s.op]
    name = s.daily_name() if days else s.hourly_name()
    cluster = ctx.cluster_matcher()
    return _nameless(ctx, f"{function}({name}{{{cluster}}}[{duration(length_s)}])")


def _nameless(ctx: QueryContext, read: str) -> str:
    """A read without its metric name (VictoriaMetrics keeps it through ``max_over_time``,
    ``last_over_time`` and ``quantile_over_time``; raw pieces have none) and, for HA pairs,
    without the replica label."""
    replicas = ", ".join(label_name(r) for r in ctx.replica_labels)
    return f"max without ({replicas}) ({read})"


def read_p95(ctx: QueryContext, s: Stat, length_s: float) -> str:
    """The 95th percentile of a statistic's hourly maxima over ``length_s``."""
    cluster = ctx.cluster_matcher()
    read = f"quantile_over_time(0.95, {s.hourly_name()}{{{cluster}}}[{duration(length_s)}])"
    return _nameless(ctx, read)


def raw_p95_gpu(gq: GpuQueries) -> str:
    return gq.over_window("quantile_over_time", _busy(gq), "0.95")


def raw_p95_workload(gq: GpuQueries) -> str:
    per_pod = gq.over_window("quantile_over_time", gq.pod_busy(RECORDED_BUSY, "max"), "0.95")
    return gq.per_workload(per_pod, "max")
