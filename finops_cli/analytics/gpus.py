"""What each GPU is doing, what it costs, and which ones are wasted.

Pure: a ``GpuData`` frame in, classified rows and summaries out.

States (thresholds are settings, defaults below):
- ``unallocated``: no pod held the GPU for at least half of the time it was reported;
- ``idle-allocated``: a pod held it, but its busy p95 while held stayed under ``idle_busy_p95``
  (it does nothing even at its busiest);
- ``underused``: held, busy average while held under ``underused_busy_avg``;
- ``active``: everything else.

Waste is what the window's cost bought no work with: ``cost x (1 - held share x busy while
held)``, the per-GPU twin of ``costs``' ``cost x (1 - efficiency)`` plus idle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from finops_cli.sources.interface import GpuData

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
    frame = data.gpus.merge(data.nodes, on="node", how="left")
    frame[["instance_type", "region", "capacity_type"]] = frame[
        ["instance_type", "region", "capacity_type"]
    ].fillna("")
    present = frame["present_hours"].astype(float)
    held = frame["held_hours"].fillna(0.0).astype(float)
    frame["held_share"] = (held / present.where(present > 0)).fillna(0.0).clip(0.0, 1.0)
    states = []
    wastes = []
    for share, avg, p95, cost in zip(
        frame["held_share"], frame["busy_avg"], frame["busy_p95"], frame["cost"], strict=True
    ):
        avg_value = _number(avg)
        states.append(classify(float(share), avg_value, _number(p95), thresholds))
        used = float(share) * (avg_value if avg_value is not None else 1.0)
        money = _number(cost)
        wastes.append(None if money is None else money * (1.0 - used))
    frame["state"] = states
    frame["waste"] = wastes
    return frame


def summarise_gpus(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """GPUs, states, cost, waste and busy per ``node``, ``team`` or ``gpu_model``."""
    column = {"gpu_model": "model_name"}.get(by, by)
    keyed = frame.assign(_key=frame[column].replace("", "__unallocated__"))
    rows: list[dict[str, Any]] = []
    for key, group in keyed.groupby("_key", sort=True):
        held = group["held_hours"].fillna(0.0)
        busy = (group["busy_avg"].fillna(0.0) * held).sum()
        rows.append(
            {
                by: key,
                "gpus": len(group),
                **{state: int((group["state"] == state).sum()) for state in STATES},
                "cost": float(group["cost"].fillna(0.0).sum()),
                "waste": float(group["waste"].fillna(0.0).sum()),
                "busy_avg": float(busy / held.sum()) if held.sum() > 0 else None,
            }
        )
    columns = [by, "gpus", *STATES, "cost", "waste", "busy_avg"]
    return pd.DataFrame(rows, columns=columns).sort_values(
        "cost", ascending=False, ignore_index=True
    )


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number
