"""``finops costs --energy`` and the two prices of a token through a real Prometheus.

The sample cluster is backfilled twice: with dcgm-exporter's energy counter (which resets when
each node's driver restarts) and without it (power only). Each team's kWh must be within 1% of
the truth on both paths, kgCO2e must be kWh x PUE x the table's factor, and each model's
input and output cost per 1M tokens within 2% of the truth, adding up to its GPU cost.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import energy_truth, token_split_truth
from tests.support.cli import run_finops

pytestmark = pytest.mark.prometheus

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 3, tzinfo=UTC)
STEP = 300
DATA_FROM = int(START.timestamp()) - 4 * 86400  # a driver restart falls inside the data
DATA_TO = int(END.timestamp()) + 3600
S, E = int(START.timestamp()), int(END.timestamp())
AWS_PUE, US_EAST_1 = 1.135, 0.379069


@pytest.fixture(scope="module", params=["energy-counter", "power-only"])
def backend(request, prometheus_from_openmetrics, tmp_path_factory):
    cluster = SampleCluster(7, dcgm_energy_counter=request.param == "energy-counter")
    path = Path(tmp_path_factory.mktemp("om")) / "cluster.om"
    write_openmetrics_file(cluster.series(DATA_FROM, DATA_TO, STEP), path)
    return prometheus_from_openmetrics(path, f"energy-{request.param}"), cluster, request.param


def _costs(url: str, *extra: str) -> dict:
    result = run_finops(
        "costs", "--start", "2026-10-01", "--end", "2026-10-03", "--prometheus-url", url,
        "--output", "json", "--energy", *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_kwh_per_team_within_one_percent_of_truth(backend) -> None:
    url, cluster, variant = backend
    document = _costs(url, "--by", "team")
    truth = energy_truth(cluster, S, E, STEP, "team")
    rows = {r["team"]: r for r in document["rows"]}
    for team, kwh in truth.items():
        if team in ("", "__idle__"):
            continue
        assert rows[team]["energy_kwh"] == pytest.approx(kwh, rel=0.01), team
    assert rows["__idle__"]["energy_kwh"] == pytest.approx(truth["__idle__"], rel=0.01)
    assert document["energy"]["method"] == ("counter" if variant == "energy-counter" else "power")
    for row in document["rows"]:
        assert row["kg_co2e"] == pytest.approx(row["energy_kwh"] * AWS_PUE * US_EAST_1, rel=1e-5)
    factor = document["energy"]["factors"][0]
    assert (factor["region"], factor["pue"], factor["kg_co2e_per_kwh"]) == (
        "us-east-1", AWS_PUE, US_EAST_1,
    )  # fmt: skip


def test_energy_adds_up_across_groupings(backend) -> None:
    url, cluster, _variant = backend
    totals = [
        sum(r["energy_kwh"] for r in _costs(url, "--by", key)["rows"])
        for key in ("team", "project", "namespace")
    ]
    whole = float(energy_truth(cluster, S, E, STEP, "team").sum())
    for total in totals:
        assert total == pytest.approx(whole, rel=0.01)


def test_input_and_output_token_prices(backend) -> None:
    url, cluster, _variant = backend
    document = _costs(url, "--unit-costs")
    truth = token_split_truth(cluster, S, E, STEP)
    checked = 0
    for row in document["rows"]:
        if row.get("token_split") is None or not row["gpu_cost"]:
            continue
        assert row["input_cost"] + row["output_cost"] == pytest.approx(row["gpu_cost"], abs=2e-6)
        expected = truth.loc[row["model"]]
        assert row["token_split"] == expected["split"]
        for column in ("cost_per_1m_input_tokens", "cost_per_1m_output_tokens"):
            assert row[column] == pytest.approx(expected[column], rel=0.02), (row["model"], column)
        if expected["split"] == "measured":
            assert row["prefix_cache_hit_rate"] == pytest.approx(
                expected["prefix_cache_hit_share"], rel=0.02
            )
        checked += 1
    assert checked >= 4
