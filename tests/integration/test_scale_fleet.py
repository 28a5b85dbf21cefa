"""The scale benchmark's own pipeline, checked small: a generated fleet, streamed into a real
VictoriaMetrics through the JSON-lines import, must give ``finops`` figures equal to the truth.

Otherwise the benchmark could time commands that answer wrongly (a bad import, a fleet whose
workloads overlap) and nobody would notice.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from finops_cli.sample.scale import GPUS_PER_NODE, scale_cluster, scale_fleet
from finops_cli.sample.truth import ground_truth
from tests.benchmarks import scale as bench
from tests.benchmarks.scale_probe import _union_seconds
from tests.support.cli import run_finops
from tests.support.vmserver import VictoriaMetrics, require_victoria_metrics

pytestmark = pytest.mark.prometheus

GPUS, TEAMS, DAYS = 48, 5, 2


def test_fleet_has_the_size_and_teams_asked_for():
    nodes, cast = scale_fleet(200, teams=100)
    assert sum(n.gpu_count for n in nodes) == 200 == len(nodes) * GPUS_PER_NODE
    assert len(cast) == 85  # fewer workloads than teams: 85 teams have one each
    assert len({w.labels["ai-finops.io/team"] for w in cast}) == 85
    nodes, cast = scale_fleet(20_000, teams=100)
    assert sum(n.gpu_count for n in nodes) == 20_000
    assert len({w.labels["ai-finops.io/team"] for w in cast}) == 100
    held = sum(len(w.gpu_indices) for w in cast)
    assert 0.85 * 20_000 < held < 20_000  # some GPUs are left unallocated on purpose


def test_union_of_overlapping_requests():
    assert _union_seconds([(0, 2), (1, 3), (5, 6), (5.5, 5.7)]) == pytest.approx(4.0)
    assert _union_seconds([]) == 0.0


def test_json_lines_import_gives_costs_equal_to_truth(tmp_path: Path, monkeypatch):
    require_victoria_metrics()
    monkeypatch.setattr(bench, "scale_cluster", lambda gpus: scale_cluster(gpus, teams=TEAMS))
    server = VictoriaMetrics(tmp_path)
    try:
        loaded = bench.load(server, GPUS, DAYS)
        assert loaded["samples"] > 0
        start = bench.END - timedelta(days=DAYS)
        result = run_finops(
            "costs",
            "--by",
            "team",
            "--start",
            start.isoformat(),
            "--end",
            bench.END.isoformat(),
            "--prometheus-url",
            server.url,
            "-o",
            "json",
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    rows = {r["team"]: r for r in json.loads(result.stdout)["rows"]}
    truth = ground_truth(
        scale_cluster(GPUS, teams=TEAMS), int(start.timestamp()), int(bench.END.timestamp())
    )
    assert len(truth.by("team")) == TEAMS
    for team, figures in truth.by("team").iterrows():
        assert rows[team]["gpu_cost"] == pytest.approx(figures["gpu_cost"], abs=0.01), team
        assert rows[team]["gpu_hours"] == pytest.approx(figures["gpu_hours"], abs=0.001), team
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(truth.idle_gpu_cost, abs=0.01)
