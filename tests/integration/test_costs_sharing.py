"""Shared and fractional GPUs (issue 19) through real engines, against the simulator's truth.

The sharing fleet (``sample.sharing``) writes MIG (mixed and single strategy), time-slicing with
dcgm-exporter's per-pod copies, MPS, HAMi, KAI fractions and DRA claims exactly as the exporters
do. Each pod is charged its allocated share of the physical GPU; the truth is computed from the
schedules, never from the samples.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from finops_cli.pricing import load_catalog
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.sharing import SHARING_NODES, sharing_workloads
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import ground_truth, holder_truth, waste_truth
from tests.support.cli import run_finops
from tests.support.hami import check_hami_holders
from tests.support.vmserver import VictoriaMetrics, require_victoria_metrics

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 5, tzinfo=UTC)
STEP = 300
WINDOW = ("--start", "2026-10-01", "--end", "2026-10-05")
MIXED, SINGLE, SLICED, MPS, HAMI, KAI, DRA, DRA_MIG = (n.name for n in SHARING_NODES)


def _cluster(with_opencost: bool) -> SampleCluster:
    return SampleCluster(
        42, nodes=SHARING_NODES, cast=sharing_workloads(), with_opencost=with_opencost
    )


def _series(cluster: SampleCluster, pad_s: int = 3600):
    return cluster.series(int(START.timestamp()) - pad_s, int(END.timestamp()) + pad_s, STEP)


def _prometheus(start_server, tmp_path_factory, with_opencost: bool):
    name = "sharing-opencost" if with_opencost else "sharing-catalog"
    cluster = _cluster(with_opencost=with_opencost)
    path = Path(tmp_path_factory.mktemp(name)) / "cluster.om"
    write_openmetrics_file(_series(cluster), path)
    return start_server(path, name), cluster


@pytest.fixture(scope="module")
def catalog_prometheus(prometheus_from_openmetrics, tmp_path_factory):
    return _prometheus(prometheus_from_openmetrics, tmp_path_factory, with_opencost=False)


@pytest.fixture(scope="module")
def opencost_prometheus(prometheus_from_openmetrics, tmp_path_factory):
    return _prometheus(prometheus_from_openmetrics, tmp_path_factory, with_opencost=True)


@pytest.fixture(scope="module")
def catalog_victoriametrics(tmp_path_factory):
    require_victoria_metrics()
    workdir = Path(tmp_path_factory.mktemp("sharing-vm"))
    cluster = _cluster(with_opencost=False)
    path = workdir / "cluster.prom"
    write_openmetrics_file(_series(cluster, 6 * 3600), path, timestamp_scale=1000)
    server = VictoriaMetrics(workdir)
    try:
        server.import_prometheus_text(path)
        path.unlink()  # imported; the text is ten times the server's data
        yield server.url, cluster
    finally:
        server.stop()


def _catalog_truth(cluster: SampleCluster):
    catalog = load_catalog()

    def catalog_price(node, instants):
        price = catalog.lookup(node.instance_type, node.region, node.capacity_type)
        assert price is not None and price.per_gpu_hourly is not None, node.instance_type
        return np.full(len(instants), price.per_gpu_hourly)

    return ground_truth(cluster, int(START.timestamp()), int(END.timestamp()), catalog_price)


def _opencost_truth(cluster: SampleCluster):
    return ground_truth(cluster, int(START.timestamp()), int(END.timestamp()))


def _run(command: str, url: str, *args: str) -> dict:
    result = run_finops(command, *WINDOW, "--prometheus-url", url, "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    assert "shared GPUs found" in result.stderr
    assert "over-subscribed" not in result.stderr  # HAMi's split devices are not a false alarm
    return json.loads(result.stdout)


def _check_groupings(url: str, truth) -> None:
    for key in ("team", "namespace", "model"):
        doc = _run("costs", url, "--by", key)
        rows = {r[key]: r for r in doc["rows"] if r[key] not in ("__unallocated__", "__idle__")}
        expected = truth.by(key)
        for value, want in expected.iterrows():
            if want["gpu_cost"] == 0 and value not in rows:
                continue
            label = value or "__unallocated__"
            got = rows.get(value) or next(r for r in doc["rows"] if r[key] == label)
            assert got["gpu_cost"] == pytest.approx(want["gpu_cost"], rel=0.005), (key, value)
            assert got["gpu_hours"] == pytest.approx(want["gpu_hours"], rel=0.005), (key, value)
        # The invariant: rows + __unallocated__ + __idle__ = the cluster's GPU spend, to the cent.
        spent = sum(r["gpu_cost"] for r in doc["rows"])
        assert spent == pytest.approx(doc["totals"]["cluster_gpu_cost"], abs=0.01)
        assert doc["totals"]["cluster_gpu_cost"] == pytest.approx(truth.cluster_gpu_cost, rel=0.005)
        idle = next(r for r in doc["rows"] if r[key] == "__idle__")
        assert idle["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, rel=0.005)
        for row in doc["rows"]:  # no share is counted twice: waste never exceeds cost
            if row.get("waste") is not None:
                assert row["waste"] <= row["gpu_cost"] + 1e-6, row


@pytest.mark.prometheus
def test_shares_cost_like_the_truth_without_opencost(catalog_prometheus):
    url, cluster = catalog_prometheus
    _check_groupings(url, _catalog_truth(cluster))


@pytest.mark.prometheus
def test_shares_cost_like_the_truth_with_opencost(opencost_prometheus):
    url, cluster = opencost_prometheus
    _check_groupings(url, _opencost_truth(cluster))


@pytest.mark.victoriametrics
def test_shares_cost_like_the_truth_on_victoriametrics(catalog_victoriametrics):
    url, cluster = catalog_victoriametrics
    _check_groupings(url, _catalog_truth(cluster))


@pytest.mark.prometheus
def test_gpus_list_each_physical_gpu_holders_and_shares(catalog_prometheus):
    url, cluster = catalog_prometheus
    doc = _run("gpus", url)
    truth = _catalog_truth(cluster)
    physical: dict[tuple[str, str], float] = {}
    holders: dict[tuple[str, str], set[str]] = {}
    for row in doc["rows"]:
        key = (row["node"], row["gpu"])
        for holder in row["holders"]:
            physical[key] = physical.get(key, 0.0) + holder["share"]
            holders.setdefault(key, set()).add(holder["pod"])
    assert physical, "no holders listed"
    assert max(physical.values()) <= 1 + 1e-6
    # Every pod the truth charges holds a share of some GPU in `gpus`, except those
    # dcgm-exporter cannot map: on an MPS GPU outside virtual-GPU mode all but the one pod whose
    # labels the series carry. KAI's fractional pods are found through their reservation pod's
    # GPU group, HAMi's through HAMi's scheduler metrics, and a KAI pod holding a fraction of
    # several GPUs (no ``runai-gpu-group`` label) through its node's GPUs whose groups no pod's
    # label names.
    pods = truth.pods[truth.pods["gpu_cost"] > 0]
    listed = set().union(*holders.values())
    mapped = set(pods.loc[~pods["node"].isin([MPS]), "pod"])
    assert mapped <= listed
    assert len(set(pods.loc[pods["node"] == MPS, "pod"]) & listed) >= 1
    check_hami_holders(doc, cluster, START, END)
    # The KAI node's holders hold what the truth says, GPU by GPU, share-hour for share-hour:
    # the pod at 0.5 of 2 GPUs (mixtral-8x7b) holds 0.5 of GPU 2 and 0.5 of GPU 3.
    exact = holder_truth(cluster, int(START.timestamp()), int(END.timestamp()))
    kai = exact[exact["node"] == KAI].assign(h=lambda f: f["share"] * f["held_hours"])
    kai_truth = kai.groupby(["gpu", "pod"])["h"].sum()
    got: dict[tuple[int, str], float] = {}
    shares: dict[tuple[int, str], float] = {}
    for row in doc["rows"]:
        if row["node"] != KAI:
            continue
        for h in row["holders"]:
            got[(int(row["gpu"]), h["pod"])] = h["share_hours"]
            shares[(int(row["gpu"]), h["pod"])] = h["share"]
    assert set(got) == set(kai_truth.index)
    for key, want in kai_truth.items():
        assert got[key] == pytest.approx(want, rel=0.01), key
    moe: dict[int, float] = {}
    for (gpu, pod), hours in got.items():
        if pod.startswith("moe-eval-"):
            moe[gpu] = moe.get(gpu, 0.0) + hours
    assert set(moe) == {2, 3}, moe
    held = float(kai[kai["pod"].str.startswith("moe-eval-")]["held_hours"].sum()) / 2
    for hours in moe.values():  # 0.5 of each of its GPUs while it runs
        assert hours / held == pytest.approx(0.5, rel=0.01)
    moe_cost = pods[pods["pod"].str.startswith("moe-eval-")]["gpu_hours"].sum()
    assert sum(moe.values()) == pytest.approx(moe_cost, rel=0.01)  # what `costs` charges
    assert all(0 < shares[(gpu, pod)] <= 0.5 for gpu, pod in got if pod.startswith("moe-eval-"))
    # gpus' total cost is the cluster's GPU spend (each physical GPU paid once).
    assert doc["totals"]["cost"] == pytest.approx(truth.cluster_gpu_cost, rel=0.005)


@pytest.mark.prometheus
def test_a_dra_pod_is_a_holder_not_idle(catalog_prometheus):
    url, cluster = catalog_prometheus
    truth = _catalog_truth(cluster)
    dra = truth.pods[truth.pods["node"].isin([DRA, DRA_MIG])]
    assert len(dra) and dra["gpu_cost"].sum() > 0
    doc = _run("costs", url, "--by", "namespace", "--by", "node")
    for (namespace, node), want in dra.groupby(["namespace", "node"])["gpu_cost"].sum().items():
        got = next(r for r in doc["rows"] if r["namespace"] == namespace and r["node"] == node)
        assert got["gpu_cost"] == pytest.approx(want, rel=0.005)
    gpus = _run("gpus", url)
    whole = [r for r in gpus["rows"] if r["node"] == DRA]
    assert all(r["state"] != "unallocated" for r in whole if r["holders"])
    assert any(r["holders"] for r in whole)


@pytest.mark.prometheus
def test_unit_costs_move_served_shares_with_their_waste(catalog_prometheus):
    """A serving pod without a model label, on a shared GPU, moves its share of the cost and of
    the ledger's waste onto the model its server reports; the totals do not move."""
    url, _ = catalog_prometheus
    plain = _run("costs", url, "--by", "model")
    doc = _run("costs", url, "--by", "model", "--unit-costs")
    assert sum(r["gpu_cost"] for r in doc["rows"]) == pytest.approx(
        plain["totals"]["cluster_gpu_cost"], abs=0.01
    )
    assert sum(r["waste"] or 0.0 for r in doc["rows"]) == pytest.approx(
        plain["totals"]["waste"], abs=0.01
    )
    served = next(r for r in doc["rows"] if r["model"] == "trocr-base-onnx")
    assert 0 < served["waste"] <= served["gpu_cost"]


