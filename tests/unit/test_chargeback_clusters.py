"""``report chargeback --by cluster``: idle and unallocated per cluster, never merged.

Two sample clusters (seeds 42 and 7) answered as one estate, as a Prometheus holding both would:
the same node and pod names in both, different idle. Ground truth from ``sample/truth.py``.
"""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime

import pandas as pd
import pytest

from finops_cli.analytics.chargeback import groups_of
from finops_cli.analytics.costs import attribute_costs
from finops_cli.render import chargeback as render
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import ground_truth
from finops_cli.sources.interface import CostData, CostRequest
from finops_cli.sources.sample import SampleCostSource
from finops_cli.timewindow import Window
from tests.support.chargeback import LABELS, chargeback_doc
from tests.support.chargeback import period as custom_period

START = datetime(2026, 10, 5, tzinfo=UTC)
END = datetime(2026, 10, 7, tzinfo=UTC)
PERIOD = custom_period(START, END, datetime(2026, 10, 3, tzinfo=UTC))
SEEDS = {"east": 42, "west": 7}


def _estate(keys: tuple[str, ...], start: datetime, end: datetime) -> CostData:
    """Both clusters' answers for ``keys`` in one ``CostData``, each named by its cluster."""
    allocations, clusters = [], []
    for name, seed in SEEDS.items():
        source = SampleCostSource(LABELS, seed=seed)
        data = source.costs(CostRequest(Window(start, end, "t"), keys, {}, 3600))
        allocations.append(data.allocations.assign(cluster=name))
        clusters.append(data.cluster.assign(cluster=name))
    return CostData(
        "sample",
        pd.concat(allocations, ignore_index=True),
        pd.concat(clusters, ignore_index=True),
        data.busy_metric,
        data.has_cpu_ram,
        data.sample_interval_s,
    )


def _report(keys, start=START, end=END):
    return attribute_costs(_estate(keys, start, end), keys, {}, start, end)


def _doc(share="none", previous=True):
    return chargeback_doc(
        _report(("cluster",)),
        period=PERIOD,
        previous=_report(("cluster",), PERIOD.previous_start, PERIOD.previous_end)
        if previous
        else None,
        by="cluster",
        share=share,
    )


def _truth(name: str):
    return ground_truth(SampleCluster(SEEDS[name]), int(START.timestamp()), int(END.timestamp()))


def test_idle_and_unallocated_per_cluster_match_the_truth_and_add_up():
    doc = _doc()
    assert doc["group_by"] == "cluster"
    for name in SEEDS:
        truth = _truth(name)
        mine = {r["kind"]: r for r in doc["rows"] if r["cluster"] == name}
        assert set(mine) == {"allocated", "unallocated", "idle"}  # one of each, per cluster
        assert mine["idle"]["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, abs=0.01)
        assert mine["idle"]["gpu_hours"] == pytest.approx(truth.idle_gpu_hours, abs=0.01)
        assert mine["allocated"]["gpu_cost"] + mine["unallocated"]["gpu_cost"] == pytest.approx(
            truth.allocated_gpu_cost, abs=0.01
        )
        # the invariant per cluster: its rows + unallocated + idle = its GPU spend
        spend = sum(r["gpu_cost"] for r in mine.values())
        assert spend == pytest.approx(truth.cluster_gpu_cost, abs=0.01)
    idle = [r["gpu_cost"] for r in doc["rows"] if r["kind"] == "idle"]
    assert len(idle) == 2 and idle[0] != pytest.approx(idle[1])  # different idle, not merged
    assert sum(r["gpu_cost"] for r in doc["rows"]) == pytest.approx(doc["summary"]["gpu_cost"])
    assert doc["summary"]["idle_gpu_cost"] == pytest.approx(sum(idle))
    for row in doc["rows"]:  # the change compares each cluster's row with the same row before
        assert row["previous_total_cost"] is not None
        assert row["change"] == pytest.approx(row["total_cost"] - row["previous_total_cost"])
    assert doc["sections"]["recommendations"] is False
    assert doc["sections"]["budgets"] is False


def test_groups_of_keeps_per_cluster_special_rows_apart_for_any_key():
    report = _report(("cluster", "team"))
    groups = groups_of(report, "team")
    idle = [g for g in groups if g.kind == "idle"]
    assert sorted(g.cluster for g in idle) == ["east", "west"]
    assert all(g.name == "__idle__" for g in idle)
    unallocated = [g for g in groups if g.kind == "unallocated"]
    assert sorted(g.cluster for g in unallocated) == ["east", "west"]


def test_proportional_shares_each_clusters_idle_over_that_cluster():
    doc = _doc(share="proportional")
    rows = {r["cluster"]: r for r in doc["rows"]}
    assert set(rows) == set(SEEDS) and {r["kind"] for r in rows.values()} == {"allocated"}
    for name in SEEDS:
        truth = _truth(name)
        row = rows[name]
        assert row["gpu_cost"] + row["shared_idle_cost"] == pytest.approx(
            truth.cluster_gpu_cost, abs=0.01
        )


def test_renderings_name_each_clusters_idle():
    doc = _doc()
    html = render.render_html(doc)
    assert "east · __idle__" in html and "west · __unallocated__" in html
    csv_text = render.render_csv(doc)
    assert csv_text.splitlines()[0].startswith("cluster,kind,")
    assert "\neast,idle," in csv_text and "\nwest,unallocated," in csv_text


def test_pdf_names_each_clusters_idle():
    pypdf = pytest.importorskip("pypdf")
    from finops_cli.render.chargeback_pdf import render_pdf

    doc = copy.deepcopy(_doc())
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(doc))).pages)
    assert "east · __idle__" in text and "west · __idle__" in text
