"""What every right-sizing rule shares: the thresholds, the workload a rule reads, the
recommendation it writes, the action names, how sure a recommendation is and how a frame cell
is read.

A module of its own so that the rule modules (``rightsize_workloads``, ``rightsize_replicas``,
``rightsize_pools``, ``rightsize_capacity``) and ``rightsize``, which runs them, import one
definition without importing each other in a cycle.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

HOURS_PER_MONTH = 730.0
TERMINATE = "terminate"
DOWNSIZE = "downsize"
UPSIZE = "upsize"
CONSOLIDATE = "consolidate"
SPOT = "spot"
REMOVE = "remove"
SCALE_DOWN = "scale-down"
FEWER_REPLICAS = "fewer-replicas"
ACTIONS = (TERMINATE, DOWNSIZE, UPSIZE, CONSOLIDATE, SPOT, REMOVE, SCALE_DOWN, FEWER_REPLICAS)
NODE_POOL = "NodePool"  # the workload kind of a pool's consolidation
CAPACITY_ACTIONS = (REMOVE, SCALE_DOWN)
CAPACITY_RISK = (
    "the capacity may be kept on purpose (headroom, a reservation, a commitment): ask the "
    "pool's owner before shrinking it"
)


@dataclass(frozen=True)
class RightsizeRules:
    terminate_busy_p95: float = 0.05
    upsize_memory_share: float = 0.95
    memory_headroom: float = 0.80  # a target GPU's memory may be filled to this share
    downsize_busy_p95: float = 0.50
    downsize_min_saving_share: float = 0.10
    target_busy: float = 0.70
    consolidate_busy_avg: float = 0.35
    capacity_max_held_share: float = 0.10  # a GPU held by pods under this share of its hours


@dataclass(frozen=True)
class Workload:
    """The evidence for one workload, summed over its pods."""

    kind: str
    name: str
    namespace: str
    pods: tuple[str, ...]
    team: str
    project: str
    model: str
    interruptible: bool
    instance_type: str
    region: str
    capacity_type: str
    gpu_model: str
    gpus_per_pod: int
    gpu_hours: float
    busy_avg: float | None
    busy_p95: float | None
    memory_peak_mib: float
    memory_total_mib: float
    cost: float
    observed_hours: float
    gpu_share: float = 1.0  # the most GPUs a pod held, shares counted (0.25 of a time-sliced)
    mig_share: float = 0.0  # its MIG instance's share of the GPU (0: no MIG instance)
    cluster: str = ""  # the cluster label's value (one cluster without it: "")
    node: str = ""  # the node of its pod with the most GPU-hours
    gpu_units: float = math.nan  # the most physical GPUs bound to one pod (replicas of one: 1)

    @property
    def shared(self) -> bool:
        """Holds part of a GPU: busy and memory are its MIG instance's, or the whole GPU's."""
        return self.mig_share > 0 or self.gpu_share < 1 - 1e-6


@dataclass(frozen=True)
class Recommendation:
    workload: Workload
    action: str
    current: str
    target: str
    current_monthly: float | None
    target_monthly: float | None
    monthly_savings: float
    confidence: str
    evidence: str
    risk: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def savings_pct(self) -> float | None:
        if not self.current_monthly:
            return None
        return self.monthly_savings / self.current_monthly


def confidence_of(w: Workload, window_hours: float) -> str:
    """high: seen 3+ days and steady (p95 within 30 points of the mean); medium: 1+ day."""
    steady = w.busy_p95 is None or w.busy_avg is None or w.busy_p95 - w.busy_avg <= 0.30
    if w.observed_hours >= min(72.0, window_hours * 0.9) and steady:
        return "high"
    if w.observed_hours >= min(24.0, window_hours * 0.5):
        return "medium"
    return "low"


def cell_label(value: Any) -> str:
    """A frame cell as a label value, missing (None, NaN) as ``""``."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def cell_number(value: Any) -> float:
    """A frame cell as a float, missing (None, NaN, "") as NaN."""
    return math.nan if value is None or value == "" else float(value)


def nanmax(values: Iterable[float]) -> float:
    seen = [v for v in values if not math.isnan(v)]
    return max(seen) if seen else math.nan
