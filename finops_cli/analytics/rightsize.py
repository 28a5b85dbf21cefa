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

Where each rule lives: ``rightsize_workloads`` groups pods into workloads, ``rightsize_common``
holds what every rule shares, ``rightsize_replicas`` is fewer-replicas, ``rightsize_capacity``
remove and scale-down, ``rightsize_pools`` a pool's consolidation. The rules that price a change
from the catalog (terminate, upsize, downsize, MIG, consolidate by model, spot) stay here with
the order every rule runs in: they share the catalog lookups and the measured-cost basis.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

from finops_cli.analytics import mig_profiles
from finops_cli.analytics.rightsize_capacity import idle_capacity
from finops_cli.analytics.rightsize_common import (
    CAPACITY_ACTIONS,
    CONSOLIDATE,
    DOWNSIZE,
    HOURS_PER_MONTH,
    SPOT,
    TERMINATE,
    UPSIZE,
    Recommendation,
    RightsizeRules,
    Workload,
    confidence_of,
)
from finops_cli.analytics.rightsize_pools import consolidate_replicas
from finops_cli.analytics.rightsize_replicas import fewer_replicas, node_replicas
from finops_cli.analytics.rightsize_workloads import group_workloads
from finops_cli.pricing import PriceCatalog
from finops_cli.sources.interface import PodGpuData


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
        confidence = confidence_of(w, window_hours)
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
        fewer = fewer_replicas(w, replicas.get((w.cluster, w.node)), rules, month, confidence)
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
                    confidence_of(w, window_hours),
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
