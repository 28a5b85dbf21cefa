"""Cost figures from a Prometheus-compatible engine, aggregated on the server.

Each measure of the query library is integrated per bucket by the engine (a range query whose
step is the bucket, plus one instant query for a leading partial bucket), so what comes back is
groups x buckets, however many pods and samples the window holds.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from finops_cli import buckets, queries
from finops_cli.errors import SourceError
from finops_cli.labels import kube_label_to_prometheus
from finops_cli.pricing import PriceCatalog, normalize_capacity_type
from finops_cli.promql import duration
from finops_cli.queries import QueryContext, over_buckets
from finops_cli.sources.interface import (
    ALLOCATION_MEASURES,
    CLUSTER_MEASURES,
    GPU_COLUMNS,
    INTERRUPTIBLE_LABEL,
    NODE_COLUMNS,
    SERVED_MEASURES,
    TRAFFIC_MEASURES,
    WORKLOAD_POD_COLUMNS,
    CostData,
    CostRequest,
    CostSource,
    GpuData,
    InferenceData,
    PodGpuData,
)
from finops_cli.sources.prometheus_client import (
    InstantSample,
    PrometheusClient,
    PrometheusSettingsLike,
    ServerLimitError,
)
from finops_cli.timewindow import Window

if TYPE_CHECKING:
    import pandas as pd

_warn_log = logging.getLogger("finops")
# One answered series of a bucketed measure: labels, bucket ends (unix s), values.
_Series = tuple[dict[str, str], list[float], list[float]]
_debug_log = logging.getLogger("finops.prometheus")
_K = TypeVar("_K")
_V = TypeVar("_V")
_NICE_INTERVALS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 300, 600, 900, 1800, 3600)
DEFAULT_SAMPLE_INTERVAL_S = 60


class PrometheusCostSource(CostSource):
    name = "prometheus"

    def __init__(
        self,
        settings: PrometheusSettingsLike,
        pod_labels: dict[str, str],
        *,
        cluster_label: str | None = None,
        sample_interval_s: float | None = None,
        replica_labels: tuple[str, ...] = (),
        catalog: PriceCatalog | None = None,
        client: PrometheusClient | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client or PrometheusClient(settings, on_warning=on_warning)
        self._on_warning = on_warning or (lambda message: _warn_log.warning("%s", message))
        self.pod_labels = pod_labels
        self.cluster_label = cluster_label
        self.sample_interval_s = sample_interval_s
        self.replica_labels = replica_labels
        self.catalog = catalog
        self.max_concurrency = max(1, settings.max_concurrency)

    def close(self) -> None:
        self.client.close()

    # ---- discovery -------------------------------------------------------------------------
    def present_metrics(self, start: datetime, end: datetime) -> frozenset[str]:
        """Which contract metrics exist in the window: one cheap index lookup, no samples read."""
        pattern = "|".join(queries.PROBED_METRICS)
        try:
            names = self.client.label_values("__name__", [f'{{__name__=~"{pattern}"}}'], start, end)
        except ServerLimitError:  # too many series for one query: every name in the window
            names = [
                n
                for n in self.client.label_values("__name__", [], start, end)
                if n in queries.PROBED_METRICS
            ]
        return frozenset(names)

    def detect_sample_interval(self, metric: str, start: datetime, end: datetime) -> int:
        """The scrape interval of ``metric``, from how many samples its densest series has in
        six hours, rounded to a usual scrape interval so jitter cannot make windows miss one."""
        probe = queries.QueryContext({}, 60).sample_count(metric)
        counts = [s.value for s in self.client.instant(probe, end) if math.isfinite(s.value)]
        if not counts:
            span = timedelta(seconds=queries.SAMPLE_COUNT_RANGE_S)
            step = max((end - start) / 24, timedelta(hours=1))
            series = self.client.range(probe, min(start + span, end), end, step)
            counts = [v for s in series for v in s.values if math.isfinite(v)]
        if not counts or max(counts) <= 0:
            return DEFAULT_SAMPLE_INTERVAL_S
        raw = queries.SAMPLE_COUNT_RANGE_S / max(counts)
        return min(_NICE_INTERVALS, key=lambda nice: abs(nice - raw))

    def uses_exported_pod_labels(self, start: datetime, end: datetime) -> bool:
        """Scraped with ``honorLabels: false``, dcgm-exporter's pod labels become ``exported_*``."""
        match = [f"{queries.BUSY_PROFILING}", f"{queries.BUSY_UTIL}", f"{queries.GPU_TEMPERATURE}"]
        try:
            return bool(self.client.label_values("exported_pod", match, start, end))
        except ServerLimitError:  # too many series for one query: do any carry exported_pod?
            names = "|".join(match)  # (only series that do are read: none, usually)
            probe = f'group(last_over_time({{__name__=~"{names}",exported_pod!=""}}[1h]))'
            return bool(self.client.instant(probe, end))

    def _context(
        self,
        start: datetime,
        end: datetime,
        present: frozenset[str],
        *,
        cluster_filter: str | None = None,
        interval_of: str | None = None,
    ) -> tuple[QueryContext, list[str]]:
        """How to query this backend: OpenCost's metrics when scraped, else kube-state-metrics
        priced from the catalog; the scrape interval; dcgm-exporter's pod-label variant."""
        notes: list[str] = []
        catalog_prices = None
        opencost = {queries.GPU_ALLOCATION, queries.GPU_PRICE, queries.GPU_CAPACITY}
        if not opencost <= present:
            catalog_prices, notes = self._catalog_prices(start, end, present)
        allocation = queries.GPU_ALLOCATION if catalog_prices is None else queries.GPU_REQUESTS
        interval = int(
            self.sample_interval_s
            or self.detect_sample_interval(interval_of or allocation, start, end)
        )
        busy = present & {queries.BUSY_PROFILING, queries.BUSY_UTIL}
        ctx = QueryContext(
            self.pod_labels,
            interval,
            cluster_label=self.cluster_label,
            exported_pod_labels=bool(busy) and self.uses_exported_pod_labels(start, end),
            cluster_filter=cluster_filter,
            replica_labels=self.replica_labels,
            catalog_prices=catalog_prices,
        )
        return ctx, notes

    def _catalog_prices(
        self, start: datetime, end: datetime, present: frozenset[str]
    ) -> tuple[tuple[tuple[str, str, str, float], ...], list[str]]:
        """Price every (instance type, region, capacity type) the cluster's nodes use."""
        needed = {queries.GPU_REQUESTS, queries.GPU_ALLOCATABLE, "kube_node_labels"}
        if not needed <= present or self.catalog is None:
            raise SourceError(
                f"no OpenCost GPU metrics in {self.client.display_url} between "
                f"{start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC, and no kube-state-metrics "
                "node labels and GPU requests to price from the catalog: is either scraped?"
            )
        labels = [queries.INSTANCE_TYPE_LABEL, queries.REGION_LABEL, *queries.CAPACITY_LABELS]
        window = duration((end - start).total_seconds())
        query = f"group by ({', '.join(labels)}) (last_over_time(kube_node_labels[{window}]))"
        table: dict[tuple[str, str, str], float] = {}
        unpriced: set[str] = set()
        spot_as_on_demand: set[str] = set()
        for sample in self.client.instant(query, end):
            instance_type = sample.labels.get(queries.INSTANCE_TYPE_LABEL, "")
            region = sample.labels.get(queries.REGION_LABEL, "")
            label = next((c for c in queries.CAPACITY_LABELS if sample.labels.get(c)), "")
            raw = sample.labels.get(label, "")
            capacity = _capacity_of(label, raw)
            price = self.catalog.lookup(instance_type, region or None, capacity)
            if price is None and capacity == "spot":  # no spot figure: say so, use on-demand
                price = self.catalog.lookup(instance_type, region or None, "on-demand")
                spot_as_on_demand.add(instance_type)
            if price is None or price.per_gpu_hourly is None:
                unpriced.add(instance_type or "(no instance-type label)")
                continue
            table[(instance_type, region, raw)] = float(price.per_gpu_hourly)
        notes = [
            "no OpenCost metrics: GPU prices come from the pricing catalog by instance type, "
            "region and capacity type (finops pricing list)"
        ]
        if unpriced:
            notes.append(
                f"no catalog price for {', '.join(sorted(unpriced))}: those GPUs cost 0; add "
                "[pricing] overrides"
            )
        if spot_as_on_demand:
            notes.append(
                f"no catalog spot price for {', '.join(sorted(spot_as_on_demand))}: its spot "
                "nodes are priced on-demand (an upper bound); add pricing.instance_overrides"
            )
        return tuple((*key, price) for key, price in sorted(table.items())), notes

    # ---- costs -----------------------------------------------------------------------------
    def costs(self, request: CostRequest) -> CostData:
        window = request.window
        start, end = _whole_seconds(window.start), _whole_seconds(window.end)
        warned = len(self.client.warnings)
        present = self.present_metrics(start, end)
        ctx, notes = self._context(
            start, end, present, cluster_filter=request.filters.get("cluster")
        )
        interval = ctx.sample_interval_s
        busy_metrics = present & {queries.BUSY_PROFILING, queries.BUSY_UTIL}
        if queries.POD_LABELS not in present:
            notes.append(
                "kube_pod_labels is missing: every pod is __unallocated__; run kube-state-metrics "
                "with --metric-labels-allowlist=pods=[ai-finops.io/team,...]"
            )
        # The cluster filter narrows every series read (see QueryContext); the rest select pods.
        keys = request.group_by
        annotation_keys = [k for k in keys if k in queries.POD_ANNOTATION_KEYS]
        if annotation_keys and queries.POD_ANNOTATIONS not in present:
            notes.append(_annotation_note(ctx, annotation_keys, missing_metric=True))
        filters = {k: v for k, v in request.filters.items() if k != "cluster"}
        has_cpu_ram = {queries.CPU_ALLOCATION, queries.CPU_PRICE, queries.RAM_PRICE} <= present

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
        else:
            notes.append("no dcgm-exporter busy metrics: efficiency and waste are unknown")

        unread = set(ALLOCATION_MEASURES) - set(request.measures)  # left at 0 by _merge
        with _Queries(self.max_concurrency) as pool:
            futures = {
                name: pool.submit(self._bucketed, expr, start, end, request.bucket_s, interval)
                for name, expr in measures.items()
                if name not in unread
            }
            results = _gather(futures)

        prom_keys = [ctx.prom_label(k) for k in keys]
        skipped: list[str] = []
        allocations = _merge(results, ALLOCATION_MEASURES, prom_keys, list(keys), skipped)
        cluster = _merge(results, CLUSTER_MEASURES, [], [], skipped)
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
            notes.append(_annotation_note(ctx, annotation_keys, missing_metric=False))
        if not (cluster["capacity_gpu_hours"] > 0).any():
            cluster_filter = request.filters.get("cluster")
            where = "" if cluster_filter is None else f" of cluster {cluster_filter!r}"
            notes.append(
                f"no GPU capacity{where} in the window: the server returned no GPU nodes, so "
                "every figure is 0"
            )
        notes += self._partial_notes(warned, skipped)
        busy_metric = _busy_metric_name(busy_metrics)
        return CostData(
            source=self.name,
            allocations=allocations,
            cluster=cluster,
            busy_metric=busy_metric,
            has_cpu_ram=has_cpu_ram and "cpu_ram_cost" not in unread,
            sample_interval_s=interval,
            notes=notes,
        )

    def inference(self, request: CostRequest) -> InferenceData:
        """Traffic per model by counter increase, and the GPUs of unlabelled serving pods."""
        start, end = _whole_seconds(request.window.start), _whole_seconds(request.window.end)
        window_s = (end - start).total_seconds()
        warned = len(self.client.warnings)
        names = self.client.label_values(
            "__name__", [f'{{__name__=~"{"|".join(queries.SERVING_METRICS)}"}}'], start, end
        )
        notes: list[str] = []
        if not names:
            notes.append(
                "no inference counters (vLLM, Triton, TGI) in the window: no requests or tokens"
            )
        present = self.present_metrics(start, end)
        busy_metrics = present & {queries.BUSY_PROFILING, queries.BUSY_UTIL}
        ctx, context_notes = self._context(
            start, end, present, cluster_filter=request.filters.get("cluster")
        )
        notes.extend(context_notes)
        interval = ctx.sample_interval_s
        iq = queries.InferenceQueries(ctx, window_s)
        filters = {k: v for k, v in request.filters.items() if k != "cluster"}
        served: dict[str, str] = {
            "gpu_hours": iq.served(ctx.pod_gpus()),
            "gpu_cost": iq.served(ctx.pod_gpu_cost()),
        }
        if busy_metrics:
            served["busy_gpu_hours"] = iq.served(ctx.busy_per_gpu(busy_metrics))
            served["observed_gpu_hours"] = iq.served(ctx.busy_per_gpu(busy_metrics), "count")
        with _Queries(self.max_concurrency) as pool:
            traffic_futures = {
                measure: pool.submit(
                    self.client.instant, iq.traffic_by_model(counters, window_s, filters), end
                )
                for measure, counters in queries.TRAFFIC_COUNTERS.items()
            }
            served_futures = {
                name: pool.submit(self._bucketed, expr, start, end, request.bucket_s, interval)
                for name, expr in (served.items() if names else ())
            }
            traffic_results = _gather(traffic_futures)
            served_results = _gather(served_futures)

        skipped: list[str] = []
        traffic: dict[str, dict[str, float]] = {}
        for measure, samples in traffic_results.items():
            for sample in samples:
                model = sample.labels.get("model", "")
                if model and not math.isfinite(sample.value):
                    skipped.append(f"{measure} {sample.labels}")
                elif model:
                    traffic.setdefault(model, {})[measure] = sample.value
        import pandas as pd  # after the queries: it loads while they run

        traffic_frame = pd.DataFrame(
            [{"model": m, **v} for m, v in traffic.items()],
            columns=["model", *TRAFFIC_MEASURES],
        ).fillna(0.0)
        totals: dict[str, dict[str, float]] = {}
        for measure, rows in served_results.items():
            for labels, _stamps, values in rows:
                model = labels.get("served_model", "")
                for value in values if model else ():
                    if not math.isfinite(value):
                        skipped.append(f"{measure} {labels}")
                    else:
                        slot = totals.setdefault(model, {})
                        slot[measure] = slot.get(measure, 0.0) + value
        served_frame = pd.DataFrame(
            [{"model": m, **v} for m, v in totals.items()], columns=["model", *SERVED_MEASURES]
        ).fillna(0.0)
        notes += self._partial_notes(warned, skipped)
        return InferenceData(traffic_frame, served_frame, notes)

    def gpus(self, window: Window) -> GpuData:
        """One row per GPU: a dozen instant queries, each returning a number per GPU."""
        start, end = _whole_seconds(window.start), _whole_seconds(window.end)
        warned = len(self.client.warnings)
        present = self.present_metrics(start, end)
        if queries.GPU_PRESENCE not in present:
            raise SourceError(
                f"no dcgm-exporter metrics ({queries.GPU_PRESENCE}) in "
                f"{self.client.display_url} for the window: is dcgm-exporter scraped?"
            )
        busy_metrics = present & {queries.BUSY_PROFILING, queries.BUSY_UTIL}
        ctx, context_notes = self._context(start, end, present, interval_of=queries.GPU_PRESENCE)
        interval = ctx.sample_interval_s
        window_s = (end - start).total_seconds()
        hours = interval / 3600

        def per_gpu(gq: queries.GpuQueries) -> dict[str, str]:
            measures = {
                "present_hours": gq.over_window("count_over_time", gq.inventory()),
                "held_hours": gq.over_window("count_over_time", gq.bound()),
                "memory_used_avg_mib": gq.over_window(
                    "avg_over_time", gq.metric("DCGM_FI_DEV_FB_USED")
                ),
                "memory_used_max_mib": gq.over_window(
                    "max_over_time", gq.metric("DCGM_FI_DEV_FB_USED")
                ),
                "memory_total_mib": gq.over_window("max_over_time", gq.memory_total()),
                "power_avg_w": gq.over_window(
                    "avg_over_time", gq.metric("DCGM_FI_DEV_POWER_USAGE")
                ),
                "temperature_avg_c": gq.over_window(
                    "avg_over_time", gq.metric(queries.GPU_TEMPERATURE)
                ),
                "temperature_max_c": gq.over_window(
                    "max_over_time", gq.metric(queries.GPU_TEMPERATURE)
                ),
                "cost": gq.over_window("sum_over_time", gq.price()),
                "hourly_price": gq.over_window("avg_over_time", gq.price()),
            }
            if busy_metrics:
                busy = gq.busy(busy_metrics)
                measures["busy_avg"] = gq.over_window("avg_over_time", busy)
                measures["busy_p95"] = gq.over_window("quantile_over_time", busy, "0.95")
                measures["busy_any_avg"] = gq.over_window(
                    "avg_over_time", gq.busy_any(busy_metrics)
                )
            return measures | {"holders": gq.holders(["team", "project", "model"])}

        gq = queries.GpuQueries(ctx, window_s)
        # Each GPU is whole in one shard, so the shards' answers simply add up.
        results = self._per_gpu_or_pod(
            per_gpu,
            ctx,
            window_s,
            end,
            functools.partial(queries.shards, "gpu"),
            dict.fromkeys(per_gpu(gq), "sum"),
        )
        holders = results.pop("holders")
        node_rows = self.client.instant(gq.node_info(), end)

        ident = _gpu_key
        skipped: list[str] = []
        rows = _gpu_rows(results, hours, skipped)
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
        for row in rows.values():
            share = mig_fraction(str(row["mig_profile"])) if row["mig_profile"] else 1.0
            for money in ("cost", "hourly_price"):
                if row.get(money) is not None:
                    row[money] = float(row[money]) * share  # type: ignore[arg-type]
        import pandas as pd  # after the queries: it loads while they run

        gpus = pd.DataFrame(list(rows.values()), columns=list(GPU_COLUMNS))
        nodes = pd.DataFrame(
            [_node_row(s.labels) for s in node_rows], columns=list(NODE_COLUMNS)
        ).drop_duplicates("node")
        return GpuData(
            gpus.sort_values(["node", "gpu", "mig_instance"], ignore_index=True),
            nodes,
            _busy_metric_name(busy_metrics),
            interval,
            context_notes
            + ([] if busy_metrics else ["no dcgm-exporter busy metrics: busy is unknown"])
            + self._partial_notes(warned, skipped),
            "OpenCost node_gpu_hourly_cost" if ctx.catalog_prices is None else "pricing catalog",
        )

    def node_costs(self, window: Window) -> pd.DataFrame:
        """Per node: hours, GPU cost and whole-instance cost over the window, with its type."""
        from finops_cli.sources.interface import NODE_COST_COLUMNS

        start, end = _whole_seconds(window.start), _whole_seconds(window.end)
        present = self.present_metrics(start, end)
        missing = [m for m in (queries.GPU_PRICE, queries.GPU_CAPACITY) if m not in present]
        if missing:
            raise SourceError(
                f"no OpenCost node metrics ({', '.join(missing)}) in {self.client.display_url} "
                "for the window: is OpenCost scraped?"
            )
        interval = int(
            self.sample_interval_s or self.detect_sample_interval(queries.GPU_CAPACITY, start, end)
        )
        ctx = QueryContext(
            self.pod_labels,
            interval,
            cluster_label=self.cluster_label,
            replica_labels=self.replica_labels,
        )
        nq = queries.NodeQueries(ctx, (end - start).total_seconds())
        measures = {
            "hours": nq.samples(),
            "gpu_cost": nq.gpu_cost(),
            "instance_cost": nq.instance_cost(),
            "gpu_count": nq.gpu_count(),
        }
        with _Queries(self.max_concurrency) as pool:
            futures = {k: pool.submit(self.client.instant, q, end) for k, q in measures.items()}
            identity_f = pool.submit(self.client.instant, nq.identity(), end)
            labels_f = pool.submit(self.client.instant, nq.gpus.node_info(), end)
            results = _gather(futures)
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
            info = _node_row(sample.labels)
            found = rows.get(info["node"])
            if found is not None:
                found["instance_type"] = info["instance_type"] or found.get("instance_type", "")
                found.setdefault("region", info["region"])
                found.setdefault("capacity_type", info["capacity_type"])
        import pandas as pd  # after the queries: it loads while they run

        frame = pd.DataFrame(list(rows.values()), columns=list(NODE_COST_COLUMNS))
        for text in ("instance_type", "capacity_type", "region", "provider_id"):
            frame[text] = frame[text].fillna("").astype(str)
        numbers = ["hours", "gpu_cost", "gpu_count"]
        frame[numbers] = frame[numbers].fillna(0.0)
        frame["gpu_count"] = frame["gpu_count"].astype(int)
        frame["instance_cost"] = frame["instance_cost"].astype("float64")
        if skipped:  # no notes to carry this: say it now (server warnings were shown already)
            self._on_warning(_nan_note(skipped))
        return frame.sort_values("node", ignore_index=True)

    def pods(self, window: Window) -> PodGpuData:
        """Usage per workload for rightsizing: a few instant queries, one number per workload."""
        start, end = _whole_seconds(window.start), _whole_seconds(window.end)
        warned = len(self.client.warnings)
        present = self.present_metrics(start, end)
        if queries.GPU_PRESENCE not in present:
            raise SourceError(
                f"no dcgm-exporter metrics ({queries.GPU_PRESENCE}) in "
                f"{self.client.display_url} for the window: is dcgm-exporter scraped?"
            )
        busy_metrics = present & {queries.BUSY_PROFILING, queries.BUSY_UTIL}
        ctx, context_notes = self._context(start, end, present, interval_of=queries.GPU_PRESENCE)
        interval = ctx.sample_interval_s
        window_s = (end - start).total_seconds()
        hours = interval / 3600
        interruptible = kube_label_to_prometheus(INTERRUPTIBLE_LABEL)

        def per_workload(gq: queries.GpuQueries) -> dict[str, str]:
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
                measures["busy_sum"] = over(
                    "sum_over_time", gq.pod_busy(busy_metrics, "sum"), "sum"
                )
                measures["busy_samples"] = over(
                    "sum_over_time", gq.pod_busy(busy_metrics, "count"), "sum"
                )
                measures["busy_p95"] = over(
                    "quantile_over_time", gq.pod_busy(busy_metrics, "max"), "max", "0.95"
                )
            return measures | {
                "placement": gq.workload_placement(gpu_hours_per_pod),
                "labels": gq.workload_labels(["team", "project", "model"], [interruptible]),
                "pods": gq.pod_workloads(),
            }

        gq = queries.GpuQueries(ctx, window_s)
        # Namespace shards hold whole workloads, so their answers just concatenate. Pod shards
        # (one namespace too big) hold whole pods but a workload's pods may be in several, so
        # those combine as each measure does (sums add, maxima take the larger, placement keeps
        # the top pod).
        combine = {
            "gpus": "max",
            "memory_peak_mib": "max",
            "memory_total_mib": "max",
            "busy_p95": "max",
            "placement": "top",
        }
        results = self._per_gpu_or_pod(
            per_workload,
            ctx,
            window_s,
            end,
            self._workload_cut(gq, start, end),
            {name: combine.get(name, "sum") for name in per_workload(gq)},
        )
        results["nodes"] = self.client.instant(gq.node_info(), end)
        measures = [
            m
            for m in (
                "gpu_hours",
                "gpus",
                "memory_peak_mib",
                "memory_total_mib",
                "cost",
                "busy_p95",
            )
            if m in results
        ]
        key = _workload_key
        rows: dict[tuple[str, ...], dict[str, object]] = {}
        for s in results["gpu_hours"]:
            blank: dict[str, object] = dict.fromkeys(WORKLOAD_POD_COLUMNS, "") | dict.fromkeys(
                [*measures, "busy_avg"]
            )
            kind, name = s.labels.get("workload_kind", ""), s.labels.get("workload", "")
            rows[key(s.labels)] = blank | {
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
        _workload_busy(rows, results, skipped)
        label_names = {k: ctx.prom_label(k) for k in ("team", "project", "model")}
        _describe_workloads(rows, results, label_names, interruptible)
        import pandas as pd  # after the queries: it loads while they run

        pods = pd.DataFrame(list(rows.values()), columns=list(WORKLOAD_POD_COLUMNS))
        nodes = pd.DataFrame(
            [_node_row(s.labels) for s in results["nodes"]], columns=list(NODE_COLUMNS)
        ).drop_duplicates("node")
        notes = (
            context_notes
            + ([] if busy_metrics else ["no dcgm-exporter busy metrics: busy is unknown"])
            + self._partial_notes(warned, skipped)
        )
        return PodGpuData(pods.sort_values(["namespace", "pod"], ignore_index=True), nodes,
                          interval, notes)  # fmt: skip

    def _workload_cut(
        self, gq: queries.GpuQueries, start: datetime, end: datetime
    ) -> Callable[[int], list[queries.Shard]]:
        """Rightsize's cut into a number of shards: groups of the GPU pods' namespaces (by pod
        name past their number), the namespaces read at the first refusal, once for all."""
        names: list[str] | None = None
        listing = threading.Lock()  # measures are refused, and cut, from several threads

        def cut(count: int) -> list[queries.Shard]:
            nonlocal names
            with listing:
                if names is None:
                    try:  # the index alone answers this: cheap whatever the fleet
                        names = self.client.label_values(
                            gq.ctx.dcgm_namespace_label, [gq.bound_series()], start, end
                        )
                    except ServerLimitError:
                        _debug_log.debug("namespaces over a server limit: shards by pod")
                        names = []
            return queries.workload_shards(names, count)

        return cut

    def _per_gpu_or_pod(
        self,
        build: Callable[[queries.GpuQueries], dict[str, str]],
        ctx: QueryContext,
        window_s: float,
        end: datetime,
        cut_into: Callable[[int], list[queries.Shard]],
        combine: dict[str, str],
    ) -> dict[str, list[InstantSample]]:
        """Each of ``build``'s window queries, run concurrently; one the server refuses as over
        a per-query limit (a large fleet over a long window: VictoriaMetrics' memory guard,
        Prometheus' --query.max-samples) is run again over 2, 4, ... up to 128 shards of the
        dcgm-exporter series, one shard after the other, and their answers combined.
        ``cut_into`` gives the shards of a cut into a number of them."""
        whole = build(queries.GpuQueries(ctx, window_s))
        # Sharded work runs one measure at a time (the shards of several would compete for the
        # server's memory for concurrent queries), starting from the cut that last worked.
        one_at_a_time = threading.Lock()
        fits = [2]

        def run(name: str) -> list[InstantSample]:
            try:
                return self.client.instant(whole[name], end)
            except ServerLimitError as refused:
                error = refused
            with one_at_a_time:
                count = fits[0]
                while count <= queries.MAX_SHARDS:
                    cut = cut_into(count)
                    by = cut[0].by
                    _debug_log.debug("%s: over a server limit; %d shards by %s", name, count, by)
                    try:
                        parts = [
                            self.client.instant(
                                build(queries.GpuQueries(ctx, window_s, shard))[name], end
                            )
                            for shard in cut
                        ]
                    except ServerLimitError as refused:
                        error = refused
                        count *= 2
                        continue
                    fits[0] = count
                    return _combine(parts, combine[name])
            raise error

        with _Queries(self.max_concurrency) as pool:
            return _gather({name: pool.submit(run, name) for name in whole})

    def _partial_notes(self, warned: int, skipped: list[str]) -> list[str]:
        """PARTIAL DATA notes: NaN/Inf values left out, and server warnings since ``warned``."""
        notes = [_nan_note(skipped)] if skipped else []
        warnings = self.client.warnings[warned:]
        if warnings:
            more = f" (and {len(warnings) - 1} other warning(s))" if len(warnings) > 1 else ""
            notes.append(
                "PARTIAL DATA: Prometheus warned that its answer may be incomplete, figures may "
                f"be too low: {warnings[0]}{more}"
            )
        return notes

    def _bucketed(
        self, measure: str, start: datetime, end: datetime, bucket_s: int, interval: int
    ) -> list[_Series]:
        """``(labels, bucket_ends_unix, values)`` for every group of the window, one per series
        answered (the edge buckets' instant answers are one-point series)."""
        cut = buckets.plan(int(start.timestamp()), int(end.timestamp()), bucket_s)
        out: list[_Series] = []
        if cut.first_full_end is not None and cut.last_full_end is not None:
            for series in self.client.range(
                over_buckets(measure, bucket_s, interval),
                datetime.fromtimestamp(cut.first_full_end, tz=UTC),
                datetime.fromtimestamp(cut.last_full_end, tz=UTC),
                timedelta(seconds=bucket_s),
            ):
                out.append((series.labels, series.timestamps, series.values))
        for at, length in cut.partials:
            moment = datetime.fromtimestamp(at, tz=UTC)
            for sample in self.client.instant(over_buckets(measure, length, interval), moment):
                out.append((sample.labels, [float(at)], [sample.value]))
        return out


def _annotation_note(ctx: QueryContext, keys: list[str], *, missing_metric: bool) -> str:
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


def _nan_note(skipped: list[str]) -> str:
    return (
        f"PARTIAL DATA: the server returned {len(skipped)} NaN/Inf value(s) that were left out "
        f"(first: {skipped[0]})"
    )


class _AbandonedError(SourceError):
    """A query not sent because an earlier one of the same command failed."""


class _Queries:
    """A command's queries on a thread pool that starts no new query once one has failed, so a
    dead or slow server fails the command after one round of retries, not one per queued query.

    Queries start in submission order, so the failure that stopped the rest always belongs to a
    future submitted before any abandoned one: ``_gather`` reports it, not an ``_AbandonedError``.
    """

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._failed = threading.Event()

    def submit(self, fn: Callable[..., _V], *args: Any) -> Future[_V]:
        def run() -> _V:
            if self._failed.is_set():
                raise _AbandonedError("query abandoned after an earlier query failed")
            try:
                return fn(*args)
            except BaseException:
                self._failed.set()
                raise

        return self._pool.submit(run)

    def __enter__(self) -> _Queries:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self._failed.set()
        self._pool.shutdown(wait=True, cancel_futures=exc is not None)


def _gather(futures: Mapping[_K, Future[_V]]) -> dict[_K, _V]:
    return {key: future.result() for key, future in futures.items()}


def _whole_seconds(moment: datetime) -> datetime:
    return datetime.fromtimestamp(math.floor(moment.timestamp()), tz=UTC)


def _merge(
    results: dict[str, list[_Series]],
    measures: tuple[str, ...],
    prom_keys: list[str],
    keys: list[str],
    skipped: list[str],
) -> pd.DataFrame:
    """One tidy frame keyed by bucket and group, sorted by both; a measure absent for a group
    counts as 0.

    Series that differ only in labels outside the group (one per cluster behind Thanos) add up.
    Non-finite values cannot be costs: they are counted in ``skipped`` for the caller to flag.
    Every (bucket, group) cell is summed in one numpy pass: a grouped pandas sum over a fleet's
    answers took a tenth of a second per call.
    """
    import numpy as np
    import pandas as pd

    # Every answer's points go into flat lists first, numpy arrays once: a numpy call per series
    # (thousands of them, most one-point edge buckets) cost more than the sums themselves.
    group_ids: dict[tuple[str, ...], int] = {}
    all_stamps: list[float] = []
    all_values: list[float] = []
    series: list[tuple[str, dict[str, str]]] = []
    series_group: list[int] = []
    series_column: list[int] = []
    series_length: list[int] = []
    for column, measure in enumerate(measures):
        for labels, series_stamps, series_values in results.get(measure, []):
            group = tuple(labels.get(p, "") for p in prom_keys)
            series.append((measure, labels))
            series_group.append(group_ids.setdefault(group, len(group_ids)))
            series_column.append(column)
            series_length.append(len(series_values))
            all_stamps.extend(series_stamps)
            all_values.extend(series_values)
    lengths = np.array(series_length, dtype="int64")
    stamp = np.array(all_stamps, dtype="float64")
    value = np.array(all_values, dtype="float64")
    group_of = np.repeat(np.array(series_group, dtype="int64"), lengths)
    measure_of = np.repeat(np.array(series_column, dtype="int64"), lengths)
    finite = np.isfinite(value)
    if not finite.all():
        series_of = np.repeat(np.arange(len(series)), lengths)
        skipped.extend(f"{series[i][0]} {series[i][1]}" for i in series_of[~finite])
        stamp, value, group_of, measure_of = (
            a[finite] for a in (stamp, value, group_of, measure_of)
        )
    # Cells in (bucket, group) order: groups ranked by their key values, as a sort would.
    ordered = sorted(group_ids)
    rank = np.empty(len(ordered), dtype="int64")
    rank[[group_ids[g] for g in ordered]] = np.arange(len(ordered))
    # pd.factorize(sort=True) is np.unique(return_inverse=True) by hashing: a sort of the
    # distinct values only, not of every point.
    bucket, bucket_ends = pd.factorize(stamp, sort=True)
    group_rank = rank[group_of]
    width = max(len(ordered), 1)
    cell, cells = pd.factorize((bucket * width + group_rank).astype("int64"), sort=True)
    frame = pd.DataFrame(
        {"bucket_end": bucket_ends[cells // width]}
        | {
            key: np.array([g[i] for g in ordered], dtype=object)[cells % width]
            for i, key in enumerate(keys)
        }
        | {
            measure: np.bincount(cell[measure_of == i], value[measure_of == i], len(cells)).astype(
                float
            )
            for i, measure in enumerate(measures)
        }
    )
    frame["bucket_end"] = pd.to_datetime(frame["bucket_end"], unit="s", utc=True)
    return frame


def mig_fraction(profile: str) -> float:
    """Share of a physical GPU a MIG instance holds: ``3g.40gb`` is 3 of the 7 compute slices."""
    head = profile.split(".", 1)[0]
    if head.endswith("g") and head[:-1].isdigit():
        return min(int(head[:-1]), 7) / 7
    return 1.0


def _busy_metric_name(present: frozenset[str]) -> str | None:
    if len(present) == 2:
        return f"{queries.BUSY_PROFILING} (else {queries.BUSY_UTIL}/100)"
    return next(iter(present)) if present else None


def _combine(parts: list[list[InstantSample]], how: str) -> list[InstantSample]:
    """Shards' answers as one: by identical labels, ``sum`` adds and ``max`` keeps the larger;
    ``top`` keeps, per workload, the sample with the largest value (its labels name a pod).
    Namespace shards' answers never share a key, so for them this is a concatenation."""
    merged: dict[tuple[object, ...], InstantSample] = {}
    for sample in (s for part in parts for s in part):
        key = _workload_key(sample.labels) if how == "top" else tuple(sorted(sample.labels.items()))
        seen = merged.get(key)
        if seen is None:
            merged[key] = sample
        elif how == "sum":
            merged[key] = InstantSample(seen.labels, seen.value + sample.value)
        elif sample.value > seen.value:
            merged[key] = sample
    return list(merged.values())


def _workload_key(labels: dict[str, str]) -> tuple[str, ...]:
    return tuple(labels.get(k, "") for k in ("cluster", "namespace", *queries.WORKLOAD_LABELS))


def _workload_busy(
    rows: dict[tuple[str, ...], dict[str, object]],
    results: dict[str, list[InstantSample]],
    skipped: list[str],
) -> None:
    """busy_avg: busy share summed over all the workload's GPU-samples, over their count."""
    samples = {_workload_key(s.labels): s.value for s in results.get("busy_samples", [])}
    for s in results.get("busy_sum", []):
        if (row := rows.get(_workload_key(s.labels))) is None:
            continue
        count = samples.get(_workload_key(s.labels), 0.0)
        if not (math.isfinite(s.value) and math.isfinite(count)):
            skipped.append(f"busy_avg {s.labels}")
        elif count > 0:
            row["busy_avg"] = s.value / count


def _describe_workloads(
    rows: dict[tuple[str, ...], dict[str, object]],
    results: dict[str, list[InstantSample]],
    label_names: dict[str, str],
    interruptible: str,
) -> None:
    """Main pod, node and GPU product; attribution labels (the first non-empty among the
    pods', interruptible if any pod is); and every pod's name."""
    for s in results["placement"]:
        if (row := rows.get(_workload_key(s.labels))) is not None:
            row.update(
                pod=s.labels.get("pod", ""),
                node=s.labels.get("node", ""),
                gpu_model=s.labels.get("modelName", ""),
            )
    for s in sorted(results["labels"], key=lambda s: sorted(s.labels.items())):
        if (row := rows.get(_workload_key(s.labels))) is None:
            continue
        for field_name, label in label_names.items():
            row[field_name] = row[field_name] or s.labels.get(label, "")
        if s.labels.get(interruptible, "").lower() == "true":
            row["interruptible"] = "true"
    names: dict[tuple[str, ...], list[str]] = {k: [] for k in rows}
    for s in results["pods"]:
        if _workload_key(s.labels) in names:
            names[_workload_key(s.labels)].append(s.labels.get("pod", ""))
    for k, row in rows.items():
        row["pod_names"] = tuple(sorted(names[k]))
        row["pod"] = row["pod"] or (sorted(names[k]) or [""])[-1]


def _gpu_key(labels: dict[str, str]) -> tuple[str, ...]:
    return tuple(labels.get(k, "") for k in ("cluster", *queries.GPU_KEY))


def _gpu_rows(
    results: dict[str, list[InstantSample]], hours: float, skipped: list[str]
) -> dict[tuple[str, ...], dict[str, object]]:
    """Rows come from the inventory (the only answer with UUID, model and MIG profile); a GPU
    replaced in its slot during the window shows twice there and counts once."""
    rows: dict[tuple[str, ...], dict[str, object]] = {}
    for measure, samples in results.items():
        for s in samples:
            value = s.value if math.isfinite(s.value) else None
            if value is None:
                skipped.append(f"{measure} {s.labels}")
            if measure in ("present_hours", "held_hours", "cost") and value is not None:
                value *= hours
            if measure == "present_hours":
                row = rows.setdefault(_gpu_key(s.labels), _gpu_row(s.labels))
                before = row.get(measure)
                if isinstance(before, float) and value is not None:
                    value += before
            elif _gpu_key(s.labels) in rows:
                row = rows[_gpu_key(s.labels)]
            else:
                continue
            row[measure] = value
    return rows


def _gpu_row(labels: dict[str, str]) -> dict[str, object]:
    return dict.fromkeys(GPU_COLUMNS) | {
        "node": labels.get("node", ""),
        "gpu": labels.get("gpu", ""),
        "uuid": labels.get("UUID", ""),
        "mig_profile": labels.get("GPU_I_PROFILE", ""),
        "mig_instance": labels.get("GPU_I_ID", ""),
        "model_name": labels.get("modelName", ""),
        "namespace": "",
        "pod": "",
        "team": "",
        "project": "",
        "model": "",
    }


def _node_row(labels: dict[str, str]) -> dict[str, str]:
    label = next((c for c in queries.CAPACITY_LABELS if labels.get(c)), "")
    return {
        "node": labels.get("node", ""),
        "instance_type": labels.get(queries.INSTANCE_TYPE_LABEL, ""),
        "region": labels.get(queries.REGION_LABEL, ""),
        "capacity_type": _capacity_of(label, labels[label]) if label else "",
    }


def _capacity_of(label: str, value: str) -> str:
    """Spot or on-demand from whichever capacity label a node carries (GKE says ``true``)."""
    if label == "label_cloud_google_com_gke_spot":
        return "spot" if value.lower() == "true" else "on-demand"
    return normalize_capacity_type(value) or "on-demand"
