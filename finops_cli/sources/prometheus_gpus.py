"""Per-GPU and per-workload questions (``gpus``, ``rightsize``).

``gpus`` and ``pods`` are a dozen instant queries at the window's end, each returning a number
per GPU or per workload, sharded when the server refuses one whole (``prometheus_sharding``).
Kept apart from the bucketed cost questions because their answers become per-GPU or
per-workload rows, not bucketed frames; unit costs' reads are ``prometheus_inference``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from finops_cli import queries
from finops_cli.errors import SourceError, UsageError
from finops_cli.labels import kube_label_to_prometheus
from finops_cli.queries import GpuQueries, QueryContext
from finops_cli.queries.hami import HamiNames
from finops_cli.sources import prometheus_discovery as discovery
from finops_cli.sources import (
    prometheus_hami,
    prometheus_kai,
    prometheus_recorded,
    prometheus_replicas,
    prometheus_rows,
)
from finops_cli.sources import prometheus_recorded_stats as recorded_stats
from finops_cli.sources.interface import (
    CAPACITY_COLUMNS,
    GPU_COLUMNS,
    INTERRUPTIBLE_LABEL,
    NODE_COLUMNS,
    WORKLOAD_POD_COLUMNS,
    GpuData,
    PodGpuData,
)
from finops_cli.sources.prometheus_sharding import run_sharded, workload_cut
from finops_cli.timewindow import Window

if TYPE_CHECKING:
    import pandas as pd

    from finops_cli.sources.prometheus import PrometheusCostSource
    from finops_cli.sources.prometheus_client import InstantSample


class _DcgmWindow(NamedTuple):
    start: datetime
    end: datetime
    warned: int  # server warnings before the first query
    busy_metrics: frozenset[str]
    ctx: QueryContext
    context_notes: list[str]
    present: frozenset[str]
    rule_sets: list[dict[str, str]] | None  # ``prometheus_recorded.rule_sets``


def _dcgm_window(
    source: PrometheusCostSource, window: Window, cluster: str | None = None
) -> _DcgmWindow:
    """What ``gpus`` and ``pods`` start from: the window in whole seconds and a context whose
    scrape interval is dcgm-exporter's; an error when dcgm-exporter is not scraped."""
    start, end = discovery.whole_seconds(window.start), discovery.whole_seconds(window.end)
    warned = len(source.client.warnings)
    present = discovery.present_metrics(source.client, start, end)
    if queries.GPU_PRESENCE not in present:
        raise SourceError(
            f"no dcgm-exporter metrics ({queries.GPU_PRESENCE}) in "
            f"{source.client.display_url} for the window: is dcgm-exporter scraped?"
        )
    if cluster is not None and not source.cluster_label:
        raise UsageError("--cluster needs labels.cluster (it is set to off)")
    sets = prometheus_recorded.rule_sets(source, (), {}, present, start, end, cluster)
    ctx, notes = discovery.query_context(
        source,
        start,
        end,
        present,
        interval_of=queries.GPU_PRESENCE,
        cluster_filter=cluster,
        # dcgm-exporter is usually scraped as often as OpenCost: then a probe of ten intervals
        # confirms it, where detecting it reads six hours of every GPU's series
        known_interval=prometheus_recorded.known_interval(sets),
    )
    busy = present & discovery.BUSY_METRICS
    return _DcgmWindow(start, end, warned, busy, ctx, notes, present, sets)


