"""Cost questions: allocation and capacity per bucket and group, and per-node prices.

``costs`` integrates each measure of the query library per bucket on the server (a range query
whose step is the bucket, one instant query per partial edge bucket), so what comes back is
groups x buckets however many pods and samples the window holds; ``node_costs`` is one instant
query per measure over the whole window. Kept apart from the per-GPU questions because its
answers are time series merged into frames, not per-GPU rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from finops_cli import buckets, queries
from finops_cli.errors import SourceError
from finops_cli.queries import NodeQueries, QueryContext, over_buckets
from finops_cli.queries.energy import energy_method
from finops_cli.sources import interface, prometheus_recorded, prometheus_rows
from finops_cli.sources import prometheus_discovery as discovery
from finops_cli.sources.prometheus_client import InstantSample, PrometheusClient
from finops_cli.sources.prometheus_sharding import gather, query_pool

if TYPE_CHECKING:
    import pandas as pd

    from finops_cli.sources.prometheus import PrometheusCostSource
    from finops_cli.timewindow import Window


def costs(source: PrometheusCostSource, request: interface.CostRequest) -> interface.CostData:
    """Allocation and cluster measures per bucket and group, integrated on the server."""
    window = request.window
    start, end = discovery.whole_seconds(window.start), discovery.whole_seconds(window.end)
    warned = len(source.client.warnings)
    present = discovery.present_metrics(source.client, start, end)
    keys = request.group_by
    filters = {k: v for k, v in request.filters.items() if k != "cluster"}
    cluster_filter = request.filters.get("cluster")
    rule_sets = prometheus_recorded.rule_sets(
        source, keys, filters, present, start, end, cluster_filter
    )
    ctx, notes = discovery.query_context(
        source,
        start,
        end,
        present,
        cluster_filter=cluster_filter,
        known_interval=prometheus_recorded.known_interval(rule_sets),
    )
    interval = ctx.sample_interval_s
    busy_metrics = present & discovery.BUSY_METRICS
    if queries.POD_LABELS not in present:
        notes.append(
            "kube_pod_labels is missing: every pod is __unallocated__; run kube-state-metrics "
            "with --metric-labels-allowlist=pods=[ai-finops.io/team,...]"
        )
    # The cluster filter narrows every series read (see QueryContext); the rest select pods.
    annotation_keys = [k for k in keys if k in queries.POD_ANNOTATION_KEYS]
    if annotation_keys and queries.POD_ANNOTATIONS not in present:
        notes.append(annotation_note(ctx, annotation_keys, missing_metric=True))
    has_cpu_ram = {queries.CPU_ALLOCATION, queries.CPU_PRICE, queries.RAM_PRICE} <= present

    measures = cost_measures(ctx, request, filters, present, has_cpu_ram, notes)
    method = energy_method(present) if request.energy else None
    unread = set(interface.ALLOCATION_MEASURES) - set(request.measures)  # left at 0 by _merge
    coverage = prometheus_recorded.plan(
        source, ctx, keys, filters, present, rule_sets, start, end, notes
    )
    with query_pool(source.max_concurrency) as pool:
        futures = {
            name: (
                pool.submit(bucketed, source.client, expr, start, end, request.bucket_s, interval)
                if coverage is None or name not in RECORDED_READS
                else pool.submit(
                    prometheus_recorded.answer,
                    source.client,
                    expr,
                    recorded_read(coverage, name, keys, filters),
                    coverage,
                    start,
                    end,
                    request.bucket_s,
                    interval,
                    request.daily_totals,
                )
            )
            for name, expr in measures.items()
            if name not in unread
        }
        check = pool.submit(discovery.instant_once, source.client, ctx.oversubscribed_nodes(), end)
        results = gather(futures)
        notes += oversubscription_notes(check.result(), scaled=ctx.shares is not None)

    prom_keys = [ctx.prom_label(k) for k in keys]
    skipped: list[str] = []
    allocations = prometheus_rows.merge_buckets(
        results, interface.ALLOCATION_MEASURES, prom_keys, list(keys), skipped
    )
    # Split by cluster, capacity and allocation stay per cluster too (idle per cluster).
    scope = ["cluster"] if "cluster" in keys else []
    cluster = prometheus_rows.merge_buckets(
        results, interface.CLUSTER_MEASURES, [ctx.prom_label(k) for k in scope], scope, skipped
    )
    held = (
        float(allocations["gpu_hours"].sum()) > 0
        if filters
        else bool((cluster["allocated_gpu_hours"] > 0).any())
    )
    if (
        annotation_keys
        and queries.POD_ANNOTATIONS in present
        and held
        and not any((allocations[k] != "").any() for k in annotation_keys)
    ):
        notes.append(annotation_note(ctx, annotation_keys, missing_metric=False))
    if not (cluster["capacity_gpu_hours"] > 0).any():
        cluster_filter = request.filters.get("cluster")
        where = "" if cluster_filter is None else f" of cluster {cluster_filter!r}"
        notes.append(
            f"no GPU capacity{where} in the window: the server returned no GPU nodes, so "
            "every figure is 0"
        )
    energy = energy_data(results, keys, prom_keys, method, skipped) if request.energy else None
    notes += prometheus_rows.partial_notes(source.client, warned, skipped)
    busy_metric = prometheus_rows.busy_metric_name(busy_metrics)
    return interface.CostData(
        source=source.name,
        allocations=allocations,
        cluster=cluster,
        busy_metric=busy_metric,
        has_cpu_ram=has_cpu_ram and "cpu_ram_cost" not in unread,
        sample_interval_s=interval,
        notes=notes,
        energy=energy,
    )


RECORDED_READS = frozenset(
    {
        *interface.ALLOCATION_MEASURES,
        *interface.CLUSTER_MEASURES,
        "energy_kwh",
        "allocated_energy_kwh",
        "capacity_energy_kwh",
    }
)
"""The measures the recorded ledger answers (``queries.recorded``)."""


def recorded_read(
    coverage: prometheus_recorded.Coverage,
    measure: str,
    keys: tuple[str, ...],
    filters: dict[str, str],
) -> Callable[[float, bool], str]:
    """The read of ``measure`` over the hourly (or daily) rollups, for a stretch of a given
    length."""
    return lambda length_s, days: coverage.queries.read(measure, keys, filters, length_s, days=days)


def energy_data(
    results: dict[str, list[prometheus_rows.Series]],
    keys: tuple[str, ...],
    prom_keys: list[str],
    method: str | None,
    skipped: list[str],
) -> interface.EnergyData:
    """The energy answers summed over the window's buckets: per group and region, and the
    cluster's held and whole energy per region."""
    columns = [*keys, "region"]
    if method is None:
        import pandas as pd

        return interface.EnergyData(
            pd.DataFrame(columns=[*columns, "energy_kwh"]),
            pd.DataFrame(columns=["region", "allocated_energy_kwh", "capacity_energy_kwh"]),
            None,
            ["no dcgm-exporter power or energy metrics (DCGM_FI_DEV_POWER_USAGE, "
             "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION): energy and carbon are unknown"],
        )  # fmt: skip
    merged = prometheus_rows.merge_buckets(
        results, ("energy_kwh",), [*prom_keys, "region"], columns, skipped
    )
    rows = merged.groupby(columns, as_index=False, sort=True)[["energy_kwh"]].sum()
    cluster_measures = ("allocated_energy_kwh", "capacity_energy_kwh")
    whole = prometheus_rows.merge_buckets(
        results, cluster_measures, ["region"], ["region"], skipped
    )
    cluster = whole.groupby("region", as_index=False, sort=True)[list(cluster_measures)].sum()
    return interface.EnergyData(rows, cluster, method)


