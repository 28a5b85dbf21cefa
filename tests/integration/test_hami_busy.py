"""HAMi pods' own busy from HAMi's vGPUmonitor, through real engines, against the truth.

The sharing fleet's HAMi pods (project ``assistant``: planner-llm at 25% cores, tool-router at
a 50% memory share, retriever at 50% cores) are written with HAMi's vGPUmonitor series, new
names and legacy, and without them. Where they are scraped, each pod's busy is its own
utilisation over its share, measured: the project's waste and busy GPU-hours in ``costs``, and
the HAMi GPUs' waste and holders' busy in ``gpus``, are the simulator's truth; where they are
not, nothing changes and the note says HAMi holders' busy is unknown.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.sharing import SHARING_NODES, sharing_workloads
from finops_cli.sample.simulate import SampleCluster, grid_between
from finops_cli.sample.truth import efficiency_truth, waste_truth
from tests.support.cli import run_finops
from tests.support.vmserver import VictoriaMetrics, require_victoria_metrics

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 3, tzinfo=UTC)
STEP = 300
WINDOW = ("--start", "2026-10-01", "--end", "2026-10-03")
HAMI = next(n.name for n in SHARING_NODES if n.sharing == "hami")
PROJECT = "assistant"  # the HAMi pods, and only they


def _cluster(monitor: str | None) -> SampleCluster:
    scheme = monitor or "hami"
    return SampleCluster(
        42,
        nodes=SHARING_NODES,
        cast=sharing_workloads(),
        with_opencost=True,  # the simulator's prices, which waste_truth charges
        hami_metrics=scheme,
        hami_monitor=monitor,
    )


def _series(cluster: SampleCluster, pad: int):
    return cluster.series(int(START.timestamp()) - pad, int(END.timestamp()) + pad, STEP)


def _prometheus(start_server, tmp_path_factory, monitor: str | None):
    cluster = _cluster(monitor)
    name = f"hami-busy-{monitor or 'none'}"
    path = Path(tmp_path_factory.mktemp(name)) / "cluster.om"
    write_openmetrics_file(_series(cluster, 3600), path)
    return start_server(path, name), cluster


def _run(command: str, url: str, *args: str) -> dict:
    result = run_finops(command, *WINDOW, "--prometheus-url", url, "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _check_measured(url: str, cluster: SampleCluster) -> None:
    start, end = int(START.timestamp()), int(END.timestamp())
    doc = _run("costs", url, "--by", "project")
    assert any("from HAMi's vGPUmonitor" in n for n in doc["notes"]), doc["notes"]
    row = next(r for r in doc["rows"] if r["project"] == PROJECT)
    waste = waste_truth(cluster, start, end, STEP, "project")[PROJECT]
    efficiency = efficiency_truth(cluster, start, end, STEP, "project")[PROJECT]
    assert row["waste"] == pytest.approx(waste, rel=0.005)
    busy_hours = row["efficiency"] * row["gpu_hours"]  # busy GPU-hours of the ledger
    assert busy_hours == pytest.approx(efficiency * row["gpu_hours"], rel=0.005)
    assert 0 < row["waste"] < row["gpu_cost"]
    _check_gpus(_run("gpus", url), cluster)


def _check_gpus(doc: dict, cluster: SampleCluster) -> None:
    """Each HAMi GPU's waste is its cost less price x share x own busy of its holders, and each
    holder's ``busy_avg`` its own busy of its share over the samples it held it."""
    grid = grid_between(int(START.timestamp()), int(END.timestamp()), STEP)
    runs = [r for r in cluster.pod_runs(grid) if r.workload.node == HAMI]
    node = cluster.node(HAMI)
    price = cluster.gpu_price(node, grid - 1)
    rows = {r["gpu"]: r for r in doc["rows"] if r["node"] == HAMI}
    for gpu in range(node.gpu_count):
        used, holders = 0.0, {}
        for r in runs:
            if gpu not in r.workload.gpu_indices:
                continue
            own = cluster.own_busy(r, gpu, grid)
            assert own is not None
            used += r.workload.gpu_share * float(np.sum(price[r.first : r.last + 1] * own))
            holders[r.pod] = float(own.mean())
        row = rows[str(gpu)]
        cost = float(price.sum()) * STEP / 3600
        assert row["waste"] == pytest.approx(cost - used * STEP / 3600, rel=0.005), gpu
        got = {h["pod"]: h.get("busy_avg") for h in row["holders"]}
        assert set(got) == set(holders), gpu
        for pod, busy in holders.items():
            assert got[pod] == pytest.approx(busy, abs=1e-4), pod


@pytest.mark.prometheus
@pytest.mark.parametrize("monitor", ["hami", "legacy"])
def test_hami_pods_busy_is_their_own(prometheus_from_openmetrics, tmp_path_factory, monitor):
    url, cluster = _prometheus(prometheus_from_openmetrics, tmp_path_factory, monitor)
    _check_measured(url, cluster)


@pytest.mark.prometheus
def test_without_the_monitor_hami_busy_stays_unknown(prometheus_from_openmetrics, tmp_path_factory):
    url, _ = _prometheus(prometheus_from_openmetrics, tmp_path_factory, None)
    doc = _run("costs", url, "--by", "project")
    assert any("vGPUmonitor" in n and "is not scraped" in n for n in doc["notes"]), doc["notes"]
    row = next(r for r in doc["rows"] if r["project"] == PROJECT)
    assert not row["waste"]  # unknown busy counts 0 (finops never invents waste)
    gpus = _run("gpus", url)
    for r in (r for r in gpus["rows"] if r["node"] == HAMI):
        assert r["busy_avg"] is None
        assert all("busy_avg" not in h for h in r["holders"])


@pytest.mark.victoriametrics
def test_hami_pods_busy_on_victoriametrics(tmp_path):
    require_victoria_metrics()
    cluster = _cluster("hami")
    path = tmp_path / "cluster.prom"
    write_openmetrics_file(_series(cluster, 6 * 3600), path, timestamp_scale=1000)
    server = VictoriaMetrics(tmp_path)
    try:
        server.import_prometheus_text(path)
        _check_measured(server.url, cluster)
    finally:
        server.stop()
