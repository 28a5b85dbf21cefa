"""Right-sizing: what to change about each GPU workload and GPU node, what it saves, and why.

Pure: per-pod usage (``PodGpuData``), the price catalog and the window length in; sorted
recommendations out. Pods are grouped into workloads by their controller (a ReplicaSet's pods
are its Deployment, a CronJob's Job runs share a name), and every rule reads the workload's
evidence.

One basis for every saving: the **measured** cost in the window (the workload's GPUs at their
node's price, what ``costs`` charges its pods; a node's unheld GPU-hours at that price), projected
to a month as x 730 h / window hours. Where the change is to another price (downsize, upsize,
spot), the catalog gives only the ratio: saving = measured x (1 - target / current catalog
$/GPU-h). The catalog's own price is used only where the measured cost is unknown (zero).

Rules, in the order they are tried (thresholds in ``RightsizeRules``):
- terminate: every pod's busy p95 under 5%: it holds GPUs and does nothing (saves its measured
  cost).
- upsize: peak memory at or above 95% of the card: out-of-memory risk; the cheapest type with
  the same GPU count whose memory holds the peak with 20% headroom (a cost, not a saving).
- downsize: busy p95 under 50% and the peak memory fits a cheaper GPU type with 20% headroom
  (same GPU count; the cheapest such type at least 10% cheaper per GPU) -- or, for multi-GPU
  pods, the busy work fits on fewer GPUs at 70% target utilisation.
- consolidate: two or more single-GPU serving workloads of one model, each under 35% busy on
  average: they fit on ceil(sum of busy / 70%) GPUs (MIG slices or time-slicing); the costliest
  of the rest are released.
- spot: interruption-tolerant work (a Job, or the pod label ``ai-finops.io/interruptible=true``)
  on on-demand capacity where the catalog knows the spot price.
- fewer-replicas: a workload holding k > 1 time-slicing or MPS replicas of a GPU (node label
  ``nvidia.com/gpu.replicas`` = R) whose busy p95 and peak memory fit fewer: needed =
  max(1, ceil(busy_p95 x R / 70%), ceil(peak memory / (memory / R) / 80%)); saves measured cost
  x (k - needed) / k.
- remove / scale-down (capacity, per node): GPUs that pods held for less than 10% of the time
  they were reported (``capacity_max_held_share``). ``remove`` when every GPU of the node is
  such a GPU, ``scale-down`` when some are; the saving is their cost while nobody held them.
- consolidate (replicas, per node pool): the time-sliced or MPS GPUs of one pool (same GPU
  model and replica count) whose held replicas, summed busy p95 and summed peak memory fit on
  fewer GPUs: whole nodes, least held first, are freed while the rest still hold all three;
  saves the freed GPUs' measured cost.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from finops_cli.analytics import mig_profiles
from finops_cli.pricing import PriceCatalog
from finops_cli.sources.interface import PodGpuData

if TYPE_CHECKING:
    import pandas as pd

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


def workload_of(owner_kind: str, owner_name: str, pod: str) -> tuple[str, str]:
    """A pod's workload: ReplicaSet -> its Deployment, Job run -> its CronJob family."""
    if owner_kind == "ReplicaSet":
        return "Deployment", re.sub(r"-[a-z0-9]{5,10}$", "", owner_name)
    if owner_kind == "Job":
        return "Job", re.sub(r"-\d+$", "", owner_name)
    if owner_kind and owner_kind != "<none>":  # kube-state-metrics' word for no owner
        return owner_kind, owner_name
    return "Pod", pod


