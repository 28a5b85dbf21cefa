"""The sample source against the simulator's independent ground truth."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from finops_cli.analytics.costs import IDLE, UNALLOCATED, attribute_costs
from finops_cli.sample.simulate import SampleCluster, grid_between
from finops_cli.sample.truth import efficiency_truth, ground_truth, waste_truth
from finops_cli.sources.interface import CostRequest
from finops_cli.sources.sample import SampleCostSource
from finops_cli.timewindow import Window

LABELS = {
    "team": "ai-finops.io/team",
    "project": "ai-finops.io/project",
    "model": "ai-finops.io/model",
    "environment": "ai-finops.io/environment",
}


def _report(seed, start, end, keys, filters=None, bucket=3600):
    source = SampleCostSource(LABELS, seed=seed)
    window = Window(start, end, "test")
    data = source.costs(CostRequest(window, keys, filters or {}, bucket))
    return source.cluster, attribute_costs(data, keys, filters or {}, start, end)


@pytest.mark.parametrize("seed", [1, 42, 2026])
@pytest.mark.parametrize(
    "key", ["team", "project", "model", "cost_center", "namespace", "node", "gpu_model"]
)
def test_costs_equal_ground_truth(seed, key):
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC)
    cluster, report = _report(seed, start, end, (key,))
    truth = ground_truth(cluster, int(start.timestamp()), int(end.timestamp()))
    rows = {r.keys[key]: r for r in report.rows}
    for value, fig in truth.by(key).iterrows():
        row = rows[value or UNALLOCATED]
        assert row.gpu_cost == pytest.approx(fig["gpu_cost"], abs=0.005)
        assert row.gpu_hours == pytest.approx(fig["gpu_hours"], abs=1e-6)
    assert rows[IDLE].gpu_cost == pytest.approx(truth.idle_gpu_cost, abs=0.005)
    assert sum(r.gpu_cost for r in report.rows) == pytest.approx(truth.cluster_gpu_cost, abs=0.01)


@pytest.mark.parametrize("key", ["team", "namespace", "gpu_model"])
def test_waste_is_the_ledgers_cost_times_idle_share(key):
    """A row's waste is sum(price x (1 - busy)) over its GPU samples, not its cost times its
    average idle share (wrong where a row holds GPUs at different prices); __idle__ is all waste."""
    start, end = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC)
    cluster, report = _report(42, start, end, (key,))
    truth = waste_truth(cluster, int(start.timestamp()), int(end.timestamp()), 60, key)
    rows = {r.keys[key]: r for r in report.rows}
    for value, waste in truth.items():
        row = rows[value or UNALLOCATED]
        assert row.waste == pytest.approx(waste, rel=0.005, abs=0.01), value
    assert rows[IDLE].waste == pytest.approx(rows[IDLE].gpu_cost, abs=1e-9)
    assert report.totals.waste == pytest.approx(sum(truth) + rows[IDLE].gpu_cost, abs=0.01)


def test_total_waste_is_the_same_in_every_grouping():
    """Waste adds up: the total is the same to the cent whatever the grouping."""
    start, end = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC)
    totals = {}
    for keys in [("team",), ("team", "project"), ("gpu_model",), ("namespace",), ("node",)]:
        _, report = _report(42, start, end, keys)
        totals[keys] = round(report.totals.waste, 2)
        assert sum(r.waste or 0.0 for r in report.rows) == pytest.approx(report.totals.waste)
    assert len(set(totals.values())) == 1, totals
    # ... and equals the per-GPU waste of ``finops gpus``, to the cent.
    from finops_cli.analytics.gpus import GpuThresholds, assess_gpus

    source = SampleCostSource(LABELS, seed=42)
    gpus = assess_gpus(source.gpus(Window(start, end, "test")), GpuThresholds())
    assert round(float(gpus["waste"].sum()), 2) == next(iter(totals.values()))


def test_gpus_by_team_is_the_ledgers_split_of_each_gpu_over_its_holders():
    """``gpus --by team`` gives a team the cost, GPU-hours and waste of ``costs --by team``; the
    whole cost of the GPUs a team held longest is ``main_holder_cost``."""
    from finops_cli.analytics.gpus import GpuThresholds, assess_gpus, summarise_gpus

    start, end = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC)
    _, report = _report(42, start, end, ("team",))
    source = SampleCostSource(LABELS, seed=42)
    frame = assess_gpus(source.gpus(Window(start, end, "test")), GpuThresholds())
    summary = summarise_gpus(frame, "team", report).set_index("team")
    for row in report.rows:
        got = summary.loc[row.keys["team"]]
        assert round(got["cost"], 2) == round(row.gpu_cost, 2), row.keys
        assert round(got["gpu_hours"], 6) == round(row.gpu_hours, 6), row.keys
        assert round(got["waste"], 2) == round(row.waste or 0.0, 2), row.keys
    assert summary["gpus"].sum() == len(frame)
    assert summary["main_holder_cost"].sum() == pytest.approx(frame["cost"].sum())
    assert summary.loc["research", "main_holder_cost"] > summary.loc["research", "cost"]
    assert round(summary["cost"].sum(), 2) == round(frame["cost"].sum(), 2)


@pytest.mark.slow
def test_unaligned_window_and_daily_buckets_stay_within_half_a_percent():
    start = datetime(2026, 9, 3, 7, 41, 13, tzinfo=UTC)
    end = datetime(2026, 11, 20, 16, 2, 55, tzinfo=UTC)
    cluster, report = _report(42, start, end, ("team",), bucket=86400)
    truth = ground_truth(cluster, int(start.timestamp()), int(end.timestamp()))
    rows = {r.keys["team"]: r for r in report.rows}
    for team, fig in truth.by("team").iterrows():
        assert rows[team or UNALLOCATED].gpu_cost == pytest.approx(fig["gpu_cost"], rel=0.005)
    assert len(report.days) == 79


def test_cost_centers_come_from_the_annotation_not_from_teams():
    """Cost per cost center equals the truth to the cent, and is no relabelling of teams: one team
    spans two cost centers and a labelled workload carries no annotation."""
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC)
    cluster, report = _report(42, start, end, ("team", "cost_center"))
    truth = ground_truth(cluster, int(start.timestamp()), int(end.timestamp()))
    pods = truth.pods[truth.pods["gpu_cost"] > 0]
    assert pods[pods["team"] == "nlp"]["cost_center"].nunique() == 2
    assert ((pods["team"] == "research") & (pods["cost_center"] == "")).any()
    rows = {(r.keys["team"], r.keys["cost_center"]): r for r in report.rows}
    for (team, center), fig in pods.groupby(["team", "cost_center"])[["gpu_cost"]].sum().iterrows():
        row = rows[(team or UNALLOCATED, center or UNALLOCATED)]
        assert row.gpu_cost == pytest.approx(fig["gpu_cost"], abs=0.005), (team, center)
    assert rows[("research", UNALLOCATED)].kind == "allocated"  # a team without a cost center
    assert sum(r.gpu_cost for r in report.rows) == pytest.approx(truth.cluster_gpu_cost, abs=0.01)


def test_cost_center_annotation_key_is_configurable():
    """A key no pod carries puts every pod in __unallocated__; the invariant still holds."""
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)
    source = SampleCostSource(LABELS | {"cost_center": "example.com/billing-code"}, seed=42)
    data = source.costs(CostRequest(Window(start, end, "t"), ("cost_center",), {}, 3600))
    report = attribute_costs(data, ("cost_center",), {}, start, end)
    assert {r.kind for r in report.rows} == {"unallocated", "idle"}
    truth = ground_truth(source.cluster, int(start.timestamp()), int(end.timestamp()))
    unallocated = next(r for r in report.rows if r.kind == "unallocated")
    assert unallocated.gpu_cost == pytest.approx(truth.allocated_gpu_cost, abs=0.005)


def test_efficiency_equals_sampled_truth():
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC)
    cluster, report = _report(42, start, end, ("team",))
    truth = efficiency_truth(cluster, int(start.timestamp()), int(end.timestamp()), 60, "team")
    rows = {r.keys["team"]: r for r in report.rows}
    for team, value in truth.items():
        assert rows[team or UNALLOCATED].efficiency == pytest.approx(value, abs=1e-9)
    assert rows[IDLE].waste == rows[IDLE].gpu_cost


def test_filter_keeps_only_matching_pods_and_cluster_idle_on_request():
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC)
    cluster, report = _report(42, start, end, ("project",), {"team": "nlp"})
    truth = ground_truth(cluster, int(start.timestamp()), int(end.timestamp()))
    allocated = [r for r in report.rows if r.kind == "allocated"]
    assert {r.keys["project"] for r in allocated} == {"chat-assistant"}
    nlp = truth.pods[truth.pods["team"] == "nlp"]["gpu_cost"].sum()
    assert allocated[0].gpu_cost == pytest.approx(nlp, abs=0.005)
    assert not [r for r in report.rows if r.kind == "idle"]  # idle belongs to no team
    assert report.totals.gpu_cost == pytest.approx(nlp, abs=0.005)
    filters = {"team": "nlp"}
    source = SampleCostSource(LABELS, seed=42)
    data = source.costs(CostRequest(Window(start, end, "t"), ("project",), filters, 3600))
    with_idle = attribute_costs(data, ("project",), filters, start, end, include_idle=True)
    idle = next(r for r in with_idle.rows if r.kind == "idle")
    assert idle.gpu_cost == pytest.approx(truth.idle_gpu_cost, abs=0.005)


def test_simulation_is_deterministic_and_seeded():
    start, end = (
        int(datetime(2026, 10, 1, tzinfo=UTC).timestamp()),
        int(datetime(2026, 10, 2, tzinfo=UTC).timestamp()),
    )
    a = list(SampleCluster(3).series(start, end, 300))
    b = list(SampleCluster(3).series(start, end, 300))
    c = list(SampleCluster(4).series(start, end, 300))
    assert [(s.name, s.labels) for s in a] == [(s.name, s.labels) for s in b]
    assert all(np.array_equal(x.values, y.values) for x, y in zip(a, b, strict=True))
    assert [(s.name, s.labels) for s in a] != [(s.name, s.labels) for s in c]


def test_cluster_has_what_the_contract_promises():
    cluster = SampleCluster(42)
    start = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())
    series = list(cluster.series(start, start + 12 * 86400, 900))
    names = {s.name for s in series}
    for name in (
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        "node_gpu_hourly_cost",
        "node_gpu_count",
        "container_gpu_allocation",
        "node_cpu_hourly_cost",
        "kube_pod_labels",
        "kube_node_labels",
        "vllm:request_success_total",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
    ):
        assert name in names
    labels = [s.labels for s in series if s.name == "kube_pod_labels"]
    assert any("label_ai_finops_io_team" not in lab for lab in labels)  # an unlabelled pod
    dcgm = [s.labels for s in series if s.name == "DCGM_FI_DEV_GPU_UTIL"]
    assert any("pod" not in lab for lab in dcgm)  # idle GPUs carry no pod
    assert {"Hostname", "UUID", "modelName", "gpu"} <= set(dcgm[0])
    spot = [n for n in cluster.nodes if n.is_spot]
    assert spot and len({n.instance_type for n in cluster.nodes}) >= 3
    # The injected anomaly: one day in eleven the vision team's cost jumps by an order of magnitude.
    truth = ground_truth(cluster, start, start + 11 * 86400)
    days = [
        ground_truth(cluster, start + d * 86400, start + (d + 1) * 86400)
        .by("team")
        .loc["vision", "gpu_cost"]
        for d in range(11)
    ]
    assert max(days) > 5 * sorted(days)[5]
    assert truth.by("team").loc["vision", "gpu_cost"] == pytest.approx(sum(days), rel=1e-9)
    # Inference counters reset when a pod is replaced (a new pod starts from zero).
    grid = grid_between(start, start + 12 * 86400, 900)
    runs = [r for r in cluster.pod_runs(grid) if r.workload.name == "chat-llama-0"]
    assert len(runs) >= 3
