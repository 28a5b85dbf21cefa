"""Cost sources' frames reshaped into time series: one column per team (or project), per bucket.

Forecasts and anomaly detection work on series, not on reports; this is the one place that turns
``CostData`` into them, with the same bookkeeping as ``analytics.costs``: pods without the label
and allocation no labelled pod explains are ``__unallocated__``, capacity nobody held is
``__idle__``, and the cluster's whole GPU spend is ``__total__``. Pure: frames in, frames out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from finops_cli.analytics.costs import IDLE, UNALLOCATED
from finops_cli.sources.interface import SERIES_MEASURES, CostData

TOTAL = "__total__"
SPECIAL = (UNALLOCATED, IDLE, TOTAL)


@dataclass(frozen=True)
class GroupSeries:
    """Per-bucket measures, one column per group value; the index is ``bucket_end`` (UTC).

    ``cost`` has every group plus ``__unallocated__``, ``__idle__`` and ``__total__`` (the last
    two only when ``with_cluster``); ``busy`` and ``observed`` (GPU-hours) have the labelled
    groups and ``__unallocated__`` (pods without the label), for busy shares. ``present`` marks
    the buckets the source had any data for: a bucket before the data starts is not a zero.
    """

    cost: pd.DataFrame
    busy: pd.DataFrame
    observed: pd.DataFrame
    present: pd.Series


def group_series(data: CostData, key: str, *, with_cluster: bool = True) -> GroupSeries:
    """Pivot ``data`` (grouped by ``key`` alone) into per-bucket series.

    ``with_cluster`` adds the cluster-wide series; pass False when the request was filtered, as
    filters do not narrow the cluster frame.
    """
    alloc = data.allocations.copy()
    cluster = data.cluster.copy()
    alloc["bucket_end"] = pd.to_datetime(alloc["bucket_end"], utc=True)
    cluster["bucket_end"] = pd.to_datetime(cluster["bucket_end"], utc=True)
    index = pd.DatetimeIndex(
        pd.concat([cluster["bucket_end"], alloc["bucket_end"]]).drop_duplicates().sort_values(),
        name="bucket_end",
    )
    if key in alloc.columns:
        alloc[key] = alloc[key].astype(str).replace("", UNALLOCATED)
    else:
        alloc[key] = UNALLOCATED

    # One pass for the three measures: each is a bincount over (bucket, group) cells, in the
    # order a groupby-unstack gives (a pivot_table each cost a fleet 50 ms apiece, a groupby 30).
    bucket, bucket_ends = pd.factorize(alloc["bucket_end"], sort=True)
    group, groups = pd.factorize(alloc[key], sort=True)
    shape = (len(bucket_ends), len(groups))
    cell = bucket * shape[1] + group
    tables = {}
    for measure in SERIES_MEASURES:
        weights = alloc[measure].to_numpy(dtype=float)
        weights = np.where(np.isnan(weights), 0.0, weights)  # as a grouped sum skips NaN
        grid = np.bincount(cell, weights, shape[0] * shape[1]).reshape(shape)
        table = pd.DataFrame(
            grid,
            index=pd.DatetimeIndex(bucket_ends, name="bucket_end"),
            columns=pd.Index([str(c) for c in groups]),
        )
        tables[measure] = table.reindex(index, fill_value=0.0)
    cost, busy, observed = (tables[m] for m in ("gpu_cost", "busy_gpu_hours", "observed_gpu_hours"))
    if UNALLOCATED not in cost.columns:
        cost[UNALLOCATED] = 0.0
    if with_cluster:
        by_bucket = cluster.groupby("bucket_end")[["allocated_gpu_cost", "capacity_gpu_cost"]].sum()
        by_bucket = by_bucket.reindex(index, fill_value=0.0)
        known = cost.sum(axis=1)
        cost[UNALLOCATED] += (by_bucket["allocated_gpu_cost"] - known).clip(lower=0.0)
        cost[IDLE] = (by_bucket["capacity_gpu_cost"] - by_bucket["allocated_gpu_cost"]).clip(
            lower=0.0
        )
        cost[TOTAL] = by_bucket["capacity_gpu_cost"]
    present = pd.Series(index.isin(pd.DatetimeIndex(cluster["bucket_end"])), index=index)
    if not with_cluster or cluster.empty:
        present = pd.Series(True, index=index)
    return GroupSeries(cost=cost, busy=busy, observed=observed, present=present)


def team_order(columns: pd.Index) -> list[str]:
    """Labelled groups alphabetically, then the special rows in a fixed order."""
    names = [str(c) for c in columns]
    return sorted(n for n in names if n not in SPECIAL) + [s for s in SPECIAL if s in names]
