"""Anomaly detectors on synthetic series with strong daily and weekly patterns."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from finops_cli.analytics import anomalies as an

START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday
WEEKS = 5
SINCE = START + timedelta(days=28)


def hours(n: int = WEEKS * 168) -> pd.DatetimeIndex:
    return pd.date_range(START + timedelta(hours=1), periods=n, freq="h")


def seasonal_cost(index: pd.DatetimeIndex) -> np.ndarray:
    """Busy working hours on weekdays, quiet nights and weekends, a little noise."""
    start = index - pd.Timedelta(hours=1)
    hour = np.asarray(start.hour)
    weekday = np.asarray(start.day_of_week)
    day = np.where((hour >= 8) & (hour < 18), 40.0, 10.0)
    level = np.where(weekday >= 5, day * 0.5, day)
    noise = np.random.default_rng(3).uniform(-0.3, 0.3, len(index))
    return level + noise


def series(values: np.ndarray, metric: str = "hourly_cost", team: str = "nlp") -> an.Series:
    index = hours(len(values))
    cost = values if metric in an.COST_METRICS else np.full(len(values), 10.0)
    return an.Series(team, metric, an.HOUR, index, np.asarray(values, float), cost)


def at(day: int, hour: int) -> int:
    """Index of the bucket starting ``day`` days and ``hour`` hours after START."""
    return day * 24 + hour


def test_a_regular_week_raises_nothing_with_the_seasonal_method():
    found = an.detect(series(seasonal_cost(hours())), an.SEASONAL, SINCE, 28 * 24)
    assert found == []


def test_zscore_misses_a_night_job_that_seasonal_finds():
    values = seasonal_cost(hours())
    values[at(30, 2) : at(30, 5)] += 15.0  # a night job: +150 % at night, normal by day
    seasonal = an.detect(series(values), an.SEASONAL, SINCE, 28 * 24)
    assert [(a.start, a.buckets) for a in seasonal] == [(START + timedelta(days=30, hours=2), 3)]
    assert seasonal[0].direction == "up"
    assert seasonal[0].impact == pytest.approx(45.0, abs=2.0)
    zscore = an.detect(series(values), an.ZSCORE, SINCE, 28 * 24)
    night = START + timedelta(days=30, hours=2)
    assert not any(a.start <= night < a.end for a in zscore)  # lost in the day/night swing


def test_share_metrics_only_flag_drops_and_price_them():
    share = np.full(WEEKS * 168, 0.6) + np.random.default_rng(1).uniform(-0.01, 0.01, 840)
    share[at(29, 10) : at(29, 14)] = 0.1  # a stall
    share[at(31, 10) : at(31, 14)] = 0.95  # a busier afternoon: good news, not an anomaly
    found = an.detect(series(share, "busy_share"), an.SEASONAL, SINCE, 28 * 24)
    assert len(found) == 1
    stall = found[0]
    assert stall.direction == "down" and stall.buckets == 4
    assert stall.actual == pytest.approx(0.1)
    assert stall.impact == pytest.approx(4 * 0.5 * 10.0, rel=0.05)  # 0.5 idle x $10/h x 4 h
    assert "fell to 10%" in stall.reason


def test_one_quiet_hour_does_not_split_an_anomaly_in_two():
    values = seasonal_cost(hours())
    values[at(30, 1) : at(30, 7)] += 20.0
    values[at(30, 4)] -= 20.0  # back to normal for one hour
    found = an.detect(series(values), an.SEASONAL, SINCE, 28 * 24)
    assert len(found) == 1 and found[0].buckets == 6


@pytest.mark.parametrize("method", an.METHODS)
def test_every_method_finds_a_big_spike(method):
    values = seasonal_cost(hours())
    values[at(32, 12) : at(32, 14)] += 400.0
    found = an.detect(series(values), method, SINCE, 28 * 24)
    spike = START + timedelta(days=32, hours=12)
    assert any(a.start <= spike < a.end and a.severity == "critical" for a in found)


def test_only_buckets_since_are_judged_and_baseline_is_causal():
    values = seasonal_cost(hours())
    values[at(10, 12)] += 400.0  # inside the baseline: not reported
    found = an.detect(series(values), an.SEASONAL, SINCE, 28 * 24)
    assert found == []


def test_severity_scale():
    assert an.severity(4.0, 4.0) == "info"
    assert an.severity(-8.0, 4.0) == "warning"
    assert an.severity(16.0, 4.0) == "critical"
    assert an.at_least("critical", "warning") and not an.at_least("info", "warning")


def test_build_series_makes_daily_series_from_whole_days_only():
    index = hours(3 * 24 + 5)  # three whole days and five hours
    cost = pd.DataFrame({"nlp": np.full(len(index), 2.0)}, index=index)
    busy = pd.DataFrame({"nlp": np.full(len(index), 0.5)}, index=index)
    observed = pd.DataFrame({"nlp": np.ones(len(index))}, index=index)
    built = {s.metric: s for s in an.build_series(cost, busy, observed, ["nlp"])}
    assert set(built) == set(an.METRICS)
    assert list(built["daily_cost"].values) == [48.0, 48.0, 48.0]
    assert list(built["efficiency"].values) == [0.5, 0.5, 0.5]
    assert built["daily_cost"].ends[0] == pd.Timestamp(START + timedelta(days=1))
    assert built["busy_share"].values[0] == 0.5


def test_report_filters_by_impact_and_trips_fail_on():
    values = seasonal_cost(hours())
    values[at(30, 2) : at(30, 5)] += 15.0
    values[at(33, 12)] += 400.0
    kwargs = {
        "source": "test",
        "series": [series(values)],
        "method": an.SEASONAL,
        "as_of": START + timedelta(days=35),
        "since": SINCE,
        "baseline_start": START,
        "baseline_days": 28,
    }
    everything = an.anomaly_report(**kwargs)
    assert len(everything.anomalies) == 2
    big = an.anomaly_report(**kwargs, min_impact=100.0, fail_on="critical")
    assert len(big.anomalies) == 1 and big.anomalies[0].impact > 390
    assert big.tripped == big.anomalies


def _reference_expected(y, per_day, weeks, first, weekend):
    """The expected values bucket by bucket, as the docstring of _seasonal_expected says."""
    n, period = len(y), 7 * per_day
    out = np.full(n, np.nan)
    for i in range(first, n):
        lags = [i - k * period for k in range(1, weeks + 1) if i - k * period >= 0]
        if 0 < len(lags) < 3:
            lags += [
                j
                for j in (i - k * per_day for k in range(1, 7))
                if j >= 0 and weekend[j] == weekend[i]
            ]
        same = y[lags] if lags else np.array([])
        same = same[np.isfinite(same)]
        if len(same):
            out[i] = np.median(same)
        elif per_day > 1:
            days = [i - k * per_day for k in range(1, 8) if i - k * per_day >= 0]
            daily = y[days] if days else np.array([])
            daily = daily[np.isfinite(daily)]
            if len(daily) >= 3:
                out[i] = np.median(daily)
    return out


def test_seasonal_expected_equals_the_bucket_by_bucket_definition():
    from finops_cli.analytics.anomalies import _seasonal_expected

    rng = np.random.default_rng(7)
    for _ in range(300):
        per_day = int(rng.choice([1, 24]))
        n = int(rng.integers(1, 24 * 40 if per_day == 24 else 60))
        y = rng.normal(10, 3, n)
        y[rng.random(n) < 0.15] = np.nan
        weeks = int(rng.integers(1, 6))
        first = int(rng.integers(0, n))
        weekend = rng.random(n) < 0.3
        got = _seasonal_expected(y[None, :], per_day, weeks, first, weekend)[0]
        want = _reference_expected(y, per_day, weeks, first, weekend)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def _reference_scale(y, per_day, window, first):
    """The pooled MAD of one series, bucket by bucket, with numpy's own medians."""
    n, period = len(y), 7 * per_day
    scale = np.full(n, np.nan)
    for i in range(first, n):
        if (i - first) % per_day and i > first:
            scale[i] = scale[i - 1]
            continue
        start = max(0, i - window)
        span = (i - start) // period * period
        if span >= period:
            block = y[i - span : i].reshape(-1, period)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN hours of the week
                centre = np.nanmedian(block, axis=0)
            residuals = np.abs(block - centre)
            residuals = residuals[np.isfinite(residuals)]
            if len(residuals):
                scale[i] = 1.4826 * float(np.median(residuals))
        elif i >= 3 * per_day:
            recent = y[start:i]
            recent = recent[np.isfinite(recent)]
            if len(recent) >= 3:
                scale[i] = 1.4826 * float(np.median(np.abs(recent - np.median(recent))))
    return scale


