"""The GPU-sharing sample fleet (``sample/sharing.py``): shares by mode, the truth's invariants,
the series written as the exporters write them, and the sample source against the truth."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from finops_cli.analytics.costs import IDLE, attribute_costs
from finops_cli.sample.scenario import QUANTUM_S, Schedule
from finops_cli.sample.sharing import SHARING_NODES, sharing_workloads
from finops_cli.sample.simulate import SampleCluster, SampleSeries, exporter_pod
from finops_cli.sample.truth import (
    gpu_truth,
    ground_truth,
    holder_truth,
    inference_truth,
    pod_truth,
    waste_truth,
)
from finops_cli.sources.interface import CostRequest
from finops_cli.sources.sample import SampleCostSource
from finops_cli.timewindow import Window
from tests.unit.test_sample_source import LABELS

START = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday: one week
END = datetime(2026, 10, 12, tzinfo=UTC)
T0, T1 = int(START.timestamp()), int(END.timestamp())
STEP = 900
MIXED, SINGLE, SLICED, MPS, HAMI, KAI, DRA, DRA_MIG = (n.name for n in SHARING_NODES)

# The physical share of each GPU a pod was allocated, by hand from the rules of each mode.
SHARES = {
    # MIG mixed (A100 80GB): profile Ng.* is N/7; whole GPUs on the same node are 1 each.
    "asr-finetune": 3 / 7,
    "asr-stream": 2 / 7,
    "vad-batch": 1 / 7,
    "ranker-train": 1.0,
    "index-build": 1.0,
    # MIG single: one nvidia.com/gpu is one 1g.10gb instance.
    **{f"tool-embed-{i}": 1 / 7 for i in range(4)},
    # time-slicing, 4 replicas per GPU: replicas held / 4.
    "ocr-api-0": 1 / 4,
    "ocr-api-1": 1 / 4,
    "thumbnailer": 2 / 4,
    "clip-embed": 2 / 4,
    "captioner": 1 / 4,
    # MPS, 2 replicas per GPU.
    "query-embed": 1 / 2,
    "spell-fix": 1 / 2,
    # HAMi: gpucores 25 wins over gpumem 6000; gpumem-percentage 50 alone; gpucores 50.
    "planner-llm": 0.25,
    "tool-router": 0.5,
    "retriever": 0.5,
    # KAI: the gpu-fraction annotation; the reservation pod holds nothing.
    f"gpu-reservation-{KAI}": 0.0,
    "agent-notebook": 0.5,
    "eval-harness": 0.25,
    **{f"gpu-reservation-{KAI}-{gpu}": 0.0 for gpu in (1, 2, 3)},
    # KAI gpu-memory alone: 11517 MiB of the L40S's 46068; gpu-fraction 0.5 of each of 2 GPUs.
    "query-rewriter": 0.25,
    "moe-eval": 0.5,
    # DRA: a whole-GPU claim, one claim shared by two pods, 1g.10gb MIG devices.
    "reranker-large": 1.0,
    "sandbox-a": 0.5,
    "sandbox-b": 0.5,
    "kws-infer": 1 / 7,
    "diarize-batch": 1 / 7,
}


@pytest.fixture(scope="module")
def cluster() -> SampleCluster:
    return SampleCluster(42, nodes=SHARING_NODES, cast=sharing_workloads())


@pytest.fixture(scope="module")
def series(cluster) -> list[SampleSeries]:
    return list(cluster.series(T0, T1, STEP))


def _find(series, name, **labels) -> list[SampleSeries]:
    return [
        s for s in series if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def _pods_of(cluster, workload: str) -> set[str]:
    grid = np.arange(T0 + STEP, T1 + 1, STEP, dtype=np.int64)
    return {r.pod for r in cluster.pod_runs(grid) if r.workload.name == workload}


def test_every_pods_share_is_the_hand_computed_one(cluster):
    assert {w.name for w in cluster.workloads} == set(SHARES)
    for w in cluster.workloads:
        assert w.share == pytest.approx(SHARES[w.name], abs=1e-12), w.name
        assert w.held_gpus == pytest.approx(SHARES[w.name] * len(w.gpu_indices)), w.name
    holders = holder_truth(cluster, T0, T1)
    pod_to_workload = {pod: w.name for w in cluster.workloads for pod in _pods_of(cluster, w.name)}
    for row in holders.itertuples():
        assert row.share == pytest.approx(SHARES[pod_to_workload[row.pod]]), row.pod
    assert not holders["pod"].str.startswith("gpu-reservation-").any()  # holds no share
    # Every share changes over the week somewhere: pods start and stop.
    truth = ground_truth(cluster, T0, T1)
    week = (T1 - T0) / 3600
    held = truth.pods.groupby("node")["gpu_hours"].sum()
    assert (held < truth.nodes.set_index("node")["capacity_gpu_hours"] * 0.999).all()
    assert truth.pods["gpu_hours"].max() < 4 * week  # the 4-GPU trainer is not always on


def test_gpu_cost_is_share_times_price_and_rows_plus_idle_is_the_spend(cluster):
    truth = ground_truth(cluster, T0, T1)
    holders = holder_truth(cluster, T0, T1)
    at = np.arange(T0, T1, QUANTUM_S, dtype=np.int64)
    # Each pod's GPU-hours are its share x its GPUs x the hours it ran, its cost those x the
    # (on-demand, constant) per-GPU price.
    for w in cluster.workloads:
        rows = truth.pods[truth.pods["pod"].isin(_pods_of(cluster, w.name))]
        ran = float(np.sum(cluster.runs_at(w, at) >= 0)) * QUANTUM_S / 3600
        price = cluster.gpu_price(cluster.node(w.node), at[:1])[0]
        held = SHARES[w.name] * len(w.gpu_indices) * ran
        assert rows["gpu_hours"].sum() == pytest.approx(held, rel=1e-12, abs=1e-12), w.name
        assert rows["gpu_cost"].sum() == pytest.approx(held * price, rel=1e-9, abs=1e-9), w.name
    assert holders["cost"].sum() == pytest.approx(truth.allocated_gpu_cost, rel=1e-12)
    # Idle, computed GPU by GPU from what nobody was allocated, closes the spend to the cent.
    idle = 0.0
    for node in cluster.nodes:
        price = cluster.gpu_price(node, at)
        for gpu in range(node.gpu_count):
            allocated = np.zeros(len(at))
            for w in cluster.workloads:
                if w.node == node.name and gpu in w.gpu_indices:
                    allocated += (cluster.runs_at(w, at) >= 0) * w.share
            idle += float(np.sum(price * (1.0 - allocated))) * QUANTUM_S / 3600
    assert round(holders["cost"].sum() + idle, 2) == round(truth.cluster_gpu_cost, 2)
    assert idle == pytest.approx(truth.idle_gpu_cost, abs=0.005)
    # The physical capacity: 8 + 1 + 4 + 1 + 4 + 4 + 4 + 1 GPUs, all week.
    assert truth.nodes["capacity_gpu_hours"].sum() == pytest.approx(27 * 7 * 24)


def test_shares_of_one_gpu_never_exceed_one(cluster):
    at = np.arange(T0, T1, QUANTUM_S, dtype=np.int64)
    totals: dict[tuple[str, int], np.ndarray] = {}
    for w in cluster.workloads:
        active = cluster.runs_at(w, at) >= 0
        for gpu in w.gpu_indices:
            totals[(w.node, gpu)] = totals.get((w.node, gpu), np.zeros(len(at))) + active * w.share
    assert max(float(t.max()) for t in totals.values()) <= 1.0 + 1e-12
    assert float(totals[(SLICED, 0)].max()) == pytest.approx(1.0)  # fully sliced at times
    assert float(totals[(KAI, 0)].max()) == pytest.approx(0.75)  # a quarter never claimed
    assert float(totals[(MIXED, 0)].max()) == pytest.approx(6 / 7)  # one 1g.10gb unused
    assert float(totals[(SLICED, 0)].min()) == pytest.approx(0.5)  # shares change over time


def _extra(name, new_name, **changes):
    def change(cast):
        w = next(w for w in cast if w.name == name)
        return (*cast, replace(w, name=new_name, **changes))

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # a second KAI fraction of 0.5 on the L40S: 0.5 + 0.25 + 0.5 > 1
        (_extra("agent-notebook", "notebook-2"), f"over-subscribes GPU 0 of {KAI}"),
        # replica 0 of the time-sliced A10G's GPU 1 taken twice (shares sum to 1 only)
        (_extra("ocr-api-0", "ocr-api-2", gpu_indices=(1,)), f"replica 0 of GPU 1 of {SLICED}"),
        # a MIG instance taken twice (shares of its GPU sum to 5/7 only)
        (_extra("tool-embed-0", "tool-embed-9"), f"MIG instance 0 of GPU 0 of {SINGLE}"),
        # a whole-GPU pod on the sandboxes' shared GPU
        (
            _extra("index-build", "intruder", node=DRA, gpu_indices=(1,), schedule=Schedule()),
            f"over-subscribes GPU 1 of {DRA}",
        ),
        # a share that contradicts the wire: HAMi's 25 cores are not half a GPU
        (
            lambda c: tuple(replace(w, gpu_share=0.5) if w.name == "planner-llm" else w for w in c),
            "wire says 0.25",
        ),
        # a MIG instance requested by the wrong resource under the mixed strategy
        (
            lambda c: tuple(
                replace(w, requests={"nvidia.com/gpu": 1}) if w.name == "vad-batch" else w
                for w in c
            ),
            "mixed strategy",
        ),
    ],
    ids=["kai-fraction", "replica", "mig-instance", "whole-gpu", "wrong-share", "wrong-resource"],
)
def test_over_subscription_and_contradictions_are_rejected(change, message):
    with pytest.raises(ValueError, match=message):
        SampleCluster(42, nodes=SHARING_NODES, cast=change(sharing_workloads()))


def _requests(series, pod) -> dict[str, float]:
    return {
        s.labels["resource"]: float(s.values[0])
        for s in _find(series, "kube_pod_container_resource_requests", pod=pod)
    }


def _allocatable(series, node) -> dict[str, float]:
    return {
        s.labels["resource"]: float(s.values[0])
        for s in _find(series, "kube_node_status_allocatable", node=node)
    }


def _node_labels(series, node) -> dict[str, str]:
    return _find(series, "kube_node_labels", node=node)[0].labels


def _opencost_gpus(series, pod) -> float:
    return float(_find(series, "container_gpu_allocation", pod=pod)[0].values[0])


def _one_pod(cluster, workload) -> str:
    return sorted(_pods_of(cluster, workload))[0]


def test_mig_series_are_wire_exact(cluster, series):
    pod = _one_pod(cluster, "asr-finetune")
    assert _requests(series, pod) == {"nvidia_com_mig_3g_40gb": 1.0}
    assert _opencost_gpus(series, pod) == 0.0  # OpenCost counts nvidia.com/gpu only
    assert _allocatable(series, MIXED) == {
        "nvidia_com_gpu": 7.0,
        "nvidia_com_mig_3g_40gb": 1.0,
        "nvidia_com_mig_2g_20gb": 1.0,
        "nvidia_com_mig_1g_10gb": 2.0,
    }
    labels = _node_labels(series, MIXED)
    assert labels["label_nvidia_com_mig_strategy"] == "mixed"
    assert labels["label_nvidia_com_mig_1g_10gb_count"] == "2"
    # MIG-instance series: GPU_I_PROFILE/GPU_I_ID, the parent's UUID, no GPU_UTIL.
    held = _find(series, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", pod=pod)
    assert held and {s.labels["GPU_I_PROFILE"] for s in held} == {"3g.40gb"}
    assert held[0].labels["UUID"] == cluster.gpu_uuid(MIXED, 0)
    assert not _find(series, "DCGM_FI_DEV_GPU_UTIL", Hostname=MIXED, gpu="0")
    unused = _find(series, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", Hostname=MIXED, GPU_I_ID="3")
    assert unused and all("pod" not in s.labels for s in unused)
    # Single strategy: every 1g.10gb instance is an nvidia.com/gpu.
    assert _allocatable(series, SINGLE) == {"nvidia_com_gpu": 7.0}
    labels = _node_labels(series, SINGLE)
    assert labels["label_nvidia_com_gpu_product"] == "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb"
    assert labels["label_nvidia_com_mig_strategy"] == "single"
    assert labels["label_nvidia_com_gpu_slices_gi"] == "1"
    assert labels["label_nvidia_com_gpu_count"] == "7"
    embed = _one_pod(cluster, "tool-embed-2")
    assert _requests(series, embed) == {"nvidia_com_gpu": 1.0}
    assert _find(series, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", pod=embed)[0].labels["GPU_I_ID"] == "2"


def test_time_slicing_series_are_wire_exact(cluster, series):
    labels = _node_labels(series, SLICED)
    assert {k: v for k, v in labels.items() if k.startswith("label_nvidia")} == {
        "label_nvidia_com_gpu_product": "NVIDIA-A10G-SHARED",
        "label_nvidia_com_gpu_replicas": "4",
        "label_nvidia_com_gpu_count": "4",
        "label_nvidia_com_gpu_sharing_strategy": "time-slicing",
    }
    assert _allocatable(series, SLICED) == {"nvidia_com_gpu": 16.0}
    pod = _one_pod(cluster, "thumbnailer")
    assert _requests(series, pod) == {"nvidia_com_gpu": 2.0}
    assert _opencost_gpus(series, pod) == 2.0  # OpenCost: the replicas requested
    # Virtual-GPU mode: one copy per pod and replica, each the whole GPU's value.
    copies = _find(series, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", pod=pod)
    assert {s.labels["vgpu"] for s in copies} == {"2", "3"}
    others = _find(series, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", Hostname=SLICED, gpu="0")
    at = int(copies[0].timestamps[0])
    values = {float(s.values[list(s.timestamps).index(at)]) for s in others if at in s.timestamps}
    assert len(values) == 1 and len([s for s in others if at in s.timestamps]) == 4
    # An unheld GPU keeps its series without pod labels; a held one has none unlabelled.
    free = _find(series, "DCGM_FI_DEV_GPU_UTIL", Hostname=SLICED, gpu="3")
    assert free and all("pod" not in s.labels and "vgpu" not in s.labels for s in free)
    assert all("pod" in s.labels for s in others)  # GPU 0 is never free


def test_mps_series_carry_exactly_one_pod(cluster, series):
    labels = _node_labels(series, MPS)
    assert labels["label_nvidia_com_gpu_sharing_strategy"] == "mps"
    assert labels["label_nvidia_com_gpu_replicas"] == "2"
    assert labels["label_nvidia_com_gpu_count"] == "1"
    assert labels["label_nvidia_com_mps_capable"] == "true"
    assert labels["label_nvidia_com_gpu_product"] == "NVIDIA-L4"  # renamed: no -SHARED
    assert _allocatable(series, MPS) == {"nvidia_com_gpu_shared": 2.0}
    pod = _one_pod(cluster, "spell-fix")
    assert _requests(series, pod) == {"nvidia_com_gpu_shared": 1.0}
    assert _opencost_gpus(series, pod) == 0.0
    # Default mode: each sample names one pod, the one whose name sorts last among those
    # holding the GPU then; the value is the whole GPU's.
    named: dict[int, list[str]] = {}
    for s in _find(series, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", Hostname=MPS):
        for t in s.timestamps.tolist():
            named.setdefault(t, []).append(s.labels["pod"])
    grid = np.arange(T0 + STEP, T1 + 1, STEP, dtype=np.int64)
    holding: dict[int, list[str]] = {}
    for r in cluster.pod_runs(grid):
        if r.workload.node == MPS:
            for t in grid[r.first : r.last + 1].tolist():
                holding.setdefault(t, []).append(r.pod)
    assert set(named) == set(holding)
    assert all(named[t] == [max(holding[t])] for t in named)
    assert any(len(pods) == 2 for pods in holding.values())


def test_hami_series_carry_no_pod(cluster, series):
    assert _allocatable(series, HAMI) == {"nvidia_com_gpu": 40.0}
    planner, router = _one_pod(cluster, "planner-llm"), _one_pod(cluster, "tool-router")
    assert _requests(series, planner) == {
        "nvidia_com_gpu": 1.0,
        "nvidia_com_gpucores": 25.0,
        "nvidia_com_gpumem": 6000.0,
    }
    assert _requests(series, router) == {
        "nvidia_com_gpu": 1.0,
        "nvidia_com_gpumem_percentage": 50.0,
    }
    assert _opencost_gpus(series, planner) == 1.0
    dcgm = [s for s in series if s.name.startswith("DCGM_") and s.labels["Hostname"] == HAMI]
    assert dcgm and all("pod" not in s.labels for s in dcgm)
    assert max(float(s.values.max()) for s in dcgm if s.labels["gpu"] == "0") > 0  # still busy


def test_kai_series_map_the_reservation_pod(cluster, series):
    reservation = _one_pod(cluster, f"gpu-reservation-{KAI}")
    assert (
        reservation.startswith(f"gpu-reservation-{KAI}-") and len(reservation.rsplit("-")[-1]) == 5
    )
    assert _requests(series, reservation) == {"nvidia_com_gpu": 1.0}
    assert _opencost_gpus(series, reservation) == 1.0
    assert _find(series, "kube_pod_owner", pod=reservation)[0].labels["owner_kind"] == "<none>"
    for workload, fraction in (("agent-notebook", "0.5"), ("eval-harness", "0.25")):
        pod = _one_pod(cluster, workload)
        annotations = _find(series, "kube_pod_annotations", pod=pod)[0].labels
        assert annotations["annotation_gpu_fraction"] == fraction
        assert _requests(series, pod) == {}
        assert _opencost_gpus(series, pod) == 0.0
    memory = _one_pod(cluster, "query-rewriter")
    annotations = _find(series, "kube_pod_annotations", pod=memory)[0].labels
    assert annotations["annotation_gpu_memory"] == "11517"
    assert "annotation_gpu_fraction" not in annotations
    sharded = _one_pod(cluster, "moe-eval")
    annotations = _find(series, "kube_pod_annotations", pod=sharded)[0].labels
    assert annotations["annotation_gpu_fraction"] == "0.5"
    assert annotations["annotation_gpu_fraction_num_devices"] == "2"
    reservations = {reservation} | {
        _one_pod(cluster, f"gpu-reservation-{KAI}-{gpu}") for gpu in (1, 2, 3)
    }
    dcgm = [s for s in series if s.name.startswith("DCGM_") and s.labels["Hostname"] == KAI]
    assert {s.labels.get("pod") for s in dcgm} == reservations
    assert {s.labels["namespace"] for s in dcgm} == {"kai-resource-reservation"}


def test_dra_series_carry_the_claims(cluster, series):
    assert _allocatable(series, DRA) == {} and _allocatable(series, DRA_MIG) == {}
    reranker = _one_pod(cluster, "reranker-large")
    assert _requests(series, reranker) == {}
    assert _opencost_gpus(series, reranker) == 0.0
    claim = _find(series, "kube_pod_resourceclaim_info", pod=reranker)[0].labels
    assert claim["claim_name"] == "gpu" and claim["resourceclaim_template_name"] == "single-l40s"
    assert claim["resourceclaim_name"].startswith(f"{reranker}-gpu-")
    whole = _find(series, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", pod=reranker)[0].labels
    assert whole["dra_claim_name"] == claim["resourceclaim_name"]
    assert whole["dra_device_name"] == "gpu-0" and whole["dra_pool_name"] == DRA
    assert whole["dra_driver_name"] == "gpu.nvidia.com"
    assert whole["dra_claim_namespace"] == "search-serving"
    # One claim, two pods: one copy of the GPU's series per pod, each the whole GPU's value.
    shared = _find(series, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", Hostname=DRA, gpu="1")
    assert {s.labels["dra_claim_name"] for s in shared} == {"shared-l40s"}
    assert {s.labels["pod"].split("-")[1] for s in shared} == {"a", "b"}
    for workload in ("sandbox-a", "sandbox-b"):
        info = _find(series, "kube_pod_resourceclaim_info", pod=_one_pod(cluster, workload))
        assert info[0].labels["resourceclaim_name"] == "shared-l40s"
        assert info[0].labels["resourceclaim_template_name"] == ""
    # A MIG device: the parent GPU's series carry the pod; the instance's carry none.
    kws = _one_pod(cluster, "kws-infer")
    parent = _find(series, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", pod=kws)
    assert parent and all("GPU_I_PROFILE" not in s.labels for s in parent)
    labels = parent[0].labels
    assert labels["dra_mig_profile"] == "1g.10gb"
    assert labels["dra_mig_device_uuid"].startswith("MIG-")
    assert labels["dra_device_name"] == "gpu-0-mig-1g10gb-19-0"
    instances = _find(series, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", Hostname=DRA_MIG, GPU_I_ID="0")
    assert instances and all("pod" not in s.labels for s in instances)
    assert not _find(series, "DCGM_FI_DEV_GPU_UTIL", Hostname=DRA_MIG)


def test_kube_pod_info_and_opencost_nodes(cluster, series):
    pods = {s.labels["pod"] for s in _find(series, "kube_pod_labels")}
    info = _find(series, "kube_pod_info")
    # ... and each GPU node's dcgm-exporter pod, where a --no-hostname exporter's node is found.
    exporters = {exporter_pod(n): n.name for n in cluster.nodes if n.gpu_count}
    assert {s.labels["pod"] for s in info} == pods | set(exporters)
    for s in info:
        if s.labels["pod"] in exporters:
            assert s.labels["node"] == exporters[s.labels["pod"]]
            ip = s.labels["pod_ip"]
            gpus = _find(series, "DCGM_FI_DEV_FB_USED", instance=f"{ip}:9400")
            assert gpus and {g.labels["Hostname"] for g in gpus} == {s.labels["node"]}
    assert set(info[0].labels) == {
        "namespace", "pod", "uid", "node", "created_by_kind", "created_by_name", "host_ip",
        "pod_ip", "priority_class", "host_network",
    }  # fmt: skip
    sliced = _find(series, "node_gpu_count", node=SLICED)[0]
    assert float(sliced.values[0]) == 4.0  # physical GPUs, not replicas
    price = _find(series, "node_gpu_hourly_cost", node=SLICED)[0]
    assert float(price.values[0]) == pytest.approx(5.672 * 0.9 / 4)
    default = SampleCluster(42)
    default_series = list(default.series(T0, T0 + 3600, 300))
    assert {s.labels["pod"] for s in _find(default_series, "kube_pod_info")} == {
        s.labels["pod"] for s in _find(default_series, "kube_pod_labels")
    } | {exporter_pod(n) for n in default.nodes if n.gpu_count}


@pytest.mark.parametrize("key", ["team", "namespace", "project", "node"])
def test_sample_source_costs_equal_the_truth(cluster, key):
    source = SampleCostSource(LABELS, cluster=cluster)
    data = source.costs(CostRequest(Window(START, END, "t"), (key,), {}, 3600))
    got = data.allocations.groupby(key)[["gpu_hours", "gpu_cost", "wasted_cost"]].sum()
    truth = ground_truth(cluster, T0, T1).by(key)
    waste = waste_truth(cluster, T0, T1, 60, key)
    assert sorted(got.index) == sorted(truth.index)
    for value, fig in truth.iterrows():
        assert got.loc[value, "gpu_cost"] == pytest.approx(fig["gpu_cost"], rel=1e-6), value
        assert got.loc[value, "gpu_hours"] == pytest.approx(fig["gpu_hours"], rel=1e-6), value
        assert got.loc[value, "wasted_cost"] == pytest.approx(waste[value], rel=1e-6, abs=1e-9)
    spend = ground_truth(cluster, T0, T1).cluster_gpu_cost
    assert data.cluster["capacity_gpu_cost"].sum() == pytest.approx(spend, rel=1e-6)


def test_report_closes_on_the_spend_and_unit_costs_use_shares(cluster):
    source = SampleCostSource(LABELS, cluster=cluster)
    data = source.costs(CostRequest(Window(START, END, "t"), ("team",), {}, 3600))
    report = attribute_costs(data, ("team",), {}, START, END)
    truth = ground_truth(cluster, T0, T1)
    rows = {r.keys["team"]: r for r in report.rows}
    assert rows[IDLE].gpu_cost == pytest.approx(truth.idle_gpu_cost, abs=0.005)
    assert round(sum(r.gpu_cost for r in report.rows), 2) == round(truth.cluster_gpu_cost, 2)
    # Triton's OCR pods have no model label: their share moves to the model Triton reports.
    served = source.inference(CostRequest(Window(START, END, "t"), ("model",), {}, 3600)).served
    cost = served.set_index("model").loc["trocr-base-onnx", "gpu_cost"]
    expected = inference_truth(cluster, T0, T1, 60).loc["trocr-base-onnx", "gpu_cost"]
    assert cost == pytest.approx(expected, rel=1e-6)


def test_per_gpu_and_per_pod_views_split_the_spend(cluster):
    gpus = gpu_truth(cluster, T0, T1, 300)
    truth = ground_truth(cluster, T0, T1)
    assert gpus["cost"].sum() == pytest.approx(truth.cluster_gpu_cost, rel=1e-9)
    pods = pod_truth(cluster, T0, T1, 300)
    assert pods["cost"].sum() == pytest.approx(truth.allocated_gpu_cost, rel=1e-9)
    assert pods["gpu_hours"].sum() == pytest.approx(truth.pods["gpu_hours"].sum(), rel=1e-9)
    assert not pods["pod"].str.startswith("gpu-reservation-").any()
    sliced = gpus[(gpus["node"] == SLICED) & (gpus["gpu"] == "0")].iloc[0]
    assert pd.notna(sliced["busy_avg"]) and sliced["pod"]


def test_without_opencost_every_instance_type_is_in_the_catalog():
    from finops_cli.pricing import load_catalog

    catalog = load_catalog()
    for node in SHARING_NODES:
        price = catalog.lookup(node.instance_type, node.region, node.capacity_type)
        assert price is not None, node.instance_type
        assert price.gpu_count == node.gpu_count, node.instance_type
    bare = SampleCluster(42, nodes=SHARING_NODES, cast=sharing_workloads(), with_opencost=False)
    names = {s.name for s in bare.series(T0, T0 + 3600, 300)}
    assert "container_gpu_allocation" not in names and "node_gpu_hourly_cost" not in names
    assert "kube_pod_container_resource_requests" in names


def test_no_label_set_is_written_twice_at_one_instant(series):
    """Copies and segments never collide: each (name, labels) has one value per instant, as a
    Prometheus backfill needs."""
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], set[int]] = {}
    for s in series:
        instants = seen.setdefault((s.name, tuple(sorted(s.labels.items()))), set())
        stamps = set(s.timestamps.tolist())
        assert not instants & stamps, (s.name, s.labels)
        instants |= stamps
