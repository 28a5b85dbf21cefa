"""``billing plan``: the baseline Savings Plan recommendation and its backtest on held-out hours
(the sample's own history, and a spiky fleet checked against an independent computation), the
planned job's four prices, and the dated commitment-rate catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from finops_cli.analytics.commitment_plan import (
    backtest,
    percentile,
    price_job,
    recommend_baseline,
)
from finops_cli.errors import UsageError
from finops_cli.pricing.commitment_rates import find_rate, load_rates, parse_rates
from finops_cli.sources.sample import SampleCostSource
from finops_cli.usecases.plan import read_ledger

END = datetime(2026, 12, 6, tzinfo=UTC)


def test_the_sample_history_backtest_beats_no_commitment_and_says_by_how_much():
    ledger = read_ledger(SampleCostSource({}), END - timedelta(days=6), END)
    assert len(ledger.spend) == 144
    baseline = recommend_baseline(ledger.spend, discount=0.28)
    best = baseline.backtests[0]
    held = ledger.spend[-48:]
    # Independently: the held-out hours at on-demand, minus what the plan saves each hour.
    level = sorted(ledger.spend[:96])[int(0.1 * 95)]
    expected = sum(h - (0.72 * level + max(h - level, 0.0)) for h in held)
    assert best.hours == 48
    assert best.savings > 0
    assert best.savings == pytest.approx(expected, rel=1e-9)
    assert best.savings_pct == pytest.approx(0.28, abs=1e-6)  # a steady fleet: all of it
    assert best.unused == pytest.approx(0.0, abs=1e-6)


def test_a_spiky_fleet_commits_to_the_low_percentile_and_wastes_little():
    spend = [100.0 + (300.0 if h % 24 in range(9, 18) else 0.0) for h in range(24 * 21)]
    baseline = recommend_baseline(spend, discount=0.3, ce_commitment=200.0)
    ours, theirs = baseline.backtests
    assert baseline.hourly_commitment == pytest.approx(70.0)  # 0.7 x P10 (the night level)
    assert ours.savings == pytest.approx(30.0 * ours.hours)
    assert ours.unused == pytest.approx(0.0)
    # Cost Explorer's (here: too large) commitment is idle at night: it saves less.
    assert theirs.unused > 0
    assert theirs.savings < ours.savings
    again = backtest("x", 200.0, spend[-ours.hours :], 0.3)
    assert again.cost_with == pytest.approx(theirs.cost_with)


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4, 5], 50) == 3
    assert percentile([10, 20], 10) == pytest.approx(11)
    assert percentile([], 10) == 0.0


def test_planned_job_prices_each_option_with_its_risk():
    plan = price_job(
        instance_type="p5.48xlarge", gpus=64, gpus_per_instance=8, days=14, on_demand=55.04,
        spot=None, block=39.33, sp_discount=0.28,
    )  # fmt: skip
    prices = {o.option: o for o in plan.options}
    assert plan.instances == 8 and plan.hours == 336
    assert prices["on-demand"].cost == pytest.approx(8 * 336 * 55.04)
    assert prices["capacity-block"].cost == pytest.approx(8 * 336 * 39.33)
    assert prices["savings-plan"].commitment == pytest.approx(55.04 * 0.72 * 8 * 8760)
    assert prices["spot"].cost is None
    assert plan.cheapest.option == "capacity-block"
    assert all(o.risk for o in plan.options)


def test_commitment_rate_catalog_has_dates_and_sources():
    rates = load_rates()
    block = find_rate(rates, "capacity-block", "p5.48xlarge", "us-east-1")
    assert block is not None and block.hourly == pytest.approx(39.33)
    assert all(r.source and r.as_of for r in rates)
    plan = find_rate(rates, "savings-plan", "g6e.12xlarge")
    assert plan is not None and not plan.verified and "ASSUMPTION" in plan.source
    with pytest.raises(UsageError, match=r"x.csv: row 2, column hourly: not a number"):
        parse_rates(
            "provider,instance_type,region,kind,term,payment,hourly,discount,as_of,source,"
            "verified\naws,p5.48xlarge,us-east-1,capacity-block,,,abc,,2026-01-01,s,true\n",
            "x.csv",
        )