def test_seasonal_scale_of_many_series_at_once_equals_each_alone():
    """``_seasonal`` runs every team's series as one array: each row must be exactly what the
    series alone gives under the bucket-by-bucket definition."""
    from finops_cli.analytics.anomalies import _seasonal

    rng = np.random.default_rng(11)
    for _ in range(150):
        per_day = int(rng.choice([1, 24]))
        n = int(rng.integers(1, 24 * 30 if per_day == 24 else 60))
        rows = int(rng.integers(1, 5))
        y = rng.normal(10, 3, (rows, n))
        y[rng.random((rows, n)) < 0.2] = np.nan
        window = int(rng.integers(3, 28)) * per_day
        first = int(rng.integers(0, n))
        _, scale = _seasonal(y, per_day, window, first, rng.random(n) < 0.3)
        for row in range(rows):
            want = _reference_scale(y[row], per_day, window, first)
            np.testing.assert_array_equal(scale[row], want)


def test_nanmedian_is_numpys_bit_for_bit():
    from finops_cli.analytics.anomalies import _nanmedian

    rng = np.random.default_rng(3)
    for _ in range(500):
        shape = tuple(int(d) for d in rng.integers(1, 7, size=int(rng.integers(1, 4))))
        values = rng.choice([1.0, 2.5, -3.0, np.inf, rng.normal()], size=shape)
        values[rng.random(shape) < 0.3] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanmedian(values, axis=-1)
        np.testing.assert_array_equal(_nanmedian(values), want)


@pytest.mark.parametrize("method", [an.SEASONAL, an.ZSCORE, an.IQR, an.MOVING_AVERAGE])
def test_series_judged_together_are_judged_as_alone(method):
    hours_ = hours()
    group = [series(seasonal_cost(hours_) * (1 + team)) for team in range(3)] + [
        series(np.linspace(0.2, 0.9, len(hours_)), "busy_share")
    ]
    first = 24 * 28
    together = an.expect_many(group, method, 21 * 24, first)
    for one, got in zip(group, together, strict=True):
        alone = an.expect(one, method, 21 * 24, first)
        for field in ("expected", "scale", "score"):
            np.testing.assert_array_equal(getattr(got, field), getattr(alone, field))


def test_trailing_mean_is_pandas_rolling_mean():
    from finops_cli.analytics.anomalies import _trailing_mean

    rng = np.random.default_rng(5)
    for _ in range(200):
        n, window = int(rng.integers(1, 300)), int(rng.integers(1, 100))
        values = rng.random(n) * 100
        values[rng.random(n) < 0.2] = np.nan
        want = pd.Series(values).shift(1).rolling(window, min_periods=1).mean().to_numpy()
        got = _trailing_mean(values[None, :], window)[0]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
