"""Chargeback with the bill: commitment discounts shared to the groups that used the covered
hours (by their GPU-hours on the family's nodes), unused commitment a row of its own.

Ground truth: the sample cluster (``sample/truth.py``: each pod's node and GPU-hours) and its
bill (a Savings Plan covering every p5.48xlarge hour at 28% off), and the FOCUS 1.2 fixture of
``tests/support/focus_commitments.py`` (unused Savings Plan and Capacity Block hours).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from finops_cli.analytics.chargeback_commitments import ledger_hours, share_commitments
from finops_cli.analytics.commitments import commitment_report
from finops_cli.render import chargeback as render
from finops_cli.sample.bill import (
    ON_DEMAND_PRICE,
    RESERVATION_TYPE,
    SAVINGS_PLAN_DISCOUNT,
    SAVINGS_PLAN_HOURLY,
    SampleBill,
    focus_rows,
)
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import ground_truth
from finops_cli.sources.focus_commitments import FocusCommitments, records_frame
from finops_cli.sources.sample import SampleCostSource
from finops_cli.timewindow import Window
from tests.support import focus_commitments as fx
from tests.support.chargeback import LABELS, chargeback_doc, sample_report
from tests.support.chargeback import period as custom_period

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 4, tzinfo=UTC)
WINDOW = Window(START, END, "t")
PERIOD = custom_period(START, END, datetime(2026, 9, 28, tzinfo=UTC))


def _source():
    return SampleCostSource(LABELS)


def _costs(keys):
    return sample_report(START, END, keys)


@pytest.fixture(scope="module")
def ledger():
    return _costs(("team",)), _costs(("team", "node")), _source().node_costs(WINDOW)


def _sample_bill():
    items = SampleBill(seed=42).line_items(START, END, END)
    return records_frame(focus_rows(items), date(2026, 10, 1), date(2026, 10, 4))


def _doc(report, shared, share="none"):
    return chargeback_doc(report, period=PERIOD, share=share, commitments=shared)


def test_sample_savings_plan_discount_goes_to_the_teams_on_p5_by_gpu_hours(ledger):
    report, by_node, nodes = ledger
    shared = share_commitments(_sample_bill(), ledger_hours(by_node, "team"), nodes, "sample")
    cluster = SampleCluster(42)
    truth = ground_truth(cluster, int(START.timestamp()), int(END.timestamp()))
    p5 = {n.name for n in cluster.nodes if n.instance_type == "p5.48xlarge"}
    hours = len(truth.nodes) and (END - START).total_seconds() / 3600
    on_demand = sum(n.hourly_price for n in cluster.nodes if n.name in p5) * hours
    discount = SAVINGS_PLAN_DISCOUNT * on_demand
    capacity = float(truth.nodes[truth.nodes["node"].isin(p5)]["capacity_gpu_hours"].sum())
    on_p5 = truth.pods[truth.pods["node"].isin(p5)]
    per_team = on_p5.groupby("team")["gpu_hours"].sum()
    assert len(per_team) >= 1

    doc = _doc(report, shared)
    rows = {r["team"]: r for r in doc["rows"]}
    assert doc["summary"]["commitment_discount"] == pytest.approx(discount, abs=0.01)
    for team, team_hours in per_team.items():
        want = discount * team_hours / capacity
        assert rows[team or "__unallocated__"]["commitment_discount"] == pytest.approx(
            want, abs=0.01
        ), team
    idle_hours = capacity - float(on_p5["gpu_hours"].sum())
    assert rows["__idle__"]["commitment_discount"] == pytest.approx(
        discount * idle_hours / capacity, abs=0.01
    )
    for team in set(rows) - {*per_team.index, "__idle__", "__unused_commitment__"}:
        assert rows[team]["commitment_discount"] == 0.0  # ran nothing on p5: no discount
    # every row: net = total - discount; the shares add up to the discount
    parts = [r for r in doc["rows"] if r["kind"] != "unused_commitment"]
    assert sum(r["commitment_discount"] for r in parts) == pytest.approx(discount, abs=0.01)
    for r in parts:
        assert r["net_cost"] == pytest.approx(r["total_cost"] - r["commitment_discount"], abs=1e-5)
    unused = rows["__unused_commitment__"]
    # the sample's planted waste: the Savings Plan's commitment above what both p5 nodes use,
    # and the g5.12xlarge capacity reservation idle every hour
    sp_unused = (SAVINGS_PLAN_HOURLY * hours) - on_demand * (1 - SAVINGS_PLAN_DISCOUNT)
    reserved = ON_DEMAND_PRICE[RESERVATION_TYPE] * hours
    assert unused["kind"] == "unused_commitment"
    assert unused["net_cost"] == pytest.approx(sp_unused + reserved, abs=0.01)
    assert doc["summary"]["net_cost"] == pytest.approx(
        sum(r["net_cost"] for r in doc["rows"]), abs=1e-4
    )
    assert doc["sections"]["commitments"] is True
    assert doc["commitments"]["families"][0]["family"] == "p5"


def test_focus_unused_commitment_is_its_own_line_not_idle(ledger, tmp_path):
    report, by_node, nodes = ledger
    path = fx.write_csv(fx.aws_rows(), fx.AWS_COLUMNS, tmp_path / "aws.csv", "NULL")
    bill = FocusCommitments(path).rows(date(2026, 10, 1), date(2026, 10, 4))
    shared = share_commitments(bill, ledger_hours(by_node, "team"), nodes, "focus")
    expected_unused = commitment_report(bill).unused
    assert expected_unused > 0
    doc = _doc(report, shared)
    rows = {r["team"]: r for r in doc["rows"]}
    assert rows["__unused_commitment__"]["net_cost"] == pytest.approx(expected_unused, abs=0.01)
    assert doc["summary"]["unused_commitment"] == pytest.approx(expected_unused, abs=0.01)
    # idle's figures are the ledger's, untouched by the unused money
    assert rows["__idle__"]["total_cost"] == pytest.approx(report.totals.idle_gpu_cost, abs=1e-5)
    lines = {u["id"]: u for u in doc["commitments"]["unused_lines"]}
    assert fx.SP_ARN in lines and fx.CB in lines
    # the p5 discount: ListCost - EffectiveCost of the used commitment rows, by an independent sum
    raw = [
        r
        for r in fx.aws_rows()
        if r.get("CommitmentDiscountStatus") == "Used"
        and "p5.48xlarge" in r["x_UsageType"]
        and r.get("ListCost")  # a row without ListCost gives no discount (a note says so)
    ]
    want = sum(float(r["ListCost"]) - float(r["EffectiveCost"]) for r in raw)
    p5 = next(f for f in doc["commitments"]["families"] if f["family"] == "p5")
    assert p5["discount"] == pytest.approx(want, abs=0.01)
    assert sum(p5["shares"].values()) == pytest.approx(want, abs=0.01)
    assert doc["summary"]["net_cost"] == pytest.approx(
        doc["summary"]["total_cost"] - doc["summary"]["commitment_discount"] + expected_unused,
        abs=1e-4,
    )


def test_proportional_moves_idles_discount_with_its_cost(ledger):
    report, by_node, nodes = ledger
    shared = share_commitments(_sample_bill(), ledger_hours(by_node, "team"), nodes, "sample")
    doc = _doc(report, shared, share="proportional")
    parts = [r for r in doc["rows"] if r["kind"] == "allocated"]
    assert sum(r["commitment_discount"] for r in parts) == pytest.approx(
        doc["summary"]["commitment_discount"], abs=0.01
    )


def test_without_a_bill_the_report_is_unchanged(ledger):
    report, _, _ = ledger
    doc = _doc(report, None)
    assert "commitments" not in doc and "commitments" not in doc["sections"]
    assert all("commitment_discount" not in r for r in doc["rows"])
    assert "net_cost" not in doc["summary"]


def test_renderings_show_the_discount_and_the_unused_line(ledger, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    from finops_cli.render.chargeback_pdf import render_pdf

    report, by_node, nodes = ledger
    path = fx.write_csv(fx.aws_rows(), fx.AWS_COLUMNS, tmp_path / "aws.csv", "NULL")
    bill = FocusCommitments(path).rows(date(2026, 10, 1), date(2026, 10, 4))
    doc = _doc(report, share_commitments(bill, ledger_hours(by_node, "team"), nodes, "focus"))
    rows = list(csv.reader(io.StringIO(render.render_csv(doc))))
    assert rows[0][-2:] == ["commitment_discount", "net_cost"]
    assert any(r[0] == "__unused_commitment__" and r[1] == "unused_commitment" for r in rows)
    assert len({len(r) for r in rows}) == 1
    html = render.render_html(doc)
    assert "__unused_commitment__" in html and "Commitment discount" in html
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(doc))).pages)
    assert "__unused_commitment__" in text
    assert f"{doc['summary']['unused_commitment']:,.2f}" in text
