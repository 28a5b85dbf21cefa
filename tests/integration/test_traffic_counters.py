"""Unit costs' traffic through a real Prometheus: the sum of the counters' per-scrape increases.

Handmade counters scraped every five minutes with jitter (up to 19 s either way, so some
five-minute steps hold two samples and some none), a missed scrape, a restart (reset) and a pod
that starts and one that ends inside the window: the traffic query counts exactly the increases
between consecutive samples whose later sample lies in the window, whole requests.
"""

from __future__ import annotations

from itertools import pairwise

import httpx
import pytest

from finops_cli.queries import InferenceQueries, QueryContext, over_buckets

STEP = 300
T0 = 1_790_000_100 // 3600 * 3600  # a whole hour
START, END = T0 + 3600, T0 + 4 * 3600
JITTER = (7, -11, 3, 19, -4, 0, 12, -17)


def _pods() -> dict[str, list[tuple[float, float]]]:
    """Per pod, ``(timestamp, value)`` samples of ``vllm:request_success_total``."""
    pods: dict[str, list[tuple[float, float]]] = {}
    value = 0.0
    steady: list[tuple[float, float]] = []
    for k in range(1, 60):
        value += 10 + k % 7
        if k == 20:
            continue  # a missed scrape: the next sample's increase spans two intervals
        if k == 30:
            value = 3.0  # the server restarted: the counter starts again
        steady.append((T0 + k * STEP + JITTER[k % len(JITTER)], value))
    pods["steady"] = steady
    pods["late"] = [(T0 + k * STEP + 5, 4.0 * (k - 24)) for k in range(25, 50)]  # starts inside
    pods["early"] = [(T0 + k * STEP - 9, 6.0 * k) for k in range(1, 28)]  # ends inside
    return pods


def _expected(pods: dict[str, list[tuple[float, float]]]) -> float:
    total = 0.0
    for samples in pods.values():
        for (_, before), (at, now) in pairwise(samples):
            if START < at <= END:
                total += now - before if now >= before else now
    return total


def _openmetrics(pods: dict[str, list[tuple[float, float]]]) -> str:
    lines = ["# TYPE vllm:request_success counter"]
    for pod, samples in pods.items():
        labels = f'namespace="inference",pod="{pod}",model_name="m",finished_reason="stop"'
        lines += [f"vllm:request_success_total{{{labels}}} {v} {t}" for t, v in samples]
    return "\n".join([*lines, "# EOF", ""])


def test_traffic_is_the_sum_of_per_scrape_increases(prometheus_from_openmetrics):
    pods = _pods()
    url = prometheus_from_openmetrics(_openmetrics(pods), "traffic-counters")
    ctx = QueryContext({"model": "ai-finops.io/model"}, STEP, cluster_label=None)
    iq = InferenceQueries(ctx, END - START)
    counters = ("vllm:request_success_total",)
    expected = _expected(pods)
    assert expected > 500
    for query in (
        # what the CLI reads (traffic_rate by model and served model, summed on the instants)
        over_buckets(iq.traffic_rate(counters, ("model",), {}), END - START, STEP),
        # what the dashboards' hourly rules record
        iq.traffic_by_model(counters, END - START, {}),
    ):
        body = httpx.post(f"{url}/api/v1/query", data={"query": query, "time": END}, timeout=30)
        result = body.json()["data"]["result"]
        assert len(result) == 1, result
        assert iq.model_of(result[0]["metric"]) or result[0]["metric"]["model"] == "m"
        assert float(result[0]["value"][1]) == pytest.approx(expected, abs=1e-6)
