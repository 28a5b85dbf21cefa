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


def _floor(is_cost: npt.NDArray[np.bool_], expected: FloatArray, level: FloatArray) -> FloatArray:
    """The smallest scale a series may have (one row per series): a flat baseline must not make
    every cent an anomaly."""
    relative = np.maximum(COST_REL_FLOOR * np.abs(expected), 1e-6)
    cost_floor = np.maximum(relative, COST_LEVEL_FLOOR * np.abs(level))
    return np.where(is_cost[:, None], cost_floor, SHARE_FLOOR)


def _bucket_starts(series: Series) -> npt.NDArray[np.datetime64]:
    """Bucket starts as naive UTC datetime64: numpy arithmetic, not a DatetimeIndex's."""
    return series.ends.tz_convert("UTC").tz_localize(None).to_numpy() - np.timedelta64(series.step)


def _trailing_mean(values: FloatArray, window: int) -> FloatArray:
    """Per row, the mean of the non-NaN values among the ``window`` before each position (NaN
    if none): ``pd.Series(row).shift(1).rolling(window, min_periods=1).mean()``, by running
    sums."""
    seen = ~np.isnan(values)
    zero = np.zeros((len(values), 1))
    sums = np.concatenate([zero, np.cumsum(np.where(seen, values, 0.0), axis=1)], axis=1)
    counts = np.concatenate([zero, np.cumsum(seen, axis=1)], axis=1)
    ends = np.arange(values.shape[1])
    starts = np.maximum(ends - window, 0)
    count = counts[:, ends] - counts[:, starts]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (sums[:, ends] - sums[:, starts]) / np.maximum(count, 1), np.nan)


def _per_day(series: Series) -> int:
    return max(1, round(DAY / series.step))


def expect(series: Series, method: str, window: int, first: int) -> Expectation:
    """Expected value, scale and score for buckets ``first..`` of ``series``.

    ``window`` is the baseline length in buckets; a bucket is judged only on what came before it.
    """
    return expect_many([series], method, window, first)[0]


