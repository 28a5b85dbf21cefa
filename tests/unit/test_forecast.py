"""Forecast analytics: projection methods, budgets and statuses, exhaustion, trend figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from finops_cli.analytics import forecast as fc
from finops_cli.analytics.budgets import (
    Budget,
    at_least,
    budget_status,
    parse_budget_flag,
    resolve_budgets,
)
from finops_cli.analytics.series import GroupSeries
from finops_cli.errors import UsageError
from finops_cli.settings import BudgetSettings, BudgetSpec

AS_OF = datetime(2026, 11, 15, tzinfo=UTC)  # 14 whole days of November elapsed
LAST = date(2026, 11, 14)


def days_before(n: int, last: date = LAST) -> list[date]:
    return [last - timedelta(days=n - 1 - i) for i in range(n)]


def weekly(n: int, weekday: float, weekend: float, last: date = LAST) -> list[float]:
    return [weekend if d.weekday() >= 5 else weekday for d in days_before(n, last)]


def truth_for_month(daily_of) -> float:
    """What November really costs when day d costs ``daily_of(d)``."""
    return sum(daily_of(date(2026, 11, 1) + timedelta(days=i)) for i in range(30))


def test_month_bounds_and_midnight_of_the_first():
    assert fc.month_bounds(datetime(2026, 12, 31, 23, tzinfo=UTC)) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    # At midnight on the 1st the month starting is the one forecast (nothing spent yet).
    start, _ = fc.month_bounds(datetime(2026, 11, 1, tzinfo=UTC))
    assert start == datetime(2026, 11, 1, tzinfo=UTC)


def test_flat_series_is_projected_exactly_with_a_narrow_range():
    p = fc.project([100.0] * 60, LAST, 0.0, AS_OF)
    assert p.method == fc.SEASONAL
    assert p.actual_to_date == pytest.approx(1400.0)
    assert p.projected == pytest.approx(3000.0)
    assert p.slope_per_day == 0.0 and p.change_day is None
    assert p.low is not None and p.high is not None
    assert p.low <= 3000.0 <= p.high
    assert p.high - p.low < 0.05 * 3000.0


def test_weekday_weekend_pattern_is_learnt():
    p = fc.project(weekly(56, 100.0, 20.0), LAST, 0.0, AS_OF)
    expected = truth_for_month(lambda d: 20.0 if d.weekday() >= 5 else 100.0)
    assert p.projected == pytest.approx(expected, rel=0.01)
    naive = fc.naive_run_rate(p.actual_to_date, AS_OF)
    assert abs(p.projected - expected) < abs(naive - expected)


def test_linear_growth_is_extrapolated():
    start = LAST - timedelta(days=59)

    def cost(d: date) -> float:
        return 100.0 + 5.0 * (d - start).days

    p = fc.project([cost(d) for d in days_before(60)], LAST, 0.0, AS_OF)
    expected = truth_for_month(cost)
    assert p.slope_per_day == pytest.approx(5.0, rel=0.05)
    assert p.projected == pytest.approx(expected, rel=0.01)
    naive = fc.naive_run_rate(p.actual_to_date, AS_OF)
    assert naive < expected * 0.95  # the run-rate lags growth; the model does not


def test_a_step_inside_the_month_is_found_and_believed():
    step = date(2026, 11, 9)

    def cost(d: date) -> float:
        return 300.0 if d >= step else 100.0

    p = fc.project([cost(d) for d in days_before(60)], LAST, 0.0, AS_OF)
    assert p.change_day == step
    assert p.projected == pytest.approx(truth_for_month(cost), rel=0.01)


def test_a_spike_is_not_a_trend_or_a_step():
    values = [100.0] * 60
    values[-10] = 900.0  # one expensive day
    p = fc.project(values, LAST, 0.0, AS_OF)
    assert p.change_day is None and p.slope_per_day == 0.0
    # A spike seen once stays out of the expectation (a recurring one would not).
    assert p.projected == pytest.approx(2200.0 + 16 * 100.0)


def test_recurring_spikes_stay_in_the_expectation():
    values = [100.0] * 60
    for i in range(3, 60, 11):  # a sweep every eleven days, as the sample's defect-sweep
        values[i] = 900.0
    p = fc.project(values, LAST, 0.0, AS_OF)
    assert p.change_day is None
    remaining = p.projected - p.actual_to_date
    assert 16 * 100.0 < remaining < 16 * (100.0 + 800.0 / 11) * 1.01


@pytest.mark.parametrize(
    ("days", "method"),
    [(30, fc.SEASONAL), (21, fc.SEASONAL), (20, fc.WEEKLY), (7, fc.WEEKLY), (3, fc.RUN_RATE)],
)
def test_method_depends_on_history(days, method):
    p = fc.project([50.0] * days, LAST, 0.0, AS_OF)
    assert p.method == method
    assert p.history_days == days
    assert p.projected == pytest.approx(
        50.0 * 30 if days >= 14 else 50.0 * min(days, 14) + 50.0 * 16
    )


def test_no_history_at_all_uses_todays_spend():
    moment = AS_OF + timedelta(hours=6)
    p = fc.project([], LAST, 25.0, moment)  # 25 spent in the first quarter of today
    assert p.method == fc.RUN_RATE
    assert p.actual_to_date == 25.0
    assert p.low is None and p.high is None
    assert p.projected == pytest.approx(25.0 + 100.0 * (0.75 + 15))
    assert fc.project([], LAST, 0.0, AS_OF).method == fc.NO_DATA


def test_partial_today_counts_as_actual_and_only_the_rest_is_projected():
    moment = AS_OF + timedelta(hours=12)
    p = fc.project([100.0] * 60, LAST, 50.0, moment)
    assert p.actual_to_date == pytest.approx(1450.0)
    assert p.expected[0] == pytest.approx(50.0)  # half of today left
    assert p.projected == pytest.approx(3000.0)


def test_days_before_the_month_do_not_count_as_actual():
    p = fc.project([10.0] * 40, LAST, 0.0, AS_OF)
    assert p.actual_to_date == pytest.approx(140.0)


def test_exhaustion_is_interpolated_within_a_day():
    days, at = fc.exhaustion(900.0, [100.0, 100.0, 100.0], 1050.0, AS_OF)
    assert days == pytest.approx(1.5)
    assert at == AS_OF + timedelta(hours=36)
    assert fc.exhaustion(900.0, [100.0], 5000.0, AS_OF) == (None, None)
    assert fc.exhaustion(1200.0, [100.0], 1000.0, AS_OF) == (0.0, AS_OF)


def test_trend_figures():
    values = [10.0] * 30 + [20.0] * 30 + [40.0] * 7
    t = fc.trend_figures(values)
    assert t.avg_7d == 40.0
    assert t.avg_30d == pytest.approx((20 * 23 + 40 * 7) / 30)
    assert t.avg_90d is None
    assert t.change_7d == pytest.approx(1.0)
    assert t.change_30d is not None and t.change_30d > 0
    assert fc.trend_figures([1.0] * 5) == fc.Trend(None, None, None, None, None)


# ---- budgets ----------------------------------------------------------------------------


def _budget(monthly: float, warning: float = 90.0, critical: float = 100.0) -> Budget:
    return Budget("team", "nlp", monthly, warning, critical, None, "finops.toml")


@pytest.mark.parametrize(
    ("actual", "projected", "status"),
    [
        (500.0, 800.0, "on_track"),
        (500.0, 900.0, "warning"),
        (500.0, 1000.0, "critical"),
        (1000.0, 1500.0, "critical"),  # at the budget is not over it
        (1000.01, 1500.0, "exceeded"),
    ],
)
def test_status_rules(actual, projected, status):
    assert budget_status(actual, projected, _budget(1000.0)) == status


def test_no_budget_no_status_and_fail_on_ordering():
    assert budget_status(1e9, 1e9, None) is None
    assert at_least("exceeded", "warning") and at_least("critical", "critical")
    assert not at_least("warning", "critical") and not at_least(None, "warning")


@pytest.mark.parametrize("text", ["nlp", "=5", "nlp=", "nlp=abc", "nlp=-5", "nlp=0", "nlp=1e999"])
def test_bad_budget_flags(text):
    with pytest.raises(UsageError, match="--budget"):
        parse_budget_flag(text)


def test_budget_flags_and_configuration_merge():
    assert parse_budget_flag(" nlp = 25_000.5 ") == ("nlp", 25000.5)
    settings = BudgetSettings(
        warning_percent=80,
        teams={"nlp": BudgetSpec(monthly=100, critical_percent=120, owner="lead@example.com")},
        projects={"chat": BudgetSpec(monthly=50)},
        total=BudgetSpec(monthly=1000),
    )
    budgets = resolve_budgets(settings, {"nlp": 300.0, "vision": 40.0})
    nlp = budgets[("team", "nlp")]
    assert (nlp.monthly, nlp.warning_percent, nlp.critical_percent) == (300.0, 80.0, 120.0)
    assert nlp.owner == "lead@example.com" and nlp.origin == "--budget"
    assert budgets[("team", "vision")].critical_percent == 100.0
    assert budgets[("project", "chat")].monthly == 50
    assert budgets[("total", "")].monthly == 1000


# ---- the report -------------------------------------------------------------------------


def _series(columns: dict[str, list[float]], present_from: int = 0) -> GroupSeries:
    n = len(next(iter(columns.values())))
    index = pd.date_range(
        datetime.combine(LAST, datetime.min.time(), UTC) - timedelta(days=n - 2),
        periods=n,
        freq="D",
    )
    cost = pd.DataFrame(columns, index=index)
    present = pd.Series(np.arange(n) >= present_from, index=index)
    return GroupSeries(cost, cost * 0, cost * 0, present)


def test_series_inputs_drop_missing_history_and_add_budgeted_teams():
    daily = _series(
        {
            "nlp": [5.0] * 10,
            "__unallocated__": [1.0] * 10,
            "__idle__": [2.0] * 10,
            "__total__": [8.0] * 10,
        },
        present_from=4,
    )
    inputs = fc.series_inputs(daily, None, names=["ghost"])
    by_name = {s.name: s for s in inputs}
    assert len(by_name["nlp"].daily) == 6
    assert by_name["ghost"].daily == (0.0,) * 6
    assert by_name["__total__"].scope == "total" and by_name["__idle__"].kind == "idle"


def test_report_statuses_and_fail_on():
    daily = _series({"nlp": [100.0] * 40, "vision": [10.0] * 40, "__total__": [110.0] * 40})
    budgets = resolve_budgets(
        BudgetSettings(total=BudgetSpec(monthly=10_000)),
        {"nlp": 2900.0, "vision": 100.0},
    )
    report = fc.forecast_report(
        source="test",
        as_of=AS_OF,
        history_start=AS_OF - timedelta(days=40),
        last_day=LAST,
        series=fc.series_inputs(daily, None),
        budgets=budgets,
        fail_on="critical",
    )
    rows = {r.name: r for r in report.rows}
    assert rows["nlp"].status == "critical"  # 3000 projected >= 100 % of 2900
    assert rows["vision"].status == "exceeded"  # 140 spent > 100
    assert report.total is not None and report.total.status == "on_track"
    assert {(t.name, t.status) for t in report.tripped} == {
        ("nlp", "critical"),
        ("vision", "exceeded"),
    }
    nlp = rows["nlp"]
    assert nlp.expected_to_date == pytest.approx(2900.0 * 14 / 30)
    assert nlp.remaining == pytest.approx(2900.0 - 1400.0)
    assert nlp.days_until_exhausted == pytest.approx(15.0)
    assert nlp.burn_rate == pytest.approx(100.0)
    assert len(report.days) == 30 and report.days[-1] == LAST.isoformat()
