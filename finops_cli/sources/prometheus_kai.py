"""KAI pods that hold a fraction of several GPUs, as holders of the GPUs ``gpus`` lists.

A KAI / Run:ai pod with ``gpu-fraction-num-devices`` > 1 is served by one reservation pod per
GPU, each in its own group, and KAI names those groups in one pod label per group
(``runai-gpu-group/<group>``), which a kube-state-metrics allowlist cannot list: its only tie
to its GPUs is its node. So each node's pooled GPUs (reserved for groups that no pod's
``runai-gpu-group`` label names, ``ShareQueries.kai_pool_gpus``) are shared among the node's
KAI pods without that label (``ShareQueries.kai_pooled``), each pod's share-hours spread over
the pooled GPUs in proportion to the share-hours each carried (at each instant the node's
pooled pods' shares, split evenly among its pooled GPUs): a pod at 0.5 of 2 GPUs, alone on
its node's 2 pooled GPUs, holds 0.5 of each, and its share-hours add up to what ``costs``
charges it while those GPUs are reserved. PromQL cannot join pods and GPUs many to many on a
node, hence two window queries put together here, as ``prometheus_hami`` does for HAMi.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from finops_cli.queries import GpuQueries
from finops_cli.sources import prometheus_rows

if TYPE_CHECKING:
    from finops_cli.queries import QueryContext
    from finops_cli.sources.prometheus_client import InstantSample, PrometheusClient


def pooled_queries(ctx: QueryContext, window_s: float) -> tuple[str, str] | None:
    """The two window queries: share-samples per (pod, node) of the unlabelled KAI pods, and
    per pooled GPU unit the share-samples it carries (at each instant its node's pooled share,
    split evenly among the node's pooled units, so a unit pooled while no such pod runs
    carries nothing). None where the cluster has no KAI fractions."""
    shares = ctx.shares
    wide = int(window_s)
    pods = shares.kai_pooled(wide) if shares is not None else None
    pool = shares.kai_pool_gpus(wide) if shares is not None else None
    if pods is None or pool is None:
        return None
    gq = GpuQueries(ctx, window_s)
    node = ctx.node_join
    carried = (
        f"{pool} * on ({node}) group_left () "
        f"(sum by ({node}) ({pods}) / on ({node}) count by ({node}) ({pool}))"
    )
    return gq.over_window("sum_over_time", pods), gq.over_window("sum_over_time", carried)


def pooled_samples(
    client: PrometheusClient, ctx: QueryContext, window_s: float, end: datetime
) -> tuple[list[InstantSample], list[InstantSample]]:
    """``pooled_queries``' answers (empty lists where the cluster has no KAI fractions)."""
    built = pooled_queries(ctx, window_s)
    if built is None:
        return [], []
    answers = [client.instant(q, end) for q in built]
    for samples in answers:
        prometheus_rows.name_cluster(samples, ctx.cluster_label)
    return answers[0], answers[1]


def attach_pooled_holders(
    rows: dict[tuple[str, ...], dict[str, object]],
    pods: list[InstantSample],
    pool: list[InstantSample],
    attributes: list[InstantSample],
    pod_keys: dict[str, str],
    hours: float,
) -> None:
    """Add each node's unlabelled KAI pods to its pooled GPUs' rows (after
    ``attach_holders``), ``share_hours`` and ``share`` as there."""
    pooled: dict[tuple[str, str], dict[tuple[str, ...], float]] = {}
    for s in pool:
        key = prometheus_rows.gpu_key(s.labels)
        if key in rows and math.isfinite(s.value) and s.value > 0:
            node = (s.labels.get("cluster", ""), s.labels.get("node", ""))
            carried = pooled.setdefault(node, {})
            carried[key] = carried.get(key, 0.0) + s.value
    labels_of = prometheus_rows.attributes_by_pod(attributes)
    for s in pods:
        units = pooled.get((s.labels.get("cluster", ""), s.labels.get("node", "")))
        if not units or not math.isfinite(s.value) or s.value <= 0:
            continue
        total = sum(units.values())
        for key, samples in units.items():
            row = rows[key]
            present = float(row.get("present_hours") or 0.0)  # type: ignore[arg-type]
            share_hours = s.value * hours * samples / total
            holders: list[dict[str, object]] = row.setdefault("holders", [])  # type: ignore[assignment]
            entry = prometheus_rows.holder_entry(
                s.labels, labels_of, pod_keys, share_hours, present
            )
            holders.append(entry)
            holders.sort(key=lambda h: (-float(h["share_hours"]), str(h["pod"])))  # type: ignore[arg-type]
