"""HAMi pods as holders in ``gpus`` from HAMi's scheduler metrics, whichever names it writes.

The sharing fleet's HAMi node as HAMi v2.9.0+ writes its scheduler metrics is checked in
``test_costs_sharing``; here the same fleet with ``--legacy-metrics`` names (``vGPUCoreAllocated``
and friends, other label names) and without the scheduler scraped at all (today's behaviour: no
HAMi holder, and a note saying why).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.sharing import SHARING_NODES, sharing_workloads
from finops_cli.sample.simulate import SampleCluster
from tests.support.cli import run_finops
from tests.support.hami import check_hami_holders
from tests.support.vmserver import VictoriaMetrics, require_victoria_metrics

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 3, tzinfo=UTC)
WINDOW = ("--start", "2026-10-01", "--end", "2026-10-03")
HAMI = next(n.name for n in SHARING_NODES if n.sharing == "hami")


def _server(start_server, tmp_path_factory, scheme: str | None):
    cluster = _cluster(scheme)
    name = f"sharing-hami-{scheme or 'none'}"
    path = Path(tmp_path_factory.mktemp(name)) / "cluster.om"
    pad = 3600
    write_openmetrics_file(
        cluster.series(int(START.timestamp()) - pad, int(END.timestamp()) + pad, 300), path
    )
    return start_server(path, name), cluster


def _cluster(scheme: str | None) -> SampleCluster:
    return SampleCluster(
        42, nodes=SHARING_NODES, cast=sharing_workloads(), with_opencost=False, hami_metrics=scheme
    )


def _gpus(url: str) -> dict:
    result = run_finops("gpus", *WINDOW, "--prometheus-url", url, "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.prometheus
def test_legacy_hami_metrics_give_the_same_holders(prometheus_from_openmetrics, tmp_path_factory):
    url, cluster = _server(prometheus_from_openmetrics, tmp_path_factory, "legacy")
    doc = _gpus(url)
    check_hami_holders(doc, cluster, START, END)
    assert not any("HAMi's scheduler metrics" in n for n in doc["notes"]), doc["notes"]


@pytest.mark.prometheus
def test_without_hami_metrics_hami_gpus_have_no_holders_and_a_note(
    prometheus_from_openmetrics, tmp_path_factory
):
    url, _ = _server(prometheus_from_openmetrics, tmp_path_factory, None)
    doc = _gpus(url)
    rows = [r for r in doc["rows"] if r["node"] == HAMI]
    assert rows and not any(r["holders"] for r in rows)
    assert any("HAMi's scheduler metrics" in n for n in doc["notes"]), doc["notes"]
    # rightsize cannot tell which of the node's GPUs its HAMi pods hold: none is called free.
    result = run_finops("rightsize", *WINDOW, "--prometheus-url", url, "-o", "json")
    assert result.returncode == 0, result.stderr
    advice = json.loads(result.stdout)
    assert HAMI not in {r["workload"]["name"] for r in advice["rows"]}
    assert any(n.startswith(f"{HAMI}: pods hold") for n in advice["notes"]), advice["notes"]


@pytest.mark.victoriametrics
def test_hami_holders_on_victoriametrics(tmp_path):
    require_victoria_metrics()
    cluster = _cluster("hami")
    path = tmp_path / "cluster.prom"
    pad = 6 * 3600
    series = cluster.series(int(START.timestamp()) - pad, int(END.timestamp()) + pad, 300)
    write_openmetrics_file(series, path, timestamp_scale=1000)
    server = VictoriaMetrics(tmp_path)
    try:
        server.import_prometheus_text(path)
        check_hami_holders(_gpus(server.url), cluster, START, END)
    finally:
        server.stop()
