"""``rightsize`` on time-sliced replicas through a real Prometheus, against the simulator's truth.

The sharing fleet's replica nodes (``sample.sharing.REPLICA_NODES``): ``embed-batch`` holds three
of the four replicas of an L40S and uses about a tenth of it (fewer replicas: one, saving two
thirds of its measured cost); two single-T4 nodes of one pool hold three of their eight replicas
and a third of one card's work (consolidate: free the less-held node's GPU, saving its cost).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_cli.pricing import load_catalog
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.sharing import (
    REPLICA_NODES,
    SHARING_NODES,
    replica_workloads,
    sharing_workloads,
)
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import ground_truth
from tests.support.cli import run_finops

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 5, tzinfo=UTC)
WINDOW = ("--start", "2026-10-01", "--end", "2026-10-05")
FEWER, PACKED, SPREAD = (n.name for n in REPLICA_NODES)
MONTH = 730 / 96


@pytest.fixture(scope="module")
def replicas_prometheus(prometheus_from_openmetrics, tmp_path_factory):
    cluster = SampleCluster(
        42,
        nodes=SHARING_NODES + REPLICA_NODES,
        cast=sharing_workloads() + replica_workloads(),
        with_opencost=False,
    )
    path = Path(tmp_path_factory.mktemp("sharing-replicas")) / "cluster.om"
    pad = 3600
    write_openmetrics_file(
        cluster.series(int(START.timestamp()) - pad, int(END.timestamp()) + pad, 300), path
    )
    return prometheus_from_openmetrics(path, "sharing-replicas"), cluster


def _catalog_price(node, instants):
    price = load_catalog().lookup(node.instance_type, node.region, node.capacity_type)
    return instants * 0.0 + float(price.per_gpu_hourly)


@pytest.fixture(scope="module")
def rightsize(replicas_prometheus):
    url, cluster = replicas_prometheus
    result = run_finops("rightsize", *WINDOW, "--prometheus-url", url, "-o", "json")
    assert result.returncode == 0, result.stderr
    truth = ground_truth(
        cluster, int(START.timestamp()), int(END.timestamp()), gpu_price=_catalog_price
    )
    return json.loads(result.stdout), truth


@pytest.mark.prometheus
def test_a_workload_holding_more_replicas_than_it_uses_gets_fewer(rightsize):
    doc, truth = rightsize
    (rec,) = [r for r in doc["rows"] if r["action"] == "fewer-replicas"]
    assert rec["workload"] == {"kind": "Deployment", "name": "embed-batch"}
    assert (rec["replicas"], rec["replicas_held"], rec["target_replicas"]) == (4, 3, 1)
    assert rec["current"] == "3 of 4 replicas of NVIDIA L40S (time-slicing)"
    cost = truth.pods[truth.pods["pod"].str.startswith("embed-batch")]["gpu_cost"].sum()
    assert cost > 0
    assert rec["window_cost"] == pytest.approx(cost, rel=0.005)
    assert rec["monthly_savings"] == pytest.approx(cost * MONTH * 2 / 3, rel=0.005)


@pytest.mark.prometheus
def test_a_pool_of_time_sliced_gpus_that_fits_fewer_is_consolidated(rightsize):
    doc, _ = rightsize
    pools = [r for r in doc["rows"] if r["workload"]["kind"] == "NodePool"]
    (rec,) = pools
    assert rec["action"] == "consolidate"
    assert rec["workload"]["name"] == "gpu-g4dn-on-demand"
    assert rec["free_gpus"] == [f"{SPREAD}/0"] and rec["free_nodes"] == [SPREAD]
    assert (rec["node_gpus"], rec["target_gpus"], rec["replicas_held"]) == (2, 1, 3)
    freed = 0.526 * 96  # the T4's catalog $/GPU-h over the window: it is paid whoever holds it
    assert rec["window_cost"] == pytest.approx(freed, rel=0.005)
    assert rec["monthly_savings"] == pytest.approx(freed * MONTH, rel=0.005)


@pytest.mark.prometheus
def test_busy_time_sliced_workloads_keep_their_replicas(rightsize):
    """thumbnailer and clip-embed hold two replicas each of GPUs that are about half busy: two
    replicas of four are what a 50% busy p95 needs at 70%. The replica nodes are not idle."""
    doc, _ = rightsize
    names = {r["workload"]["name"] for r in doc["rows"] if r["action"] == "fewer-replicas"}
    assert names == {"embed-batch"}
    nodes = {r["workload"]["name"] for r in doc["rows"] if r["workload"]["kind"] == "Node"}
    assert not nodes & {FEWER, PACKED, SPREAD}