def node_costs(source: PrometheusCostSource, window: Window) -> pd.DataFrame:
    """Per node: hours, GPU cost and whole-instance cost over the window, with its type."""
    start, end = discovery.whole_seconds(window.start), discovery.whole_seconds(window.end)
    present = discovery.present_metrics(source.client, start, end)
    missing = [m for m in (queries.GPU_PRICE, queries.GPU_CAPACITY) if m not in present]
    if missing:
        raise SourceError(
            f"no OpenCost node metrics ({', '.join(missing)}) in {source.client.display_url} "
            "for the window: is OpenCost scraped?"
        )
    ctx = discovery.opencost_context(source, start, end)
    interval = ctx.sample_interval_s
    nq = NodeQueries(ctx, (end - start).total_seconds())
    measures = {
        "hours": nq.samples(),
        "gpu_cost": nq.gpu_cost(),
        "instance_cost": nq.instance_cost(),
        "gpu_count": nq.gpu_count(),
    }
    with query_pool(source.max_concurrency) as pool:
        futures = {k: pool.submit(source.client.instant, q, end) for k, q in measures.items()}
        identity_f = pool.submit(source.client.instant, nq.identity(), end)
        labels_f = pool.submit(source.client.instant, nq.gpus.node_info(), end)
        results = gather(futures)
        identities, node_labels = identity_f.result(), labels_f.result()
    hours = interval / 3600
    rows: dict[str, dict[str, object]] = {}
    skipped: list[str] = []
    for measure, samples in results.items():
        for sample in samples:
            node = sample.labels.get("node", "")
            if node and not math.isfinite(sample.value):
                skipped.append(f"{measure} {sample.labels}")
            if not node or not math.isfinite(sample.value):
                continue
            row = rows.setdefault(node, {"node": node})
            scale = 1.0 if measure == "gpu_count" else hours
            row[measure] = float(row.get(measure, 0.0)) + sample.value * scale  # type: ignore[arg-type]
    for sample in identities:
        found = rows.get(sample.labels.get("node", ""))
        if found is not None:
            found.setdefault("instance_type", sample.labels.get("instance_type", ""))
            found.setdefault("provider_id", sample.labels.get("provider_id", ""))
    for sample in node_labels:
        info = prometheus_rows.node_row(sample.labels)
        found = rows.get(info["node"])
        if found is not None:
            found["instance_type"] = info["instance_type"] or found.get("instance_type", "")
            found.setdefault("region", info["region"])
            found.setdefault("capacity_type", info["capacity_type"])
    import pandas as pd  # after the queries: it loads while they run

    frame = pd.DataFrame(list(rows.values()), columns=list(interface.NODE_COST_COLUMNS))
    for text in ("instance_type", "capacity_type", "region", "provider_id"):
        frame[text] = frame[text].fillna("").astype(str)
    numbers = ["hours", "gpu_cost", "gpu_count"]
    frame[numbers] = frame[numbers].fillna(0.0)
    frame["gpu_count"] = frame["gpu_count"].astype(int)
    frame["instance_cost"] = frame["instance_cost"].astype("float64")
    if skipped:  # no notes to carry this: say it now (server warnings were shown already)
        source.on_warning(prometheus_rows.nan_note(skipped))
    return frame.sort_values("node", ignore_index=True)