def gpus(source: PrometheusCostSource, window: Window, cluster: str | None = None) -> GpuData:
    """One row per GPU: a dozen instant queries, each returning a number per GPU. Rows carry
    their cluster (``cluster`` given: only that cluster's series are read)."""
    start, end, warned, busy_metrics, ctx, context_notes, present, sets = _dcgm_window(
        source, window, cluster
    )
    interval = ctx.sample_interval_s
    cover = recorded_stats.coverage(source, ctx, start, end, present, sets, context_notes)
    # One millisecond short, as the cost buckets: the samples of (start, end] whether the engine
    # closes range starts (2.x) or not, so a GPU's cost is the ledger's to the cent.
    window_s = (end - start).total_seconds() - 0.001
    hours = interval / 3600

    def per_gpu(gq: GpuQueries) -> dict[str, str]:
        return gpu_measures(gq, busy_metrics)

    gq = GpuQueries(ctx, window_s)
    if cover is None:
        results = _per_gpu_sharded(source, ctx, window_s, end, per_gpu)
    else:
        results = recorded_stats.gpu_results(source, ctx, start, end, cover, bool(busy_metrics))
        if busy_metrics:
            context_notes.append(recorded_stats.P95_NOTE)
    holders = results.pop("holders")
    shares = results.pop("shares", [])
    node_rows = source.client.instant(gq.node_info(), end)
    for samples in (*results.values(), holders, shares, node_rows):
        prometheus_rows.name_cluster(samples, ctx.cluster_label)

    ident = prometheus_rows.gpu_key
    skipped: list[str] = []
    rows = prometheus_rows.gpu_rows(results, hours, skipped)
    best: dict[tuple[str, ...], float] = {}
    pod_keys = {k: ctx.prom_label(k) for k in ("team", "project", "model")}
    for s in holders:
        key = ident(s.labels)
        if key in rows and s.value > best.get(key, -1.0):
            best[key] = s.value
            rows[key].update(
                namespace=s.labels.get("namespace", ""),
                pod=s.labels.get("pod", ""),
                **{k: s.labels.get(p, "") for k, p in pod_keys.items()},
            )
    prometheus_rows.scale_to_physical(rows, shared=ctx.shares is not None)
    wide = replace(ctx, attribute_lookback_s=int(window_s))
    scheme = prometheus_hami.hami_scheme(source.client, start, end)
    attribute_rows = (
        source.client.instant(wide.pod_attributes(["team", "project", "model"], {}), end)
        if shares or scheme is not None
        else []
    )
    prometheus_rows.name_cluster(attribute_rows, ctx.cluster_label)
    prometheus_rows.attach_holders(rows, shares, attribute_rows, pod_keys, hours)
    pooled, pool = prometheus_kai.pooled_samples(source.client, ctx, window_s, end)
    prometheus_kai.attach_pooled_holders(rows, pooled, pool, attribute_rows, pod_keys, hours)
    hami_notes = _hami(source, ctx, scheme, window_s, end, rows, attribute_rows, pod_keys, hours)
    if busy_metrics:  # HAMi holders' own busy, where HAMi's vGPUmonitor is scraped
        busy = prometheus_hami.hami_busy(source.client, ctx, window_s, end)
        prometheus_hami.attach_hami_busy(rows, busy, hours)
    over = prometheus_rows.cap_holder_shares(rows)
    if over:
        hami_notes.append(
            f"the holders' shares of {len(over)} GPU(s) ({', '.join(over[:3])}) added up to "
            "more than 1 (over-subscribed): they were scaled to add up to 1"
        )
    import pandas as pd  # after the queries: it loads while they run

    gpus = pd.DataFrame(list(rows.values()), columns=list(GPU_COLUMNS))
    nodes = pd.DataFrame(
        [prometheus_rows.node_row(s.labels) for s in node_rows], columns=list(NODE_COLUMNS)
    ).drop_duplicates(["cluster", "node"])
    return GpuData(
        gpus.sort_values(["cluster", "node", "gpu", "mig_instance"], ignore_index=True),
        nodes,
        prometheus_rows.busy_metric_name(busy_metrics),
        interval,
        context_notes
        + ([] if busy_metrics else ["no dcgm-exporter busy metrics: busy is unknown"])
        + hami_notes
        + prometheus_rows.partial_notes(source.client, warned, skipped),
        "OpenCost node_gpu_hourly_cost" if ctx.catalog_prices is None else "pricing catalog",
    )


def _hami(
    source: PrometheusCostSource,
    ctx: QueryContext,
    scheme: HamiNames | None,
    window_s: float,
    end: datetime,
    rows: dict[tuple[str, ...], dict[str, object]],
    attribute_rows: list[InstantSample],
    pod_keys: dict[str, str],
    hours: float,
) -> list[str]:
    """HAMi pods added to their GPUs' holders from HAMi's scheduler metrics; the notes."""
    if scheme is None:
        hami = ctx.sharing is not None and ctx.sharing.hami
        return [prometheus_hami.NO_HAMI_METRICS] if hami else []
    shares, held, over = prometheus_hami.hami_holders(source.client, ctx, scheme, window_s, end)
    unmatched = prometheus_hami.attach_hami_holders(
        rows, shares, held, attribute_rows, pod_keys, hours
    )
    notes = []
    if over:
        devices = ", ".join(sorted(s.labels.get("device_uuid", "") for s in over)[:3])
        notes.append(
            f"HAMi over-subscribed {len(over)} GPU(s) ({devices}): their holders' shares were "
            "scaled down to add up to 1"
        )
    if unmatched:
        notes.append(
            f"HAMi reports {len(unmatched)} GPU(s) dcgm-exporter does not "
            f"({', '.join(sorted(unmatched)[:3])}): their HAMi holders are not listed"
        )
    return notes


