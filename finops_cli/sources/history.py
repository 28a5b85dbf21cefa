"""History for forecasts and anomaly detection: aligned windows asked of any ``CostSource``.

The engine aggregates (one value per team and bucket); this module only decides which windows
to ask for, so that daily buckets are UTC days and hourly buckets UTC hours whichever way a source
cuts a window that is not a whole number of buckets: every window asked for here starts and ends
on a bucket boundary, except the explicit "today so far" one, which is a single bucket. What
``forecast`` and ``anomalies`` make of these series is in ``usecases/history.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from finops_cli.buckets import DAY_S, HOUR_S
from finops_cli.sources.interface import SERIES_MEASURES, CostRequest, CostSource
from finops_cli.timewindow import Window

if TYPE_CHECKING:
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
