"""What consolidating time-sliced and MPS replicas reads (``rightsize``): the nodes whose GPUs
are shared as replicas, each of their GPUs' busy p95 and peak memory, and the most physical GPUs
their pods held at once.

Replicas are what GPU feature discovery labels the node with (``nvidia.com/gpu.replicas``, per
GPU; ``reference/gpu-sharing.md`` §2, §3), read through kube-state-metrics' ``kube_node_labels``.
"""

from __future__ import annotations

from finops_cli.queries.gpu import GpuQueries
from finops_cli.queries.sharing import MIG_STRATEGY_LABEL, REPLICAS_LABEL

STRATEGY_LABEL = "label_nvidia_com_gpu_sharing_strategy"


def replica_nodes(gq: GpuQueries) -> str:
    """Each node labelled with a replica count, with it, its sharing strategy and its MIG
    strategy (time-sliced MIG instances are not whole GPUs: the caller leaves them out)."""
    ctx = gq.ctx
    by = ctx.grouping(["node", REPLICAS_LABEL, STRATEGY_LABEL, MIG_STRATEGY_LABEL])
    read = ctx.read("kube_node_labels", gq.window_s, f'{REPLICAS_LABEL}!=""')
    return f"group by ({by}) ({read})"


def replica_gpu_measures(gq: GpuQueries, busy_metrics: frozenset[str]) -> dict[str, str]:
    """Per GPU: its peak memory used, its memory, and (with a busy metric) its busy p95 over
    the window whether or not a pod held it (what its holders used, whoever they were)."""
    measures = {
        "memory_used_max_mib": gq.over_window("max_over_time", gq.metric("DCGM_FI_DEV_FB_USED")),
        "memory_total_mib": gq.over_window("max_over_time", gq.memory_total()),
    }
    if busy_metrics:
        measures["busy_p95"] = gq.over_window(
            "quantile_over_time", gq.busy_any(busy_metrics), "0.95"
        )
    return measures


def node_held_peak(gq: GpuQueries) -> str:
    """The most physical GPUs the pods on each node held at once (shares counted: R replicas of
    one GPU are 1), from what they requested."""
    ctx = gq.ctx
    return gq.over_window("max_over_time", f"sum by ({ctx.node_join}) ({ctx.pod_gpus()})")
