"""``finops costs`` on a second real engine: VictoriaMetrics, reached through a path prefix.

Same sample cluster and ground truth as the Prometheus suite; VictoriaMetrics evaluates subqueries,
``last_over_time`` windows and ``increase()`` its own way (no extrapolation), so agreement here
shows the query library does not lean on one engine's quirks.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.simulate import EXPORTER_NAMESPACE, SampleCluster
from finops_cli.sample.truth import ground_truth, inference_truth, waste_truth
from tests.support.cli import run_finops
from tests.support.gpu_truth import gpus_matching_truth
from tests.support.vmserver import VictoriaMetrics, require_victoria_metrics

pytestmark = pytest.mark.prometheus

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 4, tzinfo=UTC)
STEP = 300


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    yield from _loaded(Path(tmp_path_factory.mktemp("vm")), SampleCluster(9))


@pytest.fixture(scope="module")
def vm_no_hostname(tmp_path_factory):
    """The same cluster with dcgm-exporter's ``--no-hostname``: no host label on its series."""
    cluster = SampleCluster(9, dcgm_host_label=None)
    yield from _loaded(Path(tmp_path_factory.mktemp("vm-no-hostname")), cluster)


def _loaded(workdir: Path, cluster: SampleCluster):
    require_victoria_metrics()
    path = workdir / "cluster.prom"
    write_openmetrics_file(
        cluster.series(int(START.timestamp()) - 6 * 3600, int(END.timestamp()) + 6 * 3600, STEP),
        path,
        timestamp_scale=1000,
    )
    server = VictoriaMetrics(workdir)
    try:
        server.import_prometheus_text(path)
        path.unlink()  # imported; the text is ten times the server's data
        yield server, cluster
    finally:
        server.stop()


def _costs(url: str, *args: str) -> dict:
    result = run_finops(
        "costs",
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-04",
        "--prometheus-url",
        f"{url}/prometheus",
        "-o",
        "json",
        *args,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("flag, key", [("team", "team"), ("gpu-model", "gpu_model")])
def test_costs_match_ground_truth_on_victoriametrics(vm, flag, key):
    server, cluster = vm
    doc = _costs(server.url, "--by", flag)
    truth = ground_truth(cluster, int(START.timestamp()), int(END.timestamp()))
    rows = {r[key]: r for r in doc["rows"]}
    for value, fig in truth.by(key).iterrows():
        row = rows[value or "__unallocated__"]
        assert row["gpu_cost"] == pytest.approx(fig["gpu_cost"], rel=0.005), value
        assert row["gpu_hours"] == pytest.approx(fig["gpu_hours"], rel=0.005), value
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, rel=0.005)
    assert sum(r["gpu_cost"] for r in doc["rows"]) == pytest.approx(
        truth.cluster_gpu_cost, rel=0.005
    )
    # The ledger's waste, sum(price x (1 - busy)) entry by entry, per group and in total.
    wastes = waste_truth(cluster, int(START.timestamp()), int(END.timestamp()), STEP, key)
    for value, waste in wastes.items():
        assert rows[value or "__unallocated__"]["waste"] == pytest.approx(waste, rel=0.005), value
    assert doc["totals"]["waste"] == pytest.approx(
        sum(wastes) + rows["__idle__"]["gpu_cost"], rel=0.005
    )


def test_unit_costs_on_victoriametrics(vm):
    server, cluster = vm
    doc = _costs(server.url, "--unit-costs")
    truth = inference_truth(cluster, int(START.timestamp()), int(END.timestamp()), STEP)
    rows = {r["model"]: r for r in doc["rows"] if r["kind"] == "allocated"}
    for model, fig in truth.iterrows():
        assert rows[model]["requests"] == pytest.approx(fig["requests"], rel=1e-9), model  # exact
        assert rows[model]["gpu_cost"] == pytest.approx(fig["gpu_cost"], rel=0.005), model


def test_namespace_range_shards_parse_and_partition_on_victoriametrics(vm):
    """rightsize's namespace shards are regex ranges; VictoriaMetrics 1.79 rewrites a class that
    starts at NUL into an invalid regex (it refused every shard at 20,000 GPUs). Each shard is
    accepted, and together they count every namespace once."""
    import httpx

    from finops_cli.queries.shards import workload_shards

    server, cluster = vm
    # The workloads' namespaces and dcgm-exporter's own (its pods are in kube_pod_info).
    namespaces = sorted({w.namespace for w in cluster.workloads} | {EXPORTER_NAMESPACE})
    when = int(END.timestamp())

    def count(matcher: str) -> float:
        query = f"count(count by (namespace) (last_over_time(kube_pod_info{{{matcher}}}[1d])))"
        body = httpx.get(
            f"{server.url}/api/v1/query", params={"query": query, "time": when}, timeout=30
        ).json()
        assert body["status"] == "success", body
        result = body["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    total = count('namespace!=""')
    assert total == len(namespaces)
    for parts in (2, 3, 5):
        shards = workload_shards(namespaces, parts)
        assert sum(count(s.matcher("namespace")) for s in shards) == total


def test_no_hostname_gpus_are_placed_by_their_exporter_pods_ip_on_victoriametrics(
    vm_no_hostname,
):
    """VictoriaMetrics evaluates the IP join (``QueryContext.dcgm_node``: a lazy regex in
    ``label_replace``, ``or ignoring (node)``) as Prometheus does: every GPU on its node at its
    node's price, and cost by GPU model from dcgm-exporter's model name."""
    server, cluster = vm_no_hostname
    gpus_matching_truth(f"{server.url}/prometheus", cluster, START, END, STEP)
    by_model = {r["gpu_model"]: r for r in _costs(server.url, "--by", "gpu-model")["rows"]}
    for model, fig in (
        ground_truth(cluster, int(START.timestamp()), int(END.timestamp()))
        .by("gpu_model")
        .iterrows()
    ):
        assert by_model[model or "__unallocated__"]["gpu_cost"] == pytest.approx(
            fig["gpu_cost"], rel=0.005
        ), model