def group_workloads(data: PodGpuData, window_hours: float) -> list[Workload]:
    """Pods to workloads; where pods ran on several types, the one with most GPU-hours wins."""
    from finops_cli.analytics.gpus import with_nodes

    pods = with_nodes(data.pods, data.nodes).fillna(
        {"instance_type": "", "region": "", "capacity_type": ""}
    )
    if pods.empty:
        return []
    # Workloads are per cluster: the same namespace and name in two clusters stay two.
    clusters = pods["cluster"].fillna("") if "cluster" in pods.columns else [""] * len(pods)
    if "workload" in pods.columns:  # grouped by the source already
        keys = list(
            zip(clusters, pods["namespace"], pods["workload_kind"], pods["workload"], strict=True)
        )
    else:
        keys = [
            (c, ns, *workload_of(str(k), str(n), str(p)))
            for c, ns, k, n, p in zip(
                clusters,
                pods["namespace"],
                pods["owner_kind"],
                pods["owner_name"],
                pods["pod"],
                strict=True,
            )
        ]
    # Plain records, one pass: a pandas slice per workload cost 30 s at 20,000 GPUs.
    by_workload: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for key, row in zip(keys, pods.to_dict("records"), strict=True):
        by_workload.setdefault(tuple(str(part) for part in key), []).append(row)  # type: ignore[arg-type]
    has_names = "pod_names" in pods.columns
    return [
        _workload(key, rows, has_names, window_hours) for key, rows in sorted(by_workload.items())
    ]


def _workload(
    key: tuple[str, ...], rows: list[dict[str, Any]], has_names: bool, window_hours: float
) -> Workload:
    """One workload from its pods' rows (usually one: the Prometheus source groups them)."""
    cluster, namespace, kind, name = key
    hours = [_number(r["gpu_hours"]) for r in rows]
    main = rows[int(np.argmax(hours))]
    busy = [_number(r["busy_avg"]) for r in rows]
    known = [(b, h) for b, h in zip(busy, hours, strict=True) if not math.isnan(b)]
    weight = _nansum(h for _, h in known)
    busy_avg = _nansum(b * h for b, h in known) / weight if weight > 0 else None
    p95 = [v for v in (_number(r["busy_p95"]) for r in rows) if not math.isnan(v)]
    gpus = int(_nanmax(_number(r["gpus"]) for r in rows))
    total_hours = _nansum(hours)
    return Workload(
        kind=kind,
        name=name,
        namespace=namespace,
        pods=tuple(
            sorted(chain.from_iterable(r["pod_names"] for r in rows))
            if has_names
            else sorted(r["pod"] for r in rows)
        ),
        team=_first(r["team"] for r in rows),
        project=_first(r["project"] for r in rows),
        model=_first(r["model"] for r in rows),
        interruptible=any(str(r["interruptible"]).lower() == "true" for r in rows),
        instance_type=str(main["instance_type"]),
        region=str(main["region"]),
        capacity_type=str(main["capacity_type"]),
        gpu_model=str(main["gpu_model"]),
        gpus_per_pod=max(gpus, 1),
        gpu_hours=total_hours,
        busy_avg=busy_avg,
        busy_p95=max(p95) if p95 else None,
        memory_peak_mib=_nanmax(_number(r["memory_peak_mib"]) for r in rows),
        memory_total_mib=_nanmax(_number(r["memory_total_mib"]) for r in rows),
        cost=_nansum(_number(r["cost"]) for r in rows),
        observed_hours=min(total_hours / max(gpus, 1), window_hours),
        gpu_share=_nanmax(_number(r["gpus"]) for r in rows),
        mig_share=_nanmax([0.0, *(_number(r.get("mig_share")) for r in rows)]),
        cluster=cluster,
        node=_label(main.get("node")),
        gpu_units=_nanmax(_number(r.get("gpu_units")) for r in rows),
    )


