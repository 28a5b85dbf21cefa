"""``consolidate`` per node pool: time-sliced or MPS GPUs of one pool that fit on fewer GPUs.

Judged per pool, not per workload: a workload on a shared GPU does not own it, and what the
owner can give back is a node, so the pool's held replicas, busy and memory are summed and whole
nodes are freed.
"""

from __future__ import annotations

import math
from typing import Any

from finops_cli.analytics.rightsize_common import (
    CAPACITY_RISK,
    CONSOLIDATE,
    NODE_POOL,
    Recommendation,
    RightsizeRules,
    Workload,
    cell_label,
    cell_number,
    confidence_of,
    nanmax,
)
from finops_cli.analytics.rightsize_replicas import replicas_needed
from finops_cli.frames import records
from finops_cli.sources.interface import PodGpuData


def consolidate_replicas(
    data: PodGpuData,
    month: float,
    rules: RightsizeRules,
    window_hours: float,
    exclude: set[tuple[str, str]],
) -> list[Recommendation]:
    """Per node pool, GPU model, replica count and strategy: the time-sliced or MPS GPUs whose
    held replicas (each node's peak, summed), busy p95 (summed) and peak memory (summed) fit on
    fewer GPUs. Whole nodes are freed, the least held first (then the least busy), while the
    GPUs left still hold the replicas, the busy and the memory; the saving is the freed GPUs'
    measured cost. Nodes without a pool label, and nodes already advised ``remove`` or
    ``scale-down`` (``exclude``), are left out."""
    frame = data.replica_gpus
    if frame is None or frame.empty:
        return []
    pools: dict[tuple[str, str, str, int, str], dict[str, list[dict[str, Any]]]] = {}
    for record in records(frame):
        row: dict[str, Any] = {str(k): v for k, v in record.items()}
        cluster, node = cell_label(row["cluster"]), str(row["node"])
        if not cell_label(row["pool"]) or (cluster, node) in exclude:
            continue
        key = (cluster, cell_label(row["pool"]), cell_label(row["model_name"]),
               int(row["replicas"]), cell_label(row["sharing_strategy"]))  # fmt: skip
        pools.setdefault(key, {}).setdefault(node, []).append(row)
    info = {
        (str(r.get("cluster") or ""), str(r["node"])): r
        for r in records(data.nodes.astype(object).fillna(""))
    }
    out = []
    for (cluster, pool, model, replicas, strategy), nodes in sorted(pools.items()):
        gpus = [g for rows in nodes.values() for g in rows]
        if len(nodes) < 2 or any(
            math.isnan(cell_number(g["busy_p95"]))
            or math.isnan(cell_number(g["memory_used_max_mib"]))
            for g in gpus
        ):
            continue  # one node frees nothing whole; unknown use frees nothing
        memory = nanmax(cell_number(g["memory_total_mib"]) for g in gpus)
        held = {
            n: math.ceil(cell_number(rows[0]["node_held_peak"]) * replicas - 1e-6)
            for n, rows in nodes.items()
        }
        busy = {n: sum(cell_number(g["busy_p95"]) for g in rows) for n, rows in nodes.items()}
        used = {
            n: sum(cell_number(g["memory_used_max_mib"]) for g in rows) for n, rows in nodes.items()
        }
        needed = max(
            math.ceil(sum(held.values()) / replicas - 1e-9),
            replicas_needed(sum(busy.values()), sum(used.values()), memory, 1, rules),
        )
        left = len(gpus)
        freed: list[str] = []
        for node in sorted(nodes, key=lambda n: (held[n], busy[n], n)):
            if left - len(nodes[node]) < needed:
                break
            left -= len(nodes[node])
            freed.append(node)
        if not freed:
            continue
        freed_gpus = [f"{n}/{g['gpu']}" for n in freed for g in nodes[n]]
        freed_cost = sum(cell_number(g["cost"]) for n in freed for g in nodes[n])
        total_cost = sum(cell_number(g["cost"]) for g in gpus)
        if not freed_cost > 0:
            continue
        hours = max(cell_number(g["present_hours"]) for g in gpus)
        node_info = info.get((cluster, freed[0])) or info.get(("", freed[0]), {})
        how = strategy or "time-slicing or MPS"
        w = Workload(
            kind=NODE_POOL, name=pool, namespace="", pods=(), team="", project="", model="",
            interruptible=False, instance_type=str(node_info.get("instance_type", "")),
            region=str(node_info.get("region", "")),
            capacity_type=str(node_info.get("capacity_type", "")), gpu_model=model,
            gpus_per_pod=len(freed_gpus),
            gpu_hours=sum(cell_number(g["present_hours"]) for n in freed for g in nodes[n]),
            busy_avg=None, busy_p95=max(cell_number(g["busy_p95"]) for g in gpus),
            memory_peak_mib=max(cell_number(g["memory_used_max_mib"]) for g in gpus),
            memory_total_mib=memory, cost=freed_cost, observed_hours=min(hours, window_hours),
            cluster=cluster,
        )  # fmt: skip
        details = {
            "node_pool": pool, "gpu_model": model, "replicas": replicas, "sharing": how,
            "node_gpus": len(gpus), "target_gpus": left, "free_gpus": freed_gpus,
            "free_nodes": freed, "replicas_held": sum(held.values()),
            "freed_cost": round(freed_cost, 4),
        }  # fmt: skip
        out.append(
            Recommendation(
                w,
                CONSOLIDATE,
                f"{len(gpus)} x {model or 'GPU'} ({replicas} replicas each, {how})",
                f"{left} x {model or 'GPU'}: free {', '.join(freed_gpus)}",
                total_cost * month,
                (total_cost - freed_cost) * month,
                freed_cost * month,
                confidence_of(w, window_hours),
                f"{sum(held.values())} of {len(gpus) * replicas} replicas held at peak, busy p95 "
                f"{sum(busy.values()):.0%} and peak memory {sum(used.values()) / 1024:.1f} GiB in "
                f"total fit {needed} GPU(s) at {rules.target_busy:.0%} busy with memory headroom",
                "the pods on the freed nodes move and share GPUs with more neighbours; "
                + CAPACITY_RISK,
                details,
            )
        )
    return out