@pytest.mark.prometheus
def test_rightsize_resizes_a_quiet_mig_instance_and_frees_unheld_hami_gpus(catalog_prometheus):
    """asr-stream (busy p95 about 30% of a 2g.20gb, 10 GiB peak) fits a 1g.20gb: half its
    measured cost saved. The HAMi node's pods are not labelled by dcgm-exporter, but HAMi's
    scheduler says which GPUs they hold: the two nobody holds are called free, their cost saved
    (without those metrics none would be: tests/integration/test_gpus_hami.py)."""
    url, cluster = catalog_prometheus
    result = run_finops("rightsize", *WINDOW, "--prometheus-url", url, "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    mig = next(r for r in doc["rows"] if r["workload"]["name"] == "asr-stream")
    assert (mig["action"], mig["current"], mig["target"]) == (
        "downsize", "MIG 2g.20gb (A100 80GB)", "MIG 1g.20gb",
    )  # fmt: skip
    truth = _catalog_truth(cluster).pods
    cost = truth[truth["pod"].str.startswith("asr-stream")]["gpu_cost"].sum()
    month = 730 / 96
    assert mig["monthly_savings"] == pytest.approx(cost * month / 2, rel=0.005)
    nodes = {r["workload"]["name"]: r for r in doc["rows"] if r["workload"]["kind"] == "Node"}
    assert MIXED in nodes
    hami = nodes[HAMI]
    assert (hami["action"], hami["idle_gpus"], hami["node_gpus"]) == ("scale-down", 2, 4)
    node = next(n for n in SHARING_NODES if n.name == HAMI)
    price = load_catalog().lookup(node.instance_type, node.region, node.capacity_type)
    assert hami["monthly_savings"] == pytest.approx(
        2 * float(price.per_gpu_hourly) * 96 * month, rel=0.005
    )
    assert not any(n.startswith(f"{HAMI}: pods hold") for n in doc["notes"]), doc["notes"]


@pytest.mark.prometheus
def test_replicas_label_missing_is_scaled_not_double_charged(
    prometheus_from_openmetrics, tmp_path_factory
):
    """kube-state-metrics without the GFD replicas label: the time-sliced node's replicas each
    count as a whole GPU, more than the node has. It is reported, and each holder's share is
    scaled by physical GPUs / shares held at each instant: the node is charged its 4 GPUs, no
    more, the teams what the scaled shares say, and the invariant holds to the cent."""
    cluster = _cluster(with_opencost=False)
    path = Path(tmp_path_factory.mktemp("sharing-nolabel")) / "cluster.om"
    write_openmetrics_file(_series(cluster), path)
    text = path.read_text().replace(',label_nvidia_com_gpu_replicas="4"', "")
    path.write_text(text)
    url = prometheus_from_openmetrics(path, "sharing-no-replicas-label")
    result = run_finops("costs", *WINDOW, "--prometheus-url", url, "-o", "json", "--by", "team")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    note = next(n for n in doc["notes"] if "over-subscribed" in n)
    assert SLICED in note and MIXED not in note, note
    assert "scaled" in note, note
    catalog = load_catalog()

    def catalog_price(node, instants):
        price = catalog.lookup(node.instance_type, node.region, node.capacity_type)
        return np.full(len(instants), price.per_gpu_hourly)

    whole = {SLICED}  # each replica read as a whole GPU
    truth = ground_truth(
        cluster,
        int(START.timestamp()),
        int(END.timestamp()),
        catalog_price,
        share_of=lambda w: float(len(w.vgpu)) if w.node in whole else w.share,
    )
    sliced = truth.pods[truth.pods["node"] == SLICED]
    sliced_capacity = truth.nodes.loc[truth.nodes["node"] == SLICED, "capacity_gpu_cost"].sum()
    assert sliced["gpu_cost"].sum() <= sliced_capacity + 1e-6
    rows = {r["team"]: r for r in doc["rows"]}
    for team, want in truth.by("team").iterrows():
        if want["gpu_cost"] == 0 and team not in rows:
            continue
        got = rows[team or "__unallocated__"]
        assert got["gpu_cost"] == pytest.approx(want["gpu_cost"], rel=0.005), team
    spent = sum(r["gpu_cost"] for r in doc["rows"])
    assert spent == pytest.approx(doc["totals"]["cluster_gpu_cost"], abs=0.01)
    assert doc["totals"]["cluster_gpu_cost"] == pytest.approx(truth.cluster_gpu_cost, rel=0.005)
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, rel=0.005)
    assert rows["__idle__"]["gpu_cost"] >= 0
    for row in doc["rows"]:  # the scaled shares' waste is scaled too
        if row.get("waste") is not None:
            assert row["waste"] <= row["gpu_cost"] + 1e-6, row
    by_node = run_finops("costs", *WINDOW, "--prometheus-url", url, "-o", "json", "--by", "node")
    assert by_node.returncode == 0, by_node.stderr
    node_row = next(r for r in json.loads(by_node.stdout)["rows"] if r["node"] == SLICED)
    assert node_row["gpu_cost"] == pytest.approx(sliced["gpu_cost"].sum(), rel=0.005)
    assert node_row["gpu_cost"] <= sliced_capacity * 1.0001


