"""What each GPU is doing, what it costs, and which ones are wasted.

Pure: a ``GpuData`` frame in, classified rows and summaries out.

States (thresholds are settings, defaults below):
- ``unallocated``: no pod held the GPU for at least half of the time it was reported;
- ``idle-allocated``: a pod held it, but its busy p95 while held stayed under ``idle_busy_p95``
  (it does nothing even at its busiest);
- ``underused``: held, busy average while held under ``underused_busy_avg``;
- ``active``: everything else.

Waste is the ledger's (docs/cost-model.md#the-ledger): what the window's cost bought no work
with, ``cost - used_cost`` where ``used_cost`` is the price x busy of every sample the GPU was held
(``cost x (1 - held share x busy while held)`` when the source gives no ``used_cost``). Summed
over GPUs it is ``costs``' total waste, idle included.

``--by team`` splits each GPU's cost over its holders by time held: its rows are the ledger's
(``costs --by team``), given as a ``CostReport``; ``main_holder_cost`` keeps the whole cost of
the GPUs each team held longest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from finops_cli.frames import records
from finops_cli.sources.interface import GpuData

if TYPE_CHECKING:
    from finops_cli.analytics.costs import CostReport

ACTIVE = "active"
UNDERUSED = "underused"
IDLE_ALLOCATED = "idle-allocated"
UNALLOCATED = "unallocated"
WASTED_STATES = (IDLE_ALLOCATED, UNALLOCATED)
STATES = (ACTIVE, UNDERUSED, IDLE_ALLOCATED, UNALLOCATED)


@dataclass(frozen=True)
class GpuThresholds:
    idle_busy_p95: float = 0.10
    underused_busy_avg: float = 0.30
    min_held_share: float = 0.5


def classify(held_share: float, busy_avg: float | None, busy_p95: float | None,
             thresholds: GpuThresholds) -> str:  # fmt: skip
    """The state of one GPU (see the module docstring)."""
    if held_share < thresholds.min_held_share:
        return UNALLOCATED
    if busy_p95 is not None and busy_p95 < thresholds.idle_busy_p95:
        return IDLE_ALLOCATED
    if busy_avg is not None and busy_avg < thresholds.underused_busy_avg:
        return UNDERUSED
    return ACTIVE


def assess_gpus(data: GpuData, thresholds: GpuThresholds) -> pd.DataFrame:
    """The GPU frame with node facts, ``held_share``, ``state`` and ``waste`` added."""
    frame = with_nodes(data.gpus, data.nodes)
    frame[["instance_type", "region", "capacity_type"]] = frame[
        ["instance_type", "region", "capacity_type"]
    ].fillna("")
    present = frame["present_hours"].astype(float)
    held = frame["held_hours"].fillna(0.0).astype(float)
    frame["held_share"] = (held / present.where(present > 0)).fillna(0.0).clip(0.0, 1.0)
    states = []
    wastes: list[float | None] = []
    used_costs = frame["used_cost"] if "used_cost" in frame else [None] * len(frame)
    for share, avg, p95, cost, used_cost in zip(
        frame["held_share"], frame["busy_avg"], frame["busy_p95"], frame["cost"], used_costs,
        strict=True,
    ):  # fmt: skip
        avg_value = _number(avg)
        states.append(classify(float(share), avg_value, _number(p95), thresholds))
        money = _number(cost)
        paid_for_work = _number(used_cost)
        if money is not None and avg_value is not None and paid_for_work is not None:
            wastes.append(money - paid_for_work)  # the ledger's: sum(price x (1 - busy))
            continue
        used = float(share) * (avg_value if avg_value is not None else 1.0)
        wastes.append(None if money is None else money * (1.0 - used))
    frame["state"] = states
    frame["waste"] = wastes
    return frame


def with_nodes(frame: pd.DataFrame, nodes: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (GPUs, pods) with its nodes' facts, matched on the node's name and, where both
    frames carry it, its cluster (two clusters built from one template share node names)."""
    if "cluster" in frame.columns and "cluster" in nodes.columns:
        frame = frame.assign(cluster=frame["cluster"].astype(object).fillna("").astype(str))
        nodes = nodes.assign(cluster=nodes["cluster"].astype(object).fillna("").astype(str))
        return frame.merge(nodes, on=["cluster", "node"], how="left")
    nodes = nodes.drop(columns=["cluster"], errors="ignore").drop_duplicates("node")
    return frame.merge(nodes, on="node", how="left")