def gpu_measures(gq: GpuQueries, busy_metrics: frozenset[str]) -> dict[str, str]:
    """``gpus``' window queries: one number per GPU each (``holders``: per GPU and pod)."""
    ctx = gq.ctx
    measures = {
        "present_hours": gq.over_window("count_over_time", gq.inventory()),
        "held_hours": gq.over_window("count_over_time", gq.bound()),
        "memory_used_avg_mib": gq.over_window("avg_over_time", gq.metric("DCGM_FI_DEV_FB_USED")),
        "memory_used_max_mib": gq.over_window("max_over_time", gq.metric("DCGM_FI_DEV_FB_USED")),
        "memory_total_mib": gq.over_window("max_over_time", gq.memory_total()),
        "power_avg_w": gq.over_window("avg_over_time", gq.metric("DCGM_FI_DEV_POWER_USAGE")),
        "temperature_avg_c": gq.over_window("avg_over_time", gq.metric(queries.GPU_TEMPERATURE)),
        "temperature_max_c": gq.over_window("max_over_time", gq.metric(queries.GPU_TEMPERATURE)),
        "cost": gq.over_window("sum_over_time", gq.price()),
        "hourly_price": gq.over_window("avg_over_time", gq.price()),
    }
    if busy_metrics:
        busy = gq.busy(busy_metrics)
        measures["busy_avg"] = gq.over_window("avg_over_time", busy)
        measures["busy_p95"] = gq.over_window("quantile_over_time", busy, "0.95")
        measures["busy_any_avg"] = gq.over_window("avg_over_time", gq.busy_any(busy_metrics))
        measures["used_cost"] = gq.over_window("sum_over_time", gq.used_price(busy_metrics))
    if ctx.shares is not None:
        measures["shares"] = gq.over_window("sum_over_time", gq.holder_shares())
    return measures | {"holders": gq.holders(["team", "project", "model"])}


