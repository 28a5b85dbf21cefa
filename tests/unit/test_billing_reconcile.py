"""Reconciliation: the sample cluster's estimate beside its own bill finds every planted
discrepancy, through Cost Explorer's shape and through FOCUS resources; and the pure rules on
small hand-made frames (unpriced nodes, spot the other way round, nodes missing from the bill)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from finops_cli.analytics.billing import (
    purchase_kind,
    reconcile,
    resource_key,
    summarize_bill,
)
from finops_cli.sample.bill import (
    ON_DEMAND_PRICE,
    OUTSIDE_ID,
    OUTSIDE_TYPE,
    RESERVATION_ID,
    RESERVATION_TYPE,
    SAVINGS_PLAN_DISCOUNT,
    SAVINGS_PLAN_HOURLY,
    SampleBill,
    SampleCostExplorer,
    instance_id,
    write_focus,
)
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sources.billing import UNTAGGED, BillData, BillRequest, Dimension
from finops_cli.sources.cost_explorer import CostExplorerSource
from finops_cli.sources.focus import FocusSource
from finops_cli.sources.interface import NODE_COST_COLUMNS
from finops_cli.sources.sample import SampleCostSource
from finops_cli.timewindow import Window

START = datetime(2026, 10, 5, tzinfo=UTC)
END = datetime(2026, 10, 8, tzinfo=UTC)
NOW = datetime(2026, 11, 20, tzinfo=UTC)  # October is closed: nothing estimated


@pytest.fixture(scope="module")
def cluster():
    return SampleCluster(42)


@pytest.fixture(scope="module")
def nodes(cluster):
    source = SampleCostSource({"team": "ai-finops.io/team"}, cluster=cluster)
    return source.node_costs(Window(START, END, "3d"))


def _bill_request(*dims: str) -> BillRequest:
    return BillRequest(
        start=START.date(),
        end=END.date(),
        granularity="monthly",
        metric="AmortizedCost",
        group_by=tuple(Dimension(d) for d in dims),
        services=None,
        now=NOW,
    )


def _rows(result):
    return {r.group: r for r in result.rows}


def test_instance_ids_are_the_clusters_provider_ids(cluster):
    exported = {
        s.labels["node"]: s.labels["provider_id"]
        for s in cluster.series(int(START.timestamp()), int(START.timestamp()) + 120, 60)
        if s.name == "node_total_hourly_cost"
    }
    for node in cluster.nodes:
        assert resource_key(exported[node.name]) == instance_id(cluster, node)


def test_node_costs_match_the_prices_the_cluster_exports(nodes, cluster):
    assert list(nodes.columns) == list(NODE_COST_COLUMNS)
    assert len(nodes) == len(cluster.nodes)
    assert (nodes["hours"] == 72).all()
    p5 = nodes[nodes["instance_type"] == "p5.48xlarge"]
    assert p5["instance_cost"].tolist() == pytest.approx([55.04 * 72] * 2)
    assert p5["gpu_cost"].tolist() == pytest.approx([55.04 * 72 * 0.9] * 2)


def _check_planted(result, *, by_resource: bool):
    rows = _rows(result)
    planted = {"p5.48xlarge", "g6.xlarge", OUTSIDE_TYPE, RESERVATION_TYPE}
    assert {r.group for r in result.rows if r.flagged} == planted
    assert set(rows) >= {*planted, "g5.xlarge"}
    honest = rows["g5.xlarge"]
    assert not honest.flagged and honest.difference == pytest.approx(0.0, abs=1e-6)
    # the idle capacity reservation is billed g5.12xlarge spend no cluster node ran
    reserved = rows[RESERVATION_TYPE]
    assert reserved.difference == pytest.approx(ON_DEMAND_PRICE[RESERVATION_TYPE] * 72, abs=1e-6)
    if by_resource:
        assert reserved.outside_resources == (RESERVATION_ID,)
    sp = rows["p5.48xlarge"]
    assert sp.flagged and sp.difference_pct == pytest.approx(-SAVINGS_PLAN_DISCOUNT)
    assert any(c.startswith("discount: a Savings Plan") for c in sp.causes)
    spot = rows["g6.xlarge"]
    assert spot.flagged and spot.difference > 0
    assert any(c.startswith("spot vs on-demand") for c in spot.causes)
    outside = rows[OUTSIDE_TYPE]
    assert outside.flagged and outside.nodes == 0 and outside.estimated_cost is None
    assert outside.billed_cost == pytest.approx(1.212 * 72)
    assert any(c.startswith("nodes outside the cluster") for c in outside.causes)
    if by_resource:
        assert outside.outside_resources == (OUTSIDE_ID,)
    excluded = 2 * 0.192 * 72  # the m6i system nodes
    if by_resource:  # FOCUS: and the Savings Plan's unused commitment row (no instance type)
        excluded += (SAVINGS_PLAN_HOURLY - 2 * 55.04 * (1 - SAVINGS_PLAN_DISCOUNT)) * 72
    assert result.excluded_billed_cost == pytest.approx(excluded)
    assert 0.5 < result.explained_share < 1.0


def test_compare_through_cost_explorer_finds_every_planted_discrepancy(nodes):
    ce = CostExplorerSource(SampleCostExplorer(SampleBill(), NOW), paid=False)
    bill = ce.actual(_bill_request("instance_type", "purchase_option")).frame
    _check_planted(reconcile(nodes, bill), by_resource=False)


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_compare_through_focus_resources_finds_every_planted_discrepancy(
    nodes, tmp_path, file_format
):
    path = tmp_path / f"bill.{file_format}"
    write_focus(SampleBill().line_items(START, END, NOW), path, file_format=file_format)
    request = _bill_request("instance_type", "purchase_option", "resource")
    bill = FocusSource(path).actual(request).frame
    _check_planted(reconcile(nodes, bill, by_resource=True), by_resource=True)


def test_unblended_cost_shows_savings_plan_usage_at_zero(nodes):
    ce = CostExplorerSource(SampleCostExplorer(SampleBill(), NOW), paid=False)
    request = _bill_request("instance_type", "purchase_option")
    request = BillRequest(**{**request.__dict__, "metric": "UnblendedCost"})
    p5 = _rows(reconcile(nodes, ce.actual(request).frame))["p5.48xlarge"]
    assert p5.billed_cost == 0 and p5.flagged
    assert any("Savings Plan" in c or "not in the bill" in c for c in p5.causes)


def _nodes(*rows):
    frame = pd.DataFrame(rows, columns=list(NODE_COST_COLUMNS))
    frame["instance_cost"] = frame["instance_cost"].astype("float64")
    return frame


def _node(name, itype, capacity="on-demand", cost=100.0, pid=None):
    return (
        name,
        itype,
        capacity,
        "us-east-1",
        pid or f"aws:///us-east-1a/i-{name}",
        1,
        10.0,
        cost * 0.9,
        cost,
    )


def _bill(*rows):
    return pd.DataFrame(rows, columns=["instance_type", "purchase_option", "resource", "cost"])


def test_unpriced_nodes_missing_nodes_and_reverse_spot():
    nodes = _nodes(
        _node("a", "g6e.xlarge", cost=math.nan),
        _node("b", "g6e.xlarge", cost=100.0),
        _node("c", "g4dn.xlarge", cost=50.0),
        _node("d", "g4dn.xlarge", cost=50.0),
    )
    bill = _bill(
        ("g6e.xlarge", "Standard", "i-a", 100.0),
        ("g6e.xlarge", "Standard", "i-b", 100.0),
        ("g4dn.xlarge", "Dynamic", "i-c", 20.0),
    )
    rows = _rows(reconcile(nodes, bill, by_resource=True))
    assert rows["g6e.xlarge"].unpriced_nodes == 1
    assert any(c.startswith("unpriced nodes") for c in rows["g6e.xlarge"].causes)
    g4 = rows["g4dn.xlarge"]
    assert g4.missing_nodes == ("d",)
    assert any(c.startswith("spot vs on-demand: the bill has spot usage") for c in g4.causes)
    assert any(c.startswith("not in the bill") for c in g4.causes)


def test_threshold_and_unexplained_differences():
    nodes = _nodes(_node("a", "p4d.24xlarge", cost=100.0))
    within = reconcile(nodes, _bill(("p4d.24xlarge", "On Demand Instances", "", 104.0)))
    assert not within.rows[0].flagged and within.rows[0].causes == ()
    over = reconcile(nodes, _bill(("p4d.24xlarge", "On Demand Instances", "", 80.0)))
    assert over.rows[0].flagged and over.rows[0].causes[0].startswith("bill below the estimate")
    strict = reconcile(
        nodes, _bill(("p4d.24xlarge", "On Demand Instances", "", 104.0)), threshold=0.01
    )
    assert strict.rows[0].flagged
    nothing = reconcile(nodes, _bill())
    assert nothing.rows[0].billed_cost is None and nothing.rows[0].flagged
    assert nothing.explained_share is None


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("On Demand Instances", "on-demand"),
        ("Standard", "on-demand"),
        ("Spot Instances", "spot"),
        ("Dynamic", "spot"),
        ("Savings Plans", "committed"),
        ("Standard Reserved Instances", "committed"),
        ("Committed", "committed"),
        ("Other", "other"),
    ],
)
def test_purchase_kinds(raw, kind):
    assert purchase_kind(raw) == kind


def test_resource_keys_meet_across_providers():
    assert resource_key("aws:///us-east-1a/i-0ABC") == "i-0abc"
    assert resource_key("arn:aws:ec2:us-east-1:1:instance/i-0abc") == "i-0abc"
    assert resource_key("gce://proj/us-central1-a/gke-node-1") == "gke-node-1"
    assert resource_key("//compute.googleapis.com/projects/p/zones/z/instances/gke-node-1") == (
        "gke-node-1"
    )


def test_summary_rows_add_up_and_untagged_comes_last():
    frame = pd.DataFrame(
        [
            ("nlp", "2026-10-01", "2026-10-02", False, "USD", 5.0),
            (UNTAGGED, "2026-10-01", "2026-10-02", False, "USD", 50.0),
            ("research", "2026-10-01", "2026-10-02", False, "USD", 10.0),
            ("research", "2026-10-02", "2026-10-03", True, "USD", 1.0),
            ("eu-team", "2026-10-02", "2026-10-03", False, "EUR", 3.0),
        ],
        columns=["team", "period_start", "period_end", "estimated", "currency", "cost"],
    )
    report = summarize_bill(
        BillData("test", "UnblendedCost", frame),
        ("team",),
        date(2026, 10, 1),
        date(2026, 10, 3),
        "daily",
    )
    assert [r.keys["team"] for r in report.rows] == ["research", "nlp", "eu-team", UNTAGGED]
    assert report.totals == {"USD": 66.0, "EUR": 3.0}
    assert report.currency == "USD"
    research = report.rows[0]
    assert research.estimated and research.cost == 11.0
    assert [p.cost for p in research.periods] == [10.0, 1.0]
    assert sum(r.share for r in report.rows if r.currency == "USD") == pytest.approx(1.0)
