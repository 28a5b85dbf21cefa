"""Month-end projection of GPU spend, per team and in total, against budgets.

Pure: daily series in, a ``ForecastReport`` out; time is a parameter (``as_of``), never the clock.

What is measured and what is modelled:

- **Actual to date** is the sum of the daily series from the first of the month to ``as_of``
  (whole days, plus the part of today already spent), never "today's rate x day of month".
- **The projection** adds the expected spend of every remaining moment of the month. The method
  depends on how much history there is (``method`` says which was used):

  ``seasonal-trend`` (21 days or more): multiplicative day-of-week factors (weekday/weekend),
  then a robust (Huber) fit of level, trend and at most one level change (a new service, a job
  that ended) on the deseasonalised last 8 weeks. The simplest of {flat, trend, flat + step,
  trend + step} that explains the data wins, by a BIC-style criterion on absolute residuals, so
  noise does not become a trend and a step does not become a slope. The mean residual is added
  back, so recurring spikes (a weekly sweep) stay in the expectation.
  ``weekly-average`` (7-20 days): the mean of the last 7 days, which averages one full week.
  ``run-rate`` (under 7 days): spend so far divided by the time it took.
  ``no-data``: nothing to go on; the projection is what was spent.

- **The interval** (90 %) combines day-to-day noise over the remaining days with the uncertainty
  of the fitted level and trend. Its coverage is measured by the backtest (docs/forecast.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from finops_cli.analytics.budgets import NO_SPEND, Budget, at_least, budget_status
from finops_cli.analytics.costs import IDLE, UNALLOCATED
from finops_cli.analytics.series import SPECIAL, TOTAL, GroupSeries
from finops_cli.timewindow import month_bounds

FloatArray = npt.NDArray[np.float64]

SEASONAL = "seasonal-trend"
WEEKLY = "weekly-average"
RUN_RATE = "run-rate"
NO_DATA = "no-data"

SEASONAL_MIN_DAYS = 21  # three of each weekday: enough to tell a weekday factor from noise
WEEKLY_MIN_DAYS = 7
FIT_DAYS = 56  # eight weeks: long enough for a trend, short enough to forget old regimes
MIN_SEGMENT_AFTER_STEP = 3  # a level change needs three days after it before it is believed
MIN_SEGMENT_BEFORE_STEP = 7
INTERVAL_Z = 1.645  # two-sided 90 %
FACTOR_FLOOR = 0.05  # a weekday spending under 5 % of the average is treated as "off"
BIC_WEIGHT = 1.5  # > 1: a trend or a step must explain clearly more than noise to be believed
SIGMA_FLOOR = 0.02  # day-to-day noise assumed at least 2 % of the level: no zero-width intervals
TREND_DAYS = (7, 30, 90)
SPARK_DAYS = 30


@dataclass(frozen=True)
class Projection:
    """What one series is expected to spend by the end of the month, and how sure that is."""

    method: str
    history_days: int
    actual_to_date: float
    projected: float
    low: float | None
    high: float | None
    expected: tuple[float, ...]  # the rest of today, then each later day of the month
    change_day: date | None  # the level change the model found, if any
    slope_per_day: float


@dataclass(frozen=True)
class Trend:
    """Average spend per day over the last 7/30/90 full days, and how the recent ones moved."""

    avg_7d: float | None
    avg_30d: float | None
    avg_90d: float | None
    change_7d: float | None  # last 7 days vs the 7 before, as a fraction (+0.25 = +25 %)
    change_30d: float | None  # last 30 days vs the 30 before


@dataclass(frozen=True)
class ForecastRow:
    scope: str  # "team", "project" or "total"
    name: str
    kind: str  # "allocated", "unallocated", "idle" or "total"
    projection: Projection
    trend: Trend
    budget: Budget | None
    expected_to_date: float | None  # the budget, pro rata to the time elapsed
    remaining: float | None  # budget - actual to date
    burn_rate: float  # expected spend per day over the rest of the month
    days_until_exhausted: float | None  # None: not before month end (or no budget)
    exhausted_at: datetime | None
    status: str | None
    daily_cost: tuple[float, ...]  # the last SPARK_DAYS full days, for sparklines


@dataclass(frozen=True)
class Tripped:
    scope: str
    name: str
    status: str


@dataclass(frozen=True)
class ForecastReport:
    source: str
    as_of: datetime
    month_start: datetime
    month_end: datetime
    history_start: datetime
    rows: tuple[ForecastRow, ...]  # teams, then __unallocated__ and __idle__
    projects: tuple[ForecastRow, ...]  # only the projects that have budgets
    total: ForecastRow | None
    days: tuple[str, ...]  # the dates ``daily_cost`` refers to
    fail_on: str | None
    tripped: tuple[Tripped, ...]
    notes: tuple[str, ...]
    unmatched_budgets: tuple[Budget, ...] = ()
    """Team and project budgets whose name spent nothing in the history (status ``no_spend``):
    kept out of ``rows`` and ``projects`` (no phantom team), listed here and in the notes."""


# ---- calendar ------------------------------------------------------------------------------


def day_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# ---- the model -----------------------------------------------------------------------------


def weekday_factors(y: FloatArray, weekdays: npt.NDArray[np.int64]) -> FloatArray:
    """Multiplicative day-of-week factors (mean 1) from ratios to a centred 7-day average.

    Classical decomposition, with medians instead of means so that one spike on a Tuesday does
    not make every Tuesday expensive. Fewer than two weeks of ratios: no seasonality (all 1).
    """
    n = len(y)
    factors: FloatArray = np.ones(7)
    if n < 14 or float(np.mean(y)) <= 1e-9:
        return factors
    kernel = np.ones(7) / 7.0
    centred: FloatArray = np.convolve(y, kernel, mode="valid")  # averages y[i .. i+6]
    ratios = np.full(n, np.nan)
    middle = y[3 : n - 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios[3 : n - 3] = np.where(centred > 1e-9, middle / centred, np.nan)
    for day in range(7):
        values = ratios[(weekdays == day) & np.isfinite(ratios)]
        if len(values) >= 2:
            factors[day] = float(np.median(values))
    mean = float(np.mean(factors))
    return factors / mean if mean > 1e-9 else np.ones(7)


@dataclass(frozen=True)
class _Fit:
    coef: FloatArray
    residuals: FloatArray
    columns: tuple[str, ...]
    step_at: int | None
    criterion: float


def _huber(x: FloatArray, z: FloatArray, iterations: int = 30) -> tuple[FloatArray, FloatArray]:
    """Huber regression by iteratively reweighted least squares (k = 1.345, MAD scale), for a
    batch of designs at once: ``x`` is (models, n, params), ``z`` is (n,).

    Returns the coefficients (models, params) and residuals (models, n).
    """
    models, n, params = x.shape
    floor = float(np.mean(np.abs(z))) + 1e-9
    weights = np.ones((models, n))
    ridge = 1e-9 * np.eye(params)
    coef = np.zeros((models, params))
    for _ in range(iterations):
        xtw = np.einsum("mnp,mn->mpn", x, weights)
        rhs = np.einsum("mpn,n->mp", xtw, z)[:, :, None]
        coef = np.linalg.solve(xtw @ x + ridge, rhs)[:, :, 0]
        residuals = z[None, :] - np.einsum("mnp,mp->mn", x, coef)
        centre = np.median(residuals, axis=1, keepdims=True)
        scale = 1.4826 * np.median(np.abs(residuals - centre), axis=1, keepdims=True)
        # A MAD of zero (most days identical, one spike) would stop the reweighting at least
        # squares; a tiny floor lets it go on towards the median instead.
        scale = np.maximum(scale, 1e-6 * floor)
        u = np.abs(residuals) / (1.345 * scale)
        new = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1.0))
        if np.allclose(new, weights, atol=1e-6):
            break
        weights = new
    residuals = z[None, :] - np.einsum("mnp,mp->mn", x, coef)
    return np.asarray(coef, float), np.asarray(residuals, float)


def _fit_level(z: FloatArray, t: FloatArray) -> _Fit:
    """Choose among flat, trend, flat + step and trend + step; see the module docstring."""
    n = len(z)
    scale = max(float(np.mean(np.abs(z))), 1e-9)
    best: _Fit | None = None
    steps: list[int | None] = [None]
    steps += list(range(MIN_SEGMENT_BEFORE_STEP, n - MIN_SEGMENT_AFTER_STEP + 1))
    for trend in (False, True):
        columns = ["level"] + (["trend"] if trend else [])
        base = [np.ones(n)] + ([t - t.mean()] if trend else [])
        designs = [
            np.column_stack(base + ([] if step is None else [(np.arange(n) >= step) * 1.0]))
            for step in steps
        ]
        # Models with and without a step have different widths: fit each width as a batch.
        for width in sorted({d.shape[1] for d in designs}):
            chosen = [i for i, d in enumerate(designs) if d.shape[1] == width]
            coefs, residuals = _huber(np.stack([designs[i] for i in chosen]), z)
            for k, i in enumerate(chosen):
                step = steps[i]
                sar = float(np.sum(np.abs(residuals[k]))) + n * 1e-6 * scale
                # BIC on absolute residuals; a step also pays for choosing where it is.
                params = width + (1 if step is not None else 0)
                criterion = n * math.log(sar / n) + params * math.log(n) * BIC_WEIGHT
                if best is None or criterion < best.criterion - 1e-9:
                    names = (*columns, "step") if step is not None else tuple(columns)
                    best = _Fit(coefs[k], residuals[k], names, step, criterion)
    assert best is not None
    return best


def _seasonal_trend(
    y_all: FloatArray, last_day: date, slot_days: list[date], slot_weight: FloatArray
) -> tuple[FloatArray, float, date | None, float]:
    """The ``seasonal-trend`` method: expected spend per slot, variance of their sum, the day
    of the level change (if any) and the trend per day."""
    y = y_all[-FIT_DAYS:]
    m = len(y)
    t = np.arange(m, dtype=float)
    fit_first = last_day - timedelta(days=m - 1)
    weekdays = np.array([(fit_first + timedelta(days=i)).weekday() for i in range(m)])
    factors = weekday_factors(y, weekdays)
    on = factors[weekdays] >= FACTOR_FLOOR
    z = y[on] / factors[weekdays][on]
    fit = _fit_level(z, t[on])
    coef = dict(zip(fit.columns, fit.coef.tolist(), strict=True))
    # Spikes that recur (a sweep every 11 days) belong in the expectation: add the mean
    # residual, but without the largest one: a spike seen once is an accident, twice a habit.
    ordered = fit.residuals[np.argsort(np.abs(fit.residuals))]
    bias = float(np.mean(ordered[:-1])) if len(ordered) > 1 else 0.0
    slope = coef.get("trend", 0.0)
    t_mean = float(t[on].mean())
    level_now = coef["level"] + coef.get("step", 0.0) + bias
    future_t = np.arange(m, m + len(slot_days), dtype=float)
    slot_factor = np.array([factors[d.weekday()] for d in slot_days])
    slot_factor = np.where(slot_factor >= FACTOR_FLOOR, slot_factor, 0.0)
    expected = (level_now + slope * (future_t - t_mean)) * slot_factor
    dof = max(len(z) - len(fit.columns), 1)
    sigma2 = float(np.sum((fit.residuals - bias) ** 2)) / dof
    sigma2 = max(sigma2, (SIGMA_FLOOR * abs(level_now)) ** 2)
    segment = len(z) - (fit.step_at or 0)
    w = slot_factor * slot_weight
    variance = sigma2 * float(np.sum(w**2)) + sigma2 / max(segment, 1) * float(w.sum()) ** 2
    if "trend" in coef:
        spread = float(np.sum((t[on] - t_mean) ** 2))
        lever = float(np.sum(w * (future_t - t_mean)))
        variance += sigma2 / max(spread, 1e-9) * lever**2
    change = None
    if fit.step_at is not None:
        change = fit_first + timedelta(days=int(np.flatnonzero(on)[fit.step_at]))
    return expected, variance, change, slope


def project(
    values: Sequence[float],
    last_day: date,
    today_spend: float,
    as_of: datetime,
) -> Projection:
    """Project one daily series to the end of the month of ``as_of``.

    ``values`` are whole UTC days, consecutive, the last one being ``last_day`` (the day before
    ``as_of``'s day); only days the source had data for. ``today_spend`` is what was spent
    between midnight and ``as_of``.
    """
    month_start, month_end = month_bounds(as_of)
    today = day_floor(as_of)
    frac = (as_of - today).total_seconds() / 86400.0
    y_all = np.asarray(values, dtype=float)
    n = len(y_all)
    first_day = last_day - timedelta(days=n - 1)
    in_month = np.array(
        [(first_day + timedelta(days=i)) >= month_start.date() for i in range(n)], dtype=bool
    )
    actual = float(y_all[in_month].sum()) + today_spend
    days_after_today = (month_end - today).days - 1
    slots = 1 + days_after_today  # the rest of today, then each later day
    slot_weight = np.ones(slots)
    slot_weight[0] = 1.0 - frac
    slot_days = [today.date() + timedelta(days=k) for k in range(slots)]

    def finish(
        method: str,
        expected: FloatArray,
        variance: float | None,
        change: date | None = None,
        slope: float = 0.0,
    ) -> Projection:
        expected = np.maximum(expected, 0.0) * slot_weight
        projected = actual + float(expected.sum())
        low = high = None
        if variance is not None:
            half = INTERVAL_Z * math.sqrt(max(variance, 0.0))
            low, high = max(actual, projected - half), projected + half
        return Projection(
            method,
            n,
            actual,
            projected,
            low,
            high,
            tuple(float(v) for v in expected),
            change,
            slope,
        )

    if n >= SEASONAL_MIN_DAYS:
        expected, variance, change, slope = _seasonal_trend(y_all, last_day, slot_days, slot_weight)
        return finish(SEASONAL, expected, variance, change, slope)
    if n >= WEEKLY_MIN_DAYS:
        recent = y_all[-7:]
        level = float(recent.mean())
        sigma2 = float(np.var(y_all[-14:], ddof=1))
        h = float(slot_weight.sum())
        return finish(WEEKLY, np.full(slots, level), sigma2 * h + sigma2 / 7 * h * h)
    elapsed = n + frac
    if elapsed <= 0:
        return finish(NO_DATA, np.zeros(slots), None)
    rate = (float(y_all.sum()) + today_spend) / elapsed
    spread: float | None = None
    if n >= 2:
        sigma2 = float(np.var(y_all, ddof=1))
        h = float(slot_weight.sum())
        spread = sigma2 * h + sigma2 / n * h * h
    return finish(RUN_RATE, np.full(slots, rate), spread)


def naive_run_rate(month_to_date: float, as_of: datetime) -> float:
    """The baseline the backtest beats: spend so far / time elapsed x length of the month."""
    month_start, month_end = month_bounds(as_of)
    elapsed = (as_of - month_start).total_seconds()
    if elapsed <= 0:
        return month_to_date
    return month_to_date / elapsed * (month_end - month_start).total_seconds()


def trend_figures(values: Sequence[float]) -> Trend:
    """7/30/90-day averages over whole days, and change against the period before."""
    y = np.asarray(values, dtype=float)

    def avg(days: int, skip: int = 0) -> float | None:
        if len(y) < days + skip:
            return None
        part = y[len(y) - skip - days : len(y) - skip]
        return float(part.mean())

    def change(days: int) -> float | None:
        now, before = avg(days), avg(days, days)
        if now is None or before is None or before <= 1e-9:
            return None
        return now / before - 1.0

    return Trend(avg(7), avg(30), avg(90), change(7), change(30))


def exhaustion(
    actual: float, expected: Sequence[float], budget: float, as_of: datetime
) -> tuple[float | None, datetime | None]:
    """Days from ``as_of`` until cumulative spend reaches ``budget`` (linear within a day), and
    when; ``(None, None)`` when it does not happen before the month ends."""
    if actual >= budget:
        return 0.0, as_of
    left = budget - actual
    moment = as_of
    slot_end = day_floor(as_of) + timedelta(days=1)
    for spend in expected:
        length = (slot_end - moment).total_seconds()
        if spend > 0 and spend >= left:
            at = moment + timedelta(seconds=length * left / spend)
            return (at - as_of).total_seconds() / 86400.0, at
        left -= spend
        moment = slot_end
        slot_end = moment + timedelta(days=1)
    return None, None


# ---- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesInput:
    """One series to forecast: whole-day spend (oldest first, ending the day before ``as_of``)
    and what was spent today up to ``as_of``."""

    scope: str
    name: str
    kind: str
    daily: tuple[float, ...]
    today: float


def spent(series: SeriesInput) -> bool:
    """Whether the series holds any GPU spend (history or today): a budget on a name that
    spent nothing is ``no_spend``, not ``on_track``."""
    return series.today > 0 or any(v > 0 for v in series.daily)


def forecast_row(
    series: SeriesInput, last_day: date, as_of: datetime, budget: Budget | None
) -> ForecastRow:
    p = project(series.daily, last_day, series.today, as_of)
    month_start, month_end = month_bounds(as_of)
    remaining_days = (month_end - as_of).total_seconds() / 86400.0
    burn = (p.projected - p.actual_to_date) / remaining_days if remaining_days > 0 else 0.0
    expected_to_date = remaining = days_left = None
    exhausted_at = None
    if budget is not None:
        share = (as_of - month_start) / (month_end - month_start)
        expected_to_date = budget.monthly * share
        remaining = budget.monthly - p.actual_to_date
        days_left, exhausted_at = exhaustion(p.actual_to_date, p.expected, budget.monthly, as_of)
    return ForecastRow(
        scope=series.scope,
        name=series.name,
        kind=series.kind,
        projection=p,
        trend=trend_figures(series.daily),
        budget=budget,
        expected_to_date=expected_to_date,
        remaining=remaining,
        burn_rate=burn,
        days_until_exhausted=days_left,
        exhausted_at=exhausted_at,
        status=budget_status(p.actual_to_date, p.projected, budget, spent=spent(series)),
        daily_cost=tuple(series.daily[-SPARK_DAYS:]),
    )


def forecast_report(
    *,
    source: str,
    as_of: datetime,
    history_start: datetime,
    last_day: date,
    series: Sequence[SeriesInput],
    budgets: Mapping[tuple[str, str], Budget],
    fail_on: str | None = None,
    notes: Sequence[str] = (),
) -> ForecastReport:
    """Project every series, apply budgets and the ``--fail-on`` gate.

    A series of scope ``team`` or ``project`` takes the budget of its name; ``total`` the
    ``[budgets.total]`` one. A budget whose team (or project) never spent gets no row: it is
    listed in ``unmatched_budgets`` with the status ``no_spend``, and ``--fail-on warning``
    trips on it, so a typo in a name shows up rather than reading as a team ``on_track``.
    """
    rows: list[ForecastRow] = []
    projects: list[ForecastRow] = []
    total: ForecastRow | None = None
    unmatched: list[ForecastRow] = []
    n_days = max((len(s.daily) for s in series), default=0)
    for s in series:
        key = (s.scope, "" if s.scope == "total" else s.name)
        row = forecast_row(s, last_day, as_of, budgets.get(key))
        if row.status == NO_SPEND:
            unmatched.append(row)
        elif s.scope == "total":
            total = row
        elif s.scope == "project":
            projects.append(row)
        else:
            rows.append(row)
    kind_order = {"allocated": 0, "unallocated": 1, "idle": 2}
    rows.sort(key=lambda r: (kind_order.get(r.kind, 3), -r.projection.projected, r.name))
    projects.sort(key=lambda r: (-r.projection.projected, r.name))
    tripped: list[Tripped] = []
    if fail_on is not None:
        for row in [*rows, *projects, *([total] if total else []), *unmatched]:
            if at_least(row.status, fail_on):
                assert row.status is not None
                tripped.append(Tripped(row.scope, row.name, row.status))
    days = tuple(
        (last_day - timedelta(days=i)).isoformat() for i in range(min(n_days, SPARK_DAYS))
    )[::-1]
    month_start, month_end = month_bounds(as_of)
    return ForecastReport(
        source=source,
        as_of=as_of,
        month_start=month_start,
        month_end=month_end,
        history_start=history_start,
        rows=tuple(rows),
        projects=tuple(projects),
        total=total,
        days=days,
        fail_on=fail_on,
        tripped=tuple(tripped),
        notes=tuple(notes),
        unmatched_budgets=tuple(r.budget for r in unmatched if r.budget is not None),
    )


def series_inputs(
    daily: GroupSeries,
    today: GroupSeries | None,
    *,
    scope: str = "team",
    names: Sequence[str] | None = None,
    with_specials: bool = True,
) -> list[SeriesInput]:
    """Turn daily series (and today's partial bucket) into one ``SeriesInput`` per group.

    Days before the source's first day of data are dropped: history that does not exist is not
    a run of zero-spend days. ``names`` adds groups that spent nothing (budgets for them still
    get a row) and, for projects, limits the rows to those names.
    """
    present = daily.present.to_numpy(bool)
    first = int(np.argmax(present)) if present.any() else len(present)
    cost = daily.cost.iloc[first:]
    columns = [str(c) for c in cost.columns]
    wanted: list[str] = [c for c in columns if c not in SPECIAL]
    if scope == "project":
        wanted = [c for c in wanted if names is None or c in names]
    for name in names or ():
        if name not in wanted:
            wanted.append(name)
    kinds = {UNALLOCATED: "unallocated", IDLE: "idle", TOTAL: "total"}
    if with_specials:
        wanted += [c for c in (UNALLOCATED, IDLE, TOTAL) if c in columns]
    out: list[SeriesInput] = []
    for name in wanted:
        values = cost[name].to_numpy(float) if name in columns else np.zeros(len(cost))
        spent_today = 0.0
        if today is not None and name in today.cost.columns:
            spent_today = float(today.cost[name].sum())
        kind = kinds.get(name, "allocated")
        out.append(
            SeriesInput(
                scope="total" if kind == "total" else scope,
                name=name,
                kind=kind,
                daily=tuple(float(v) for v in values),
                today=spent_today,
            )
        )
    return out
