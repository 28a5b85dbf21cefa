"""GKE without OpenCost: N1 machines with attached GPUs priced from the catalog (issue 21).

GCP bills an N1 VM and its attached GPUs apart, and the node's instance-type label names only the
VM (``n1-standard-4``). kube-state-metrics writes the node's labels as GKE sets them, the beta
instance-type label and ``cloud.google.com/gke-accelerator`` included; finops keys the node
``n1-standard-4+nvidia-tesla-t4``, the catalog row for that machine with its one T4 (a price per
machine, so per GPU it is divided by the row's GPU count). An A2 node, whose GPUs are built in,
is keyed by its machine type alone although GKE labels its accelerator too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_cli.pricing import load_catalog
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.scenario import TEAM_KEY, NodeSpec, Schedule, WorkloadSpec
from finops_cli.sample.simulate import SampleCluster
from tests.support.cli import run_finops

pytestmark = pytest.mark.prometheus

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 2, tzinfo=UTC)
WINDOW = ("--start", "2026-10-01", "--end", "2026-10-02")
STEP = 300
N1 = NodeSpec(
    "gke-ml-gpu-t4-pool-5f3a2c1d-x7k2",
    "n1-standard-4",
    "Tesla T4",
    1,
    15360,
    4,
    15,
    0.54,
    region="us-central1",
    zone="us-central1-a",
    accelerator="nvidia-tesla-t4",
)
A2 = NodeSpec(
    "gke-ml-a100-pool-9b8e7d6c-q4m1",
    "a2-highgpu-1g",
    "NVIDIA A100-SXM4-40GB",
    1,
    40960,
    12,
    85,
    3.673,
    region="us-central1",
    zone="us-central1-b",
    accelerator="nvidia-tesla-a100",
)


def _cluster() -> SampleCluster:
    cast = tuple(
        WorkloadSpec(
            name=f"infer-{node.instance_type}",
            namespace="ml-serving",
            node=node.name,
            gpu_indices=(0,),
            labels={TEAM_KEY: "ml"},
            schedule=Schedule(),
            kind="inference",
            busy_base=0.6,
        )
        for node in (N1, A2)
    )
    return SampleCluster(42, nodes=(N1, A2), cast=cast, with_opencost=False, name="gke")


@pytest.fixture(scope="module")
def prom(prometheus_from_openmetrics, tmp_path_factory):
    start, end = int(START.timestamp()) - 3600, int(END.timestamp()) + 3600
    path = Path(tmp_path_factory.mktemp("gke")) / "gke.om"
    write_openmetrics_file(_cluster().series(start, end, STEP), path)
    return prometheus_from_openmetrics(path, "gke-attached")


def _run(url: str, *args: str) -> dict:
    result = run_finops(*args, *WINDOW, "--prometheus-url", url, "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_n1_with_an_attached_t4_is_priced_without_opencost(prom):
    catalog = load_catalog()
    t4 = catalog.lookup("n1-standard-4+nvidia-tesla-t4", "us-central1", "on-demand")
    a2 = catalog.lookup("a2-highgpu-1g", "us-central1", "on-demand")
    assert t4 is not None and a2 is not None and t4.gpu_count == 1
    doc = _run(prom, "costs", "--by", "node")
    assert not [n for n in doc["notes"] if "no catalog price" in n], doc["notes"]
    assert doc["totals"]["cluster_gpu_cost"] == pytest.approx(
        24 * (t4.per_gpu_hourly + a2.per_gpu_hourly), rel=0.005
    )
    rows = {r["node"]: r for r in doc["rows"] if r["kind"] == "allocated"}
    assert rows[N1.name]["gpu_cost"] == pytest.approx(24 * t4.per_gpu_hourly, rel=0.005)
    assert rows[A2.name]["gpu_cost"] == pytest.approx(24 * a2.per_gpu_hourly, rel=0.005)


def test_pricing_explain_shows_how_the_key_was_built(prom):
    rows = {r["node"]: r for r in _run(prom, "pricing", "explain")["rows"]}
    n1 = rows[N1.name]
    assert n1["catalog_key"] == "n1-standard-4+nvidia-tesla-t4"
    assert "n1-standard-4 (node.kubernetes.io/instance-type)" in n1["catalog_key_from"]
    assert "nvidia-tesla-t4 (cloud.google.com/gke-accelerator)" in n1["catalog_key_from"]
    assert n1["charged_per_gpu"] == pytest.approx(n1["catalog_per_gpu"], rel=1e-6)
    assert n1["catalog_gpus"] == 1 and n1["gpus"] == 1
    assert rows[A2.name]["catalog_key"] == "a2-highgpu-1g"  # built-in GPUs: the machine alone
