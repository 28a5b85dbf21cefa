"""Anomalies in GPU cost and busy share per team: four detectors, one report.

Pure: series in, an ``AnomalyReport`` out; time is a parameter. Every detector is causal: the
expected value of a bucket comes only from buckets before it (within the baseline), so a spike
never hides itself by inflating its own baseline, and ``--as-of`` replays exactly what a cron job
would have seen then.

Series (per team, plus ``__unallocated__`` for pods without a team label):

- ``hourly_cost`` and ``daily_cost``: GPU cost per hour and per UTC day;
- ``busy_share``: busy GPU-hours / GPU-hours held, per hour (allocation-weighted engine-active);
- ``efficiency``: the same per UTC day (what ``finops costs`` calls efficiency).

Cost is checked in both directions; busy share and efficiency only for drops (a team that is
busier than usual is not a finding).

Detectors (``--method``), each giving an expected value and a scale per bucket:

- ``seasonal`` (default): expected = median of the same hour of the week (same weekday for daily
  series) over the previous weeks of the baseline; scale = 1.4826 x the median absolute deviation
  of the baseline from its own hour-of-week medians. Copes with daily and weekly patterns, and
  one odd week in the baseline does not move a median of four.
- ``zscore``: mean and standard deviation of the whole baseline window.
- ``iqr``: Tukey fences (Q1 - 1.5 IQR, Q3 + 1.5 IQR) of the baseline window.
- ``moving-average``: the mean of the previous day (hourly) or week (daily); scale = standard
  deviation of the baseline's own deviations from its moving average.

Every scale has a floor (5 % of the expected value and 2 % of the baseline's mean level for
cost; 0.02 for shares) so that a perfectly regular series does not turn a rounding difference
into an "infinite" deviation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

SEASONAL = "seasonal"
ZSCORE = "zscore"
IQR = "iqr"
MOVING_AVERAGE = "moving-average"
METHODS = (SEASONAL, ZSCORE, IQR, MOVING_AVERAGE)
DEFAULT_METHOD = SEASONAL

THRESHOLDS = {SEASONAL: 4.0, ZSCORE: 3.0, IQR: 1.5, MOVING_AVERAGE: 3.0}
"""A bucket is anomalous when its score reaches this (robust z, z, IQRs past the fence, z)."""

SEVERITIES = ("info", "warning", "critical")
"""info: score >= threshold; warning: >= 2x; critical: >= 4x. Ordered for ``--fail-on-anomaly``."""

METRICS = ("hourly_cost", "daily_cost", "busy_share", "efficiency")
COST_METRICS = ("hourly_cost", "daily_cost")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

COST_REL_FLOOR = 0.05
COST_LEVEL_FLOOR = 0.02
SHARE_FLOOR = 0.02
MERGE_GAP_HOURS = 1  # one quiet hour inside an hourly anomaly does not split it in two

_METRIC_TEXT = {
    "hourly_cost": "GPU cost per hour",
    "daily_cost": "GPU cost per day",
    "busy_share": "GPU busy share",
    "efficiency": "daily GPU efficiency",
}
_METHOD_TEXT = {
    SEASONAL: "median of the same hour of the week over the baseline",
    ZSCORE: "baseline mean",
    IQR: "baseline median (Tukey fences)",
    MOVING_AVERAGE: "moving average",
}


@dataclass(frozen=True)
class Series:
    """One series to check. ``values`` may hold NaN (no GPUs held that hour, for a share).

    ``cost`` is the team's GPU cost per bucket, which prices a busy-share drop in dollars.
    ``ends`` are bucket ends (UTC); buckets are ``step`` long and consecutive.
    """

    team: str
    metric: str
    step: timedelta
    ends: pd.DatetimeIndex
    values: FloatArray
    cost: FloatArray

    @property
    def is_cost(self) -> bool:
        return self.metric in COST_METRICS


@dataclass(frozen=True)
class Expectation:
    """Per bucket: what the detector expected, its scale, and the signed score (NaN: no verdict)."""

    expected: FloatArray
    scale: FloatArray
    score: FloatArray


@dataclass(frozen=True)
class Anomaly:
    team: str
    metric: str
    start: datetime
    end: datetime
    buckets: int
    actual: float  # cost: summed over the anomaly; shares: averaged
    expected: float
    score: float  # the largest |score| inside the anomaly, signed
    direction: str  # "up" or "down"
    severity: str
    impact: float  # dollars: unexpected spend (cost), or GPU time paid for and not used (shares)
    reason: str

    @property
    def deviation(self) -> float:
        return self.actual - self.expected

    @property
    def deviation_pct(self) -> float | None:
        return self.deviation / self.expected if abs(self.expected) > 1e-12 else None


@dataclass(frozen=True)
class AnomalyReport:
    source: str
    method: str
    threshold: float
    as_of: datetime
    since: datetime
    baseline_start: datetime
    anomalies: tuple[Anomaly, ...]
    series_checked: int
    fail_on: str | None
    tripped: tuple[Anomaly, ...]
    notes: tuple[str, ...]


# ---- detectors -----------------------------------------------------------------------------


def _floor(series: Series, expected: FloatArray, window_level: FloatArray) -> FloatArray:
    if series.is_cost:
        relative = np.maximum(COST_REL_FLOOR * np.abs(expected), 1e-6)
        return np.maximum(relative, COST_LEVEL_FLOOR * np.abs(window_level))
    return np.full(len(expected), SHARE_FLOOR)


def _per_day(series: Series) -> int:
    return max(1, round(DAY / series.step))


def expect(series: Series, method: str, window: int, first: int) -> Expectation:
    """Expected value, scale and score for buckets ``first..`` of ``series``.

    ``window`` is the baseline length in buckets; a bucket is judged only on what came before it.
    """
    y = series.values
    n = len(y)
    s = pd.Series(y)
    past = s.shift(1)
    minimum = max(window // 4, 3)
    level = past.abs().rolling(window, min_periods=1).mean().to_numpy()
    if method == ZSCORE:
        expected = past.rolling(window, min_periods=minimum).mean().to_numpy()
        scale = past.rolling(window, min_periods=minimum).std().to_numpy()
    elif method == IQR:
        q1 = past.rolling(window, min_periods=minimum).quantile(0.25).to_numpy()
        q3 = past.rolling(window, min_periods=minimum).quantile(0.75).to_numpy()
        expected = past.rolling(window, min_periods=minimum).median().to_numpy()
        scale = q3 - q1
    elif method == MOVING_AVERAGE:
        k = _per_day(series) if _per_day(series) > 1 else 7
        expected = past.rolling(k, min_periods=max(k // 2, 1)).mean().to_numpy()
        deviations = s - pd.Series(expected)
        scale = deviations.shift(1).rolling(window, min_periods=minimum).std().to_numpy()
    elif method == SEASONAL:
        starts = series.ends - series.step
        weekend = np.asarray(starts.day_of_week >= 5, dtype=bool)
        expected, scale = _seasonal(y, _per_day(series), window, first, weekend)
    else:
        raise ValueError(f"unknown method {method!r}")
    floor = _floor(series, np.nan_to_num(expected), level)
    if method == IQR:
        scale = np.fmax(scale, floor * 1.349)
        with np.errstate(invalid="ignore"):
            above = (y - q3) / scale
            below = (y - q1) / scale
        score = np.where(y > q3, above, np.where(y < q1, below, 0.0))
    else:
        scale = np.fmax(scale, floor)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = (y - expected) / scale
    score = np.where(np.isfinite(y) & np.isfinite(expected), score, np.nan)
    sl = slice(first, n)
    return Expectation(expected[sl], scale[sl], score[sl])


def _seasonal(
    y: FloatArray, per_day: int, window: int, first: int, weekend: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """Hour-of-week (or weekday) medians over the weeks of the baseline, and a pooled MAD;
    computed for buckets ``first..`` only (the others are never judged).

    With fewer than three weeks, a median of one or two values is at the mercy of one odd week
    (last Tuesday's sweep would make this Tuesday look like a drop), so the pool also takes the
    same hour of the previous seven days of the same kind (weekday or weekend).
    """
    n = len(y)
    period = 7 * per_day
    weeks = max(window // period, 1)
    expected = _seasonal_expected(y, per_day, weeks, first, weekend)
    scale = np.full(n, np.nan)
    for i in range(first, n):
        if (i - first) % per_day and i > first:
            scale[i] = scale[i - 1]  # the scale moves slowly: refreshed once a day
            continue
        start = max(0, i - window)
        span = (i - start) // period * period
        if span >= period:
            block = y[i - span : i].reshape(-1, period)
            seen = np.isfinite(block)
            if seen.any():
                filled = np.where(seen, block, 0.0)
                counts = seen.sum(axis=0)
                # nanmedian without its all-NaN warning: columns never seen stay NaN.
                centre = np.full(period, np.nan)
                has = counts > 0
                centre[has] = np.nanmedian(np.where(seen, filled, np.nan)[:, has], axis=0)
                residuals = np.abs(block - centre)
                residuals = residuals[np.isfinite(residuals)]
                if len(residuals):
                    scale[i] = 1.4826 * float(np.median(residuals))
        elif i >= 3 * per_day:
            recent = y[max(0, i - window) : i]
            recent = recent[np.isfinite(recent)]
            if len(recent) >= 3:
                scale[i] = 1.4826 * float(np.median(np.abs(recent - np.median(recent))))
    return expected, scale


def _seasonal_expected(
    y: FloatArray, per_day: int, weeks: int, first: int, weekend: npt.NDArray[np.bool_]
) -> FloatArray:
    """The expected value of buckets ``first..``, all at once: the median of the same bucket in
    the baseline's weeks; with one or two such weeks, also of the same hour on the previous six
    days of the same kind; with none, of the same hour on the previous seven days (three or more
    of them seen)."""
    n = len(y)
    expected = np.full(n, np.nan)
    judged = np.arange(first, n)
    if not len(judged):
        return expected
    period = 7 * per_day

    def gather(lags: npt.NDArray[np.int64], wanted: npt.NDArray[np.bool_]) -> FloatArray:
        values = y[np.clip(lags, 0, None)]
        return np.where(wanted & (lags >= 0) & np.isfinite(values), values, np.nan)

    weekly = judged[:, None] - np.arange(1, weeks + 1)[None, :] * period
    found = (weekly >= 0).sum(axis=1)
    daily = judged[:, None] - np.arange(1, 7)[None, :] * per_day
    same_kind = weekend[np.clip(daily, 0, None)] == weekend[judged][:, None]
    pool = np.concatenate(
        [
            gather(weekly, np.ones_like(weekly, dtype=bool)),
            gather(daily, same_kind & ((found > 0) & (found < 3))[:, None]),
        ],
        axis=1,
    )
    seen = np.isfinite(pool).any(axis=1)
    if seen.any():
        expected[judged[seen]] = np.nanmedian(pool[seen], axis=1)
    if per_day > 1:  # under a week of history: same hour on the previous days
        days = judged[:, None] - np.arange(1, 8)[None, :] * per_day
        recent = gather(days, np.ones_like(days, dtype=bool))
        enough = ~seen & (np.isfinite(recent).sum(axis=1) >= 3)
        if enough.any():
            expected[judged[enough]] = np.nanmedian(recent[enough], axis=1)
    return expected


# ---- from flagged buckets to anomalies -----------------------------------------------------


def severity(score: float, threshold: float) -> str:
    ratio = abs(score) / threshold
    if ratio >= 4:
        return "critical"
    if ratio >= 2:
        return "warning"
    return "info"


def at_least(level: str, wanted: str) -> bool:
    return SEVERITIES.index(level) >= SEVERITIES.index(wanted)


def detect(
    series: Series, method: str, since: datetime, window: int, currency: str = "USD"
) -> list[Anomaly]:
    """Anomalies of one series among the buckets that start at or after ``since``."""
    starts = series.ends - series.step
    first = int(starts.searchsorted(pd.Timestamp(since)))
    if first >= len(series.values):
        return []
    exp = expect(series, method, window, first)
    threshold = THRESHOLDS[method]
    flagged = np.abs(np.nan_to_num(exp.score)) >= threshold
    if not series.is_cost:
        flagged &= np.nan_to_num(exp.score) < 0
    direction = np.sign(np.nan_to_num(exp.score))
    gap = MERGE_GAP_HOURS if series.step == HOUR else 0
    out: list[Anomaly] = []
    runs: list[list[int]] = []
    for k in np.flatnonzero(flagged).tolist():
        last = runs[-1][-1] if runs else None
        if last is not None and k - last <= gap + 1 and direction[k] == direction[last]:
            runs[-1].append(k)
        else:
            runs.append([k])
    for run in runs:
        i, j = run[0], run[-1]
        out.append(_anomaly(series, method, exp, first, i, j, threshold, currency))
    return out


def _anomaly(
    series: Series,
    method: str,
    exp: Expectation,
    first: int,
    i: int,
    j: int,
    threshold: float,
    currency: str,
) -> Anomaly:
    sl = slice(i, j + 1)
    values = series.values[first:][sl]
    expected = exp.expected[sl]
    cost = series.cost[first:][sl]
    scores = exp.score[sl]
    ok = np.isfinite(values) & np.isfinite(expected)
    peak = float(scores[np.nanargmax(np.abs(np.where(ok, scores, 0.0)))])
    if series.is_cost:
        actual = float(np.sum(values[ok]))
        expect_total = float(np.sum(expected[ok]))
        impact = actual - expect_total
    else:
        actual = float(np.mean(values[ok]))
        expect_total = float(np.mean(expected[ok]))
        impact = float(np.sum(np.clip(expected[ok] - values[ok], 0.0, None) * cost[ok]))
    start = (series.ends[first + i] - series.step).to_pydatetime()
    end = series.ends[first + j].to_pydatetime()
    anomaly = Anomaly(
        team=series.team,
        metric=series.metric,
        start=start,
        end=end,
        buckets=j - i + 1,
        actual=actual,
        expected=expect_total,
        score=peak,
        direction="up" if peak > 0 else "down",
        severity=severity(peak, threshold),
        impact=impact,
        reason="",
    )
    return _with_reason(anomaly, series, method, currency)


def _with_reason(a: Anomaly, series: Series, method: str, currency: str) -> Anomaly:
    from dataclasses import replace

    unit = "h" if series.step == HOUR else "day"
    length = f"{a.buckets} {unit}" + ("s" if a.buckets > 1 and unit == "day" else "")
    when = a.start.strftime("%a %Y-%m-%d %H:%M UTC")
    what = _METRIC_TEXT[a.metric]
    if series.is_cost:
        per = a.buckets
        ratio = (a.actual / a.expected) if a.expected > 1e-9 else math.inf
        times = f"{ratio:.1f}x" if math.isfinite(ratio) else "far above"
        text = (
            f"{what} of {a.team} averaged {a.actual / per:,.2f} {currency} "
            f"vs {a.expected / per:,.2f} expected ({times}) for {length} from {when}; "
            f"{a.impact:+,.2f} {currency}"
        )
    else:
        text = (
            f"{what} of {a.team} fell to {a.actual * 100:.0f}% vs {a.expected * 100:.0f}% "
            f"expected for {length} from {when}; {a.impact:,.2f} {currency} of GPU time idle"
        )
    basis = _METHOD_TEXT[method]
    if series.step != HOUR:
        basis = basis.replace("same hour of the week", "same weekday")
    text += f" (expected: {basis}; score {a.score:+.1f})"
    return replace(a, reason=text)


# ---- building the series and the report ----------------------------------------------------


def build_series(
    cost: pd.DataFrame,
    busy: pd.DataFrame,
    observed: pd.DataFrame,
    teams: Sequence[str],
) -> list[Series]:
    """The four metrics per team from hourly frames (index: bucket ends, one column per team).

    Daily series are sums over whole UTC days; a day the hourly frame does not cover completely
    is left out (a half day is not a drop).
    """
    out: list[Series] = []
    index = pd.DatetimeIndex(cost.index)
    day_of = (index - pd.Timedelta(milliseconds=1)).floor("D")
    counts = pd.Series(1, index=index).groupby(day_of).sum()
    full_days = counts[counts == 24].index
    day_ends = pd.DatetimeIndex(full_days + pd.Timedelta(days=1))
    for team in teams:
        c = cost[team].to_numpy(float) if team in cost else np.zeros(len(index))
        b = busy[team].to_numpy(float) if team in busy else np.zeros(len(index))
        o = observed[team].to_numpy(float) if team in observed else np.zeros(len(index))
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(o > 1e-9, b / np.where(o > 1e-9, o, 1.0), np.nan)
        out.append(Series(team, "hourly_cost", HOUR, index, c, c))
        out.append(Series(team, "busy_share", HOUR, index, share, c))
        frame = pd.DataFrame({"c": c, "b": b, "o": o}, index=index).groupby(day_of).sum()
        frame = frame.reindex(full_days)
        dc = frame["c"].to_numpy(float)
        do = frame["o"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            eff = np.where(
                do > 1e-9, frame["b"].to_numpy(float) / np.where(do > 1e-9, do, 1), np.nan
            )
        out.append(Series(team, "daily_cost", DAY, day_ends, dc, dc))
        out.append(Series(team, "efficiency", DAY, day_ends, eff, dc))
    return out


def anomaly_report(
    *,
    source: str,
    series: Sequence[Series],
    method: str,
    as_of: datetime,
    since: datetime,
    baseline_start: datetime,
    baseline_days: int,
    min_impact: float = 0.0,
    metrics: Sequence[str] = METRICS,
    fail_on: str | None = None,
    currency: str = "USD",
    notes: Sequence[str] = (),
) -> AnomalyReport:
    """Run ``method`` over every series; keep anomalies worth at least ``min_impact`` dollars."""
    found: list[Anomaly] = []
    checked = 0
    for s in series:
        if s.metric not in metrics:
            continue
        checked += 1
        window = baseline_days * _per_day(s)
        found.extend(
            a for a in detect(s, method, since, window, currency) if abs(a.impact) >= min_impact
        )
    found.sort(key=lambda a: (a.start, a.team, METRICS.index(a.metric)))
    tripped = tuple(a for a in found if fail_on is not None and at_least(a.severity, fail_on))
    return AnomalyReport(
        source=source,
        method=method,
        threshold=THRESHOLDS[method],
        as_of=as_of,
        since=since,
        baseline_start=baseline_start,
        anomalies=tuple(found),
        series_checked=checked,
        fail_on=fail_on,
        tripped=tripped,
        notes=tuple(notes),
    )
