"""Right-sizing on shared GPUs: a MIG instance resized to its card's smaller (or larger) profile,
no GPU-type advice from a shared GPU's evidence, and no capacity advice where the ledger charges
pods dcgm-exporter does not name (HAMi)."""

from __future__ import annotations

import pandas as pd
import pytest

from finops_cli.analytics import mig_profiles
from finops_cli.analytics.rightsize import recommend
from finops_cli.analytics.rightsize_capacity import unlabelled_holders
from finops_cli.pricing import load_catalog
from finops_cli.sources.interface import CAPACITY_COLUMNS, NODE_COLUMNS, POD_COLUMNS, PodGpuData

HOURS = 96.0
MONTH = 730 / HOURS


def _pod(**overrides) -> dict:
    return dict.fromkeys(POD_COLUMNS, "") | {
        "namespace": "speech", "pod": "asr-stream-6c7d9-x2x4z", "owner_kind": "ReplicaSet",
        "owner_name": "asr-stream-6c7d9", "model": "whisper-medium", "node": "n1",
        "gpu_model": "NVIDIA A100-SXM4-80GB", "gpus": 2 / 7, "gpu_hours": 2 / 7 * HOURS,
        "busy_avg": 0.2, "busy_p95": 0.3, "memory_peak_mib": 10300.0,
        "memory_total_mib": 19968.0, "cost": 100.0, "mig_share": 2 / 7,
    } | overrides  # fmt: skip


def _data(pods: list[dict], capacity=None, allocations=None) -> PodGpuData:
    nodes = pd.DataFrame(
        [{"node": "n1", "instance_type": "p4de.24xlarge", "region": "us-east-1",
          "capacity_type": "on-demand"}],
        columns=list(NODE_COLUMNS),
    )  # fmt: skip
    return PodGpuData(
        pd.DataFrame(pods, columns=list(POD_COLUMNS)),
        nodes,
        300,
        capacity=None
        if capacity is None
        else pd.DataFrame(capacity, columns=list(CAPACITY_COLUMNS)),
        node_allocations=None
        if allocations is None
        else pd.DataFrame(list(allocations.items()), columns=["node", "gpu_hours"]),
    )


@pytest.mark.parametrize(
    ("share", "memory_mib", "name", "card"),
    [
        (3 / 7, 40192.0, "3g.40gb", "A100 80GB"),
        (2 / 7, 19968.0, "2g.20gb", "A100 80GB"),
        (1 / 7, 4864.0, "1g.5gb", "A100 40GB"),
        (1 / 7, 18432.0, "1g.18gb", "H200 141GB"),
        (3 / 7, 47000.0, "3g.47gb", "H100 NVL 94GB"),
        (2 / 4, 12000.0, "2g.12gb", "A30 24GB"),
        (1.0, 79000.0, "7g.80gb", "A100 80GB"),  # read as 7g.79gb: still the 80 GB card
    ],
)
def test_profiles_are_identified_by_share_and_memory(share, memory_mib, name, card):
    found = mig_profiles.identify(share, memory_mib)
    assert found is not None and (found.name, found.card) == (name, card)


def test_an_unknown_card_is_not_guessed():
    assert mig_profiles.identify(3 / 7, 150000.0) is None


def test_a_quiet_instance_moves_to_the_smallest_profile_that_holds_its_peak():
    recs = recommend(_data([_pod()]), load_catalog(), HOURS)
    (rec,) = recs
    # busy p95 30% of 2 slices -> 0.86 slice at 70%; 10.1 GiB / 0.8 needs a 20 GB instance.
    assert (rec.action, rec.current, rec.target) == (
        "downsize", "MIG 2g.20gb (A100 80GB)", "MIG 1g.20gb",
    )  # fmt: skip
    assert rec.monthly_savings == pytest.approx(100.0 * MONTH / 2)  # 1 of 2 slices
    assert rec.details == {"mig_profile": "2g.20gb", "target_mig_profile": "1g.20gb"}


def test_a_busy_instance_keeps_its_profile():
    assert recommend(_data([_pod(busy_p95=0.6)]), load_catalog(), HOURS) == []


def test_an_instance_at_its_memory_limit_gets_a_larger_profile_at_a_cost():
    pod = _pod(memory_peak_mib=19500.0, busy_p95=0.6, mig_share=1 / 7, gpus=1 / 7,
               memory_total_mib=9856.0 * 2)  # fmt: skip  # a 1g.20gb, full
    (rec,) = recommend(_data([pod]), load_catalog(), HOURS)
    assert (rec.action, rec.target) == ("upsize", "MIG 3g.40gb")
    assert rec.monthly_savings == pytest.approx(-100.0 * MONTH * 2)  # 3 slices for 1


def test_a_time_sliced_replica_gets_no_gpu_type_advice_from_the_whole_gpus_evidence():
    pod = _pod(mig_share=0.0, gpus=0.25, gpu_model="NVIDIA A10G", memory_total_mib=23028.0,
               busy_p95=0.2, memory_peak_mib=3000.0)  # fmt: skip
    assert [r.action for r in recommend(_data([pod]), load_catalog(), HOURS)] == []


def _gpu(gpu: str, held: float) -> dict:
    return {
        "node": "n1", "gpu": gpu, "mig_instance": "", "model_name": "NVIDIA L4",
        "present_hours": HOURS, "held_hours": held, "cost": 50.0, "pool": "gpu-l4",
    }  # fmt: skip


def test_no_capacity_advice_where_pods_hold_shares_dcgm_exporter_does_not_name():
    capacity = [_gpu("0", 0.0), _gpu("1", 0.0), _gpu("2", 0.0), _gpu("3", 0.0)]
    hami = _data([], capacity, {"n1": 0.95 * HOURS})  # HAMi pods: charged, unlabelled
    assert unlabelled_holders(hami) == {("", "n1"): pytest.approx(0.95 * HOURS)}
    assert recommend(hami, load_catalog(), HOURS) == []
    nobody = _data([], capacity, {})
    (rec,) = recommend(nobody, load_catalog(), HOURS)
    assert rec.action == "remove"
