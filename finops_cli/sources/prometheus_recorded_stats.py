"""``gpus``' and ``rightsize``'s statistics from the recorded ledger, raw where it is missing.

The window ``(start, end]`` is cut where ``prometheus_recorded.plan`` says the recorded ledger
starts and stops (whole UTC days, whole hours, raw pieces between and at the edges): each
statistic (``queries.recorded_stats``) is read from the daily or hourly rollups over each recorded
stretch (one instant query) and from the raw series over each raw piece (the raw window query
over that piece, sharded as the raw command's), and the pieces combine as the statistic says
(sums add, maxima take the largest, label sets unite). Pieces tile the window over the same
sample instants the raw window query reads, so the figures are the raw ones; the one exception is
``busy_p95`` (see ``queries.recorded_stats``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from finops_cli import queries
from finops_cli.queries import GpuQueries, QueryContext, Shard
from finops_cli.queries import recorded_stats as rs
from finops_cli.queries.recorded import READ_LAG_S
from finops_cli.sources import prometheus_recorded
from finops_cli.sources.prometheus_client import InstantSample
from finops_cli.sources.prometheus_recorded import DAYS, EMPTY, HOURS, RAW, Coverage
from finops_cli.sources.prometheus_sharding import query_pool, run_sharded

if TYPE_CHECKING:
    from finops_cli.sources.prometheus import PrometheusCostSource

P95 = "busy_p95"
P95_NOTE = (
    "busy_p95 over the recorded hours is the 95th percentile of each hour's highest busy "
    "(never below the samples' own, so rightsizing stays on the safe side); --raw reads the "
    "samples' percentile"
)


def coverage(
    source: PrometheusCostSource,
    ctx: QueryContext,
    start: datetime,
    end: datetime,
    present: frozenset[str],
    sets: list[dict[str, str]] | None,
    notes: list[str],
) -> Coverage | None:
    """The recorded hours (and days) of the window that hold ``gpus``' and ``rightsize``'s
    statistics, as for ``costs`` (same rule set, same ``finops_rules_info``), or None. None on
    shared GPUs: there each GPU's holders and their shares (``GpuQueries.holder_shares``, HAMi's
    holders) are read over the window beside the statistics, and they are not recorded."""
    if ctx.shares is not None and source.recorded and queries.RULES_INFO in present:
        notes.append(
            f"recorded series ({queries.RULES_INFO}) not used for gpus and rightsize on shared "
            "GPUs: each holder's share of a GPU is not recorded; every figure is from raw series"
        )
        return None
    return prometheus_recorded.plan(source, ctx, (), {}, present, sets, start, end, notes)


def _utc(seconds: float) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(seconds, tz=UTC)


def _combine(parts: list[list[InstantSample]], op: str) -> list[InstantSample]:
    """The pieces' answers as one, by identical labels. One piece is its own answer (an
    instant vector holds each label set once): keying 70,000 per-pod samples by their sorted
    labels took a third of a second at 20,000 GPUs."""
    if len(parts) == 1:
        return parts[0]
    merged: dict[tuple[tuple[str, str], ...], InstantSample] = {}
    for sample in (s for part in parts for s in part):
        key = tuple(sorted(sample.labels.items()))
        seen = merged.get(key)
        if seen is None:
            merged[key] = sample
        elif op == "sum":
            merged[key] = InstantSample(seen.labels, seen.value + sample.value)
        elif sample.value > seen.value:
            merged[key] = sample
    return list(merged.values())


def window_stats(
    source: PrometheusCostSource,
    ctx: QueryContext,
    start: datetime,
    end: datetime,
    cover: Coverage,
    stats: tuple[rs.Stat, ...],
    p95: tuple[rs.Stat, Callable[[GpuQueries], str]] | None,
    cut_into: Callable[[int], list[Shard]],
) -> dict[str, list[InstantSample]]:
    """Each statistic over the window (keyed ``name:op``, and ``busy_p95``), recorded where
    ``cover`` has the hours, raw elsewhere."""
    lo, hi = int(start.timestamp()), int(end.timestamp())
    pieces = [p for p in prometheus_recorded._pieces(lo, hi, cover) if p[2] != EMPTY]
    names = {f"{s.name}:{s.op}": s for s in stats}
    combine = {key: ("sum" if s.op == "sum" else "max") for key, s in names.items()}
    parts: dict[str, list[list[InstantSample]]] = {key: [] for key in names}
    if p95 is not None:
        parts[P95] = []
        combine[P95] = "max"
    # recorded stretches for the percentile: hours and days read as one run of hours
    runs: list[tuple[int, int]] = []
    for p0, p1, how in pieces:
        if how != RAW:
            if runs and runs[-1][1] == p0:
                runs[-1] = (runs[-1][0], p1)
            else:
                runs.append((p0, p1))
    lag = timedelta(seconds=READ_LAG_S)
    client = source.client
    with query_pool(source.max_concurrency) as pool:
        recorded = []
        for p0, p1, how in pieces:
            if how == RAW:
                continue
            for key, s in names.items():
                days = how == DAYS and s.daily
                if how == DAYS and not s.daily:
                    query = rs.read(ctx, s, p1 - p0)
                else:
                    query = rs.read(ctx, s, p1 - p0, days=days)
                recorded.append((key, pool.submit(client.instant, query, _utc(p1) + lag)))
        if p95 is not None:
            for r0, r1 in runs:
                query = rs.read_p95(ctx, p95[0], r1 - r0)
                recorded.append((P95, pool.submit(client.instant, query, _utc(r1) + lag)))
        done = [(key, future.result()) for key, future in recorded]
    for key, samples in done:
        parts[key].append(samples)
    for p0, p1, how in pieces:
        if how != RAW:
            continue

        def build(gq: GpuQueries) -> dict[str, str]:
            out = {key: s.build(gq) for key, s in names.items()}
            if p95 is not None:
                out[P95] = p95[1](gq)
            return out

        raw = run_sharded(
            client,
            source.max_concurrency,
            build,
            ctx,
            p1 - p0 - 0.001,
            _utc(p1),
            cut_into,
            combine,
        )
        for key, samples in raw.items():
            parts[key].append(samples)
    return {key: _combine(found, combine[key]) for key, found in parts.items()}


def _by_labels(samples: list[InstantSample]) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in samples}


def _ratio(sums: list[InstantSample], counts: list[InstantSample]) -> list[InstantSample]:
    """Averages: each key's sum over its count (keys with no samples left out, as raw)."""
    count = _by_labels(counts)
    out = []
    for s in sums:
        n = count.get(tuple(sorted(s.labels.items())), 0.0)
        if n > 0 or not math.isfinite(n):
            out.append(InstantSample(s.labels, s.value / n))
    return out


