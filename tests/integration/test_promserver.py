"""Self-test of the real-Prometheus testbed (tests/support/promserver.py).

A hand-written OpenMetrics file (two gauge series and one counter, one sample per minute for
three days in October 2026) is backfilled with promtool and served by prometheus; exact values
come back through the HTTP API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.promserver import PromServerPool, backfill_and_start, require_prometheus

pytestmark = pytest.mark.prometheus

START = int(datetime(2026, 10, 5, tzinfo=UTC).timestamp())
STEP = 60
SAMPLES = 3 * 24 * 60
GPUS = ("0", "1")
# promtool --max-block-duration=24h cuts blocks every 18h (aligned to the Unix epoch).
BLOCK_SECONDS = 18 * 3600


def gauge(gpu: str, i: int) -> float:
    # Integers and halves: every sum of them is exact in float64.
    return (i * 7) % 101 + (0.5 if gpu == "1" else 0.0)


def counter(i: int) -> float:
    return float(sum(k % 5 for k in range(i + 1)))


def openmetrics_text() -> str:
    lines = ["# HELP gpu_util GPU utilisation in percent.", "# TYPE gpu_util gauge"]
    for gpu in GPUS:
        lines += [
            f'gpu_util{{gpu="{gpu}"}} {gauge(gpu, i)} {START + i * STEP}' for i in range(SAMPLES)
        ]
    lines += ["# HELP gpu_busy_seconds Busy seconds.", "# TYPE gpu_busy_seconds counter"]
    total = 0
    for i in range(SAMPLES):
        total += i % 5
        lines.append(f'gpu_busy_seconds_total{{gpu="0"}} {total} {START + i * STEP}')
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def query(url: str, promql: str, at: float, **extra: str) -> dict[str, float]:
    response = httpx.get(
        f"{url}/api/v1/query", params={"query": promql, "time": repr(at), **extra}, timeout=10
    )
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    assert body["data"]["resultType"] == "vector", body
    return {
        item["metric"].get("gpu", ""): float(item["value"][1]) for item in body["data"]["result"]
    }


def server_major_version(url: str) -> int:
    response = httpx.get(f"{url}/api/v1/status/buildinfo", timeout=10)
    response.raise_for_status()
    return int(response.json()["data"]["version"].split(".")[0])


@pytest.fixture(scope="module")
def prom_url(prometheus_from_openmetrics: PromServerPool) -> str:
    return prometheus_from_openmetrics(openmetrics_text(), "promserver-selftest")


def first_index_after_block_boundary() -> int:
    boundary = (START // BLOCK_SECONDS + 1) * BLOCK_SECONDS
    return (boundary - START) // STEP


# Sample indices to evaluate at: early, mid-data, the last sample, and 10 minutes after a block
# boundary (the 1h window then spans two TSDB blocks).
INDICES = [60, 1440 + 30, SAMPLES - 1, first_index_after_block_boundary() + 10]


@pytest.mark.parametrize("k", INDICES)
def test_instant_query_returns_exact_sample(prom_url: str, k: int) -> None:
    at = START + k * STEP
    assert query(prom_url, "gpu_util", at) == {gpu: gauge(gpu, k) for gpu in GPUS}
    assert query(prom_url, "gpu_busy_seconds_total", at) == {"0": counter(k)}


@pytest.mark.parametrize("k", INDICES)
def test_sum_over_time_range_is_exact(prom_url: str, k: int) -> None:
    # Unaligned evaluation time: (t-1h, t] holds exactly the 60 samples k-59..k whether the
    # range is closed (Prometheus 2.x) or left-open (3.x).
    at = START + k * STEP + 30
    expected = {gpu: sum(gauge(gpu, i) for i in range(k - 59, k + 1)) for gpu in GPUS}
    assert query(prom_url, "sum_over_time(gpu_util[1h])", at) == expected


def test_range_boundary_semantics_at_aligned_time(prom_url: str) -> None:
    k = 1440 + 30
    at = START + k * STEP
    # 2.x: [t-1h, t] is closed, 61 samples; 3.x: (t-1h, t], 60 samples.
    first = k - 60 if server_major_version(prom_url) < 3 else k - 59
    expected = {gpu: sum(gauge(gpu, i) for i in range(first, k + 1)) for gpu in GPUS}
    assert query(prom_url, "sum_over_time(gpu_util[1h])", at) == expected


@pytest.mark.parametrize("k", INDICES)
def test_subquery_with_millisecond_range_gives_exactly_60_points(prom_url: str, k: int) -> None:
    at = START + k * STEP
    expected = {gpu: sum(gauge(gpu, i) for i in range(k - 59, k + 1)) for gpu in GPUS}
    assert query(prom_url, "sum_over_time((gpu_util)[59m59s999ms:1m])", at) == expected
    assert query(prom_url, "count_over_time((gpu_util)[59m59s999ms:1m])", at) == dict.fromkeys(
        GPUS, 60.0
    )


def test_pool_caches_per_name(prometheus_from_openmetrics: PromServerPool, prom_url: str) -> None:
    assert prometheus_from_openmetrics(openmetrics_text(), "promserver-selftest") == prom_url
    with pytest.raises(ValueError, match="other data"):
        prometheus_from_openmetrics("# EOF\n", "promserver-selftest")


def test_backfill_and_start_context_manager(tmp_path: Path) -> None:
    require_prometheus()
    source = tmp_path / "tiny.om.txt"
    source.write_text(
        "# TYPE up gauge\n" + "".join(f"up 1 {START + i * STEP}\n" for i in range(10)) + "# EOF\n",
        encoding="utf-8",
    )
    with backfill_and_start(source, tmp_path / "work") as server:
        assert query(server.url, "count_over_time(up[1h])", START + 9 * STEP) == {"": 10.0}
    assert server.process.poll() is not None
    assert (tmp_path / "work" / "prometheus.log").stat().st_size > 0