def bucketed(
    client: PrometheusClient,
    measure: str,
    start: datetime,
    end: datetime,
    bucket_s: int,
    interval: int,
) -> list[prometheus_rows.Series]:
    """``(labels, bucket_ends_unix, values)`` for every group of the window, one per series
    answered (the edge buckets' instant answers are one-point series)."""
    cut = buckets.plan(int(start.timestamp()), int(end.timestamp()), bucket_s)
    out: list[prometheus_rows.Series] = []
    if cut.first_full_end is not None and cut.last_full_end is not None:
        for series in client.range(
            over_buckets(measure, bucket_s, interval),
            datetime.fromtimestamp(cut.first_full_end, tz=UTC),
            datetime.fromtimestamp(cut.last_full_end, tz=UTC),
            timedelta(seconds=bucket_s),
        ):
            out.append((series.labels, series.timestamps, series.values))
    for at, length in cut.partials:
        moment = datetime.fromtimestamp(at, tz=UTC)
        for sample in client.instant(over_buckets(measure, length, interval), moment):
            out.append((sample.labels, [float(at)], [sample.value]))
    return out


def annotation_note(ctx: QueryContext, keys: list[str], *, missing_metric: bool) -> str:
    """Why every pod is ``__unallocated__`` by cost center, and the kube-state-metrics fix."""
    annotations = ",".join(ctx.annotation_key(k) for k in keys)
    labels = ", ".join(ctx.prom_label(k) for k in keys)
    what = (
        f"{queries.POD_ANNOTATIONS} is missing"
        if missing_metric
        else f"no pod carries the {annotations} annotation ({labels} on {queries.POD_ANNOTATIONS})"
    )
    return (
        f"{what}: every pod's cost center is __unallocated__; run kube-state-metrics with "
        f"--metric-annotations-allowlist=pods=[{annotations}]"
    )


