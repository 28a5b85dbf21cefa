"""Right-sizing and GPU-state rules on hand-made evidence."""

from __future__ import annotations

import pandas as pd
import pytest

from finops_cli.analytics.gpus import GpuThresholds, classify
from finops_cli.analytics.rightsize import recommend
from finops_cli.analytics.rightsize_workloads import workload_of
from finops_cli.pricing import load_catalog
from finops_cli.sources.interface import NODE_COLUMNS, POD_COLUMNS, PodGpuData


def test_workload_of_maps_controllers():
    assert workload_of("ReplicaSet", "chat-7d9f8c6b5d", "chat-7d9f8c6b5d-x2k4q") == (
        "Deployment",
        "chat",
    )
    assert workload_of("Job", "nightly-train-29384756", "p") == ("Job", "nightly-train")
    assert workload_of("StatefulSet", "db", "db-0") == ("StatefulSet", "db")
    assert workload_of("", "", "bare-pod") == ("Pod", "bare-pod")


@pytest.mark.parametrize(
    "held, avg, p95, state",
    [
        (0.2, 0.9, 0.95, "unallocated"),
        (1.0, 0.01, 0.04, "idle-allocated"),
        (1.0, 0.2, 0.5, "underused"),
        (0.9, 0.6, 0.9, "active"),
        (1.0, None, None, "active"),  # no busy data: never called idle on no evidence
    ],
)
def test_gpu_states(held, avg, p95, state):
    assert classify(held, avg, p95, GpuThresholds()) == state


def _pods(**overrides):
    row = (
        dict.fromkeys(POD_COLUMNS, "")
        | {
            "namespace": "ml",
            "pod": "train-4-8x9wz",
            "owner_kind": "Job",
            "owner_name": "train-4",
            "node": "n1",
            "gpu_model": "NVIDIA H100 80GB HBM3",
            "gpus": 8,
            "gpu_hours": 8 * 72.0,
            "busy_avg": 0.2,
            "busy_p95": 0.3,
            "memory_peak_mib": 40000.0,
            "memory_total_mib": 81559.0,
            "cost": 8 * 72 * 6.88,
        }
        | overrides
    )
    nodes = pd.DataFrame(
        [{"node": "n1", "instance_type": "p5.48xlarge", "region": "us-east-1",
          "capacity_type": "on-demand"}],
        columns=list(NODE_COLUMNS),
    )  # fmt: skip
    return PodGpuData(pd.DataFrame([row], columns=list(POD_COLUMNS)), nodes, 60)


def test_a_cheaper_gpu_that_holds_the_memory_wins():
    recs = recommend(_pods(), load_catalog(), 72.0)
    down = next(r for r in recs if r.action == "downsize")
    assert down.target == "p4de.24xlarge (on-demand)"  # A100 80GB holds 40 GB with headroom


def test_multi_gpu_job_at_low_busy_is_downsized_to_fewer_gpus():
    # 70 GB peak: no cheaper 8-GPU type holds it with 20% headroom, so: fewer H100s.
    recs = recommend(_pods(memory_peak_mib=70000.0), load_catalog(), 72.0)
    down = next(r for r in recs if r.action == "downsize")
    assert down.target == "3 x NVIDIA H100 80GB HBM3"  # ceil(0.2 x 8 / 0.7)
    assert down.monthly_savings == pytest.approx(5 / 8 * 55.04 / 8 * 8 * 72 * 730 / 72)


def test_no_spot_saving_is_invented_when_the_catalog_has_no_spot_price():
    recs = recommend(_pods(), load_catalog(), 72.0)
    assert all(r.action != "spot" for r in recs)  # p5.48xlarge has no catalog spot price


def test_records_are_to_dicts_records_value_for_value() -> None:
    """The rules read frames through ``records``: every dtype a source builds (text with
    missing values, objects such as pod-name tuples, integers, floats with NaN, booleans,
    timestamps with NaT, categories) must come out as ``to_dict("records")`` gives it."""
    from finops_cli.frames import records

    frame = pd.DataFrame(
        {
            "node": ["a", None, "c"],
            "pod_names": pd.Series([("p-1", "p-2"), "q", None], dtype=object),
            "gpus": [1, 2, 3],
            "busy_p95": [0.5, float("nan"), 2.0],
            "spot": [True, False, True],
            "seen": pd.to_datetime(["2026-10-01", "2026-10-02", None]),
            "pool": pd.Categorical(["x", "y", "x"]),
        }
    )
    expected = frame.to_dict("records")
    got = records(frame)
    assert [list(r) for r in got] == [list(r) for r in expected]
    for mine, theirs in zip(got, expected, strict=True):
        for key, value in theirs.items():
            assert type(mine[key]) is type(value)
            assert mine[key] == value or (pd.isna(value) and pd.isna(mine[key]))
    assert records(frame.iloc[:0]) == []
    assert records(frame[[]]) == [{}, {}, {}]