def summarise_gpus(frame: pd.DataFrame, by: str, ledger: CostReport | None = None) -> pd.DataFrame:
    """GPUs, states, cost, waste and busy per ``node``, ``team`` or ``gpu_model``.

    With ``ledger`` (``costs``' report grouped by ``by``), a row's ``cost``, ``gpu_hours``,
    ``waste`` and ``busy_avg`` are the ledger's (each GPU's cost split over its holders by time
    held; ``__idle__`` the time nobody held one), ``main_holder_cost`` the whole cost of the
    GPUs whose main holder is in the group, and the GPU and state counts stay by main holder.
    """
    summary = _summarise(frame, by)
    if ledger is None:
        return summary
    return _with_ledger(summary, by, ledger)


def _with_ledger(summary: pd.DataFrame, by: str, ledger: CostReport) -> pd.DataFrame:
    counted: dict[str, dict[str, Any]] = {
        str(r[by]): {str(k): v for k, v in r.items()} for r in records(summary)
    }
    rows: list[dict[str, Any]] = []
    for r in ledger.rows:
        key = r.keys.get(by, r.kind)
        rows.append(_ledger_row(by, key, counted.pop(key, None), r.gpu_cost, r.waste,
                                r.efficiency, r.gpu_hours))  # fmt: skip
    for key, counts in counted.items():  # main holders the window's ledger has no row for
        rows.append(_ledger_row(by, key, counts, 0.0, 0.0, None, 0.0))
    columns = [by, "gpus", *STATES, "cost", "waste", "busy_avg", "gpu_hours", "main_holder_cost"]
    return pd.DataFrame(rows, columns=columns)


def _ledger_row(
    by: str,
    key: str,
    counts: dict[str, Any] | None,
    cost: float,
    waste: float | None,
    efficiency: float | None,
    gpu_hours: float,
) -> dict[str, Any]:
    return {
        by: key,
        "gpus": int(counts["gpus"]) if counts else 0,
        **{state: int(counts[state]) if counts else 0 for state in STATES},
        "cost": cost,
        "waste": waste,
        "busy_avg": efficiency,
        "gpu_hours": gpu_hours,
        "main_holder_cost": float(counts["cost"]) if counts else 0.0,
    }


def _summarise(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    column = {"gpu_model": "model_name"}.get(by, by)
    keyed = frame.assign(_key=frame[column].replace("", "__unallocated__"))
    # Nodes are per cluster: the same node name in two clusters is two rows.
    per_cluster = by == "node" and "cluster" in frame.columns
    keys = ["cluster", "_key"] if per_cluster else ["_key"]
    rows: list[dict[str, Any]] = []
    for values, group in keyed.groupby(keys, sort=True):
        *cluster, key = values if isinstance(values, tuple) else (values,)
        held = group["held_hours"].fillna(0.0)
        busy = (group["busy_avg"].fillna(0.0) * held).sum()
        rows.append(
            {
                **({"cluster": str(cluster[0])} if per_cluster else {}),
                by: key,
                "gpus": len(group),
                **{state: int((group["state"] == state).sum()) for state in STATES},
                "cost": float(group["cost"].fillna(0.0).sum()),
                "waste": float(group["waste"].fillna(0.0).sum()),
                "busy_avg": float(busy / held.sum()) if held.sum() > 0 else None,
            }
        )
    columns = [*(["cluster"] if per_cluster else []), by, "gpus", *STATES, "cost", "waste"]
    columns.append("busy_avg")
    return pd.DataFrame(rows, columns=columns).sort_values(
        "cost", ascending=False, ignore_index=True
    )


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number