def expect_many(group: Sequence[Series], method: str, window: int, first: int) -> list[Expectation]:
    """``expect`` for series on the same buckets (every team's hourly series, say), as one
    array: a fleet's hundreds of series cost one pass, not one each."""
    y = np.vstack([s.values for s in group]).astype(float)
    minimum = max(window // 4, 3)
    per_day = _per_day(group[0])
    level = _trailing_mean(np.abs(y), window)
    if method == SEASONAL:
        days = _bucket_starts(group[0]).astype("datetime64[D]").astype("int64")
        weekend = (days + 3) % 7 >= 5  # 1970-01-01 was a Thursday (weekday 3)
        expected, scale = _seasonal(y, per_day, window, first, weekend)
    else:
        rolled = [_rolling(row, method, window, minimum, per_day) for row in y]
        expected, scale, q1, q3 = (np.vstack(part) for part in zip(*rolled, strict=True))
    is_cost = np.array([s.is_cost for s in group], dtype=bool)
    floor = _floor(is_cost, np.nan_to_num(expected), level)
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
    # Six decimals: the same costs summed in another order (the server's raw series, or its
    # recorded rollups) differ by ~1e-12, which must not move a bucket across a threshold.
    score = np.asarray(np.round(score, 6), dtype=np.float64)
    return [
        Expectation(expected[k, first:], scale[k, first:], score[k, first:])
        for k in range(len(group))
    ]


def _rolling(
    y: FloatArray, method: str, window: int, minimum: int, per_day: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Expected value and scale of the rolling methods (and the quartiles, for IQR)."""
    s = pd.Series(y)
    past = s.shift(1)
    q1 = q3 = np.full(len(y), np.nan)
    if method == ZSCORE:
        expected = past.rolling(window, min_periods=minimum).mean().to_numpy()
        scale = past.rolling(window, min_periods=minimum).std().to_numpy()
    elif method == IQR:
        q1 = past.rolling(window, min_periods=minimum).quantile(0.25).to_numpy()
        q3 = past.rolling(window, min_periods=minimum).quantile(0.75).to_numpy()
        expected = past.rolling(window, min_periods=minimum).median().to_numpy()
        scale = q3 - q1
    elif method == MOVING_AVERAGE:
        k = per_day if per_day > 1 else 7
        expected = past.rolling(k, min_periods=max(k // 2, 1)).mean().to_numpy()
        deviations = s - pd.Series(expected)
        scale = deviations.shift(1).rolling(window, min_periods=minimum).std().to_numpy()
    else:
        raise ValueError(f"unknown method {method!r}")
    return expected, scale, q1, q3


def _seasonal(
    y: FloatArray, per_day: int, window: int, first: int, weekend: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """Hour-of-week (or weekday) medians over the weeks of the baseline, and a pooled MAD; one
    row per series, computed for buckets ``first..`` only (the others are never judged).

    With fewer than three weeks, a median of one or two values is at the mercy of one odd week
    (last Tuesday's sweep would make this Tuesday look like a drop), so the pool also takes the
    same hour of the previous seven days of the same kind (weekday or weekend).
    """
    rows, n = y.shape
    period = 7 * per_day
    weeks = max(window // period, 1)
    expected = _seasonal_expected(y, per_day, weeks, first, weekend)
    scale = np.full((rows, n), np.nan)
    for i in range(first, n):
        if (i - first) % per_day and i > first:
            scale[:, i] = scale[:, i - 1]  # the scale moves slowly: refreshed once a day
            continue
        start = max(0, i - window)
        span = (i - start) // period * period
        if span >= period:
            # Each hour of the week's median over the weeks, then the median distance to it.
            block = y[:, i - span : i].reshape(rows, -1, period)
            centre = _nanmedian(block.transpose(0, 2, 1))
            residuals = np.abs(block - centre[:, None, :]).reshape(rows, -1)
            scale[:, i] = 1.4826 * _nanmedian(residuals)
        elif i >= 3 * per_day:
            recent = y[:, start:i]
            spread = _nanmedian(np.abs(recent - _nanmedian(recent)[:, None]))
            enough = (~np.isnan(recent)).sum(axis=1) >= 3
            scale[:, i] = np.where(enough, 1.4826 * spread, np.nan)
    return expected, scale


def _seasonal_expected(
    y: FloatArray, per_day: int, weeks: int, first: int, weekend: npt.NDArray[np.bool_]
) -> FloatArray:
    """The expected value of buckets ``first..`` (one row per series), all at once: the median
    of the same bucket in the baseline's weeks; with one or two such weeks, also of the same
    hour on the previous six days of the same kind; with none, of the same hour on the previous
    seven days (three or more of them seen)."""
    n = y.shape[1]
    expected = np.full(y.shape, np.nan)
    judged = np.arange(first, n)
    if not len(judged):
        return expected
    period = 7 * per_day

    def gather(lags: npt.NDArray[np.int64], wanted: npt.NDArray[np.bool_]) -> FloatArray:
        values = y[:, np.clip(lags, 0, None)]  # series x judged bucket x lag
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
        axis=2,
    )
    seen = np.isfinite(pool).any(axis=2)
    chosen = np.where(seen, _nanmedian(pool), np.nan)
    if per_day > 1:  # under a week of history: same hour on the previous days
        days = judged[:, None] - np.arange(1, 8)[None, :] * per_day
        recent = gather(days, np.ones_like(days, dtype=bool))
        enough = ~seen & (np.isfinite(recent).sum(axis=2) >= 3)
        chosen = np.where(enough, _nanmedian(recent), chosen)
    expected[:, first:] = chosen
    return expected


def _nanmedian(values: FloatArray) -> FloatArray:
    """The median of the non-NaN values along the last axis (NaN where there are none), as
    ``np.nanmedian(values, axis=-1)`` computes it, bit for bit, without its slow masked-array
    path (it was most of a fleet's anomaly scan)."""
    if values.shape[-1] == 0:
        return np.full(values.shape[:-1], np.nan)
    ordered = np.sort(values, axis=-1)  # NaN sorts last
    counts = (~np.isnan(values)).sum(axis=-1)
    low = np.take_along_axis(ordered, np.maximum((counts - 1) // 2, 0)[..., None], -1)[..., 0]
    high = np.take_along_axis(ordered, np.maximum(counts // 2, 0)[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore"):
        middle = np.where(counts % 2 == 1, low, (low + high) / 2)
    return np.where(counts > 0, middle, np.nan)


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
    first = _first_judged(series, since)
    if first >= len(series.values):
        return []
    return _judge(series, method, expect(series, method, window, first), first, currency)


def _first_judged(series: Series, since: datetime) -> int:
    """The first bucket that starts at or after ``since``."""
    moment = np.datetime64(pd.Timestamp(since).tz_convert("UTC").tz_localize(None))
    return int(np.searchsorted(_bucket_starts(series), moment))


def _judge(
    series: Series, method: str, exp: Expectation, first: int, currency: str
) -> list[Anomaly]:
    """Flagged buckets in runs (an hour's gap bridged), each run one anomaly."""
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
    names = list(teams)

    def hourly(frame: pd.DataFrame) -> FloatArray:  # one column per team, absent ones 0
        return frame.reindex(columns=names, fill_value=0.0).to_numpy(float)

    def daily(values: FloatArray) -> FloatArray:  # whole UTC days only
        return (
            pd.DataFrame(values, index=index)
            .groupby(day_of)
            .sum()
            .reindex(full_days)
            .to_numpy(float)
        )

    c, b, o = hourly(cost), hourly(busy), hourly(observed)
    dc, db, do = daily(c), daily(b), daily(o)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(o > 1e-9, b / np.where(o > 1e-9, o, 1.0), np.nan)
        eff = np.where(do > 1e-9, db / np.where(do > 1e-9, do, 1.0), np.nan)
    # A row per team, each contiguous in memory.
    c, share, dc, eff = (np.ascontiguousarray(a.T) for a in (c, share, dc, eff))
    for i, team in enumerate(names):
        out.append(Series(team, "hourly_cost", HOUR, index, c[i], c[i]))
        out.append(Series(team, "busy_share", HOUR, index, share[i], c[i]))
        out.append(Series(team, "daily_cost", DAY, day_ends, dc[i], dc[i]))
        out.append(Series(team, "efficiency", DAY, day_ends, eff[i], dc[i]))
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
    chosen = [s for s in series if s.metric in metrics]
    same_buckets: dict[tuple[int, timedelta], list[Series]] = {}
    for s in chosen:
        same_buckets.setdefault((id(s.ends), s.step), []).append(s)
    found: list[Anomaly] = []
    for group in same_buckets.values():
        first = _first_judged(group[0], since)
        if first >= len(group[0].values):
            continue
        window = baseline_days * _per_day(group[0])
        for s, exp in zip(group, expect_many(group, method, window, first), strict=True):
            found.extend(
                a for a in _judge(s, method, exp, first, currency) if abs(a.impact) >= min_impact
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
        series_checked=len(chosen),
        fail_on=fail_on,
        tripped=tripped,
        notes=tuple(notes),
    )
