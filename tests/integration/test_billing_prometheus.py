"""``finops billing compare`` through a real Prometheus holding the sample cluster: node prices
integrated on the server match the simulator's, and the planted discrepancies of the sample's
FOCUS bill are found by resource id."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_cli.sample.bill import (
    ON_DEMAND_PRICE,
    OUTSIDE_ID,
    OUTSIDE_TYPE,
    RESERVATION_ID,
    RESERVATION_TYPE,
    SampleBill,
    write_focus,
)
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.simulate import SampleCluster
from finops_cli.settings import PrometheusSettings
from finops_cli.sources.prometheus import PrometheusCostSource
from finops_cli.sources.sample import SampleCostSource
from finops_cli.timewindow import Window
from tests.support.cli import run_finops

pytestmark = pytest.mark.prometheus

SEED = 11
START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 3, tzinfo=UTC)
STEP = 300
LABELS = {"team": "ai-finops.io/team", "project": "p", "model": "m", "environment": "e"}


@pytest.fixture(scope="module")
def backend(prometheus_from_openmetrics, tmp_path_factory):
    cluster = SampleCluster(SEED)
    folder = Path(tmp_path_factory.mktemp("billing"))
    path = folder / "cluster.om"
    lo, hi = int(START.timestamp()) - 3600, int(END.timestamp()) + 3600
    write_openmetrics_file(cluster.series(lo, hi, STEP), path)
    url = prometheus_from_openmetrics(path, "billing")
    bill = folder / "bill.parquet"
    items = SampleBill(cluster).line_items(START, END, datetime(2026, 11, 15, tzinfo=UTC))
    write_focus(items, bill, file_format="parquet")
    return url, cluster, bill


def test_node_costs_match_the_simulator(backend):
    url, cluster, _ = backend
    window = Window(START, END, "2d")
    source = PrometheusCostSource(PrometheusSettings(url=url), LABELS, sample_interval_s=STEP)
    try:
        real = source.node_costs(window).set_index("node").sort_index()
    finally:
        source.close()
    truth = (
        SampleCostSource(LABELS, cluster=cluster, sample_interval_s=STEP)
        .node_costs(window)
        .set_index("node")
        .sort_index()
    )
    assert real.index.tolist() == truth.index.tolist()
    for column in ("instance_type", "capacity_type", "region", "provider_id"):
        assert real[column].tolist() == truth[column].tolist(), column
    for column in ("hours", "gpu_cost", "instance_cost", "gpu_count"):
        assert real[column].to_numpy() == pytest.approx(truth[column].to_numpy(), abs=0.01), column


def test_compare_through_prometheus_and_focus(backend):
    url, _, bill = backend
    result = run_finops(
        "billing",
        "compare",
        "--prometheus-url",
        url,
        "--sample-interval",
        f"{STEP}s",
        "--focus",
        bill,
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-03",
        "-o",
        "json",
        "-q",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["source"] == "prometheus" and doc["bill_source"] == "focus"
    flagged = {r["group"]: r for r in doc["rows"] if r["flagged"]}
    # and the sample bill's idle g5.12xlarge capacity reservation: billed, run by no node
    assert set(flagged) == {"p5.48xlarge", "g6.xlarge", OUTSIDE_TYPE, RESERVATION_TYPE}
    assert flagged[OUTSIDE_TYPE]["outside_resources"] == [OUTSIDE_ID]
    assert flagged[RESERVATION_TYPE]["outside_resources"] == [RESERVATION_ID]
    reserved = ON_DEMAND_PRICE[RESERVATION_TYPE] * 48
    assert flagged[RESERVATION_TYPE]["difference"] == pytest.approx(reserved, abs=0.01)
    honest = next(r for r in doc["rows"] if r["group"] == "g5.xlarge")
    assert honest["difference"] == pytest.approx(0.0, abs=0.01)