def _label(value: Any) -> str:
    """A frame cell as a label value, missing (None, NaN) as ``""``."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _number(value: Any) -> float:
    """A frame cell as a float, missing (None, NaN, "") as NaN."""
    return math.nan if value is None or value == "" else float(value)


def _nansum(values: Iterable[float]) -> float:
    return sum((v for v in values if not math.isnan(v)), 0.0)


def _nanmax(values: Iterable[float]) -> float:
    seen = [v for v in values if not math.isnan(v)]
    return max(seen) if seen else math.nan


def recommend(
    data: PodGpuData,
    catalog: PriceCatalog,
    window_hours: float,
    rules: RightsizeRules | None = None,
) -> list[Recommendation]:
    """Every recommendation, largest monthly saving first."""
    rules = rules or RightsizeRules()
    month = HOURS_PER_MONTH / window_hours
    workloads = group_workloads(data, window_hours)
    replicas = node_replicas(data)
    recs: list[Recommendation] = []
    terminated: set[tuple[str, str, str, str]] = set()
    for w in workloads:
        current = _price(catalog, w, w.capacity_type or "on-demand")
        confidence = _confidence(w, window_hours)
        if w.busy_p95 is not None and w.busy_p95 < rules.terminate_busy_p95:
            terminated.add((w.cluster, w.namespace, w.kind, w.name))
            monthly = _measured(w, current) * month
            recs.append(
                Recommendation(
                    w,
                    TERMINATE,
                    w.instance_type,
                    "none",
                    monthly,
                    0.0,
                    monthly,
                    confidence,
                    f"busy p95 at most {w.busy_p95:.1%} on every pod, {w.gpu_hours:.0f} GPU-h "
                    f"held on {w.gpus_per_pod} GPU(s)",
                    "someone may still need it: ask the owner before deleting",
                )
            )
            continue
        if w.mig_share > 0:  # its evidence is its instance's: resize the instance
            mig = _mig_resize(w, rules, month, confidence)
            if mig is not None:
                recs.append(mig)
            continue
        fewer = _fewer_replicas(w, replicas.get((w.cluster, w.node)), rules, month, confidence)
        if fewer is not None:
            recs.append(fewer)
        if current is None:
            continue
        measured = _measured(w, current) * month
        switch = functools.partial(
            _switch, w, current=current, measured=measured, confidence=confidence
        )
        if not w.shared:  # a shared GPU's busy and memory are not this workload's alone
            resized = _resize(w, catalog, rules, current, measured, switch, confidence)
            recs.extend(resized)
            if any(r.action == UPSIZE for r in resized):
                continue
        if (w.kind == "Job" or w.interruptible) and w.capacity_type == "on-demand":
            spot = _price(catalog, w, "spot")
            if spot is not None and spot[1] < current[1]:
                evidence = (
                    f"{'a Job' if w.kind == 'Job' else 'labelled interruptible'} on "
                    f"on-demand {w.instance_type}; catalog spot {spot[1]:.3f} vs "
                    f"{current[1]:.3f} $/GPU-h"
                )
                risk = "spot capacity can be reclaimed with 2 minutes' notice: checkpoint often"
                recs.append(switch(SPOT, (w.instance_type, spot[1], 0.0, "spot"), evidence, risk))
    recs.extend(_consolidate(workloads, catalog, month, rules, window_hours, terminated))
    if data.capacity is not None:
        recs.extend(idle_capacity(data, month, rules, window_hours))
    freed = {(r.workload.cluster, r.workload.name) for r in recs if r.action in CAPACITY_ACTIONS}
    recs.extend(consolidate_replicas(data, month, rules, window_hours, freed))
    # Savings to the cent: two equal savings summed in another order (recorded and raw series)
    # keep their name order instead of following float noise.
    return sorted(
        recs,
        key=lambda r: (
            -round(r.monthly_savings, 2),
            r.action,
            r.workload.namespace,
            r.workload.name,
            r.workload.cluster,
        ),
    )


def _resize(
    w: Workload,
    catalog: PriceCatalog,
    rules: RightsizeRules,
    current: tuple[str, float, float, str],
    measured: float,
    switch: Callable[..., Recommendation],
    confidence: str,
) -> list[Recommendation]:
    """Upsize when memory is at the threshold; else downsize to a cheaper type whose memory
    holds the peak, or, for a multi-GPU pod, onto fewer GPUs of the same type."""
    out: list[Recommendation] = []
    memory_needed = w.memory_peak_mib / rules.memory_headroom
    memory_share = w.memory_peak_mib / w.memory_total_mib if w.memory_total_mib else 0.0
    if memory_share >= rules.upsize_memory_share:
        target = _cheapest(catalog, w, memory_needed, None)
        if target is not None:
            evidence = f"peak memory {memory_share:.0%} of {w.memory_total_mib / 1024:.0f} GiB"
            risk = "out-of-memory restarts until it moves; costs more"
            out.append(switch(UPSIZE, target, evidence, risk))
        return out
    if w.busy_p95 is not None and w.busy_p95 < rules.downsize_busy_p95:
        ceiling = current[1] * (1 - rules.downsize_min_saving_share)
        target = _cheapest(catalog, w, memory_needed, ceiling)
        if target is not None:
            evidence = (
                f"busy p95 {w.busy_p95:.0%}, peak memory {w.memory_peak_mib / 1024:.1f} GiB "
                f"fits {target[0]} ({target[2]:.0f} GiB per GPU) with headroom"
            )
            risk = "a smaller GPU runs slower per request: load-test before switching"
            out.append(switch(DOWNSIZE, target, evidence, risk))
        elif w.gpus_per_pod > 1 and w.busy_avg is not None:
            needed = max(1, math.ceil(w.busy_avg * w.gpus_per_pod / rules.target_busy))
            if needed < w.gpus_per_pod:
                saving = (w.gpus_per_pod - needed) / w.gpus_per_pod * measured
                out.append(
                    Recommendation(
                        w,
                        DOWNSIZE,
                        f"{w.gpus_per_pod} x {w.gpu_model}",
                        f"{needed} x {w.gpu_model}",
                        measured,
                        measured - saving,
                        saving,
                        confidence,
                        f"busy {w.busy_avg:.0%} over {w.gpus_per_pod} GPUs fits {needed} at "
                        f"{rules.target_busy:.0%}",
                        "needs the job to scale down its data/model parallelism",
                    )
                )
    return out


def _consolidate(
    workloads: list[Workload],
    catalog: PriceCatalog,
    month: float,
    rules: RightsizeRules,
    window_hours: float,
    terminated: set[tuple[str, str, str, str]],
) -> list[Recommendation]:
    groups: dict[str, list[Workload]] = {}
    for w in workloads:
        if (
            w.kind != "Job"
            and w.gpus_per_pod == 1
            and w.model
            and w.busy_avg is not None
            and w.busy_avg < rules.consolidate_busy_avg
            and (w.cluster, w.namespace, w.kind, w.name) not in terminated
        ):
            groups.setdefault(w.model, []).append(w)
    out = []
    for model, members in sorted(groups.items()):
        if len(members) < 2:
            continue
        needed = max(1, math.ceil(sum(w.busy_avg or 0.0 for w in members) / rules.target_busy))
        priced = [(w, _price(catalog, w, w.capacity_type or "on-demand")) for w in members]
        # Keep the cheapest GPUs; release the rest.
        priced.sort(key=lambda item: item[1][1] if item[1] else math.inf)
        kept = [w for w, _ in priced[:needed]]
        for w, price in priced[needed:]:
            if price is None:
                continue
            monthly = _measured(w, price) * month
            host = ", ".join(f"{k.kind}/{k.name}" for k in kept)
            out.append(
                Recommendation(
                    w,
                    CONSOLIDATE,
                    w.instance_type,
                    f"share {host} (MIG or time-slicing)",
                    monthly,
                    0.0,
                    monthly,
                    _confidence(w, window_hours),
                    f"{len(members)} single-GPU workloads of {model} average "
                    f"{sum(m.busy_avg or 0.0 for m in members):.0%} busy in total: "
                    f"{needed} GPU(s) at {rules.target_busy:.0%} hold them",
                    "shared GPUs isolate less: noisy neighbours and one failure domain",
                    {"model": model, "kept": [f"{k.kind}/{k.name}" for k in kept]},
                )
            )
    return out


def _mig_resize(
    w: Workload, rules: RightsizeRules, month: float, confidence: str
) -> Recommendation | None:
    """A smaller MIG profile of the same card when the instance's busy p95 fits fewer compute
    slices at ``target_busy`` and its peak memory fits with headroom; a larger one when memory
    is at the upsize threshold. The saving is the measured cost x the change in slices."""
    current = mig_profiles.identify(w.mig_share, w.memory_total_mib)
    if current is None or w.busy_p95 is None or not w.memory_total_mib:
        return None
    memory_needed = w.memory_peak_mib / rules.memory_headroom
    memory_share = w.memory_peak_mib / w.memory_total_mib
    peak = f"peak memory {w.memory_peak_mib / 1024:.1f} GiB"
    if memory_share >= rules.upsize_memory_share:
        target = mig_profiles.smallest_fitting(current, current.slices, memory_needed)
        if target is None or target.name == current.name:
            return None
        action, risk = UPSIZE, "out-of-memory restarts until it moves; costs more"
        evidence = f"{peak}, {memory_share:.0%} of its {current.name} instance"
    else:
        needed = max(w.busy_p95 * current.slices / rules.target_busy, 1.0)
        target = mig_profiles.smallest_fitting(current, needed, memory_needed)
        if target is None or target.slices >= current.slices:
            return None
        action = DOWNSIZE
        risk = "the node's MIG layout must change (GPU operator mig.config): drain it first"
        evidence = (
            f"busy p95 {w.busy_p95:.0%} of {current.slices} slices fits {target.slices} at "
            f"{rules.target_busy:.0%}; {peak} fits {target.name} with headroom"
        )
    measured = w.cost * month
    then = measured * target.share / current.share
    return Recommendation(
        w,
        action,
        f"MIG {current.name} ({current.card})",
        f"MIG {target.name}",
        measured,
        then,
        measured - then,
        confidence,
        evidence,
        risk,
        {"mig_profile": current.name, "target_mig_profile": target.name},
    )


def _switch(
    w: Workload,
    action: str,
    target: tuple[str, float, float, str],
    evidence: str,
    risk: str,
    *,
    current: tuple[str, float, float, str],
    measured: float,
    confidence: str,
) -> Recommendation:
    """Move ``w`` from its ``current`` instance to ``target``: its measured monthly cost scaled
    by the catalog's price ratio (the catalog gives the ratio, the ledger the money)."""
    now = measured
    then = measured * target[1] / current[1] if current[1] > 0 else measured
    return Recommendation(
        w,
        action,
        f"{current[0]} ({current[3]})",
        f"{target[0]} ({target[3]})",
        now,
        then,
        now - then,
        confidence,
        evidence,
        risk,
    )