def cost_measures(
    ctx: QueryContext,
    request: interface.CostRequest,
    filters: dict[str, str],
    present: frozenset[str],
    has_cpu_ram: bool,
    notes: list[str],
) -> dict[str, str]:
    """The PromQL of every measure ``costs`` integrates per bucket (notes what is missing)."""
    keys = request.group_by
    busy_metrics = present & discovery.BUSY_METRICS
    measures: dict[str, str] = {
        "gpu_hours": ctx.gpus_allocated(keys, filters),
        "gpu_cost": ctx.gpu_cost_rate(keys, filters),
        "allocated_gpu_hours": ctx.gpus_allocated([], {}),
        "allocated_gpu_cost": ctx.gpu_cost_rate([], {}),
        "capacity_gpu_hours": ctx.capacity_gpus(),
        "capacity_gpu_cost": ctx.capacity_cost_rate(),
    }
    if has_cpu_ram:
        measures["cpu_ram_cost"] = ctx.cpu_ram_cost_rate(keys, filters)
    if busy_metrics:
        measures["busy_gpu_hours"] = ctx.busy_sum(keys, filters, busy_metrics)
        measures["observed_gpu_hours"] = ctx.busy_count(keys, filters, busy_metrics)
        measures["wasted_cost"] = ctx.wasted_cost_rate(keys, filters, busy_metrics)
        if "wasted_cost" in request.measures:  # the unaccounted part of __unallocated__
            measures["allocated_wasted_cost"] = ctx.wasted_cost_rate([], {}, busy_metrics)
    else:
        notes.append("no dcgm-exporter busy metrics: efficiency and waste are unknown")

    if request.energy and energy_method(present) is not None:
        measures["energy_kwh"] = ctx.energy_rate(keys, filters, present)
        measures["allocated_energy_kwh"] = ctx.allocated_energy_rate(present)
        measures["capacity_energy_kwh"] = ctx.capacity_energy_rate(present)
    return measures


def oversubscription_notes(samples: list[InstantSample], scaled: bool = False) -> list[str]:
    """One note naming the nodes that advertise or hold more GPUs than dcgm-exporter reports
    there at the window's end (``QueryContext.oversubscribed_nodes``). On shared GPUs
    (``scaled``) the holders' shares on such a node were scaled down to its physical GPUs at
    each instant (``ShareQueries.node_scale``); otherwise each replica is charged whole
    (docs/cost-model.md, "Shared GPUs")."""
    found = sorted((s.labels.get("node", ""), s.value) for s in samples if math.isfinite(s.value))
    if not found:
        return []
    nodes = ", ".join(f"{node} ({ratio:.2f}x)" for node, ratio in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    charged = (
        "where its pods' requests hold more GPU shares than it has, their shares were scaled "
        "by physical GPUs / shares held at each instant, so no node is charged more than its "
        "GPUs"
        if scaled
        else "each replica is priced or charged as a whole GPU there"
    )
    return [
        f"over-subscribed GPUs: {nodes}{more} advertise or hold that many times the physical "
        "GPUs dcgm-exporter reports at the window's end, likely time-slicing or MPS replicas "
        "whose GFD labels kube-state-metrics does not export (add nvidia.com/gpu.replicas to "
        f"its --metric-labels-allowlist for nodes): {charged}"
    ]
