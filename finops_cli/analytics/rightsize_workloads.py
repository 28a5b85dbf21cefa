"""Pods to workloads, the unit every per-workload rule judges.

Advice is acted on at the controller (a Deployment is scaled, not one of its pods), so a
ReplicaSet's pods are its Deployment, a CronJob's Job runs share a name, and each rule reads the
evidence summed over them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from itertools import chain
from typing import Any

import numpy as np

from finops_cli.analytics.rightsize_common import Workload, cell_label, cell_number, nanmax
from finops_cli.frames import records
from finops_cli.sources.interface import PodGpuData


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
    for key, row in zip(keys, records(pods), strict=True):
        by_workload.setdefault(tuple(str(part) for part in key), []).append(row)
    has_names = "pod_names" in pods.columns
    return [
        _workload(key, rows, has_names, window_hours) for key, rows in sorted(by_workload.items())
    ]


def _workload(
    key: tuple[str, ...], rows: list[dict[str, Any]], has_names: bool, window_hours: float
) -> Workload:
    """One workload from its pods' rows (usually one: the Prometheus source groups them)."""
    cluster, namespace, kind, name = key
    hours = [cell_number(r["gpu_hours"]) for r in rows]
    main = rows[int(np.argmax(hours))]
    busy = [cell_number(r["busy_avg"]) for r in rows]
    known = [(b, h) for b, h in zip(busy, hours, strict=True) if not math.isnan(b)]
    weight = _nansum(h for _, h in known)
    busy_avg = _nansum(b * h for b, h in known) / weight if weight > 0 else None
    p95 = [v for v in (cell_number(r["busy_p95"]) for r in rows) if not math.isnan(v)]
    gpus = int(nanmax(cell_number(r["gpus"]) for r in rows))
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
        memory_peak_mib=nanmax(cell_number(r["memory_peak_mib"]) for r in rows),
        memory_total_mib=nanmax(cell_number(r["memory_total_mib"]) for r in rows),
        cost=_nansum(cell_number(r["cost"]) for r in rows),
        observed_hours=min(total_hours / max(gpus, 1), window_hours),
        gpu_share=nanmax(cell_number(r["gpus"]) for r in rows),
        mig_share=nanmax([0.0, *(cell_number(r.get("mig_share")) for r in rows)]),
        cluster=cluster,
        node=cell_label(main.get("node")),
        gpu_units=nanmax(cell_number(r.get("gpu_units")) for r in rows),
    )


def _nansum(values: Iterable[float]) -> float:
    return sum((v for v in values if not math.isnan(v)), 0.0)


def _first(values: Iterable[Any]) -> str:
    for value in values:
        if isinstance(value, str) and value:
            return value
    return ""
