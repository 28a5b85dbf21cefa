"""Unit costs' inference reads: the inference servers' counters per model and the cost, busy and
energy of the GPUs their unlabelled pods hold, from recorded hours where the recorded ledger
covers them and raw series elsewhere (``prometheus_recorded`` plans and stitches both).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from finops_cli import queries
from finops_cli.queries.energy import energy_method
from finops_cli.sources import prometheus_discovery as discovery
from finops_cli.sources import prometheus_recorded, prometheus_rows
from finops_cli.sources.interface import (
    SERVED_MEASURES,
    TRAFFIC_MEASURES,
    CostRequest,
    InferenceData,
)
from finops_cli.sources.prometheus_sharding import gather, query_pool

if TYPE_CHECKING:
    import pandas as pd

    from finops_cli.sources.prometheus import PrometheusCostSource


def inference(source: PrometheusCostSource, request: CostRequest) -> InferenceData:
    """Traffic per model (per-scrape counter increases), and the GPUs of unlabelled serving
    pods; from the recorded ledger's unit-cost rollups where they cover the window
    (``prometheus_recorded``), raw series elsewhere."""
    start, end = (
        discovery.whole_seconds(request.window.start),
        discovery.whole_seconds(request.window.end),
    )
    warned = len(source.client.warnings)
    names = source.client.label_values(
        "__name__", [queries.any_metric(queries.SERVING_METRICS)], start, end
    )
    notes: list[str] = []
    if not names:
        notes.append(
            "no inference counters (vLLM, Triton, TGI) in the window: no requests or tokens"
        )
    present = discovery.present_metrics(source.client, start, end)
    cluster_filter = request.filters.get("cluster")
    filters = {k: v for k, v in request.filters.items() if k != "cluster"}
    keys = ("model",)
    sets = prometheus_recorded.rule_sets(source, keys, filters, present, start, end, cluster_filter)
    ctx, context_notes = discovery.query_context(
        source,
        start,
        end,
        present,
        cluster_filter=cluster_filter,
        known_interval=prometheus_recorded.known_interval(sets),
    )
    notes.extend(context_notes)
    interval = ctx.sample_interval_s
    iq = queries.InferenceQueries(ctx, (end - start).total_seconds())
    served = _served_measures(iq, present, request.energy)
    coverage = (
        prometheus_recorded.plan(source, ctx, keys, filters, present, sets, start, end, notes)
        if names
        else None
    )

    def totals(expr: str, recorded: Callable[[float, bool], str] | None) -> Any:
        return prometheus_recorded.answer(
            source.client, expr, recorded, coverage, start, end, request.bucket_s, interval, True
        )

    def read(measure: str, keys: tuple[str, ...], filters: dict[str, str]) -> Any:
        if coverage is None:
            return None
        rq = coverage.queries
        return lambda length_s, days: rq.read(measure, keys, filters, length_s, days=days)

    with query_pool(source.max_concurrency) as pool:
        traffic_futures = {
            measure: pool.submit(
                totals,
                iq.traffic_rate(counters, keys, filters),
                read(measure, keys, filters),
            )
            for measure, counters in queries.TRAFFIC_COUNTERS.items()
        }
        served_futures = {
            name: pool.submit(totals, expr, read(f"served_{name}", (), {}))
            for name, expr in (served.items() if names else ())
        }
        traffic_results = gather(traffic_futures)
        served_results = gather(served_futures)

    skipped: list[str] = []
    traffic: dict[str, dict[str, float]] = {}
    for measure, rows in traffic_results.items():
        _add_per_model(traffic, measure, rows, iq.model_of, skipped)
    energy_series = served_results.pop("energy_kwh", [])
    sums: dict[str, dict[str, float]] = {}
    for measure, rows in served_results.items():
        _add_per_model(sums, measure, rows, lambda labels: labels.get("served_model", ""), skipped)
    import pandas as pd  # after the queries: it loads while they run

    traffic_frame = pd.DataFrame(
        [{"model": m, **v} for m, v in traffic.items()],
        columns=["model", *TRAFFIC_MEASURES],
    ).fillna(0.0)
    served_frame = pd.DataFrame(
        [{"model": m, **v} for m, v in sums.items()], columns=["model", *SERVED_MEASURES]
    ).fillna(0.0)
    notes += prometheus_rows.partial_notes(source.client, warned, skipped)
    energy_frame = _served_energy(energy_series) if request.energy else None
    return InferenceData(traffic_frame, served_frame, notes, energy_frame)


def _served_measures(
    iq: queries.InferenceQueries, present: frozenset[str], energy: bool
) -> dict[str, str]:
    """The per-instant measures of unlabelled serving pods, per served model."""
    ctx = iq.ctx
    busy_metrics = present & discovery.BUSY_METRICS
    served: dict[str, str] = {
        "gpu_hours": iq.served(ctx.pod_gpus()),
        "gpu_cost": iq.served(ctx.pod_gpu_cost()),
    }
    if busy_metrics:
        served["busy_gpu_hours"] = iq.served(ctx.busy_entries(busy_metrics))
        served["observed_gpu_hours"] = (
            iq.served(ctx.busy_per_gpu(busy_metrics), "count")
            if ctx.shares is None
            else iq.served(ctx.observed_entries(busy_metrics))
        )
        served["wasted_cost"] = iq.served(ctx.wasted_entries(busy_metrics))
    if energy and energy_method(present) is not None:
        served["energy_kwh"] = iq.served(ctx.energy_entries(present), extra="region")
    return served


def _add_per_model(
    into: dict[str, dict[str, float]],
    measure: str,
    rows: list[prometheus_rows.Series],
    model_of: Callable[[dict[str, str]], str],
    skipped: list[str],
) -> None:
    """Sum the answers of ``measure`` per model into ``into`` (non-finite ones skipped)."""
    for labels, _stamps, values in rows:
        model = model_of(labels)
        for value in values if model else ():
            if not math.isfinite(value):
                skipped.append(f"{measure} {labels}")
            else:
                slot = into.setdefault(model, {})
                slot[measure] = slot.get(measure, 0.0) + value


def _served_energy(series: list[prometheus_rows.Series]) -> pd.DataFrame:
    """``model``, ``region``, ``energy_kwh`` of unlabelled serving pods, over the window."""
    import pandas as pd

    rows: dict[tuple[str, str], float] = {}
    for labels, _stamps, values in series:
        model = labels.get("served_model", "")
        if model:
            key = (model, labels.get("region", ""))
            rows[key] = rows.get(key, 0.0) + sum(v for v in values if math.isfinite(v))
    return pd.DataFrame(
        [[m, r, v] for (m, r), v in sorted(rows.items())],
        columns=["model", "region", "energy_kwh"],
    )
