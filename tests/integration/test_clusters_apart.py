"""Two clusters behind one Prometheus with the same node and pod names (issue 21).

What a Thanos or Mimir estate looks like when two clusters were built from one template: both
clusters have nodes ``ip-10-0-1-10.ec2.internal`` ... and pods with the same names (same seed),
told apart only by the external ``cluster`` label. West runs without the pre-training job and the
notebook, so its idle differs from east's. Every figure is checked against each cluster's own
ground truth: idle and the invariant per cluster (``costs --by cluster``), one row per GPU and
per workload *per cluster* in ``gpus`` and ``rightsize``, and ``--cluster`` on both.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.scenario import workloads
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import ground_truth
from tests.support.cli import run_finops

pytestmark = pytest.mark.prometheus

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 2, tzinfo=UTC)
WINDOW = ("--start", "2026-10-01", "--end", "2026-10-02")
STEP = 300
DROPPED_IN_WEST = ("llm-pretrain", "jupyter-alice")


def _clusters() -> dict[str, SampleCluster]:
    west_cast = tuple(w for w in workloads() if w.name not in DROPPED_IN_WEST)
    return {
        "east": SampleCluster(42, name="east"),
        "west": SampleCluster(42, name="west", cast=west_cast),
    }


@pytest.fixture(scope="module")
def store(prometheus_from_openmetrics, tmp_path_factory):
    start, end = int(START.timestamp()) - 2 * 3600, int(END.timestamp()) + 2 * 3600

    def series():
        for name, cluster in _clusters().items():
            for s in cluster.series(start, end, STEP):
                yield replace(s, labels=s.labels | {"cluster": name})

    path = Path(tmp_path_factory.mktemp("apart")) / "clusters.om"
    write_openmetrics_file(series(), path)
    return prometheus_from_openmetrics(path, "clusters-apart")


def _run(url: str, command: str, *args: str) -> dict:
    result = run_finops(command, *WINDOW, "--prometheus-url", url, "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _truth(name: str):
    return ground_truth(_clusters()[name], int(START.timestamp()), int(END.timestamp()))


def test_fixture_has_the_same_names_and_different_idle():
    east, west = _truth("east"), _truth("west")
    assert abs(east.idle_gpu_cost - west.idle_gpu_cost) > 0.05 * east.idle_gpu_cost
    clusters = _clusters()
    assert {n.name for n in clusters["east"].nodes} == {n.name for n in clusters["west"].nodes}


@pytest.mark.parametrize("by", [("cluster",), ("cluster", "team")])
def test_idle_and_the_invariant_hold_per_cluster(store, by):
    args = [a for key in by for a in ("--by", key)]
    doc = _run(store, "costs", *args)
    for name in ("east", "west"):
        truth = _truth(name)
        mine = [r for r in doc["rows"] if r["cluster"] == name]
        idle = [r for r in mine if r["kind"] == "idle"]
        assert len(idle) == 1
        assert idle[0]["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, rel=0.005)
        assert sum(r["gpu_cost"] for r in mine) == pytest.approx(truth.cluster_gpu_cost, rel=0.005)
        allocated = sum(r["gpu_cost"] for r in mine if r["kind"] != "idle")
        assert allocated == pytest.approx(truth.allocated_gpu_cost, rel=0.005)
    totals = doc["totals"]
    spend = _truth("east").cluster_gpu_cost + _truth("west").cluster_gpu_cost
    assert totals["gpu_cost"] == pytest.approx(spend, rel=0.005)
    assert totals["cluster_gpu_cost"] == pytest.approx(totals["gpu_cost"], rel=1e-9)
    idle = _truth("east").idle_gpu_cost + _truth("west").idle_gpu_cost
    assert totals["idle_gpu_cost"] == pytest.approx(idle, rel=0.005)


def test_gpus_rows_carry_their_cluster_and_do_not_merge(store):
    doc = _run(store, "gpus")
    clusters = _clusters()
    for name, cluster in clusters.items():
        mine = [r for r in doc["rows"] if r["cluster"] == name]
        assert len(mine) == sum(n.gpu_count for n in cluster.nodes)  # every GPU, once
        assert sum(r["cost"] for r in mine) == pytest.approx(
            _truth(name).cluster_gpu_cost, rel=0.005
        )
    keys = [(r["cluster"], r["node"], r["gpu"], r["mig_instance"]) for r in doc["rows"]]
    assert len(keys) == len(set(keys))
    by_node = _run(store, "gpus", "--by", "node")["rows"]
    assert {(r["cluster"], r["node"]) for r in by_node} == {
        (c, n.name) for c, cluster in clusters.items() for n in cluster.nodes
    }
    east = _run(store, "gpus", "--cluster", "east")["rows"]
    assert {r["cluster"] for r in east} == {"east"}
    assert len(east) == len([r for r in doc["rows"] if r["cluster"] == "east"])


def test_rightsize_rows_carry_their_cluster_and_do_not_merge(store):
    doc = _run(store, "rightsize")
    rows = doc["rows"]
    assert {r["cluster"] for r in rows} == {"east", "west"}
    # The notebook runs in east only: its idle advice is east's, and not doubled.
    notebook = [r for r in rows if r["workload"]["name"].startswith("jupyter-alice")]
    assert notebook and {r["cluster"] for r in notebook} == {"east"}
    # A workload in both clusters (same namespace and name) gets a row per cluster.
    names = {}
    for r in rows:
        key = (r["namespace"], r["workload"]["kind"], r["workload"]["name"], r["action"])
        names.setdefault(key, set()).add(r["cluster"])
    assert any(clusters == {"east", "west"} for clusters in names.values())
    west = _run(store, "rightsize", "--cluster", "west")["rows"]
    assert west and {r["cluster"] for r in west} == {"west"}
