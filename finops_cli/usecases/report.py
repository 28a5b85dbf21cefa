"""``finops report chargeback``: the period to charge for, and the chargeback document.

The period comes from ``--month``, ``--period`` or an explicit window (``--window``, ``--start``,
``--end``: any of them given means that window, ``--window 7d`` included); the default is the
last complete month. The document holds the period's costs per group, the previous period for
the change, and optional sections (unit costs, recommendations, anomalies), each left out with a
note when its queries fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from finops_cli.errors import FinopsError, UsageError
from finops_cli.usecases.context import RunContext
from finops_cli.usecases.sources import open_source

if TYPE_CHECKING:
    from finops_cli.analytics.chargeback import Extras
    from finops_cli.analytics.costs import CostReport
    from finops_cli.analytics.periods import Period
    from finops_cli.sources.interface import CostSource


# --by value -> the cost-report group key (``analytics.chargeback.GROUP_FIELDS``, which imports
# pandas: the period and the key are known before the first query leaves).
GROUP_BY = {"team": "team", "project": "project", "cost-center": "cost_center"}


@dataclass(frozen=True)
class ChargebackOptions:
    """``--month``, ``--period``, ``--by`` (team, project, cost-center), ``--share-idle`` and
    ``--details``."""

    month: str | None = None
    period: str | None = None
    by: str = "team"
    share_idle: str = "none"
    details: bool = True


def chargeback_period(run: RunContext, options: ChargebackOptions) -> Period:
    """The period the options choose; an explicit window is taken as given."""
    explicit = (run.window.start, run.window.end) if run.window_given else None
    return resolve_period(options.month, options.period, explicit, run.now)


def chargeback(run: RunContext, options: ChargebackOptions, period: Period) -> dict[str, Any]:
    """The chargeback document for ``period`` (see ``chargeback_period``).

    The analytics (pandas) are imported once the first query has left: ``open_source`` loads
    pandas on a thread meanwhile (docs/architecture.md, "Adding a command").
    """
    key = GROUP_BY[options.by]  # team, project or cost_center (the pod annotation)
    with open_source(run) as source:
        with run.progress("Querying costs"):
            current = _costs(source, (key,), period.start, period.end, run)
            previous = _previous(source, (key,), period, run)
        extras = _extras(source, period, options.by, run) if options.details else None
    from finops_cli.analytics.budgets import resolve_budgets
    from finops_cli.analytics.chargeback import build_document

    run.warn_all(current.notes)
    return build_document(
        report=current,
        previous=previous,
        by=options.by,
        period=period,
        share_idle=options.share_idle,
        currency=run.settings.currency,
        generated_at=generated_at(run.now),
        window_label=period.label,
        budgets=resolve_budgets(run.settings.budgets),
        extras=extras,
    )


def generated_at(now: datetime) -> datetime:
    """When the report was made: ``SOURCE_DATE_EPOCH`` (seconds since 1970, UTC) when set, for
    reproducible builds (same data, options and epoch: the same bytes), else the run's clock."""
    import os

    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return now.replace(microsecond=0)


_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def resolve_period(
    month: str | None,
    period: str | None,
    explicit: tuple[datetime, datetime] | None,
    now: datetime,
) -> Period:
    """``--month``, ``--period`` or ``--start/--end`` (one of them; default: the last month), and
    the span its changes compare with (``analytics.periods``: whole month with whole month, a
    month to date with the same elapsed span of the month before, anything else with the span of
    the same length just before it)."""
    from finops_cli.analytics import periods

    given = [name for name, v in (("--month", month), ("--period", period)) if v is not None]
    if explicit is not None:
        given.append("--start/--window")
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)} conflict: give one way to choose the period")
    if explicit is None and month is None and period is None:
        period = "monthly"
    if month is not None:
        match = _MONTH.fullmatch(month.strip())
        if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2:
            raise UsageError(f"invalid --month {month!r}: expected YYYY-MM, e.g. 2026-10")
        start = datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)
        if start >= now:
            raise UsageError(f"invalid --month {month!r}: it has not started yet")
        if periods.next_month(start) > now:
            return periods.month_to_date(start, now)
        return periods.whole_month(start)
    if period == "monthly":
        return periods.whole_month(periods.previous_month(periods.month_start(now)))
    if period == "weekly":
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        end = today - timedelta(days=today.weekday())  # the last Monday 00:00 UTC
        start = end - timedelta(days=7)
        iso = start.isocalendar()
        return periods.preceding_span(start, end, f"{iso.year}-W{iso.week:02d}", "week")
    assert explicit is not None
    start, end = explicit
    label = f"{start:%Y-%m-%d}_{end:%Y-%m-%d}"
    if start.time() != datetime.min.time() or end.time() != datetime.min.time():
        label = f"{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}"
    return periods.preceding_span(start, end, label)


