"""``finops costs`` through a real Prometheus holding the sample cluster, against ground truth.

The data is written by the simulator as OpenMetrics, backfilled with promtool, and queried by the
installed ``finops`` entry point exactly as a user would.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_cli.promql import quote
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.scenario import MODEL_KEY
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import (
    efficiency_truth,
    gpu_truth,
    ground_truth,
    inference_truth,
    pod_truth,
    waste_truth,
)
from tests.support.cli import run_finops
from tests.support.gpu_truth import gpus_matching_truth

pytestmark = pytest.mark.prometheus

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 4, tzinfo=UTC)
STEP = 300  # 5-minute scrapes keep the fixture small; every state change is on a 15-min boundary
DATA_FROM = int(START.timestamp()) - 6 * 3600
DATA_TO = int(END.timestamp()) + 6 * 3600

VARIANTS = {
    "released": {},
    "honor-labels-false": {"dcgm_honor_labels": False, "dcgm_host_label": "hostname"},
    "no-hostname": {"dcgm_host_label": None},
}
KEYS = {
    "team": "team",
    "project": "project",
    "model": "model",
    "cost-center": "cost_center",
    "namespace": "namespace",
    "node": "node",
    "gpu-model": "gpu_model",
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def backend(request, prometheus_from_openmetrics, tmp_path_factory):
    variant = request.param
    cluster = SampleCluster(7, **VARIANTS[variant])
    path = Path(tmp_path_factory.mktemp("om")) / "cluster.om"
    write_openmetrics_file(cluster.series(DATA_FROM, DATA_TO, STEP), path)
    url = prometheus_from_openmetrics(path, f"costs-{variant}")
    return url, cluster


def _costs(url: str, *extra: str) -> dict:
    result = run_finops(
        "costs",
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-04",
        "--prometheus-url",
        url,
        "--output",
        "json",
        *extra,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_discovery_places_gpus_by_ip_only_without_a_host_label(backend):
    """The IP join (``QueryContext.dcgm_node``) is turned on by an index lookup only where a
    dcgm-exporter series has no host label and no ``node``: the other variants' queries are
    unchanged."""
    from finops_cli.settings import load_settings
    from finops_cli.sources.prometheus_client import PrometheusClient
    from finops_cli.sources.prometheus_discovery import places_gpus_by_ip, present_metrics

    url, cluster = backend
    client = PrometheusClient(load_settings({"prometheus.url": url}).prometheus)
    try:
        present = present_metrics(client, START, END)
        found = places_gpus_by_ip(client, START, END, present)
    finally:
        client.close()
    assert found == (cluster.dcgm_host_label is None)


def _by_key(doc: dict, key: str) -> dict[str, dict]:
    return {row[key]: row for row in doc["rows"]}


@pytest.mark.parametrize("flag", sorted(KEYS))
def test_costs_match_ground_truth(backend, flag):
    url, cluster = backend
    key = KEYS[flag]
    doc = _costs(url, "--by", flag)
    truth = ground_truth(cluster, int(START.timestamp()), int(END.timestamp()))
    expected = truth.by(key)
    rows = _by_key(doc, key)
    assert doc["source"] == "prometheus"
    assert doc["window"] == {
        "start": "2026-10-01T00:00:00Z",
        "end": "2026-10-04T00:00:00Z",
        "label": "2026-10-01..2026-10-04",
    }
    for value, figures in expected.iterrows():
        name = value if value != "" else "__unallocated__"
        row = rows[name]
        assert row["gpu_cost"] == pytest.approx(figures["gpu_cost"], rel=0.005), name
        assert row["gpu_hours"] == pytest.approx(figures["gpu_hours"], rel=0.005), name
        assert row["cpu_ram_cost"] == pytest.approx(figures["cpu_ram_cost"], rel=0.005), name
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, rel=0.005)
    assert rows["__idle__"]["gpu_hours"] == pytest.approx(truth.idle_gpu_hours, rel=0.005)
    # Nothing dropped: rows + __unallocated__ + __idle__ are the cluster's whole GPU spend.
    total = sum(r["gpu_cost"] for r in doc["rows"])
    assert total == pytest.approx(truth.cluster_gpu_cost, rel=0.005)
    assert total == pytest.approx(doc["totals"]["cluster_gpu_cost"], abs=0.01)
    assert doc["totals"]["gpu_cost"] == pytest.approx(total, abs=0.01)


def test_efficiency_matches_ground_truth(backend):
    url, cluster = backend
    doc = _costs(url, "--by", "team")
    assert doc["efficiency_metric"].startswith("DCGM_FI_PROF_GR_ENGINE_ACTIVE")
    truth = efficiency_truth(cluster, int(START.timestamp()), int(END.timestamp()), STEP, "team")
    rows = _by_key(doc, "team")
    for team, efficiency in truth.items():
        row = rows[team or "__unallocated__"]
        assert row["efficiency"] == pytest.approx(efficiency, abs=0.005), team
    # Waste is the ledger's: sum(price x (1 - busy)) entry by entry, within half a percent.
    wastes = waste_truth(cluster, int(START.timestamp()), int(END.timestamp()), STEP, "team")
    for team, waste in wastes.items():
        assert rows[team or "__unallocated__"]["waste"] == pytest.approx(waste, rel=0.005), team


def _gpus(url: str, *extra: str) -> dict:
    result = run_finops(
        "gpus", "--start", "2026-10-01", "--end", "2026-10-04", "--prometheus-url", url,
        "-o", "json", *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_one_ledger_across_groupings_and_commands(backend):
    """Total waste is the same for four groupings and for ``gpus``; a team's cost, GPU-hours and
    waste are the same in ``costs --by team`` and ``gpus --by team``."""
    url, _ = backend
    by_team = _costs(url, "--by", "team")
    totals = {
        by: _costs(url, *[a for k in by for a in ("--by", k)])["totals"]["waste"]
        for by in [("team", "project"), ("gpu-model",), ("namespace",)]
    } | {("team",): by_team["totals"]["waste"]}
    totals[("gpus",)] = _gpus(url)["totals"]["waste"]
    assert max(totals.values()) - min(totals.values()) < 0.01, totals
    gpus = _by_key(_gpus(url, "--by", "team"), "team")
    for row in by_team["rows"]:
        got = gpus[row["team"]]
        assert got["cost"] == pytest.approx(row["gpu_cost"], abs=0.005), row["team"]
        assert got["gpu_hours"] == pytest.approx(row["gpu_hours"], abs=1e-6), row["team"]
        assert got["waste"] == pytest.approx(row["waste"] or 0.0, abs=0.005), row["team"]


def test_team_filter_and_two_levels(backend):
    url, cluster = backend
    truth = ground_truth(cluster, int(START.timestamp()), int(END.timestamp()))
    doc = _costs(url, "--by", "team", "--by", "project", "--team", "ml-platform")
    allocated = [r for r in doc["rows"] if r["kind"] == "allocated"]
    assert {r["team"] for r in allocated} == {"ml-platform"}
    pods = truth.pods[truth.pods["team"] == "ml-platform"]
    for project, cost in pods.groupby("project")["gpu_cost"].sum().items():
        row = next(r for r in allocated if r["project"] == project)
        assert row["gpu_cost"] == pytest.approx(cost, rel=0.005)


def test_team_filter_total_is_that_team_only_and_unknown_teams_warn(backend):
    """Through a real Prometheus: no cluster idle in a team's total unless --include-idle, and a
    team that matches nothing warns with the teams that exist."""
    url, cluster = backend
    truth = ground_truth(cluster, int(START.timestamp()), int(END.timestamp()))
    nlp = truth.pods[truth.pods["team"] == "nlp"]["gpu_cost"].sum()
    doc = _costs(url, "--team", "nlp", "-q")
    assert "idle" not in {r["kind"] for r in doc["rows"]}
    assert doc["totals"]["gpu_cost"] == pytest.approx(nlp, rel=0.005)
    with_idle = _costs(url, "--team", "nlp", "--include-idle", "-q")
    idle = next(r for r in with_idle["rows"] if r["kind"] == "idle")
    assert idle["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, rel=0.005)
    result = run_finops(
        "costs", "--start", "2026-10-01", "--end", "2026-10-04", "--prometheus-url", url,
        "-o", "json", "--team", "nlpp",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    warning = "finops: warning: --team nlpp matched no GPU spend in the window; known teams: nlp"
    assert warning in result.stderr
    note = json.loads(result.stdout)["notes"][0]
    assert note.startswith(warning.removeprefix("finops: warning: ")), note


def test_sample_and_prometheus_agree(backend):
    """The sample source and a real Prometheus give the same figures for the same cluster."""
    url, _ = backend
    prom = _by_key(_costs(url, "--by", "team"), "team")
    sample = run_finops(
        "costs",
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-04",
        "--source",
        "sample",
        "--output",
        "json",
        env={"FINOPS_SAMPLE_SEED": "7"},
    )
    assert sample.returncode == 0, sample.stderr
    rows = _by_key(json.loads(sample.stdout), "team")
    assert set(rows) == set(prom)
    for team, row in rows.items():
        assert prom[team]["gpu_cost"] == pytest.approx(row["gpu_cost"], rel=0.005), team


def test_hostile_team_value_cannot_change_the_query(backend):
    url, _ = backend
    doc = _costs(url, "--team", 'x"} or vector(1) or {a="')
    assert [r for r in doc["rows"] if r["kind"] == "allocated"] == []


@settings(max_examples=80, deadline=None)
@given(value=st.text(st.characters(blacklist_categories=("Cs",))))
def test_promql_quote_round_trips_through_prometheus(backend, value):
    """Whatever a label value holds, Prometheus reads back exactly that value."""
    url, _ = backend
    # absent() echoes the labels of its equality matchers: what Prometheus parsed, verbatim.
    query = f"absent(finops_no_such_metric{{v={quote(value)}}})"
    body = httpx.post(f"{url}/api/v1/query", data={"query": query}, timeout=10).json()
    assert body["status"] == "success", (value, body)
    labels = body["data"]["result"][0]["metric"]
    assert labels.get("v", "") == value


def test_unit_costs_match_ground_truth(backend):
    """vLLM, Triton and TGI counters (with pod restarts) against the simulator's traffic truth:
    whole requests, exactly the per-scrape increases the counters show."""
    url, cluster = backend
    doc = _costs(url, "--by", "model", "--unit-costs")
    truth = inference_truth(cluster, int(START.timestamp()), int(END.timestamp()), STEP)
    rows = {r["model"]: r for r in doc["rows"] if r["kind"] == "allocated"}
    for model, fig in truth.iterrows():
        row = rows[model]
        assert row["requests"] == pytest.approx(fig["requests"], rel=1e-9), model  # exact
        assert row["gpu_cost"] == pytest.approx(fig["gpu_cost"], rel=0.005), model
        tokens = fig["prompt_tokens"] + fig["generated_tokens"]
        if fig["gpu_cost"] > 0 and tokens > 0:
            expected = fig["gpu_cost"] / tokens * 1e6
            assert row["cost_per_1m_tokens"] == pytest.approx(expected, rel=0.01), model
            assert row["unit_cost_status"] == "ok"
    assert rows["defect-yolo"]["unit_cost_status"] == "no-traffic"
    assert rows["defect-yolo"]["cost_per_1k_requests"] is None
    assert rows["qwen2-0.5b"]["unit_cost_status"] == "unpriced"
    # Moving the Triton pod's cost onto its model keeps the spend whole.
    total = sum(r["gpu_cost"] for r in doc["rows"])
    assert total == pytest.approx(doc["totals"]["cluster_gpu_cost"], abs=0.01)
    # ... and its waste moves as the ledger's sum: rows still add up to the plain report's.
    plain = _costs(url, "--by", "model")
    assert sum(r["waste"] or 0.0 for r in doc["rows"]) == pytest.approx(
        plain["totals"]["waste"], abs=0.01
    )
    by_name = waste_truth(cluster, int(START.timestamp()), int(END.timestamp()), STEP, "name")
    served = [w for w in cluster.workloads if w.serving and MODEL_KEY not in w.labels]
    assert served, "the sample has a serving pod without a model label"
    for model in {cluster.served_model(w) for w in served}:
        expected = sum(by_name[w.name] for w in served if cluster.served_model(w) == model)
        assert rows[model]["waste"] == pytest.approx(expected, rel=0.005), model


def test_gpus_match_ground_truth(backend):
    """One row per GPU from server-side statistics; states and dollars as the simulator knows."""
    url, cluster = backend
    rows, truth = gpus_matching_truth(url, cluster, START, END, STEP)
    for expected in truth:
        row = rows[expected["uuid"]]
        held_share = expected["held_hours"] / expected["present_hours"]
        assert row["held_share"] == pytest.approx(held_share, abs=0.01)
        if pd.notna(expected["busy_avg"]):
            assert row["busy_avg"] == pytest.approx(expected["busy_avg"], abs=0.01)
            assert row["busy_p95"] == pytest.approx(expected["busy_p95"], abs=0.02)
        # The pod that held it longest (equal holds, e.g. daily job runs, may pick either).
        assert row["team"] == expected["team"] and row["namespace"] == expected["namespace"]
        assert row["instance_type"] == cluster.node(row["node"]).instance_type
    sample = run_finops(
        "gpus",
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-04",
        "--source",
        "sample",
        "-o",
        "json",
        env={"FINOPS_SAMPLE_SEED": "7"},
    )
    states = {r["uuid"]: r["state"] for r in json.loads(sample.stdout)["rows"]}
    assert states == {uuid: r["state"] for uuid, r in rows.items()}
    assert "idle-allocated" in states.values() and "unallocated" in states.values()


def test_idle_gpus_and_their_waste(backend):
    url, cluster = backend
    result = run_finops(
        "gpus",
        "--idle",
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-04",
        "--prometheus-url",
        url,
        "-o",
        "json",
    )
    doc = json.loads(result.stdout)
    assert {r["state"] for r in doc["rows"]} <= {"idle-allocated", "unallocated"}
    notebook = next(r for r in doc["rows"] if r["pod"].startswith("jupyter-alice"))
    truth = gpu_truth(cluster, int(START.timestamp()), int(END.timestamp()), STEP)
    expected = truth[truth["pod"] == notebook["pod"]].iloc[0]
    waste = expected["cost"] * (1 - expected["busy_avg"])
    assert notebook["state"] == "idle-allocated"
    assert notebook["waste"] == pytest.approx(waste, rel=0.01)


def _rightsize(url: str | None) -> dict:
    where = ["--prometheus-url", url] if url else ["--source", "sample"]
    result = run_finops(
        "rightsize",
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-04",
        *where,
        "-o",
        "json",
        env={"FINOPS_SAMPLE_SEED": "7"},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_rightsize_finds_each_planted_case_with_its_saving(backend):
    """Each planted case, its target and its saving: the measured cost of its pods (the
    simulator's truth) x 730 h / window, times (1 - target/current catalog price) for a switch."""
    url, cluster = backend
    doc = _rightsize(url)
    recs = {(r["workload"]["name"], r["action"]): r for r in doc["rows"]}
    pods = pod_truth(cluster, int(START.timestamp()), int(END.timestamp()), STEP)
    month = 730 / 72

    def measured(name: str) -> float:
        return float(pods[pods["pod"].str.startswith(name)]["cost"].sum()) * month

    expected = {
        ("jupyter-alice", "terminate"): ("none", measured("jupyter-alice")),
        ("summarizer", "downsize"): ("g4dn.xlarge", (1 - 0.526 / 1.006) * measured("summarizer")),
        ("llama-13b", "upsize"): ("g6e.xlarge", (1 - 1.861 / 1.006) * measured("llama-13b")),
        ("embeddings-0", "consolidate"): ("embeddings-1", measured("embeddings-0")),
        ("feature-batch", "spot"): ("spot", (1 - 2.36 / 5.672) * measured("feature-batch")),
    }
    for key, (target, saving) in expected.items():
        rec = recs[key]
        assert target in rec["target"], (key, rec["target"])
        assert rec["monthly_savings"] == pytest.approx(saving, rel=0.01), key
        assert rec["current_monthly"] == pytest.approx(measured(key[0]), rel=0.01), key
        assert rec["window_cost"] == pytest.approx(measured(key[0]) / month, rel=0.01), key
        assert rec["confidence"] in {"high", "medium", "low"}
        assert rec["namespace"] and rec["workload"]["kind"] in {"Deployment", "Job"}
    assert {r["action"] for r in doc["rows"]} == {
        "terminate",
        "downsize",
        "upsize",
        "consolidate",
        "spot",
    }
    savings = [r["monthly_savings"] for r in doc["rows"]]
    assert savings == sorted(savings, reverse=True)
    # The sample source gives the same answers.
    sample = {(r["workload"]["name"], r["action"]): r for r in _rightsize(None)["rows"]}
    assert set(sample) == set(recs)
    for key, rec in recs.items():
        assert sample[key]["monthly_savings"] == pytest.approx(rec["monthly_savings"], rel=0.01)
        # Grouped into workloads on the server, with every pod's name still listed.
        assert rec["pods"] == sample[key]["pods"], key
        assert rec["pods"] and rec["pod"] == rec["pods"][-1]


# ---- cost center: the ai-finops.io/cost-center pod annotation, through kube_pod_annotations ----


def _truth_by_cost_center(cluster: SampleCluster) -> tuple[dict[str, float], float, float]:
    truth = ground_truth(cluster, int(START.timestamp()), int(END.timestamp()))
    by = truth.by("cost_center")["gpu_cost"]
    return (
        {(k or "__unallocated__"): float(v) for k, v in by.items()},
        truth.idle_gpu_cost,
        truth.cluster_gpu_cost,
    )


def test_costs_by_cost_center_equal_truth_to_the_cent(backend):
    url, cluster = backend
    result = run_finops(
        "costs", "--start", "2026-10-01", "--end", "2026-10-04", "--prometheus-url", url,
        "--by", "cost-center", "-o", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "annotation" not in result.stderr  # every annotated pod was found: no warning
    doc = json.loads(result.stdout)
    assert doc["group_by"] == ["cost_center"]
    expected, idle, cluster_cost = _truth_by_cost_center(cluster)
    rows = _by_key(doc, "cost_center")
    assert set(rows) == {*expected, "__idle__"}
    assert {"NLP-210", "NLP-220", "__unallocated__"} <= set(expected)
    for name, cost in expected.items():
        assert rows[name]["gpu_cost"] == pytest.approx(cost, abs=0.01), name
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(idle, abs=0.01)
    total = sum(r["gpu_cost"] for r in doc["rows"])
    assert total == pytest.approx(cluster_cost, abs=0.01)


def test_chargeback_by_cost_center_equals_truth_to_the_cent(backend):
    url, cluster = backend
    result = run_finops(
        "report", "chargeback", "--start", "2026-10-01", "--end", "2026-10-04",
        "--prometheus-url", url, "--by", "cost-center", "--format", "json", "--output-file", "-",
        "--no-details", "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["group_by"] == "cost_center" and doc["source"] == "prometheus"
    expected, idle, cluster_cost = _truth_by_cost_center(cluster)
    rows = {r["cost_center"]: r for r in doc["rows"]}
    assert set(rows) == {*expected, "__idle__"}
    for name, cost in expected.items():
        assert rows[name]["gpu_cost"] == pytest.approx(cost, abs=0.01), name
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(idle, abs=0.01)
    assert sum(r["gpu_cost"] for r in doc["rows"]) == pytest.approx(cluster_cost, abs=0.01)


def test_team_and_cost_center_with_a_team_filter(backend):
    """Two levels and a filter: the annotations are joined onto the filtered pod labels."""
    url, cluster = backend
    truth = ground_truth(cluster, int(START.timestamp()), int(END.timestamp()))
    for team in ("research", "nlp"):
        doc = _costs(url, "--by", "team", "--by", "cost-center", "--team", team)
        allocated = {
            (r["team"], r["cost_center"]): r for r in doc["rows"] if r["kind"] == "allocated"
        }
        pods = truth.pods[(truth.pods["team"] == team) & (truth.pods["gpu_cost"] > 0)]
        expected = pods.groupby("cost_center")["gpu_cost"].sum()
        assert len(expected) == 2, team  # research: one pod without it; nlp: two cost centers
        assert set(allocated) == {(team, c or "__unallocated__") for c in expected.index}
        for center, cost in expected.items():
            row = allocated[(team, center or "__unallocated__")]
            assert row["gpu_cost"] == pytest.approx(cost, abs=0.01), (team, center)


def test_a_cost_center_key_no_pod_carries_warns(backend):
    """kube_pod_annotations exists but no pod has the configured annotation: all unallocated."""
    url, cluster = backend
    result = run_finops(
        "costs", "--start", "2026-10-01", "--end", "2026-10-04", "--prometheus-url", url,
        "--by", "cost-center", "-o", "json",
        env={"FINOPS_LABEL_COST_CENTER": "example.com/billing-code"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "no pod carries the example.com/billing-code annotation" in result.stderr
    assert "--metric-annotations-allowlist=pods=[example.com/billing-code]" in result.stderr
    doc = json.loads(result.stdout)
    assert {r["kind"] for r in doc["rows"]} == {"unallocated", "idle"}
    truth = ground_truth(cluster, int(START.timestamp()), int(END.timestamp()))
    unallocated = next(r for r in doc["rows"] if r["kind"] == "unallocated")
    assert unallocated["gpu_cost"] == pytest.approx(truth.allocated_gpu_cost, abs=0.01)


NO_ANNOTATIONS_END = datetime(2026, 10, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def without_annotations(prometheus_from_openmetrics, tmp_path_factory):
    """The sample cluster as kube-state-metrics exports it without --metric-annotations-allowlist:
    no kube_pod_annotations series at all (one day, to keep the backfill short)."""
    cluster = SampleCluster(7)
    path = Path(tmp_path_factory.mktemp("om")) / "no-annotations.om"
    series = cluster.series(DATA_FROM, int(NO_ANNOTATIONS_END.timestamp()) + 3600, STEP)
    write_openmetrics_file((s for s in series if s.name != "kube_pod_annotations"), path)
    return prometheus_from_openmetrics(path, "costs-no-annotations"), cluster


@pytest.mark.parametrize(
    "command",
    [
        ("costs", "-o", "json"),
        ("report", "chargeback", "--format", "json", "--output-file", "-", "--no-details"),
    ],
)
def test_missing_kube_pod_annotations_warns_with_the_allowlist_hint(without_annotations, command):
    url, cluster = without_annotations
    result = run_finops(
        *command, "--start", "2026-10-01", "--end", "2026-10-02", "--prometheus-url", url,
        "--by", "cost-center",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "kube_pod_annotations is missing" in result.stderr
    assert "--metric-annotations-allowlist=pods=[ai-finops.io/cost-center]" in result.stderr
    doc = json.loads(result.stdout)
    assert {r["kind"] for r in doc["rows"]} == {"unallocated", "idle"}
    truth = ground_truth(cluster, int(START.timestamp()), int(NO_ANNOTATIONS_END.timestamp()))
    rows = {r["kind"]: r for r in doc["rows"]}
    assert rows["unallocated"]["gpu_cost"] == pytest.approx(truth.allocated_gpu_cost, abs=0.01)
    assert sum(r["gpu_cost"] for r in doc["rows"]) == pytest.approx(
        truth.cluster_gpu_cost, abs=0.01
    )


def test_a_request_for_fewer_measures_sends_fewer_queries(backend):
    """Forecasts and anomalies read three allocation measures: the others are not queried, and
    the three they read are the figures a full request gives."""
    from finops_cli.settings import PrometheusSettings
    from finops_cli.sources.interface import SERIES_MEASURES, CostRequest
    from finops_cli.sources.prometheus import PrometheusCostSource
    from finops_cli.timewindow import Window

    url, _ = backend
    window = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC), "test")
    answers = {}
    for measures in (None, SERIES_MEASURES):
        source = PrometheusCostSource(PrometheusSettings(url=url), {"team": "ai-finops.io/team"})
        request = CostRequest(window, ("team",))
        if measures is not None:
            request = CostRequest(window, ("team",), measures=measures)
        data = source.costs(request)
        answers[measures] = (data.allocations.set_index(["bucket_end", "team"]), source)
    (full, full_source), (part, part_source) = answers[None], answers[SERIES_MEASURES]
    assert part_source.client.queries_issued < full_source.client.queries_issued
    pd.testing.assert_frame_equal(part[list(SERIES_MEASURES)], full[list(SERIES_MEASURES)])
    assert (part[["gpu_hours", "cpu_ram_cost"]] == 0).all().all()
    assert full["gpu_hours"].sum() > 0