GPU_CUT = functools.partial(queries.shards, "gpu")


def gpu_results(
    source: PrometheusCostSource,
    ctx: QueryContext,
    start: datetime,
    end: datetime,
    cover: Coverage,
    busy: bool,
) -> dict[str, list[InstantSample]]:
    """``gpus``' answers (``prometheus_gpus.gpu_measures``' names) from the recorded ledger."""
    stats = tuple(s for s in rs.GPU_STATS if busy or "busy" not in s.name)
    p95 = (rs.stat("gpu_busy", "max"), rs.raw_p95_gpu) if busy else None
    got = window_stats(source, ctx, start, end, cover, stats, p95, GPU_CUT)

    def g(name: str, op: str = "sum") -> list[InstantSample]:
        return got[f"{name}:{op}"]

    out = {
        "present_hours": g("gpu_present_samples"),
        "held_hours": g("gpu_held_samples"),
        "memory_used_avg_mib": _ratio(g("gpu_memory_used_mib"), g("gpu_memory_used_samples")),
        "memory_used_max_mib": g("gpu_memory_used_mib", "max"),
        "memory_total_mib": g("gpu_memory_total_mib", "max"),
        "power_avg_w": _ratio(g("gpu_power_w"), g("gpu_power_samples")),
        "temperature_avg_c": _ratio(g("gpu_temperature_c"), g("gpu_temperature_samples")),
        "temperature_max_c": g("gpu_temperature_c", "max"),
        "cost": g("gpu_price"),
        "hourly_price": _ratio(g("gpu_price"), g("gpu_price_samples")),
    }
    if busy:
        out["busy_avg"] = _ratio(g("gpu_busy"), g("gpu_busy_samples"))
        out["busy_p95"] = got[P95]
        out["busy_any_avg"] = _ratio(g("gpu_busy_any"), g("gpu_busy_any_samples"))
        out["used_cost"] = g("gpu_used_price")
    out["holders"] = _holders(g("gpu_holder_samples"), g("gpu_holder_last", "max"))
    return out


