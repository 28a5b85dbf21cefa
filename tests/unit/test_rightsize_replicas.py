"""Right-sizing time-sliced and MPS replicas: fewer replicas for a workload that holds more than
its busy p95 and peak memory need, and a node pool's time-sliced GPUs consolidated onto fewer
(whole nodes freed). Also HAMi's scheduler metrics: which naming scheme is read."""

from __future__ import annotations

import pandas as pd
import pytest

from finops_cli.analytics.rightsize import recommend
from finops_cli.analytics.rightsize_common import CONSOLIDATE, FEWER_REPLICAS, RightsizeRules
from finops_cli.analytics.rightsize_pools import consolidate_replicas
from finops_cli.pricing import load_catalog
from finops_cli.queries.hami import LEGACY, NEW, present
from finops_cli.sources.interface import NODE_COLUMNS, POD_COLUMNS, REPLICA_GPU_COLUMNS, PodGpuData

HOURS = 96.0
MONTH = 730 / HOURS
L40S_MIB = 46068.0


def _pod(**overrides) -> dict:
    return dict.fromkeys(POD_COLUMNS, "") | {
        "namespace": "search-batch", "pod": "embed-batch-6c7d9-x2x4z", "owner_kind": "ReplicaSet",
        "owner_name": "embed-batch-6c7d9", "node": "n1", "gpu_model": "NVIDIA L40S",
        "gpus": 0.75, "gpu_hours": 0.75 * HOURS, "busy_avg": 0.1, "busy_p95": 0.14,
        "memory_peak_mib": 0.15 * L40S_MIB, "memory_total_mib": L40S_MIB, "cost": 120.0,
        "mig_share": 0.0, "gpu_units": 1,
    } | overrides  # fmt: skip


def _gpu(node: str, **overrides) -> dict:
    return {
        "cluster": "", "node": node, "gpu": "0", "pool": "gpu-g4dn-on-demand",
        "model_name": "Tesla T4", "replicas": 4, "sharing_strategy": "time-slicing",
        "present_hours": HOURS, "cost": 0.526 * HOURS, "busy_p95": 0.1,
        "memory_used_max_mib": 2000.0, "memory_total_mib": 15360.0, "node_held_peak": 0.25,
    } | overrides  # fmt: skip


def _data(pods: list[dict], gpus: list[dict]) -> PodGpuData:
    names = sorted({g["node"] for g in gpus} | {"n1"})
    nodes = pd.DataFrame(
        [{"node": n, "instance_type": "g6e.xlarge", "region": "us-east-1",
          "capacity_type": "on-demand"} for n in names],
        columns=list(NODE_COLUMNS),
    )  # fmt: skip
    return PodGpuData(
        pd.DataFrame(pods, columns=[*POD_COLUMNS, "gpu_units"]),
        nodes,
        300,
        replica_gpus=pd.DataFrame(gpus, columns=list(REPLICA_GPU_COLUMNS)),
    )


def _fewer(pods: list[dict], gpus: list[dict]):
    recs = recommend(_data(pods, gpus), load_catalog(), HOURS)
    return [r for r in recs if r.action == FEWER_REPLICAS]


def test_three_replicas_of_a_quiet_gpu_become_one():
    (rec,) = _fewer([_pod()], [_gpu("n1", model_name="NVIDIA L40S", pool="")])
    assert (rec.details["replicas_held"], rec.details["target_replicas"]) == (3, 1)
    assert rec.monthly_savings == pytest.approx(120.0 * MONTH * 2 / 3)
    assert rec.target == "1 of 4 replicas"


@pytest.mark.parametrize(
    ("busy_p95", "memory_share", "needed"),
    [
        (0.35, 0.1, 2),  # 0.35 x 4 / 0.7 = 2 exactly: two, not three
        (0.36, 0.1, None),  # just over two replicas' worth: keeps its three
        (0.1, 0.4, 2),  # memory: 0.4 x 4 / 0.8 = 2
        (0.1, 0.41, None),
    ],
)
def test_busy_and_memory_both_bound_the_replicas(busy_p95, memory_share, needed):
    pod = _pod(busy_p95=busy_p95, memory_peak_mib=memory_share * L40S_MIB)
    recs = _fewer([pod], [_gpu("n1", pool="")])
    if needed is None:
        assert not recs
    else:
        (rec,) = recs
        assert rec.details["target_replicas"] == needed


@pytest.mark.parametrize(
    "pod",
    [
        _pod(gpus=0.25, gpu_hours=0.25 * HOURS),  # one replica: nothing fewer
        _pod(busy_p95=None),  # busy unknown
        _pod(mig_share=1 / 7),  # a MIG instance: its own rule
        _pod(gpu_units=2),  # replicas of two GPUs: the busiest one's evidence bounds nothing
        _pod(gpu_units=None),  # not known to sit on one GPU
    ],
)
def test_no_fewer_replicas_without_evidence_or_room(pod):
    assert not _fewer([pod], [_gpu("n1", pool="")])


