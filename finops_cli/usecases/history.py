"""The history behind ``finops forecast`` and ``finops anomalies`` (and the report's anomaly
section): which aligned windows to ask a ``CostSource`` for, and the series made of the answers.

The engine aggregates (one value per team and bucket); this module decides which windows to ask
for, so that daily buckets are UTC days and hourly buckets UTC hours whichever way a source cuts
a window that is not a whole number of buckets: every window asked for here starts and ends on a
bucket boundary, except the explicit "today so far" one, which is a single bucket. It also
decides how much history each command needs, and which notes to add when the source holds less.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from finops_cli.buckets import DAY_S, HOUR_S
from finops_cli.errors import UsageError
from finops_cli.sources.interface import SERIES_MEASURES, CostRequest, CostSource
from finops_cli.timewindow import Window, month_bounds

if TYPE_CHECKING:
    from finops_cli.analytics.anomalies import Series
    from finops_cli.analytics.budgets import Budget
    from finops_cli.analytics.forecast import SeriesInput
    from finops_cli.analytics.series import GroupSeries


def floor_to(moment: datetime, bucket_s: int) -> datetime:
    """``moment`` rounded down to a multiple of ``bucket_s`` since the epoch (UTC)."""
    seconds = int(moment.timestamp()) // bucket_s * bucket_s
    return datetime.fromtimestamp(seconds, UTC)


def series(
    source: CostSource,
    start: datetime,
    end: datetime,
    bucket_s: int,
    key: str = "team",
    filters: dict[str, str] | None = None,
) -> GroupSeries:
    """Per-bucket series by ``key`` for ``[start, end)``; both ends must sit on boundaries."""
    if int(start.timestamp()) % bucket_s or int(end.timestamp()) % bucket_s:
        raise ValueError(f"window {start}..{end} is not aligned to {bucket_s} s buckets")
    request = CostRequest(
        Window(start, end, "history"), (key,), dict(filters or {}), bucket_s, SERIES_MEASURES
    )
    data = source.costs(request)
    from finops_cli.analytics.series import group_series  # pandas: loaded while queries ran

    found = group_series(data, key, with_cluster=not filters)
    return _complete(found, start, end, bucket_s)


def _complete(found: GroupSeries, start: datetime, end: datetime, bucket_s: int) -> GroupSeries:
    """Every bucket of the window, in order: an engine returns nothing for a bucket without
    data, and a series with holes would shift every day after the hole."""
    import pandas as pd

    from finops_cli.analytics.series import GroupSeries

    index = pd.date_range(
        start + timedelta(seconds=bucket_s), end, freq=f"{bucket_s}s", name="bucket_end"
    )
    present = found.present.reindex(index, fill_value=False).astype(bool)
    return GroupSeries(
        cost=found.cost.reindex(index, fill_value=0.0),
        busy=found.busy.reindex(index, fill_value=0.0),
        observed=found.observed.reindex(index, fill_value=0.0),
        present=present,
    )


def today_so_far(
    source: CostSource, as_of: datetime, key: str = "team", filters: dict[str, str] | None = None
) -> GroupSeries | None:
    """One bucket from UTC midnight to ``as_of``; None when ``as_of`` is midnight itself."""
    midnight = floor_to(as_of, DAY_S)
    if as_of <= midnight:
        return None
    request = CostRequest(Window(midnight, as_of, "today"), (key,), dict(filters or {}), DAY_S)
    data = source.costs(request)
    from finops_cli.analytics.series import group_series

    return group_series(data, key, with_cluster=not filters)


def daily_window(as_of: datetime, history_days: int) -> tuple[datetime, datetime]:
    """Whole UTC days before ``as_of``'s day: ``history_days`` of them."""
    end = floor_to(as_of, DAY_S)
    return end - timedelta(days=history_days), end


def hourly_window(
    as_of: datetime, since: datetime, baseline_days: int
) -> tuple[datetime, datetime]:
    """Whole UTC hours from ``baseline_days`` before ``since`` to the last one before ``as_of``."""
    end = floor_to(as_of, HOUR_S)
    start = floor_to(since, HOUR_S) - timedelta(days=baseline_days)
    return start, end


@dataclass(frozen=True)
class ForecastHistory:
    """What ``finops forecast`` projects from: one input per team (and budgeted project)."""

    source: str
    start: datetime
    last_day: date
    inputs: list[SeriesInput]
    notes: list[str]
    known: dict[str, list[str]] = field(default_factory=dict)
    """Names with GPU spend in the history read, by scope (``team``, ``project`` when read)."""


def _spenders(daily: GroupSeries, today: GroupSeries | None) -> list[str]:
    """Groups with any GPU spend in ``daily`` or ``today`` (the special rows left out)."""
    from finops_cli.usecases.filters import known_names

    names = [c for c in daily.cost.columns if float(daily.cost[c].sum()) > 0]
    if today is not None:
        names += [c for c in today.cost.columns if float(today.cost[c].sum()) > 0]
    return known_names(names)


