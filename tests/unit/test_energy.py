"""Energy, carbon and the two prices of a token through the sample source, against the truth.

The sample source sums the simulator's power as the PromQL sums the exporter's series; the
truth (``sample.truth.energy_truth``, ``token_split_truth``) integrates the simulated power and
request phases directly.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from finops_cli.analytics.costs import attribute_costs
from finops_cli.analytics.unit_costs import unit_cost, with_unit_costs
from finops_cli.pricing.carbon import carbon_staleness_note, load_carbon_tables
from finops_cli.sample.energy import energy_counter_mj, power_watts
from finops_cli.sample.simulate import SampleCluster, grid_between
from finops_cli.sample.truth import energy_truth, token_split_truth
from finops_cli.settings import Settings
from finops_cli.sources.interface import CostRequest
from finops_cli.sources.sample import SampleCostSource
from finops_cli.timewindow import Window

LABELS = {
    "team": "ai-finops.io/team",
    "project": "ai-finops.io/project",
    "model": "ai-finops.io/model",
    "environment": "ai-finops.io/environment",
}
START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 4, tzinfo=UTC)
WINDOW = Window(START, END, "test")
S, E = int(START.timestamp()), int(END.timestamp())


class _Run:
    """A RunContext stand-in: what ``usecases.energy.with_energy`` reads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.window = WINDOW


def _report(source: SampleCostSource, key: str, *, unit: bool = False):
    from finops_cli.usecases.energy import with_energy

    request = CostRequest(WINDOW, (key,), {}, 3600, energy=True)
    data = source.costs(request)
    report = attribute_costs(data, (key,), {}, START, END)
    inference = source.inference(request) if unit else None
    if inference is not None:
        report = with_unit_costs(report, inference)
    return with_energy(_Run(Settings()), report, data.energy, inference)  # type: ignore[arg-type]


@pytest.mark.parametrize("counter", [True, False], ids=["energy-counter", "power-only"])
@pytest.mark.parametrize("key", ["team", "project", "model", "namespace"])
def test_energy_per_group_matches_truth_and_adds_up(counter: bool, key: str) -> None:
    cluster = SampleCluster(7, dcgm_energy_counter=counter)
    source = SampleCostSource(LABELS, seed=7, cluster=cluster)
    report = _report(source, key)
    truth = energy_truth(cluster, S, E, 60, key)
    by_key = {r.keys[key]: r.energy.kwh for r in report.rows if r.kind == "allocated"}
    for value, kwh in truth.items():
        if value in ("", "__idle__"):
            continue
        assert by_key[value] == pytest.approx(kwh, rel=1e-9)
    idle = next(r for r in report.rows if r.kind == "idle")
    assert idle.energy.kwh == pytest.approx(truth["__idle__"], rel=1e-9)
    # rows + __unallocated__ + __idle__ = every GPU's energy
    assert sum(r.energy.kwh for r in report.rows) == pytest.approx(truth.sum(), rel=1e-9)
    assert report.energy.method == ("counter" if counter else "power")


def test_kg_co2e_is_kwh_times_pue_times_factor() -> None:
    report = _report(SampleCostSource(LABELS, seed=7), "team")
    factor = load_carbon_tables().factor("us-east-1")
    assert (factor.pue, factor.kg_co2e_per_kwh, factor.year) == (1.135, 0.379069, 2020)
    for row in report.rows:
        assert row.energy.kg_co2e == pytest.approx(row.energy.kwh * 1.135 * 0.379069)
    assert any("stale grid factors: us-east-1 (2020)" in n for n in report.notes)
    assert any("energy counter" in n for n in report.notes)


def test_carbon_overrides_win() -> None:
    tables = load_carbon_tables()
    factor = tables.factor("us-east-1", {"us-east-1": 0.2}, {"aws": 1.3})
    assert (factor.kg_co2e_per_kwh, factor.pue, factor.year) == (0.2, 1.3, None)
    unknown = tables.factor("mars-north-1")
    assert unknown.kg_co2e_per_kwh is None
    assert carbon_staleness_note([factor], 2026) is None


def test_every_table_row_has_a_source_and_year() -> None:
    tables = load_carbon_tables()
    assert len(tables.grid) > 90
    for provider, value, year, source in tables.grid.values():
        assert provider in ("aws", "gcp", "azure") and 0 <= value < 1.5
        assert 2019 <= year <= 2026 and source
    assert set(tables.pue) == {"aws", "gcp", "azure"}


def test_energy_counter_is_integrated_power_with_resets() -> None:
    cluster = SampleCluster(7)
    step = 300
    grid = grid_between(S, E, step)
    power = cluster.gpu_power(grid, cluster.pod_runs(grid))
    counters = cluster.energy_counters(grid, step)
    resets = 0
    for key, counter in counters.items():
        rise = np.diff(counter)
        drops = rise < 0
        resets += int(drops.sum())
        # between resets, each sample adds its interval's energy (mJ)
        assert np.allclose(rise[~drops], power[key][1:][~drops] * step * 1000)
        # after a reset the counter restarts from the first interval's energy
        assert np.allclose(counter[1:][drops], power[key][1:][drops] * step * 1000)
    assert resets > 0
    assert power_watts(np.array([0.0, 1.0])).tolist() == [70.0, 350.0]
    flat = energy_counter_mj(1, "n", grid, np.full(len(grid), 100.0), step)
    assert flat.max() <= 100 * 3 * 86400 * 1000


def test_input_and_output_prices_match_truth_and_add_up() -> None:
    source = SampleCostSource(LABELS, seed=7)
    report = _report(source, "model", unit=True)
    truth = token_split_truth(source.cluster, S, E, 60)
    checked = 0
    for row in report.rows:
        unit = row.unit
        if unit is None or unit.token_split is None or row.gpu_cost <= 0:
            continue
        model = row.keys["model"]
        assert unit.input_cost + unit.output_cost == pytest.approx(row.gpu_cost, rel=1e-12)
        expected = truth.loc[model]
        assert unit.token_split == expected["split"]
        assert unit.cost_per_1m_input_tokens == pytest.approx(
            expected["cost_per_1m_input_tokens"], rel=0.02
        )
        assert unit.cost_per_1m_output_tokens == pytest.approx(
            expected["cost_per_1m_output_tokens"], rel=0.02
        )
        if expected["split"] == "measured":
            assert unit.prefix_cache_hit_rate == pytest.approx(
                expected["prefix_cache_hit_share"], rel=0.01
            )
            assert unit.kwh_per_1m_tokens is not None and unit.kwh_per_1m_tokens > 0
        checked += 1
    assert checked >= 4


def test_unit_cost_split_rules() -> None:
    measured = unit_cost(100.0, 10, 1000, 3000, (1.0, 9.0, 1000, 250))
    assert (measured.input_cost, measured.output_cost) == (pytest.approx(10.0), pytest.approx(90.0))
    assert measured.cost_per_1m_input_tokens == pytest.approx(10.0 / 1000 * 1e6)
    assert measured.prefix_cache_hit_rate == 0.25
    blended = unit_cost(100.0, 10, 1000, 3000)
    assert blended.token_split == "blended"
    assert blended.cost_per_1m_input_tokens == pytest.approx(blended.cost_per_1m_tokens)
    assert math.isclose(blended.input_cost + blended.output_cost, 100.0)
