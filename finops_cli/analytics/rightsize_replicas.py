"""``fewer-replicas``: a workload holding more time-slicing or MPS replicas of a GPU than its
busy p95 and peak memory need.

A replica (node label ``nvidia.com/gpu.replicas`` = R: 1/R of a GPU) is the unit a shared GPU is
handed out in, so both this rule and a pool's consolidation (``rightsize_pools``) size in
replicas with ``replicas_needed``.
"""

from __future__ import annotations

import math

from finops_cli.analytics.rightsize_common import (
    FEWER_REPLICAS,
    Recommendation,
    RightsizeRules,
    Workload,
    cell_label,
)
from finops_cli.frames import records
from finops_cli.sources.interface import PodGpuData


def node_replicas(data: PodGpuData) -> dict[tuple[str, str], tuple[int, str]]:
    """(cluster, node) -> (replicas per GPU, sharing strategy) of the nodes that share whole GPUs
    as time-slicing or MPS replicas (``PodGpuData.replica_gpus``)."""
    frame = data.replica_gpus
    if frame is None or frame.empty:
        return {}
    return {
        (cell_label(r["cluster"]), str(r["node"])): (
            int(r["replicas"]),
            cell_label(r["sharing_strategy"]),
        )
        for r in records(frame)
    }


def replicas_needed(
    busy_p95: float, memory_peak_mib: float, memory_total_mib: float, units: float,
    rules: RightsizeRules,
) -> int:  # fmt: skip
    """Units (replicas of 1/``units`` of a GPU, or GPUs with ``units`` 1) that hold a busy p95
    at ``target_busy`` and a peak memory with headroom, at least 1. Busy and memory are shares
    of one GPU's (summed over GPUs for a pool)."""
    eps = 1e-9  # a product that lands on a whole number stays that number
    busy = math.ceil(busy_p95 * units / rules.target_busy - eps)
    memory = (
        math.ceil(memory_peak_mib / memory_total_mib * units / rules.memory_headroom - eps)
        if memory_total_mib > 0
        else 0
    )
    return max(1, busy, memory)


def fewer_replicas(
    w: Workload,
    node: tuple[int, str] | None,
    rules: RightsizeRules,
    month: float,
    confidence: str,
) -> Recommendation | None:
    """A workload holding several replicas of one time-sliced or MPS GPU whose busy p95 and peak
    memory fit fewer. Its busy and memory are the whole GPU's (what every holder of it used), so
    the replicas it needs are an upper bound: conservative. Only where dcgm-exporter bound its
    pods to one GPU at a time (``gpu_units`` 1): replicas spread over GPUs are judged on the
    busiest one's evidence, which would not bound the rest."""
    if node is None or w.busy_p95 is None or not w.memory_total_mib or w.gpu_units != 1:
        return None  # replicas spread over GPUs (or not known not to be): per-GPU evidence
    replicas, strategy = node
    held = round(w.gpu_share * replicas)
    if held <= 1 or held > replicas or math.isnan(w.memory_peak_mib):
        return None
    needed = replicas_needed(w.busy_p95, w.memory_peak_mib, w.memory_total_mib, replicas, rules)
    if needed >= held:
        return None
    measured = w.cost * month
    saving = measured * (held - needed) / held
    how = strategy or "time-slicing or MPS"
    return Recommendation(
        w,
        FEWER_REPLICAS,
        f"{held} of {replicas} replicas of {w.gpu_model} ({how})",
        f"{needed} of {replicas} replicas",
        measured,
        measured - saving,
        saving,
        confidence,
        f"busy p95 {w.busy_p95:.0%} of the GPU fits {needed} replica(s) of {replicas} at "
        f"{rules.target_busy:.0%}; peak memory {w.memory_peak_mib / 1024:.1f} GiB fits "
        f"{needed} x {w.memory_total_mib / replicas / 1024:.1f} GiB with headroom",
        "fewer replicas give it fewer time slices (MPS: a smaller compute and memory limit): "
        "load-test its latency first",
        {"replicas": replicas, "replicas_held": held, "target_replicas": needed,
         "sharing": how},
    )  # fmt: skip
