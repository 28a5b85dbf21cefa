"""Servers that refuse a query as over a per-query limit: real Prometheus and VictoriaMetrics.

Prometheus' ``--query.max-samples`` caps the samples one query holds in memory; for the bucketed
subqueries of ``finops costs`` that grows with the number of steps. VictoriaMetrics 1.79 checks
``-search.maxSamplesPerSeries`` and ``-search.maxPointsPerTimeseries`` against the range (the
latter a subquery's points too, so long windows hit its default of 30,000). It counts
``-search.maxSamplesPerQuery`` over every storage block a query touches, whole, so a shorter
range helps there only once it touches fewer blocks; its case here is the instant probe.

The client cuts a refused range query in two until each piece fits; the figures must not move.
The limits were measured on this data (three days, hourly buckets, 72 steps): the heaviest range
query of ``finops costs --by team`` peaks at about 46,000 samples, its halves at 22,000 and a
single step at 540; the instant probe that detects the scrape interval peaks at 89.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.simulate import SampleCluster, SampleSeries
from finops_cli.sample.truth import ground_truth
from tests.faults.common import assert_matches_truth, document, finops, one_line_error
from tests.support.promserver import backfill, require_prometheus, start_server
from tests.support.vmserver import VictoriaMetrics, require_victoria_metrics

pytestmark = pytest.mark.prometheus

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 4, tzinfo=UTC)
T0, T1 = int(START.timestamp()), int(END.timestamp())
STEP = 300
WINDOW = ["--start", "2026-10-01", "--end", "2026-10-04"]
SPLIT = "querying it in two halves"  # the client's debug line for each split


def _series() -> Iterator[SampleSeries]:
    """The sample cluster without the series ``costs`` does not read (keeps the backfill short)."""
    unread = ("vllm:", "tgi_", "nv_", "DCGM_FI_DEV_")
    for s in SampleCluster(7).series(T0 - 2 * 3600, T1 + 3600, STEP):
        if not s.name.startswith(unread):
            yield s


def _costs(url: str, *extra: str) -> Any:
    return finops("costs", *WINDOW, "--prometheus-url", url, "-o", "json", "--by", "team", *extra)


def _splits(result: Any) -> int:
    return str(result.stderr).count(SPLIT)


# ---- Prometheus ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blocks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_prometheus()
    tmp = tmp_path_factory.mktemp("limits-om")
    write_openmetrics_file(_series(), tmp / "cluster.om")
    backfill(tmp / "cluster.om", tmp / "blocks")
    (tmp / "cluster.om").unlink()  # the blocks hold it; the text is ten times their size
    return tmp / "blocks"


@pytest.fixture(scope="module")
def prometheus(blocks: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``max_samples -> url``: a Prometheus on a copy of the blocks, one per limit."""
    servers: dict[int, Any] = {}

    def serve(max_samples: int) -> str:
        if max_samples not in servers:
            workdir = tmp_path_factory.mktemp(f"prometheus-max-samples-{max_samples}")
            shutil.copytree(blocks, workdir / "data")
            flags = [f"--query.max-samples={max_samples}"]
            servers[max_samples] = start_server(workdir, extra_args=flags)
        return str(servers[max_samples].url)

    yield serve
    for server in servers.values():
        server.stop()


def test_prometheus_query_over_max_samples_is_split_and_figures_do_not_move(prometheus):
    result = _costs(prometheus(25_000), "--debug")
    doc = document(result)
    assert _splits(result) > 0, result.stderr
    assert_matches_truth(doc, ground_truth(SampleCluster(7), T0, T1))


def test_prometheus_single_step_over_max_samples_is_one_line(prometheus):
    result = _costs(prometheus(100))
    line = one_line_error(result, 1, "single 3600 s step", "--query.max-samples")
    assert "would load too many samples into memory" in line


# ---- VictoriaMetrics ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vm_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_victoria_metrics()
    path = tmp_path_factory.mktemp("limits-vm") / "cluster.prom"
    write_openmetrics_file(_series(), path, timestamp_scale=1000)
    return path


@pytest.fixture
def victoria(vm_data: Path, tmp_path: Path) -> Iterator[Any]:
    """``(*flags) -> url``: a fresh VictoriaMetrics with these limits, the data imported."""
    servers: list[VictoriaMetrics] = []

    def serve(*flags: str) -> str:
        server = VictoriaMetrics(tmp_path, flags)
        servers.append(server)
        server.import_prometheus_text(vm_data)
        return f"{server.url}/prometheus"

    yield serve
    for server in servers:
        server.stop()


def test_victoriametrics_query_over_range_limits_is_split(victoria):
    result = _costs(
        victoria("-search.maxSamplesPerSeries=500", "-search.maxPointsPerTimeseries=500"), "--debug"
    )
    doc = document(result)
    assert _splits(result) > 0, result.stderr
    assert_matches_truth(doc, ground_truth(SampleCluster(7), T0, T1))


def test_victoriametrics_instant_query_over_max_samples_per_query_is_one_line(victoria):
    result = _costs(victoria("-search.maxSamplesPerQuery=1000"))
    one_line_error(result, 1, "over a server limit", "-search.maxSamplesPerQuery=1000")
