"""The GPUs of nodes that share them as replicas (time-slicing, MPS), for ``rightsize``'s
consolidation: which nodes, their GPUs' busy p95 and peak memory, and the most GPUs their pods
held at once (``queries.replicas``). Nothing beyond one node-label query runs on a cluster
without such nodes."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from finops_cli.frames import records
from finops_cli.queries import GpuQueries
from finops_cli.queries.replicas import (
    STRATEGY_LABEL,
    node_held_peak,
    replica_gpu_measures,
    replica_nodes,
)
from finops_cli.queries.sharing import MIG_STRATEGY_LABEL, REPLICAS_LABEL
from finops_cli.sources import prometheus_rows
from finops_cli.sources.interface import REPLICA_GPU_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from finops_cli.queries import QueryContext
    from finops_cli.sources.prometheus_client import InstantSample, PrometheusClient

PerGpu = Callable[[Callable[[GpuQueries], dict[str, str]]], dict[str, list["InstantSample"]]]


def replica_gpus(
    client: PrometheusClient,
    ctx: QueryContext,
    window_s: float,
    end: datetime,
    busy_metrics: frozenset[str],
    capacity: pd.DataFrame,
    per_gpu: PerGpu,
) -> pd.DataFrame | None:
    """``REPLICA_GPU_COLUMNS`` rows for the whole GPUs of nodes labelled with more than one
    replica per GPU (not time-sliced MIG instances); None where there are none. ``per_gpu``
    runs per-GPU window queries, sharded as ``gpus``' are; ``capacity`` gives each GPU's pool,
    cost and reported hours."""
    gq = GpuQueries(ctx, window_s)
    nodes = client.instant(replica_nodes(gq), end)
    prometheus_rows.name_cluster(nodes, ctx.cluster_label)
    wanted: dict[tuple[str, str], tuple[int, str]] = {}
    for s in nodes:
        try:
            replicas = int(s.labels.get(REPLICAS_LABEL, ""))
        except ValueError:
            continue
        if replicas > 1 and not s.labels.get(MIG_STRATEGY_LABEL):
            key = (s.labels.get("cluster", ""), s.labels.get("node", ""))
            wanted[key] = (replicas, s.labels.get(STRATEGY_LABEL, ""))
    if not wanted or capacity.empty:
        return None
    results = per_gpu(lambda q: replica_gpu_measures(q, busy_metrics))
    peaks = client.instant(node_held_peak(gq), end)
    prometheus_rows.name_cluster(peaks, ctx.cluster_label)
    held = {
        (s.labels.get("cluster", ""), s.labels.get("node", "")): s.value
        for s in peaks
        if math.isfinite(s.value)
    }
    measured: dict[tuple[str, str, str], dict[str, float]] = {}
    for measure, samples in results.items():
        for s in samples:
            if s.labels.get("GPU_I_ID") or not math.isfinite(s.value):
                continue
            unit = (s.labels.get("cluster", ""), s.labels.get("node", ""), s.labels.get("gpu", ""))
            measured.setdefault(unit, {})[measure] = s.value
    rows = []
    for row in records(capacity.fillna({"cluster": "", "pool": ""})):
        node = (str(row.get("cluster") or ""), str(row["node"]))
        if node not in wanted or row.get("mig_instance"):
            continue
        replicas, strategy = wanted[node]
        values = measured.get((*node, str(row["gpu"])), {})
        rows.append(
            {
                "cluster": node[0],
                "node": node[1],
                "gpu": str(row["gpu"]),
                "pool": str(row.get("pool") or ""),
                "model_name": str(row.get("model_name") or ""),
                "replicas": replicas,
                "sharing_strategy": strategy,
                "present_hours": row["present_hours"],
                "cost": row["cost"],
                "busy_p95": values.get("busy_p95"),
                "memory_used_max_mib": values.get("memory_used_max_mib"),
                "memory_total_mib": values.get("memory_total_mib"),
                "node_held_peak": held.get(node, 0.0),
            }
        )
    import pandas as pd

    return pd.DataFrame(rows, columns=list(REPLICA_GPU_COLUMNS))