def forecast_history(
    source: CostSource,
    as_of: datetime,
    history_days: int,
    budgets: Mapping[tuple[str, str], Budget],
    teams: Sequence[str] | None = None,
) -> ForecastHistory:
    """Daily GPU cost per team (and per budgeted project) over the history and the month so
    far, plus today's partial bucket. ``teams`` limits the rows (no cluster-wide rows then)."""
    month_start, _ = month_bounds(as_of)
    days = max(history_days, (floor_to(as_of, DAY_S) - month_start).days)
    start, end = daily_window(as_of, days)
    projects = sorted(name for scope, name in budgets if scope == "project")
    daily = series(source, start, end, DAY_S, "team")
    today = today_so_far(source, as_of, "team")
    from finops_cli.analytics.forecast import series_inputs  # pandas: loaded while queries ran

    named = [name for scope, name in budgets if scope == "team"]
    inputs = series_inputs(daily, today, names=named, with_specials=not teams)
    notes: list[str] = []
    known = {"team": _spenders(daily, today)}
    if teams:
        from finops_cli.usecases.filters import unmatched_filter

        inputs = [s for s in inputs if s.name in teams]
        notes += [
            unmatched_filter("--team", "team", name, known["team"])
            for name in sorted(set(teams) - set(known["team"]))
        ]
    elif projects:
        p_daily = series(source, start, end, DAY_S, "project")
        p_today = today_so_far(source, as_of, "project")
        known["project"] = _spenders(p_daily, p_today)
        inputs += series_inputs(
            p_daily, p_today, scope="project", names=projects, with_specials=False
        )
    have = int(daily.present.sum())
    if have == 0:
        notes.append("no cost data before today: projections use today's spend only (run-rate)")
    elif have < days:
        notes.append(
            f"only {have} of {days} days of history in the source: with fewer than 21 days the "
            "projection uses a simpler method (see each row's method)"
        )
    last_day = (end - timedelta(days=1)).date()
    return ForecastHistory(source.name, start, last_day, inputs, notes, known)


@dataclass(frozen=True)
class AnomalyHistory:
    """What ``finops anomalies`` checks: the four series per team, hourly and daily."""

    source: str
    start: datetime
    series: list[Series]
    notes: list[str]


def anomaly_history(
    source: CostSource,
    as_of: datetime,
    since: datetime,
    baseline_days: int,
    teams: Sequence[str] | None = None,
) -> AnomalyHistory:
    """Hourly GPU cost, busy and held GPU-hours per team from the baseline's start to the last
    whole hour before ``as_of``; one team is filtered on the server, several after."""
    first, last = hourly_window(as_of, since, baseline_days)
    if last <= floor_to(since, HOUR_S):
        raise UsageError("the window holds no whole hour before --as-of: widen --since")
    filters = {"team": teams[0]} if teams and len(teams) == 1 else {}
    hourly = series(source, first, last, HOUR_S, "team", filters)
    from finops_cli.analytics.anomalies import build_series  # pandas: loaded while queries ran
    from finops_cli.analytics.costs import UNALLOCATED
    from finops_cli.analytics.series import SPECIAL, team_order

    names = [c for c in team_order(hourly.cost.columns) if c not in SPECIAL or c == UNALLOCATED]
    notes: list[str] = []
    if teams:
        names = [n for n in names if n in teams]
        notes += _unmatched_teams(source, first, last, teams, hourly, filtered=bool(filters))
    have = int(hourly.present.sum())
    if have < len(hourly.present):
        notes.append(
            f"the source holds {have} of {len(hourly.present)} hours asked for: the baseline is "
            "shorter than --baseline, and buckets without one are not judged"
        )
    built = build_series(hourly.cost, hourly.busy, hourly.observed, names)
    return AnomalyHistory(source.name, first, built, notes)


def _unmatched_teams(
    source: CostSource,
    first: datetime,
    last: datetime,
    teams: Sequence[str],
    hourly: GroupSeries,
    *,
    filtered: bool,
) -> list[str]:
    """A note per ``--team`` with no GPU spend in the window, naming the nearest teams that
    spent. A team filtered on the server needs one more (daily, unfiltered) query to name them,
    asked only when it matched nothing."""
    from finops_cli.usecases.filters import unmatched_filter

    spenders = _spenders(hourly, None)
    missing = sorted(set(teams) - set(spenders))
    if not missing:
        return []
    if filtered:
        request = CostRequest(Window(first, last, "teams"), ("team",), {}, DAY_S, SERIES_MEASURES)
        alloc = source.costs(request).allocations
        from finops_cli.usecases.filters import known_names

        spent = alloc[alloc["gpu_cost"] > 0] if len(alloc) else alloc
        spenders = known_names(spent["team"]) if len(spent) else []
    return [unmatched_filter("--team", "team", name, spenders) for name in missing]
