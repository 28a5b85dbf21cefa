"""``attribute_costs`` on hand-made frames: the invariant and the special rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from finops_cli.analytics.costs import IDLE, UNALLOCATED, attribute_costs
from finops_cli.sources.interface import CostData

T1 = pd.Timestamp("2026-10-01T01:00:00Z")
T2 = pd.Timestamp("2026-10-02T01:00:00Z")


def _data(alloc_rows, cluster_rows, keys=("team",)):
    alloc = pd.DataFrame(
        alloc_rows,
        columns=[
            "bucket_end",
            *keys,
            "gpu_hours",
            "gpu_cost",
            "cpu_ram_cost",
            "busy_gpu_hours",
            "observed_gpu_hours",
        ],
    )
    cluster = pd.DataFrame(
        cluster_rows,
        columns=[
            "bucket_end",
            "allocated_gpu_hours",
            "allocated_gpu_cost",
            "capacity_gpu_hours",
            "capacity_gpu_cost",
        ],
    )
    return CostData("test", alloc, cluster, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", True, 60)


def _attribute(data, keys=("team",), filters=None):
    return attribute_costs(
        data,
        keys,
        filters or {},
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2026, 10, 3, tzinfo=UTC),
    )


def test_residual_allocation_goes_to_unallocated_and_capacity_to_idle():
    # Team a holds 10 GPU-h ($20); an unlabelled pod 2 GPU-h ($4); KSM missed a pod worth $6.
    data = _data(
        [(T1, "a", 10, 20, 1, 5, 10), (T1, "", 2, 4, 0.5, 0, 2)],
        [(T1, 15, 30, 40, 80)],
    )
    report = _attribute(data)
    rows = {r.keys["team"]: r for r in report.rows}
    assert rows["a"].gpu_cost == 20
    assert rows["a"].efficiency == 0.5
    assert rows["a"].waste == 10
    assert rows[UNALLOCATED].gpu_cost == pytest.approx(10)
    assert rows[UNALLOCATED].gpu_hours == pytest.approx(5)
    assert rows[IDLE].gpu_cost == pytest.approx(50)
    assert rows[IDLE].gpu_hours == pytest.approx(25)
    assert sum(r.gpu_cost for r in report.rows) == pytest.approx(80)
    assert report.totals.cluster_gpu_cost == 80
    assert [r.kind for r in report.rows] == ["allocated", "unallocated", "idle"]
    assert rows["a"].share == pytest.approx(0.25)


def test_daily_trend_and_sorting():
    data = _data(
        [(T1, "small", 1, 1, 0, 0, 0), (T1, "big", 1, 5, 0, 0, 0), (T2, "big", 1, 7, 0, 0, 0)],
        [(T1, 2, 6, 2, 6), (T2, 1, 7, 1, 7)],
    )
    report = _attribute(data)
    assert [r.keys["team"] for r in report.rows] == ["big", "small", UNALLOCATED, IDLE]
    assert report.days == ("2026-10-01", "2026-10-02")
    assert report.rows[0].daily_cost == (5.0, 7.0)
    assert report.rows[0].efficiency is None  # no DCGM data for it: unknown, not zero
    assert report.rows[0].waste is None


def test_with_a_filter_no_residual_is_invented():
    data = _data([(T1, "a", 1, 2, 0, 0, 0)], [(T1, 5, 10, 8, 16)])
    report = _attribute(data, filters={"team": "a"})
    rows = {r.keys["team"]: r for r in report.rows}
    assert rows[UNALLOCATED].gpu_cost == 0
    assert IDLE not in rows  # a filtered view holds the matching pods only
    assert report.totals.gpu_cost == pytest.approx(2)
    assert report.totals.includes == ("allocated", "unallocated")
    with_idle = attribute_costs(data, ("team",), {"team": "a"}, T1, T1, include_idle=True)
    rows = {r.keys["team"]: r for r in with_idle.rows}
    assert rows[IDLE].gpu_cost == pytest.approx(6)  # capacity 16 - all allocated 10
    assert with_idle.totals.gpu_cost == pytest.approx(8)
    assert with_idle.totals.includes == ("allocated", "unallocated", "idle")


def test_a_cluster_filter_is_a_scope_that_keeps_idle():
    data = _data([(T1, "a", 1, 2, 0, 0, 0)], [(T1, 5, 10, 8, 16)])
    report = _attribute(data, filters={"cluster": "c"})
    rows = {r.keys["team"]: r for r in report.rows}
    assert rows[IDLE].gpu_cost == pytest.approx(6)
    assert report.totals.gpu_cost == pytest.approx(report.totals.cluster_gpu_cost)


def test_two_level_rows_keep_partial_labels():
    data = _data(
        [(T1, "a", "", 1, 2, 0, 0, 0), (T1, "", "", 1, 3, 0, 0, 0)],
        [(T1, 2, 5, 2, 5)],
        keys=("team", "project"),
    )
    report = _attribute(data, keys=("team", "project"))
    first = report.rows[0]
    assert first.keys == {"team": "a", "project": UNALLOCATED}
    assert first.kind == "allocated"
    assert report.rows[1].kind == "unallocated" and report.rows[1].gpu_cost == 3


def _two_clusters(keys):
    """Clusters east and west, each with capacity, a labelled pod, an unlabelled pod and
    allocation kube-state-metrics missed; cluster frame per cluster."""
    team = ("a",) if "team" in keys else ()
    blank = ("",) if "team" in keys else ()
    alloc = pd.DataFrame(
        [
            (T1, "east", *team, 10, 20, 0, 5, 10, 10),
            (T1, "east", *blank, 2, 4, 0, 0, 0, 0),
            (T1, "west", *team, 1, 3, 0, 1, 1, 2),
        ],
        columns=[
            "bucket_end",
            "cluster",
            *(["team"] if team else []),
            "gpu_hours",
            "gpu_cost",
            "cpu_ram_cost",
            "busy_gpu_hours",
            "observed_gpu_hours",
            "wasted_cost",
        ],
    )
    if not team:  # --by cluster alone: one row per cluster
        alloc = alloc.groupby(["bucket_end", "cluster"], as_index=False).sum()
    cluster = pd.DataFrame(
        [(T1, "east", 15, 30, 40, 80, 12), (T1, "west", 1, 3, 8, 24, 2)],
        columns=[
            "bucket_end",
            "cluster",
            "allocated_gpu_hours",
            "allocated_gpu_cost",
            "capacity_gpu_hours",
            "capacity_gpu_cost",
            "allocated_wasted_cost",
        ],
    )
    return CostData("test", alloc, cluster, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", True, 60)


@pytest.mark.parametrize("keys", [("cluster",), ("cluster", "team"), ("team", "cluster")])
def test_split_by_cluster_each_cluster_gets_its_idle_and_unallocated(keys):
    report = _attribute(_two_clusters(keys), keys=keys)
    spend = {"east": 80, "west": 24}
    for name, total in spend.items():
        mine = [r for r in report.rows if r.keys["cluster"] == name]
        assert sum(r.gpu_cost for r in mine) == pytest.approx(total)  # the invariant per cluster
        kinds = [r.kind for r in mine]
        assert kinds.count("idle") == 1 and kinds.count("unallocated") == 1
    idle = {r.keys["cluster"]: r for r in report.rows if r.kind == "idle"}
    assert idle["east"].gpu_cost == pytest.approx(50) and idle["west"].gpu_cost == pytest.approx(21)
    assert idle["east"].waste == pytest.approx(50)
    unallocated = {r.keys["cluster"]: r for r in report.rows if r.kind == "unallocated"}
    # east: the missed allocation (30 - 24), plus the unlabelled pod when another key labels rows
    assert unallocated["east"].gpu_cost == pytest.approx(6 if keys == ("cluster",) else 10)
    assert unallocated["west"].gpu_cost == pytest.approx(0)
    assert report.totals.gpu_cost == pytest.approx(104) == report.totals.cluster_gpu_cost
    assert report.totals.idle_gpu_cost == pytest.approx(71)
    assert report.totals.idle_gpu_hours == pytest.approx(25 + 7)
    for row in report.rows:  # the other key columns carry the marker
        if row.kind != "allocated" and "team" in keys:
            assert row.keys["team"] in (IDLE, UNALLOCATED)


def test_split_by_cluster_under_a_pod_filter_leaves_each_idle_out_unless_asked():
    data = _two_clusters(("cluster", "team"))
    args = (data, ("cluster", "team"), {"team": "a"}, T1, T1)
    assert not [r for r in attribute_costs(*args).rows if r.kind == "idle"]
    with_idle = attribute_costs(*args, include_idle=True)
    assert {r.keys["cluster"] for r in with_idle.rows if r.kind == "idle"} == {"east", "west"}