def pods(source: PrometheusCostSource, window: Window, cluster: str | None = None) -> PodGpuData:
    """Usage per workload for rightsizing: a few instant queries, one number per workload,
    per cluster (``cluster`` given: only that cluster's series are read)."""
    start, end, warned, busy_metrics, ctx, context_notes, present, sets = _dcgm_window(
        source, window, cluster
    )
    interval = ctx.sample_interval_s
    cover = recorded_stats.coverage(source, ctx, start, end, present, sets, context_notes)
    # One millisecond short, as ``gpus``: the samples of (start, end] on any engine.
    window_s = (end - start).total_seconds() - 0.001
    hours = interval / 3600
    interruptible = kube_label_to_prometheus(INTERRUPTIBLE_LABEL)

    def per_workload(gq: GpuQueries) -> dict[str, str]:
        return workload_measures(gq, busy_metrics, interruptible)

    gq = GpuQueries(ctx, window_s)
    # Namespace shards hold whole workloads, so their answers just concatenate. Pod shards
    # (one namespace too big) hold whole pods but a workload's pods may be in several, so
    # those combine as each measure does (sums add, maxima take the larger, placement keeps
    # the top pod).
    combine = {
        "gpus": "max",
        "memory_peak_mib": "max",
        "memory_total_mib": "max",
        "busy_p95": "max",
        "mig_share": "max",
        "gpu_units": "max",
        "placement": "top",
    }
    capacity_results = None
    if cover is None:
        results = run_sharded(
            source.client,
            source.max_concurrency,
            per_workload,
            ctx,
            window_s,
            end,
            workload_cut(source.client, gq, start, end),
            {name: combine.get(name, "sum") for name in per_workload(gq)},
        )
        held_by_node = gq.over_window(
            "sum_over_time", f"sum by ({ctx.node_join}) ({ctx.pod_gpus()})"
        )
        held = source.client.instant(held_by_node, end)
    else:
        results, held, capacity_results = recorded_stats.workload_results(
            source,
            ctx,
            start,
            end,
            cover,
            bool(busy_metrics),
            workload_cut(source.client, gq, start, end),
        )
        if busy_metrics:
            context_notes.append(recorded_stats.P95_NOTE)
    results["nodes"] = source.client.instant(gq.node_info(), end)
    for samples in results.values():
        prometheus_rows.name_cluster(samples, ctx.cluster_label)
    prometheus_rows.name_cluster(held, ctx.cluster_label)
    allocations = [
        (s.labels.get("cluster", ""), s.labels.get("node", ""), s.value * hours)
        for s in held
        if math.isfinite(s.value)
    ]
    capacity = _capacity(source, ctx, window_s, end, hours, capacity_results)
    replica_frame = (
        prometheus_replicas.replica_gpus(
            source.client,
            ctx,
            window_s,
            end,
            busy_metrics,
            capacity,
            functools.partial(_per_gpu_sharded, source, ctx, window_s, end),
        )
        if ctx.shares is not None
        else None
    )
    measures = [
        m
        for m in (
            "gpu_hours",
            "gpus",
            "memory_peak_mib",
            "memory_total_mib",
            "cost",
            "busy_p95",
            "mig_share",
            "gpu_units",
        )
        if m in results
    ]
    key = prometheus_rows.workload_key
    rows: dict[tuple[str, ...], dict[str, object]] = {}
    for s in results["gpu_hours"]:
        blank: dict[str, object] = (
            dict.fromkeys(WORKLOAD_POD_COLUMNS, "")
            | {"mig_share": 0.0}
            | dict.fromkeys([*measures, "busy_avg"])
        )
        kind, name = s.labels.get("workload_kind", ""), s.labels.get("workload", "")
        rows[key(s.labels)] = blank | {
            "cluster": s.labels.get("cluster", ""),
            "namespace": s.labels.get("namespace", ""),
            "owner_kind": kind,
            "owner_name": name,
            "workload_kind": kind,
            "workload": name,
        }
    skipped: list[str] = []
    for measure in measures:
        for s in results[measure]:
            if key(s.labels) in rows:
                value = s.value if math.isfinite(s.value) else None
                if value is None:
                    skipped.append(f"{measure} {s.labels}")
                if measure in ("gpu_hours", "cost") and value is not None:
                    value *= hours
                rows[key(s.labels)][measure] = value
    prometheus_rows.workload_busy(rows, results, skipped)
    label_names = {k: ctx.prom_label(k) for k in ("team", "project", "model")}
    prometheus_rows.describe_workloads(rows, results, label_names, interruptible)
    import pandas as pd  # after the queries: it loads while they run

    pods = pd.DataFrame(list(rows.values()), columns=list(WORKLOAD_POD_COLUMNS))
    nodes = pd.DataFrame(
        [prometheus_rows.node_row(s.labels) for s in results["nodes"]], columns=list(NODE_COLUMNS)
    ).drop_duplicates(["cluster", "node"])
    notes = (
        context_notes
        + ([] if busy_metrics else ["no dcgm-exporter busy metrics: busy is unknown"])
        + prometheus_rows.partial_notes(source.client, warned, skipped)
    )
    node_allocations = pd.DataFrame(allocations, columns=["cluster", "node", "gpu_hours"])
    return PodGpuData(pods.sort_values(["cluster", "namespace", "pod"], ignore_index=True), nodes,
                      interval, notes, capacity, node_allocations, replica_frame)  # fmt: skip


