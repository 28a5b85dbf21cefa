"""``remove`` and ``scale-down``: node capacity that pods hardly held.

Judged per GPU from the capacity series, not per workload: a GPU no pod holds has no workload
to advise, only a node someone pays for. Where the ledger charges pods for more GPU-hours than
dcgm-exporter shows held (HAMi), which GPUs are free is not known, so that node gets no advice.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from finops_cli.analytics.rightsize_common import (
    CAPACITY_RISK,
    REMOVE,
    SCALE_DOWN,
    Recommendation,
    RightsizeRules,
    Workload,
    cell_label,
    cell_number,
    confidence_of,
)
from finops_cli.frames import records
from finops_cli.sources.interface import PodGpuData

if TYPE_CHECKING:
    import pandas as pd


def idle_capacity(
    data: PodGpuData, month: float, rules: RightsizeRules, window_hours: float
) -> list[Recommendation]:
    """GPUs that pods held for under ``capacity_max_held_share`` of their reported hours, per
    node: ``remove`` the node when all its GPUs are such, else ``scale-down``. The saving is their
    measured cost while no pod held them (cost x (1 - held share)), projected to a month."""
    frame = data.capacity
    if frame is None or frame.empty:
        return []
    per_gpu: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in records(frame):
        slot = per_gpu.setdefault(
            (cell_label(row.get("cluster")), str(row["node"]), str(row["gpu"])),
            {"present": 0.0, "held": 0.0, "cost": 0.0, "model": "", "pool": "", "hours": 0.0},
        )
        present = cell_number(row["present_hours"])
        slot["present"] += 0.0 if math.isnan(present) else present
        slot["hours"] = max(slot["hours"], 0.0 if math.isnan(present) else present)
        held = cell_number(row["held_hours"])
        slot["held"] += 0.0 if math.isnan(held) else held
        cost = cell_number(row["cost"])
        slot["cost"] += 0.0 if math.isnan(cost) else cost
        slot["model"] = slot["model"] or str(row["model_name"] or "")
        slot["pool"] = slot["pool"] or str(row["pool"] or "")
    nodes: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (cluster, node, _gpu), slot in sorted(per_gpu.items()):
        slot["share"] = slot["held"] / slot["present"] if slot["present"] > 0 else 0.0
        nodes.setdefault((cluster, node), []).append(slot)
    info = {
        (str(r.get("cluster") or ""), str(r["node"])): r
        for r in records(data.nodes.astype(object).fillna(""))  # type, region, capacity
    }
    unlabelled = unlabelled_holders(data)
    out = []
    for (cluster, node), gpus in nodes.items():
        idle = [g for g in gpus if g["share"] < rules.capacity_max_held_share]
        if not idle or (cluster, node) in unlabelled:  # which GPUs are free is not known
            continue
        idle_cost = sum(g["cost"] * (1 - g["share"]) for g in idle)
        if idle_cost <= 0:
            continue
        node_info = info.get((cluster, node)) or info.get(("", node), {})
        model = idle[0]["model"]
        pool = idle[0]["pool"]
        hours = max(g["hours"] for g in idle)
        held = sum(g["held"] for g in idle) / sum(g["present"] for g in idle)
        whole = len(idle) == len(gpus)
        instance_type = str(node_info.get("instance_type", ""))
        capacity_type = str(node_info.get("capacity_type", ""))
        w = Workload(
            kind="Node",
            name=node,
            namespace="",
            pods=(),
            team="",
            project="",
            model="",
            interruptible=False,
            instance_type=instance_type,
            region=str(node_info.get("region", "")),
            capacity_type=capacity_type,
            gpu_model=model,
            gpus_per_pod=len(idle),
            gpu_hours=sum(g["present"] - g["held"] for g in idle),
            busy_avg=None,
            busy_p95=None,
            memory_peak_mib=math.nan,
            memory_total_mib=math.nan,
            cost=idle_cost,
            observed_hours=min(hours, window_hours),
            cluster=cluster,
        )
        where = f" of pool {pool}" if pool else ""
        monthly = idle_cost * month
        total_cost = sum(g["cost"] for g in gpus) * month
        out.append(
            Recommendation(
                w,
                REMOVE if whole else SCALE_DOWN,
                f"{instance_type or node} ({capacity_type or 'unknown'})",
                f"remove the node{where}" if whole else f"free {len(idle)} GPUs{where}",
                total_cost,
                total_cost - monthly,
                monthly,
                confidence_of(w, window_hours),
                f"{len(idle)} of {len(gpus)} {model or 'GPU'} held {held:.1%} of {hours:.0f} h; "
                f"idle cost {idle_cost:,.2f} in the window",
                CAPACITY_RISK,
                {
                    "node": node,
                    "node_pool": pool,
                    "gpu_model": model,
                    "node_gpus": len(gpus),
                    "idle_gpus": len(idle),
                    "held_share": round(held, 4),
                    "idle_cost": round(idle_cost, 4),
                },
            )
        )
    return out


def unlabelled_holders(
    data: PodGpuData, tolerance_hours: float = 0.5
) -> dict[tuple[str, str], float]:
    """(cluster, node) where the ledger charges pods more GPU-hours than dcgm-exporter shows
    held on any of its GPUs, with the difference: HAMi pods (and dcgm-exporter without its pod
    mapping) hold GPUs its series do not name, so which GPUs are free there is not known."""
    frame, capacity = data.node_allocations, data.capacity
    if frame is None or frame.empty or capacity is None:
        return {}

    def clusters(table: pd.DataFrame) -> list[str]:
        if "cluster" not in table:
            return [""] * len(table)
        return [cell_label(c) for c in table["cluster"]]

    seen: dict[tuple[str, str], float] = {}
    for key, held in zip(
        zip(clusters(capacity), capacity["node"].astype(str), strict=True),
        capacity["held_hours"],
        strict=True,
    ):
        value = cell_number(held)
        seen[key] = seen.get(key, 0.0) + (0.0 if math.isnan(value) else value)
    out = {}
    for key, value in zip(
        zip(clusters(frame), frame["node"].astype(str), strict=True),
        frame["gpu_hours"],
        strict=True,
    ):
        unseen = cell_number(value) - seen.get(key, 0.0)
        if key in seen and unseen > tolerance_hours:
            out[key] = unseen
    return out