def _costs(
    source: CostSource, keys: tuple[str, ...], start: datetime, end: datetime, run: RunContext
) -> CostReport:
    from finops_cli.buckets import bucket_size
    from finops_cli.sources.interface import CostRequest
    from finops_cli.timewindow import Window

    window = Window(start, end, run.window.label)
    request = CostRequest(window, keys, {}, bucket_size(window.seconds), daily_totals=True)
    data = source.costs(request)  # the query leaves before pandas is needed
    from finops_cli.analytics.costs import attribute_costs

    return attribute_costs(data, keys, {}, start, end)


def _previous(
    source: CostSource, keys: tuple[str, ...], period: Period, run: RunContext
) -> CostReport | None:
    try:
        return _costs(source, keys, period.previous_start, period.previous_end, run)
    except FinopsError as err:
        run.warn(f"previous period left out: {err}")
        return None


def _extras(source: CostSource, period: Period, by: str, run: RunContext) -> Extras:
    """Each optional section on its own: one that fails is left out with a note."""
    from finops_cli.analytics.chargeback import Extras, team_models
    from finops_cli.timewindow import Window

    extras = Extras()
    window = Window(period.start, period.end, period.label)

    def attempt(what: str, fn: Any) -> Any:
        try:
            with run.progress(f"Querying {what}"):
                return fn()
        except FinopsError as err:
            extras.notes.append(f"{what} left out: {err}")
            run.warn(f"{what} left out: {err}")
            return None

    if by == "team":

        def models() -> Any:
            from finops_cli.analytics.unit_costs import with_unit_costs
            from finops_cli.buckets import bucket_size
            from finops_cli.sources.interface import CostRequest

            per_model = CostRequest(
                window, ("model",), {}, bucket_size(window.seconds), daily_totals=True
            )
            units = with_unit_costs(
                _costs(source, ("model",), period.start, period.end, run),
                source.inference(per_model),
            )
            team_model = _costs(source, ("team", "model"), period.start, period.end, run)
            return team_models(team_model, units)

        extras.models = attempt("unit costs", models)

    def recommendations() -> Any:
        from finops_cli.analytics.rightsize import recommend
        from finops_cli.pricing import load_catalog

        catalog = load_catalog(run.settings.pricing)
        return recommend(source.pods(window), catalog, window.seconds / 3600)

    if by == "cost-center":  # workloads carry no cost center to attribute them by
        extras.notes.append(
            "recommendations left out: right-sizing attributes workloads to teams and "
            "projects, not to cost centers (see --by team)"
        )
    else:
        extras.recommendations = attempt("recommendations", recommendations)

    if by == "team":

        def anomalies() -> Any:
            from finops_cli.analytics.anomalies import anomaly_report
            from finops_cli.usecases.history import anomaly_history

            baseline_days = 28
            found = anomaly_history(source, period.end, period.start, baseline_days)
            return list(
                anomaly_report(
                    source=found.source,
                    series=found.series,
                    method="seasonal",
                    as_of=period.end,
                    since=period.start,
                    baseline_start=found.start,
                    baseline_days=baseline_days,
                    currency=run.settings.currency,
                ).anomalies
            )

        extras.anomalies = attempt("anomalies", anomalies)
    return extras