def _measured(w: Workload, price: tuple[str, float, float, str] | None) -> float:
    """The workload's measured GPU cost in the window; the catalog's price x its GPU-hours only
    where nothing was measured."""
    if w.cost > 0 or price is None:
        return w.cost
    return price[1] * w.gpu_hours


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
    for row in frame.to_dict("records"):
        slot = per_gpu.setdefault(
            (_label(row.get("cluster")), str(row["node"]), str(row["gpu"])),
            {"present": 0.0, "held": 0.0, "cost": 0.0, "model": "", "pool": "", "hours": 0.0},
        )
        present = _number(row["present_hours"])
        slot["present"] += 0.0 if math.isnan(present) else present
        slot["hours"] = max(slot["hours"], 0.0 if math.isnan(present) else present)
        held = _number(row["held_hours"])
        slot["held"] += 0.0 if math.isnan(held) else held
        cost = _number(row["cost"])
        slot["cost"] += 0.0 if math.isnan(cost) else cost
        slot["model"] = slot["model"] or str(row["model_name"] or "")
        slot["pool"] = slot["pool"] or str(row["pool"] or "")
    nodes: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (cluster, node, _gpu), slot in sorted(per_gpu.items()):
        slot["share"] = slot["held"] / slot["present"] if slot["present"] > 0 else 0.0
        nodes.setdefault((cluster, node), []).append(slot)
    info = {
        (str(r.get("cluster") or ""), str(r["node"])): r
        for r in data.nodes.astype(object).fillna("").to_dict("records")  # type, region, capacity
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
                _confidence(w, window_hours),
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
        return [_label(c) for c in table["cluster"]]

    seen: dict[tuple[str, str], float] = {}
    for key, held in zip(
        zip(clusters(capacity), capacity["node"].astype(str), strict=True),
        capacity["held_hours"],
        strict=True,
    ):
        value = _number(held)
        seen[key] = seen.get(key, 0.0) + (0.0 if math.isnan(value) else value)
    out = {}
    for key, value in zip(
        zip(clusters(frame), frame["node"].astype(str), strict=True),
        frame["gpu_hours"],
        strict=True,
    ):
        unseen = _number(value) - seen.get(key, 0.0)
        if key in seen and unseen > tolerance_hours:
            out[key] = unseen
    return out


def _price(
    catalog: PriceCatalog, w: Workload, capacity_type: str
) -> tuple[str, float, float, str] | None:
    """(instance type, $/GPU-hour, GiB per GPU, capacity type) from the catalog."""
    resolved = catalog.lookup(w.instance_type, w.region or None, capacity_type)
    row = catalog.find(w.instance_type, w.region or None)
    if resolved is None or row is None or resolved.per_gpu_hourly is None:
        return None
    return (
        w.instance_type,
        float(resolved.per_gpu_hourly),
        float(row.gpu_memory_gib),
        capacity_type,
    )


def _cheapest(
    catalog: PriceCatalog, w: Workload, memory_mib: float, below: float | None
) -> tuple[str, float, float, str] | None:
    """The cheapest on-demand type of the same provider and region with the workload's GPU
    count whose GPUs hold ``memory_mib`` (and, for a downsize, costs under ``below``)."""
    current = catalog.find(w.instance_type, w.region or None)
    if current is None:
        return None
    best: tuple[str, float, float, str] | None = None
    for row in catalog.rows:
        if row.provider != current.provider or row.region != current.region:
            continue
        if row.gpu_count != w.gpus_per_pod or row.instance_type == current.instance_type:
            continue
        if row.gpu_memory_gib * 1024 < memory_mib:
            continue
        resolved = catalog.lookup(row.instance_type, row.region, "on-demand")
        if resolved is None or resolved.per_gpu_hourly is None:
            continue
        price = float(resolved.per_gpu_hourly)
        if below is not None and price >= below:
            continue
        if best is None or price < best[1]:
            best = (row.instance_type, price, float(row.gpu_memory_gib), "on-demand")
    return best


def _confidence(w: Workload, window_hours: float) -> str:
    """high: seen 3+ days and steady (p95 within 30 points of the mean); medium: 1+ day."""
    steady = w.busy_p95 is None or w.busy_avg is None or w.busy_p95 - w.busy_avg <= 0.30
    if w.observed_hours >= min(72.0, window_hours * 0.9) and steady:
        return "high"
    if w.observed_hours >= min(24.0, window_hours * 0.5):
        return "medium"
    return "low"


def _first(values: Iterable[Any]) -> str:
    for value in values:
        if isinstance(value, str) and value:
            return value
    return ""


# ---- time-sliced and MPS replicas -------------------------------------------------------------
def node_replicas(data: PodGpuData) -> dict[tuple[str, str], tuple[int, str]]:
    """(cluster, node) -> (replicas per GPU, sharing strategy) of the nodes that share whole GPUs
    as time-slicing or MPS replicas (``PodGpuData.replica_gpus``)."""
    frame = data.replica_gpus
    if frame is None or frame.empty:
        return {}
    return {
        (_label(r["cluster"]), str(r["node"])): (int(r["replicas"]), _label(r["sharing_strategy"]))
        for r in frame.to_dict("records")
    }


def _replicas_needed(
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


def _fewer_replicas(
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
    needed = _replicas_needed(w.busy_p95, w.memory_peak_mib, w.memory_total_mib, replicas, rules)
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
    for record in frame.to_dict("records"):
        row: dict[str, Any] = {str(k): v for k, v in record.items()}
        cluster, node = _label(row["cluster"]), str(row["node"])
        if not _label(row["pool"]) or (cluster, node) in exclude:
            continue
        key = (cluster, _label(row["pool"]), _label(row["model_name"]), int(row["replicas"]),
               _label(row["sharing_strategy"]))  # fmt: skip
        pools.setdefault(key, {}).setdefault(node, []).append(row)
    info = {
        (str(r.get("cluster") or ""), str(r["node"])): r
        for r in data.nodes.astype(object).fillna("").to_dict("records")
    }
    out = []
    for (cluster, pool, model, replicas, strategy), nodes in sorted(pools.items()):
        gpus = [g for rows in nodes.values() for g in rows]
        if len(nodes) < 2 or any(
            math.isnan(_number(g["busy_p95"])) or math.isnan(_number(g["memory_used_max_mib"]))
            for g in gpus
        ):
            continue  # one node frees nothing whole; unknown use frees nothing
        memory = _nanmax(_number(g["memory_total_mib"]) for g in gpus)
        held = {
            n: math.ceil(_number(rows[0]["node_held_peak"]) * replicas - 1e-6)
            for n, rows in nodes.items()
        }
        busy = {n: sum(_number(g["busy_p95"]) for g in rows) for n, rows in nodes.items()}
        used = {
            n: sum(_number(g["memory_used_max_mib"]) for g in rows) for n, rows in nodes.items()
        }
        needed = max(
            math.ceil(sum(held.values()) / replicas - 1e-9),
            _replicas_needed(sum(busy.values()), sum(used.values()), memory, 1, rules),
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
        freed_cost = sum(_number(g["cost"]) for n in freed for g in nodes[n])
        total_cost = sum(_number(g["cost"]) for g in gpus)
        if not freed_cost > 0:
            continue
        hours = max(_number(g["present_hours"]) for g in gpus)
        node_info = info.get((cluster, freed[0])) or info.get(("", freed[0]), {})
        how = strategy or "time-slicing or MPS"
        w = Workload(
            kind=NODE_POOL, name=pool, namespace="", pods=(), team="", project="", model="",
            interruptible=False, instance_type=str(node_info.get("instance_type", "")),
            region=str(node_info.get("region", "")),
            capacity_type=str(node_info.get("capacity_type", "")), gpu_model=model,
            gpus_per_pod=len(freed_gpus),
            gpu_hours=sum(_number(g["present_hours"]) for n in freed for g in nodes[n]),
            busy_avg=None, busy_p95=max(_number(g["busy_p95"]) for g in gpus),
            memory_peak_mib=max(_number(g["memory_used_max_mib"]) for g in gpus),
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
                _confidence(w, window_hours),
                f"{sum(held.values())} of {len(gpus) * replicas} replicas held at peak, busy p95 "
                f"{sum(busy.values()):.0%} and peak memory {sum(used.values()) / 1024:.1f} GiB in "
                f"total fit {needed} GPU(s) at {rules.target_busy:.0%} busy with memory headroom",
                "the pods on the freed nodes move and share GPUs with more neighbours; "
                + CAPACITY_RISK,
                details,
            )
        )
    return out
