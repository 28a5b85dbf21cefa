"""Right-sizing's money basis and its capacity advice (``remove`` / ``scale-down``): hand-made
evidence, and the sample cluster's week of 2026-11-20 against the simulator's truth."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from finops_cli.analytics.rightsize import recommend
from finops_cli.analytics.rightsize_common import RightsizeRules
from finops_cli.pricing import load_catalog
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import gpu_truth, pod_truth
from finops_cli.sources.interface import CAPACITY_COLUMNS, NODE_COLUMNS, POD_COLUMNS, PodGpuData
from tests.support.cli import run_finops

WEEK = ("--start", "2026-11-20", "--end", "2026-11-27")
START = int(datetime(2026, 11, 20, tzinfo=UTC).timestamp())
END = int(datetime(2026, 11, 27, tzinfo=UTC).timestamp())
MONTH = 730 / 168


def _gpu(node: str, gpu: str, held: float, cost: float = 100.0, mig: str = "") -> dict:
    return {
        "node": node, "gpu": gpu, "mig_instance": mig, "model_name": "NVIDIA H100 80GB HBM3",
        "present_hours": 168.0, "held_hours": held, "cost": cost, "pool": "gpu-h100",
    }  # fmt: skip


def _data(gpus: list[dict]) -> PodGpuData:
    nodes = pd.DataFrame(
        [{"node": n, "instance_type": "p5.48xlarge", "region": "us-east-1",
          "capacity_type": "on-demand"} for n in ("a", "b", "c")],
        columns=list(NODE_COLUMNS),
    )  # fmt: skip
    return PodGpuData(
        pd.DataFrame([], columns=list(POD_COLUMNS)),
        nodes,
        60,
        capacity=pd.DataFrame(gpus, columns=list(CAPACITY_COLUMNS)),
    )


def test_capacity_rules_remove_scale_down_and_the_held_share_threshold():
    data = _data(
        [
            _gpu("a", "0", 0.0), _gpu("a", "1", 0.0),  # a: nobody, ever: remove
            _gpu("b", "0", 168.0), _gpu("b", "1", 8.4),  # b: one GPU held 5%: scale-down
            _gpu("c", "0", 25.2),  # c: held 15%: not idle capacity at the default 10%
            # c's GPU 1 is MIG: two instances, each held 0 -> one idle GPU
            _gpu("c", "1", 0.0, 50.0, "1"), _gpu("c", "1", 0.0, 50.0, "2"),
        ]
    )  # fmt: skip
    recs = {r.workload.name: r for r in recommend(data, load_catalog(), 168.0)}
    assert recs["a"].action == "remove"
    assert recs["a"].details["idle_gpus"] == 2 and recs["a"].details["node_pool"] == "gpu-h100"
    assert recs["a"].details["idle_cost"] == pytest.approx(200.0)
    assert recs["a"].monthly_savings == pytest.approx(200.0 * MONTH)
    assert "pool gpu-h100" in recs["a"].target
    assert recs["b"].action == "scale-down"
    assert recs["b"].details["idle_gpus"] == 1
    assert recs["b"].details["idle_cost"] == pytest.approx(100.0 * 0.95)  # cost while unheld
    assert recs["c"].action == "scale-down" and recs["c"].details["idle_gpus"] == 1
    assert recs["c"].details["idle_cost"] == pytest.approx(100.0)
    # The threshold is a rule parameter: at 20% c's GPU 0 is idle too, and c is removed.
    loose = {
        r.workload.name: r
        for r in recommend(data, load_catalog(), 168.0, RightsizeRules(capacity_max_held_share=0.2))
    }
    assert loose["c"].action == "remove" and loose["c"].details["idle_gpus"] == 2
    savings = [r.monthly_savings for r in recommend(data, load_catalog(), 168.0)]
    assert savings == sorted(savings, reverse=True)


def _doc(*args: str) -> dict:
    result = run_finops(*args, *WEEK, "--source", "sample", "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sample_week_savings_are_measured_cost_and_idle_h100s_are_named():
    doc = _doc("rightsize")
    rows = doc["rows"]
    savings = [r["monthly_savings"] for r in rows]
    assert savings == sorted(savings, reverse=True)
    # The idle notebook saves what `costs` charges its namespace, projected to a month.
    costs = _doc("costs", "--by", "namespace")
    sandbox = next(r for r in costs["rows"] if r["namespace"] == "sandbox")
    notebook = next(r for r in rows if r["action"] == "terminate")
    assert notebook["workload"]["name"] == "jupyter-alice"
    assert notebook["window_cost"] == pytest.approx(sandbox["gpu_cost"], rel=1e-3)
    assert notebook["monthly_savings"] == pytest.approx(sandbox["gpu_cost"] * MONTH, rel=1e-3)
    cluster = SampleCluster()
    pods = pod_truth(cluster, START, END, 60)
    truth = float(pods[pods["pod"].str.startswith("jupyter-alice")]["cost"].sum())
    assert notebook["monthly_savings"] == pytest.approx(truth * MONTH, rel=1e-3)
    # Four H100s of ip-10-0-1-11 held by no pod all week: the biggest saving, first.
    gpus = gpu_truth(cluster, START, END, 60)
    idle = gpus[gpus["held_hours"] / gpus["present_hours"] < 0.1]
    assert set(idle["node"]) == {"ip-10-0-1-11.ec2.internal"} and len(idle) == 4
    top = rows[0]
    assert top["action"] == "scale-down"
    assert top["node"] == "ip-10-0-1-11.ec2.internal" == top["workload"]["name"]
    assert top["workload"]["kind"] == "Node"
    assert top["gpu_model"] == "NVIDIA H100 80GB HBM3"
    assert (top["idle_gpus"], top["node_gpus"]) == (4, 8)
    assert top["node_pool"] == "gpu-p5-on-demand"
    idle_cost = float((idle["cost"] * (1 - idle["held_hours"] / idle["present_hours"])).sum())
    assert top["idle_cost"] == pytest.approx(idle_cost, rel=0.01)
    assert top["monthly_savings"] == pytest.approx(idle_cost * MONTH, rel=0.01)
    # --action picks the capacity advice alone.
    only = _doc("rightsize", "--action", "scale-down", "--action", "remove")["rows"]
    assert [r["node"] for r in only] == ["ip-10-0-1-11.ec2.internal"]


def test_sample_week_table_fits_120_columns():
    result = run_finops(
        "rightsize", *WEEK, "--source", "sample", "-o", "table", env={"COLUMNS": "120"}
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 120
    assert "scale-down" in result.stdout