def test_no_fewer_replicas_on_a_node_that_shares_nothing():
    assert not _fewer([_pod()], [])


def _pool(gpus: list[dict], exclude=frozenset()) -> list:
    return consolidate_replicas(_data([], gpus), MONTH, RightsizeRules(), HOURS, set(exclude))


def test_a_pool_that_fits_one_gpu_frees_the_least_held_node():
    (rec,) = _pool([_gpu("t1", node_held_peak=0.5, busy_p95=0.22), _gpu("t2", node_held_peak=0.25)])
    assert rec.action == CONSOLIDATE and rec.workload.kind == "NodePool"
    assert rec.details["free_gpus"] == ["t2/0"] and rec.details["target_gpus"] == 1
    assert rec.details["replicas_held"] == 3
    assert rec.monthly_savings == pytest.approx(0.526 * HOURS * MONTH)


@pytest.mark.parametrize(
    "gpus",
    [
        # five replicas held: two GPUs' worth
        [_gpu("t1", node_held_peak=0.75), _gpu("t2", node_held_peak=0.5)],
        # busy 0.75 in total: two GPUs at 70%
        [_gpu("t1", busy_p95=0.4), _gpu("t2", busy_p95=0.35)],
        # memory 13 GB of a 15 GB card: over 80%
        [_gpu("t1", memory_used_max_mib=6500.0), _gpu("t2", memory_used_max_mib=6500.0)],
        # busy unknown on one GPU
        [_gpu("t1"), _gpu("t2", busy_p95=None)],
        # one node: nothing whole to free
        [_gpu("t1"), _gpu("t1", gpu="1")],
        # no pool label
        [_gpu("t1", pool=""), _gpu("t2", pool="")],
        # different replica counts are different groups
        [_gpu("t1"), _gpu("t2", replicas=2)],
    ],
)
def test_pools_that_do_not_fit_fewer_gpus_are_left(gpus):
    assert not _pool(gpus)


def test_a_node_advised_for_removal_is_not_counted_twice():
    assert not _pool([_gpu("t1"), _gpu("t2")], exclude={("", "t2")})


def test_whole_nodes_are_freed_while_the_rest_hold_the_pool():
    """Three nodes, one of two GPUs: 4 replicas held fit one GPU, so the two one-GPU nodes go
    (least held first) and the two-GPU node stays."""
    gpus = [
        _gpu("big", node_held_peak=0.5, busy_p95=0.1),
        _gpu("big", gpu="1", node_held_peak=0.5, busy_p95=0.1),
        _gpu("s1", node_held_peak=0.25),
        _gpu("s2", node_held_peak=0.25),
    ]
    (rec,) = _pool(gpus)
    assert rec.details["free_nodes"] == ["s1", "s2"] and rec.details["target_gpus"] == 2


def test_hami_naming_scheme():
    assert present(NEW.metrics + LEGACY.metrics) is NEW
    assert present(LEGACY.metrics) is LEGACY
    assert present(["hami_vgpu_core_allocated_ratio"]) is None  # no device limits
    assert present([]) is None


def test_hami_holders_join_dcgm_rows_by_uuid():
    from finops_cli.sources.prometheus_client import InstantSample
    from finops_cli.sources.prometheus_hami import attach_hami_holders

    rows = {
        ("", "n", "0", ""): {"cluster": "", "uuid": "GPU-a", "mig_profile": "", "pod": "",
                             "present_hours": 10.0, "held_hours": 0.0, "holders": []},
        ("", "n", "1", ""): {"cluster": "", "uuid": "GPU-b", "mig_profile": "", "pod": "",
                             "present_hours": 10.0, "held_hours": 0.0, "holders": []},
    }  # fmt: skip

    def sample(value: float, **labels: str) -> InstantSample:
        return InstantSample(labels, value)

    shares = [
        sample(20.0, device_uuid="GPU-a", namespace="ns", pod="p1"),  # 20 samples x 0.25 h
        sample(4.0, device_uuid="GPU-a", namespace="ns", pod="p2"),
        sample(8.0, device_uuid="GPU-z", namespace="ns", pod="p3"),  # no dcgm-exporter row
    ]
    held = [sample(36.0, device_uuid="GPU-a")]
    attributes = [sample(1.0, namespace="ns", pod="p1", label_team="agents")]
    unmatched = attach_hami_holders(rows, shares, held, attributes, {"team": "label_team"}, 0.25)
    assert unmatched == {"GPU-z"}
    row = rows[("", "n", "0", "")]
    assert [(h["pod"], h["share_hours"], h["share"]) for h in row["holders"]] == [
        ("p1", 5.0, 0.5), ("p2", 1.0, 0.1),
    ]  # fmt: skip
    assert row["holders"][0]["team"] == "agents" and row["pod"] == "p1"
    assert row["held_hours"] == 9.0
    assert rows[("", "n", "1", "")]["holders"] == []
