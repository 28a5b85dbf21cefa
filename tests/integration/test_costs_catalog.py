"""A cluster without OpenCost: GPUs from kube-state-metrics, priced from the bundled catalog.

The truth is the simulator's schedule priced with the same catalog rows (per-GPU = instance
price / GPU count; spot nodes at the catalog's spot figure), computed independently of PromQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from finops_cli.pricing import load_catalog
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import ground_truth
from tests.support.cli import run_finops

pytestmark = pytest.mark.prometheus

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def no_opencost(prometheus_from_openmetrics, tmp_path_factory):
    cluster = SampleCluster(5, with_opencost=False)
    path = Path(tmp_path_factory.mktemp("nooc")) / "cluster.om"
    series = cluster.series(int(START.timestamp()) - 3600, int(END.timestamp()) + 3600, 300)
    write_openmetrics_file(series, path)
    return prometheus_from_openmetrics(path, "no-opencost"), cluster


def test_costs_fall_back_to_catalog_prices(no_opencost):
    url, cluster = no_opencost
    catalog = load_catalog()

    def catalog_price(node, instants):
        price = catalog.lookup(node.instance_type, node.region, node.capacity_type)
        assert price is not None, node.instance_type
        return np.full(len(instants), price.per_gpu_hourly)

    truth = ground_truth(cluster, int(START.timestamp()), int(END.timestamp()), catalog_price)
    result = run_finops(
        "costs",
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-03",
        "--prometheus-url",
        url,
        "-o",
        "json",
    )
    assert result.returncode == 0, result.stderr
    assert "pricing catalog" in result.stderr
    doc = json.loads(result.stdout)
    rows = {r["team"]: r for r in doc["rows"]}
    for team, fig in truth.by("team").iterrows():
        assert rows[team or "__unallocated__"]["gpu_cost"] == pytest.approx(
            fig["gpu_cost"], rel=0.005
        ), team
        assert rows[team or "__unallocated__"]["gpu_hours"] == pytest.approx(
            fig["gpu_hours"], rel=0.005
        ), team
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, rel=0.005)
    assert doc["totals"]["gpu_cost"] == pytest.approx(truth.cluster_gpu_cost, rel=0.005)
    assert doc["totals"]["cpu_ram_cost"] is None  # OpenCost's CPU/RAM split is not invented


@pytest.mark.parametrize("step", [900, 30])
def test_scrape_interval_is_detected(prometheus_from_openmetrics, tmp_path_factory, step):
    """15-minute and 30-second scrapes, without --sample-interval: the figures still match."""
    cluster = SampleCluster(6)
    start, end = datetime(2026, 10, 1, 12, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)
    path = Path(tmp_path_factory.mktemp(f"step{step}")) / "cluster.om"
    series = cluster.series(int(start.timestamp()) - 7 * 3600, int(end.timestamp()) + 600, step)
    write_openmetrics_file(series, path)
    url = prometheus_from_openmetrics(path, f"step-{step}")
    result = run_finops(
        "costs",
        "--start",
        "2026-10-01T12:00:00Z",
        "--end",
        "2026-10-02",
        "--prometheus-url",
        url,
        "-o",
        "json",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["sample_interval_seconds"] == step
    truth = ground_truth(cluster, int(start.timestamp()), int(end.timestamp()))
    rows = {r["team"]: r for r in doc["rows"]}
    for team, fig in truth.by("team").iterrows():
        assert rows[team or "__unallocated__"]["gpu_cost"] == pytest.approx(
            fig["gpu_cost"], rel=0.005
        ), team
