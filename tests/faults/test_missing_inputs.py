"""Inputs that are missing, or that stop half-way through the window, degrade with a statement.

Each backend is the sample cluster with some metrics filtered out by name (or with a gap cut into
one series), backfilled into a Prometheus of its own. None of these is an error: the figures that
can still be computed are computed, and a note on stderr and in the JSON says what is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from finops_cli.pricing import load_catalog
from finops_cli.sample.truth import ground_truth
from tests.faults.common import (
    T0,
    T1,
    WINDOW,
    assert_matches_truth,
    backend,
    cluster,
    costs,
    document,
    finops,
    one_line_error,
    rows_by,
    truth,
    with_gap,
    without,
)
from tests.support.promserver import PromServerPool

pytestmark = pytest.mark.prometheus

OPENCOST_METRICS = {
    "container_gpu_allocation",
    "container_cpu_allocation",
    "container_memory_allocation_bytes",
    "node_gpu_hourly_cost",
    "node_cpu_hourly_cost",
    "node_ram_hourly_cost",
    "node_total_hourly_cost",
    "node_gpu_count",
    "kubecost_node_is_spot",
}
SERVING_PREFIXES = ("vllm:", "nv_inference_", "tgi_")
GAP_POD = "summarizer-21c3d4fa1-jj6k6"  # ml-platform, one GPU held for the whole window
GAP_FROM, GAP_TO = T0 + 2 * 3600, T0 + 3 * 3600 + 1800


@pytest.fixture(scope="module")
def no_dcgm_no_serving(prometheus_from_openmetrics: PromServerPool, om_dir: Path) -> str:
    series = without(lambda n: n.startswith(("DCGM_", *SERVING_PREFIXES)))
    return backend(prometheus_from_openmetrics, om_dir, "no-dcgm-no-serving", series)


@pytest.fixture(scope="module")
def no_pod_labels(prometheus_from_openmetrics: PromServerPool, om_dir: Path) -> str:
    series = without(lambda n: n == "kube_pod_labels")
    return backend(prometheus_from_openmetrics, om_dir, "no-pod-labels", series)


@pytest.fixture(scope="module")
def no_opencost(prometheus_from_openmetrics: PromServerPool, om_dir: Path) -> str:
    series = without(lambda n: n in OPENCOST_METRICS)
    return backend(prometheus_from_openmetrics, om_dir, "no-opencost", series)


@pytest.fixture(scope="module")
def gap(prometheus_from_openmetrics: PromServerPool, om_dir: Path) -> str:
    full = without(lambda n: False)
    series = with_gap("container_gpu_allocation", GAP_POD, GAP_FROM, GAP_TO, full)
    return backend(prometheus_from_openmetrics, om_dir, "gap", series)


def test_no_dcgm_gives_costs_without_efficiency(no_dcgm_no_serving: str) -> None:
    result = costs(no_dcgm_no_serving, "--by", "team")
    doc = document(result)
    assert_matches_truth(doc)
    assert doc["efficiency_metric"] is None
    allocated = [r for r in doc["rows"] if r["kind"] == "allocated"]
    assert allocated and all(r["efficiency"] is None and r["waste"] is None for r in allocated)
    note = "no dcgm-exporter busy metrics: efficiency and waste are unknown"
    assert note in doc["notes"]
    assert f"finops: warning: {note}" in result.stderr


def test_no_dcgm_makes_gpus_a_one_line_error(no_dcgm_no_serving: str) -> None:
    result = finops("gpus", *WINDOW, "--prometheus-url", no_dcgm_no_serving, "-o", "json")
    one_line_error(result, 1, "no dcgm-exporter metrics", "is dcgm-exporter scraped?")


def test_no_inference_counters_unit_costs_say_so(no_dcgm_no_serving: str) -> None:
    result = costs(no_dcgm_no_serving, "--unit-costs")
    doc = document(result)
    note = "no inference counters (vLLM, Triton, TGI) in the window: no requests or tokens"
    assert note in doc["notes"]
    assert f"finops: warning: {note}" in result.stderr
    models = [r for r in doc["rows"] if r["kind"] == "allocated"]
    assert models and all(r["requests"] in (0, None) for r in models)
    assert all(r["cost_per_1k_requests"] is None for r in models)
    total = sum(r["gpu_cost"] for r in doc["rows"])
    assert total == pytest.approx(truth().cluster_gpu_cost, rel=0.005)


def test_no_pod_labels_puts_everything_in_unallocated_with_the_hint(no_pod_labels: str) -> None:
    result = costs(no_pod_labels, "--by", "team")
    doc = document(result)
    expected = truth()
    rows = rows_by(doc)
    assert set(rows) == {"__unallocated__", "__idle__"}
    held = float(expected.pods["gpu_cost"].sum())
    assert rows["__unallocated__"]["gpu_cost"] == pytest.approx(held, rel=0.005)
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(expected.idle_gpu_cost, rel=0.005)
    [note] = [n for n in doc["notes"] if n.startswith("kube_pod_labels is missing")]
    assert "__unallocated__" in note and "--metric-labels-allowlist=pods=" in note
    assert f"finops: warning: {note}" in result.stderr


def test_no_opencost_prices_from_the_catalog(no_opencost: str) -> None:
    catalog = load_catalog()

    def catalog_price(node: object, instants: np.ndarray) -> np.ndarray:
        price = catalog.lookup(node.instance_type, node.region, node.capacity_type)  # type: ignore[attr-defined]
        assert price is not None and price.per_gpu_hourly is not None
        return np.full(len(instants), price.per_gpu_hourly)

    result = costs(no_opencost, "--by", "team")
    doc = document(result)
    assert_matches_truth(doc, ground_truth(cluster(), T0, T1, catalog_price))
    assert any("pricing catalog" in n for n in doc["notes"])
    assert "finops: warning: no OpenCost metrics: GPU prices come from the pricing catalog" in (
        result.stderr
    )
    assert doc["totals"]["cpu_ram_cost"] is None  # OpenCost's CPU/RAM split is not invented


def test_a_series_that_disappears_mid_window(gap: str) -> None:
    """The pod's allocation stops for 90 minutes: its hours move to __idle__, nothing else moves,
    and nothing is interpolated across the gap."""
    result = costs(gap, "--by", "team")
    doc = document(result)
    expected = truth()
    lost = ground_truth(cluster(), GAP_FROM, GAP_TO).pods
    lost = lost[lost["pod"] == GAP_POD]
    lost_hours, lost_cost = float(lost["gpu_hours"].sum()), float(lost["gpu_cost"].sum())
    assert lost_hours == pytest.approx((GAP_TO - GAP_FROM) / 3600)
    rows = rows_by(doc)
    team = expected.by("team").loc["ml-platform"]
    assert rows["ml-platform"]["gpu_hours"] == pytest.approx(team["gpu_hours"] - lost_hours)
    assert rows["ml-platform"]["gpu_cost"] == pytest.approx(team["gpu_cost"] - lost_cost, rel=0.005)
    assert rows["__idle__"]["gpu_hours"] == pytest.approx(expected.idle_gpu_hours + lost_hours)
    for other in ("nlp", "research", "vision"):
        figures = expected.by("team").loc[other]
        assert rows[other]["gpu_cost"] == pytest.approx(figures["gpu_cost"], rel=0.005)
    total = sum(r["gpu_cost"] for r in doc["rows"])
    assert total == pytest.approx(expected.cluster_gpu_cost, rel=0.005)  # capacity is whole