@pytest.mark.prometheus
def test_time_sliced_waste_is_each_holders_own_busy(opencost_prometheus):
    """On the time-sliced node dcgm-exporter (virtual-GPU mode) writes per-pod process series
    (``DCGM_FI_DEV_GPU_UTIL`` with ``pod_uid``, no ``vgpu``): each holder's busy is its own
    processes' utilisation over its share, not the GPU's split by allocation, and those series
    are neither holder entries nor summed with the per-replica copies."""
    url, cluster = opencost_prometheus
    start, end = int(START.timestamp()), int(END.timestamp())
    truth = ground_truth(cluster, start, end)
    sliced = truth.pods[truth.pods["node"] == SLICED]
    assert set(truth.pods.loc[truth.pods["team"] == "vision", "node"]) == {SLICED}
    for key, values in (("team", ["vision"]), ("model", ["clip-vit-l14", "blip2"])):
        doc = _run("costs", url, "--by", key)
        assert any("per-process" in n for n in doc["notes"]), doc["notes"]
        rows = {r[key]: r for r in doc["rows"]}
        wastes = waste_truth(cluster, start, end, STEP, key)
        for value in values:
            assert rows[value]["waste"] == pytest.approx(wastes[value], rel=0.005), value
            assert rows[value]["waste"] <= rows[value]["gpu_cost"]
    # Costs are the allocated shares whatever the per-process figures say.
    vision = next(r for r in _run("costs", url, "--by", "team")["rows"] if r["team"] == "vision")
    assert vision["gpu_cost"] == pytest.approx(sliced["gpu_cost"].sum(), rel=0.005)
