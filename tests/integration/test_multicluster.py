"""Many clusters in one query path: ``--by cluster``, ``--cluster``, and HA replicas not doubled.

Thanos cannot run here, so the store is one real Prometheus holding what a Thanos Query would see
without dedup: two clusters (external label ``cluster``), each scraped by an HA pair (label
``prometheus_replica``). With ``replica_labels`` set, finops collapses the pair at every leaf read
(what Thanos' ``dedup`` does at the store); without it the cost would double.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import ground_truth
from tests.support.cli import run_finops

pytestmark = pytest.mark.prometheus

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 2, tzinfo=UTC)
STEP = 300
CLUSTERS = {"eu-1": 11, "us-1": 12}


@pytest.fixture(scope="module")
def store(prometheus_from_openmetrics, tmp_path_factory):
    start, end = int(START.timestamp()) - 4 * 3600, int(END.timestamp()) + 4 * 3600

    def series():
        for name, seed in CLUSTERS.items():
            for s in SampleCluster(seed, name=name).series(start, end, STEP):
                for replica in ("0", "1"):
                    labels = s.labels | {"cluster": name, "prometheus_replica": replica}
                    yield replace(s, labels=labels)

    path = Path(tmp_path_factory.mktemp("mc")) / "clusters.om"
    write_openmetrics_file(series(), path)
    return prometheus_from_openmetrics(path, "multicluster")


def _costs(url: str, *args: str, replicas: bool = True) -> dict:
    env = {"FINOPS_PROMETHEUS_REPLICA_LABELS": "prometheus_replica"} if replicas else {}
    result = run_finops(
        "costs",
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-02",
        "--prometheus-url",
        url,
        "-o",
        "json",
        *args,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _truth(name: str):
    cluster = SampleCluster(CLUSTERS[name], name=name)
    return ground_truth(cluster, int(START.timestamp()), int(END.timestamp()))


def test_by_cluster_matches_each_clusters_truth(store):
    doc = _costs(store, "--by", "cluster")
    rows = {r["cluster"]: r for r in doc["rows"] if r["kind"] == "allocated"}
    idle = {r["cluster"]: r for r in doc["rows"] if r["kind"] == "idle"}
    for name in CLUSTERS:
        truth = _truth(name)
        assert rows[name]["gpu_cost"] == pytest.approx(truth.allocated_gpu_cost, rel=0.005)
        assert idle[name]["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, rel=0.005)
    total = sum(_truth(n).cluster_gpu_cost for n in CLUSTERS)
    assert doc["totals"]["gpu_cost"] == pytest.approx(total, rel=0.005)


def test_cluster_filter_narrows_everything_including_idle(store):
    doc = _costs(store, "--cluster", "eu-1", "--by", "team")
    truth = _truth("eu-1")
    rows = {r["team"]: r for r in doc["rows"]}
    for team, fig in truth.by("team").iterrows():
        assert rows[team or "__unallocated__"]["gpu_cost"] == pytest.approx(
            fig["gpu_cost"], rel=0.005
        )
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, rel=0.005)


def test_without_replica_labels_an_ha_pair_would_double_the_cost(store):
    deduplicated = _costs(store, "--by", "cluster")["totals"]["allocated_gpu_cost"]
    doubled = _costs(store, "--by", "cluster", replicas=False)["totals"]["allocated_gpu_cost"]
    assert deduplicated == pytest.approx(
        sum(_truth(n).allocated_gpu_cost for n in CLUSTERS), rel=0.005
    )
    assert doubled == pytest.approx(2 * deduplicated, rel=0.005)
