"""``FINOPS_SAMPLE_FLEET``: the built-in sample with shared GPUs, no Prometheus needed.

The sharing fleet (MIG, time-slicing, MPS, HAMi, KAI, DRA; ``sample/sharing.py``) is what the
kind overlay serves; with this setting ``finops`` answers from it in-process too, and its
figures are the fleet's ground truth.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from finops_cli.sample.sharing import fleet_cluster
from finops_cli.sample.truth import ground_truth
from tests.support.cli import run_finops

START = datetime(2026, 11, 20, tzinfo=UTC)
END = datetime(2026, 11, 23, tzinfo=UTC)
WINDOW = ("--start", START.isoformat(), "--end", END.isoformat())


def _json(*args: str, fleet: str) -> dict:
    result = run_finops(*args, *WINDOW, "-o", "json", env={"FINOPS_SAMPLE_FLEET": fleet})
    assert result.returncode == 0, result.stderr
    assert "SAMPLE cluster" in result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("fleet", ["sharing", "all"])
def test_costs_per_team_are_the_fleets_truth(fleet: str) -> None:
    doc = _json("costs", "--by", "team", fleet=fleet)
    truth = ground_truth(fleet_cluster(fleet), int(START.timestamp()), int(END.timestamp()))
    expected = truth.pods[truth.pods["team"] != ""].groupby("team")["gpu_cost"].sum()
    got = {r["team"]: r["gpu_cost"] for r in doc["rows"] if r["kind"] == "allocated"}
    assert set(got) == set(expected.index)
    for team, cost in expected.items():
        assert got[team] == pytest.approx(cost, rel=0.005), team
    assert sum(r["gpu_cost"] for r in doc["rows"]) == pytest.approx(
        truth.cluster_gpu_cost, abs=0.01
    )


def test_gpus_lists_mig_slices_and_shares_of_at_most_one_gpu() -> None:
    doc = _json("gpus", fleet="sharing")
    rows = doc["rows"]
    assert any(r["mig_profile"] for r in rows)
    per_gpu: dict[tuple[str, str], float] = {}
    for row in rows:
        key = (row["node"], str(row["gpu"]))
        per_gpu[key] = per_gpu.get(key, 0.0) + sum(h["share"] for h in row["holders"])
    assert per_gpu and max(per_gpu.values()) <= 1 + 1e-9
    assert sum(1 for r in rows if len(r["holders"]) > 1) >= 1  # a GPU shared by several pods


def test_an_unknown_fleet_is_a_one_line_error() -> None:
    result = run_finops("costs", env={"FINOPS_SAMPLE_FLEET": "huge"})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("finops: error: ")
    assert "FINOPS_SAMPLE_FLEET" in result.stderr and "Traceback" not in result.stderr
