"""``group_series`` against the plain pandas pivot it replaced, on random frames with holes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finops_cli.analytics.costs import IDLE, UNALLOCATED
from finops_cli.analytics.series import TOTAL, group_series
from finops_cli.sources.interface import CostData

MEASURES = ["gpu_cost", "busy_gpu_hours", "observed_gpu_hours"]


def _random_data(rng: np.random.Generator) -> CostData:
    ends = pd.date_range("2026-10-01", periods=int(rng.integers(1, 40)), freq="h", tz="UTC")
    teams = ["a", "b", "", "c d", "é"][: int(rng.integers(1, 6))]
    rows = []
    for end in ends:
        for team in teams:
            if rng.random() < 0.3:
                continue  # a team without pods in that bucket
            values = rng.uniform(0, 10, 3)
            if rng.random() < 0.05:
                values[int(rng.integers(0, 3))] = np.nan
            rows.append(
                {"bucket_end": end, "team": team, **dict(zip(MEASURES, values, strict=True))}
            )
    allocations = pd.DataFrame(rows, columns=["bucket_end", "team", *MEASURES])
    cluster_ends = pd.DatetimeIndex([e for e in ends if rng.random() < 0.9])
    cluster = pd.DataFrame(
        {
            "bucket_end": cluster_ends,
            "allocated_gpu_cost": rng.uniform(0, 50, len(cluster_ends)),
            "capacity_gpu_cost": rng.uniform(50, 80, len(cluster_ends)),
        }
    )
    return CostData("sample", allocations, cluster, None, False, 300)


def _pivot(data: CostData, measure: str) -> pd.DataFrame:
    """The definition: a sum per (bucket, team), buckets of either frame as rows, 0 if none."""
    alloc = data.allocations.assign(team=data.allocations["team"].replace("", UNALLOCATED))
    index = pd.DatetimeIndex(
        sorted(set(alloc["bucket_end"]) | set(data.cluster["bucket_end"])), name="bucket_end"
    )
    table = alloc.pivot_table(
        index="bucket_end", columns="team", values=measure, aggfunc="sum", fill_value=0.0
    )
    table.columns = pd.Index([str(c) for c in table.columns])
    return table.reindex(index, fill_value=0.0).astype(float)


@pytest.mark.parametrize("seed", range(60))
def test_group_series_is_the_sum_per_bucket_and_team(seed: int) -> None:
    data = _random_data(np.random.default_rng(seed))
    found = group_series(data, "team")
    for measure, table in zip(MEASURES, (found.cost, found.busy, found.observed), strict=True):
        expected = _pivot(data, measure)
        got = table
        if measure == "gpu_cost":
            expected[UNALLOCATED] = expected.get(UNALLOCATED, 0.0)
            # allocation no labelled pod explains is unallocated too
            cluster = data.cluster.set_index("bucket_end").reindex(expected.index, fill_value=0.0)
            known = expected.sum(axis=1)
            expected[UNALLOCATED] += (cluster["allocated_gpu_cost"] - known).clip(lower=0.0)
            got = table.drop(columns=[IDLE, TOTAL])[expected.columns]
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
