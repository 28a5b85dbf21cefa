"""``finops rightsize`` through a real Prometheus: savings on the measured cost, and capacity
nobody holds (a whole node no pod ever used, and the sample's four unheld H100s) advised with
its idle cost, against the simulator's truth.

The cluster is the sample plus one p4d node that no pod is ever scheduled on, written by the
simulator as the real exporters write it (dcgm-exporter reports its GPUs with an empty ``pod``
label; kube-state-metrics its node labels, Karpenter's NodePool among them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.scenario import NODES, NodeSpec
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import gpu_truth, pod_truth
from tests.support.cli import run_finops

pytestmark = pytest.mark.prometheus

START = datetime(2026, 11, 20, tzinfo=UTC)
END = datetime(2026, 11, 23, tzinfo=UTC)
WINDOW = ("--start", "2026-11-20", "--end", "2026-11-23")
STEP = 300
MONTH = 730 / 72
UNUSED = NodeSpec(
    "ip-10-0-9-90.ec2.internal", "p4d.24xlarge", "NVIDIA A100-SXM4-40GB", 8, 40960, 96, 1152,
    21.957642,
)  # fmt: skip


VARIANTS = {
    "released": {},
    "honor-labels-false": {"dcgm_honor_labels": False, "dcgm_host_label": "hostname"},
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def cluster_url(request, prometheus_from_openmetrics, tmp_path_factory):
    cluster = SampleCluster(7, nodes=(*NODES, UNUSED), **VARIANTS[request.param])
    path = Path(tmp_path_factory.mktemp("rightsize")) / "cluster.om"
    start, end = int(START.timestamp()), int(END.timestamp())
    write_openmetrics_file(cluster.series(start - 6 * 3600, end + 6 * 3600, STEP), path)
    return cluster, prometheus_from_openmetrics(path, f"rightsize-{request.param}")


def _json(url: str, *args: str) -> dict:
    result = run_finops(*args, *WINDOW, "--prometheus-url", url, "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_capacity_no_pod_used_is_removed_at_its_idle_cost(cluster_url):
    cluster, url = cluster_url
    rows = _json(url, "rightsize")["rows"]
    savings = [r["monthly_savings"] for r in rows]
    assert savings == sorted(savings, reverse=True)
    truth = gpu_truth(cluster, int(START.timestamp()), int(END.timestamp()), STEP)
    truth["share"] = truth["held_hours"] / truth["present_hours"]
    capacity = {r["node"]: r for r in rows if r["action"] in ("remove", "scale-down")}
    assert set(capacity) == {UNUSED.name, "ip-10-0-1-11.ec2.internal"}

    unused = capacity[UNUSED.name]
    expected = float(truth[truth["node"] == UNUSED.name]["cost"].sum())
    assert expected > 0
    assert unused["action"] == "remove"
    assert unused["idle_cost"] == pytest.approx(expected, rel=0.01)
    assert unused["monthly_savings"] == pytest.approx(expected * MONTH, rel=0.01)
    assert (unused["idle_gpus"], unused["node_gpus"]) == (8, 8)
    assert unused["gpu_model"] == "NVIDIA A100-SXM4-40GB"
    assert unused["node_pool"] == "gpu-p4d-on-demand"
    assert unused["current"] == "p4d.24xlarge (on-demand)"

    h100 = capacity["ip-10-0-1-11.ec2.internal"]
    idle = truth[(truth["node"] == "ip-10-0-1-11.ec2.internal") & (truth["share"] < 0.1)]
    assert h100["action"] == "scale-down" and (h100["idle_gpus"], h100["node_gpus"]) == (4, 8)
    assert h100["idle_cost"] == pytest.approx(
        float((idle["cost"] * (1 - idle["share"])).sum()), rel=0.01
    )
    assert h100["node_pool"] == "gpu-p5-on-demand"


def test_the_idle_notebook_saves_its_measured_cost(cluster_url):
    cluster, url = cluster_url
    rows = _json(url, "rightsize")["rows"]
    notebook = next(r for r in rows if r["action"] == "terminate")
    assert notebook["workload"]["name"] == "jupyter-alice"
    pods = pod_truth(cluster, int(START.timestamp()), int(END.timestamp()), STEP)
    truth = float(pods[pods["pod"].str.startswith("jupyter-alice")]["cost"].sum())
    assert notebook["monthly_savings"] == pytest.approx(truth * MONTH, rel=0.01)
    # ... which is what `costs` charges its namespace (the notebook is all of sandbox).
    costs = _json(url, "costs", "--by", "namespace")
    sandbox = next(r for r in costs["rows"] if r["namespace"] == "sandbox")
    assert notebook["window_cost"] == pytest.approx(sandbox["gpu_cost"], rel=0.01)