def workload_measures(
    gq: GpuQueries, busy_metrics: frozenset[str], interruptible: str
) -> dict[str, str]:
    """Grouped into workloads on the server: the answer grows with workloads, not with
    the pods that rollouts and job runs leave behind (only the list of names does)."""

    def over(function: str, expr: str, aggregate: str, first_arg: str = "") -> str:
        return gq.per_workload(gq.over_window(function, expr, first_arg), aggregate)

    gpu_hours_per_pod = gq.over_window("sum_over_time", gq.pod_gpus())
    measures = {
        "gpu_hours": gq.per_workload(gpu_hours_per_pod, "sum"),
        "gpus": over("max_over_time", gq.pod_gpus(), "max"),
        "memory_peak_mib": over("max_over_time", gq.pod_memory(total=False), "max"),
        "memory_total_mib": over("max_over_time", gq.pod_memory(total=True), "max"),
        "cost": over("sum_over_time", gq.pod_cost(), "sum"),
    }
    if busy_metrics:  # busy_avg = busy_sum / busy_samples: over all GPU-samples
        measures["busy_sum"] = over("sum_over_time", gq.pod_busy(busy_metrics, "sum"), "sum")
        measures["busy_samples"] = over("sum_over_time", gq.pod_busy(busy_metrics, "count"), "sum")
        measures["busy_p95"] = over(
            "quantile_over_time", gq.pod_busy(busy_metrics, "max"), "max", "0.95"
        )
    mig_share = gq.pod_mig_share()
    if mig_share is not None:
        measures["mig_share"] = over("max_over_time", mig_share, "max")
    if gq.ctx.shares is not None:  # whether a pod's replicas sit on one GPU (fewer-replicas)
        measures["gpu_units"] = over("max_over_time", gq.pod_gpu_units(), "max")
    return measures | {
        "placement": gq.workload_placement(gpu_hours_per_pod),
        "labels": gq.workload_labels(["team", "project", "model"], [interruptible]),
        "pods": gq.pod_workloads(),
    }


def _capacity(
    source: PrometheusCostSource,
    ctx: QueryContext,
    window_s: float,
    end: datetime,
    hours: float,
    recorded: dict[str, list[InstantSample]] | None = None,
) -> pd.DataFrame:
    """Every GPU's reported and held hours and its cost (three of ``gpus``' queries, sharded by
    GPU the same way: a few hundred bytes per GPU; ``recorded``: read from the recorded
    ledger), and each node's pool labels."""

    if recorded is None:
        results = _per_gpu_sharded(source, ctx, window_s, end, capacity_measures)
    else:
        results = recorded
    pool_rows = source.client.instant(queries.node_pools(ctx, window_s), end)
    for samples in (*results.values(), pool_rows):
        prometheus_rows.name_cluster(samples, ctx.cluster_label)
    pools: dict[tuple[str, str], str] = {}
    for s in pool_rows:
        pool = next((s.labels[k] for k in queries.POOL_LABELS if s.labels.get(k)), "")
        node = (s.labels.get("cluster", ""), s.labels.get("node", ""))
        if pool or node not in pools:
            pools[node] = pool
    rows = prometheus_rows.gpu_rows(results, hours, [])
    prometheus_rows.scale_to_physical(rows, shared=ctx.shares is not None)
    start = end - timedelta(seconds=window_s)
    scheme = prometheus_hami.hami_scheme(source.client, start, end)
    hami = (
        {}
        if scheme is None
        else prometheus_hami.hami_held(source.client, ctx, scheme, window_s, end)
    )
    for row in rows.values():
        row["held_hours"] = row.get("held_hours") or 0.0
        held = hami.get((str(row.get("cluster") or ""), str(row.get("uuid") or "")))
        if held is not None and not row.get("mig_profile"):  # HAMi pods dcgm-exporter misses
            row["held_hours"] = max(float(row["held_hours"]), held * hours)  # type: ignore[arg-type]
        row["pool"] = pools.get((str(row["cluster"]), str(row["node"])), "")
    import pandas as pd  # after the queries: it loads while they run

    return pd.DataFrame(list(rows.values()), columns=list(CAPACITY_COLUMNS))


def capacity_measures(gq: GpuQueries) -> dict[str, str]:
    """Every GPU's reported and held samples and its cost: what capacity advice reads."""
    return {
        "present_hours": gq.over_window("count_over_time", gq.inventory()),
        "held_hours": gq.over_window("count_over_time", gq.bound()),
        "cost": gq.over_window("sum_over_time", gq.price()),
    }


def _per_gpu_sharded(
    source: PrometheusCostSource,
    ctx: QueryContext,
    window_s: float,
    end: datetime,
    per_gpu: Callable[[GpuQueries], dict[str, str]],
) -> dict[str, list[InstantSample]]:
    """``per_gpu``'s window queries, cut by GPU UUID where refused: each GPU is whole in one
    shard, so the shards' answers simply add up."""
    return run_sharded(
        source.client,
        source.max_concurrency,
        per_gpu,
        ctx,
        window_s,
        end,
        functools.partial(queries.shards, "gpu"),
        dict.fromkeys(per_gpu(GpuQueries(ctx, window_s)), "sum"),
    )