def _holders(held: list[InstantSample], last: list[InstantSample]) -> list[InstantSample]:
    """Per GPU and pod (with its attributes): samples held + the last one's time / 1e11, the
    ranking ``GpuQueries.holders`` uses; the caller keeps each GPU's best."""
    pod_keys = ("cluster", *queries.GPU_KEY, "namespace", "pod")
    latest = {tuple(s.labels.get(k, "") for k in pod_keys): s.value for s in last}
    return [
        InstantSample(
            s.labels, s.value + latest.get(tuple(s.labels.get(k, "") for k in pod_keys), 0) / 1e11
        )
        for s in held
    ]


def capacity_results(gpu: dict[str, list[InstantSample]]) -> dict[str, list[InstantSample]]:
    """What ``prometheus_gpus.capacity_measures`` asks, from ``gpu_results``-like answers."""
    return {k: gpu[k] for k in ("present_hours", "held_hours", "cost")}


def workload_results(
    source: PrometheusCostSource,
    ctx: QueryContext,
    start: datetime,
    end: datetime,
    cover: Coverage,
    busy: bool,
    workload_cut: Callable[[int], list[Shard]],
) -> tuple[dict[str, list[InstantSample]], list[InstantSample], dict[str, list[InstantSample]]]:
    """``rightsize``'s answers (``prometheus_gpus.workload_measures``' names), the GPU-samples
    held per node, and the capacity advice's per-GPU answers, from the recorded ledger."""
    stats = tuple(s for s in rs.WORKLOAD_STATS if busy or "busy" not in s.name)
    p95 = (rs.stat("workload_busy", "max"), rs.raw_p95_workload) if busy else None
    got = window_stats(source, ctx, start, end, cover, stats, p95, workload_cut)
    capacity = tuple(
        rs.stat(name, "sum") for name in ("gpu_present_samples", "gpu_held_samples", "gpu_price")
    )
    per_gpu = window_stats(source, ctx, start, end, cover, capacity, None, GPU_CUT)

    def g(name: str, op: str = "sum") -> list[InstantSample]:
        return got[f"{name}:{op}"]

    pods = g("workload_pod_gpu_samples")
    out = {
        "gpu_hours": g("workload_gpu_samples"),
        "gpus": g("workload_gpus", "max"),
        "memory_peak_mib": g("workload_memory_used_mib", "max"),
        "memory_total_mib": g("workload_memory_total_mib", "max"),
        "cost": g("workload_price"),
    }
    if busy:
        out["busy_sum"] = g("workload_busy")
        out["busy_samples"] = g("workload_busy_samples")
        out["busy_p95"] = got[P95]
    out["placement"] = _top(pods)
    out["labels"] = g("workload_labels", "group")
    out["pods"] = pods
    held = g("node_held_gpu_samples")
    gpu = {
        "present_hours": per_gpu["gpu_present_samples:sum"],
        "held_hours": per_gpu["gpu_held_samples:sum"],
        "cost": per_gpu["gpu_price:sum"],
    }
    return out, held, gpu


def _top(pods: list[InstantSample]) -> list[InstantSample]:
    """Each workload's pod with the most GPU samples (ties: the last pod name)."""
    from finops_cli.sources.prometheus_rows import workload_key

    best: dict[tuple[str, ...], InstantSample] = {}
    for s in pods:
        key = workload_key(s.labels)
        seen = best.get(key)
        if seen is None or (s.value, s.labels.get("pod", "")) > (
            seen.value,
            seen.labels.get("pod", ""),
        ):
            best[key] = s
    return list(best.values())


__all__ = ["DAYS", "HOURS", "RAW", "coverage", "gpu_results", "workload_results"]
