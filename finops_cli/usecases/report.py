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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finops_cli.errors import FinopsError, UsageError
from finops_cli.usecases.context import RunContext
from finops_cli.usecases.sources import open_source

if TYPE_CHECKING:
    from collections.abc import Callable

    from finops_cli.analytics.chargeback import Extras
    from finops_cli.analytics.chargeback_commitments import CommitmentShare
    from finops_cli.analytics.costs import CostReport
    from finops_cli.analytics.periods import Period
    from finops_cli.sources.interface import CostRequest, CostSource, InferenceData


# --by value -> the cost-report group key (``analytics.chargeback.GROUP_FIELDS``, which imports
# pandas: the period and the key are known before the first query leaves).
GROUP_BY = {
    "team": "team",
    "project": "project",
    "cost-center": "cost_center",
    "cluster": "cluster",
}


@dataclass(frozen=True)
class ChargebackOptions:
    """``--month``, ``--period``, ``--by`` (team, project, cost-center, cluster),
    ``--share-idle`` and ``--details``."""

    month: str | None = None
    period: str | None = None
    by: str = "team"
    share_idle: str = "none"
    details: bool = True
    energy: bool = False
    """GPU kWh and kgCO2e per group (and per 1M tokens in the unit costs), from the ledger."""
    focus: Path | None = None
    """A FOCUS export: commitment discounts shared to the groups, unused commitment a row."""
    commitments: bool = False
    """The same from the sample cluster's bill (``--source sample``), or ``focus``."""


def chargeback_period(run: RunContext, options: ChargebackOptions) -> Period:
    """The period the options choose; an explicit window is taken as given."""
    explicit = (run.window.start, run.window.end) if run.window_given else None
    return resolve_period(options.month, options.period, explicit, run.now)


def chargeback(run: RunContext, options: ChargebackOptions, period: Period) -> dict[str, Any]:
    """The chargeback document for ``period`` (see ``chargeback_period``).

    The analytics (pandas) are imported once the first query has left: ``open_source`` loads
    pandas on a thread meanwhile (docs/architecture.md, "Adding a command").
    """
    key = GROUP_BY[options.by]  # team, project, cost_center (the pod annotation) or cluster
    if key == "cluster" and not run.settings.labels.cluster:
        raise UsageError("--by cluster needs labels.cluster (it is set to off)")
    _check_bill(options, key, run)
    with open_source(run) as source:
        questions = _questions(source, key, period, options, run)
        with run.progress(f"Querying {', '.join(questions)}"):
            answers = _ask(questions, source.concurrent_questions)
        current = answers.pop("costs")
        previous = answers.pop("previous period")
        if isinstance(previous, FinopsError):
            run.warn(f"previous period left out: {previous}")
            previous = None
        extras = _extras(answers, options, run) if options.details else None
        shared = _commitments(source, key, period, options, run)
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
        commitments=shared,
    )


def _check_bill(options: ChargebackOptions, key: str, run: RunContext) -> None:
    """The bill's options, checked before any query leaves (exit 2)."""
    if options.focus is None and not options.commitments:
        return
    if key == "cluster":
        raise UsageError(
            "--focus/--commitments share discounts by node, whose names repeat across "
            "clusters: use them with --by team, project or cost-center"
        )
    if options.focus is None and run.settings.effective_source != "sample":
        raise UsageError(
            "--commitments reads the sample's bill (--source sample): give --focus PATH"
        )
    if options.focus is not None and not options.focus.exists():
        raise UsageError(f"--focus {options.focus}: no such file or folder")


def _commitments(
    source: CostSource, key: str, period: Period, options: ChargebackOptions, run: RunContext
) -> CommitmentShare | None:
    """The bill's commitments shared over the groups (``--focus`` or ``--commitments``), or
    None: without a bill the report is unchanged."""
    if options.focus is None and not options.commitments:
        return None
    from finops_cli.timewindow import Window
    from finops_cli.usecases.billing import bill_days

    window = Window(period.start, period.end, period.label)
    start, end = bill_days(window)
    with run.progress("Reading the bill's commitments"):
        nodes = source.node_costs(window)
        by_node = _costs(source, (key, "node"), period.start, period.end, run)
        if options.focus is not None:
            from finops_cli.sources.focus_commitments import FocusCommitments

            reader = FocusCommitments(options.focus)
            bill = reader.rows(start, end)
            label, notes = "focus", list(reader.notes)
        else:
            from finops_cli.sample.bill import SampleBill, focus_rows
            from finops_cli.sources.focus_commitments import records_frame
            from finops_cli.usecases.billing import SAMPLE_BILL_BANNER

            run.notice(SAMPLE_BILL_BANNER)
            low = datetime(start.year, start.month, start.day, tzinfo=UTC)
            high = datetime(end.year, end.month, end.day, tzinfo=UTC)
            items = SampleBill(seed=run.settings.sample_seed).line_items(low, high, run.now)
            bill = records_frame(focus_rows(items), start, end)
            label, notes = "sample", []
    from dataclasses import replace

    from finops_cli.analytics.chargeback_commitments import ledger_hours, share_commitments

    shared = share_commitments(bill, ledger_hours(by_node, key), nodes, label)
    if (start, end) != (period.start.date(), period.end.date()) or period.start.time() != (
        datetime.min.time()
    ):
        notes.append(f"the bill is read by whole UTC days: {start} to {end} (end exclusive)")
    kept = [n for n in shared.notes if "matched to on-demand hours" not in n]  # overlaps only
    return replace(shared, notes=(*notes, *kept))


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
    source: CostSource,
    keys: tuple[str, ...],
    start: datetime,
    end: datetime,
    run: RunContext,
    energy: bool = False,
    inference: Callable[[CostRequest], InferenceData] | None = None,
) -> CostReport:
    """The attributed costs for ``keys``; with ``energy`` each row's kWh and kgCO2e (the same
    ledger: ``usecases.energy.with_energy``); with ``inference`` the unit costs (per model)."""
    from finops_cli.buckets import bucket_size
    from finops_cli.sources.interface import CostRequest
    from finops_cli.timewindow import Window

    window = Window(start, end, run.window.label)
    request = CostRequest(
        window, keys, {}, bucket_size(window.seconds), energy=energy, daily_totals=True
    )
    data = source.costs(request)  # the query leaves before pandas is needed
    served = inference(request) if inference is not None else None
    from finops_cli.analytics.costs import attribute_costs

    report = attribute_costs(data, keys, {}, start, end)
    if served is not None:
        from finops_cli.analytics.unit_costs import with_unit_costs

        report = with_unit_costs(report, served)
    if energy:
        from finops_cli.usecases.energy import with_energy

        report = with_energy(run, report, data.energy, served)
    return report


def _questions(
    source: CostSource, key: str, period: Period, options: ChargebackOptions, run: RunContext
) -> dict[str, Callable[[], Any]]:
    """The document's independent questions, by what a failure note calls them: the period's
    costs, the previous period's, and with ``--details`` the optional sections."""
    from finops_cli.timewindow import Window

    by = options.by
    window = Window(period.start, period.end, period.label)
    asked: dict[str, Callable[[], Any]] = {
        "costs": lambda: _costs(source, (key,), period.start, period.end, run, options.energy),
        "previous period": lambda: _costs(
            source, (key,), period.previous_start, period.previous_end, run
        ),
    }
    if not options.details:
        return asked

    def models() -> Any:
        from finops_cli.analytics.chargeback import team_models

        units = _costs(
            source,
            ("model",),
            period.start,
            period.end,
            run,
            energy=options.energy,
            inference=source.inference,
        )
        team_model = _costs(source, ("team", "model"), period.start, period.end, run)
        return team_models(team_model, units)

    def recommendations() -> Any:
        from finops_cli.analytics.rightsize import recommend
        from finops_cli.pricing import load_catalog

        catalog = load_catalog(run.settings.pricing)
        return recommend(source.pods(window), catalog, window.seconds / 3600)

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

    if by == "team":
        asked["unit costs"] = models
    if by in ("team", "project"):  # workloads know no cost center (nor cluster, yet)
        asked["recommendations"] = recommendations
    if by == "team":
        asked["anomalies"] = anomalies
    return asked


def _ask(questions: dict[str, Callable[[], Any]], at_once: bool) -> dict[str, Any]:
    """Each question's answer, or the ``FinopsError`` it failed with (the period's costs
    excepted: their failure is the command's). Asked at once where the source waits on a
    server (``usecases.together``): at 20,000 GPUs a report's sections took 8.9 s one after the
    other, most of it each waiting on its own few queries."""
    from finops_cli.usecases.together import asked_together

    def answer(name: str) -> Callable[[], Any]:
        def run() -> Any:
            try:
                return questions[name]()
            except FinopsError as err:
                if name == "costs":
                    raise
                return err

        return run

    answers = asked_together([answer(name) for name in questions], at_once)
    return dict(zip(questions, answers, strict=True))


def _extras(answers: dict[str, Any], options: ChargebackOptions, run: RunContext) -> Extras:
    """The optional sections from their answers: one that failed is left out with a note."""
    from finops_cli.analytics.chargeback import Extras

    extras = Extras()

    def kept(what: str) -> Any:
        found = answers.get(what)
        if isinstance(found, FinopsError):
            extras.notes.append(f"{what} left out: {found}")
            run.warn(f"{what} left out: {found}")
            return None
        return found

    extras.models = kept("unit costs")
    if options.by in ("cost-center", "cluster"):
        extras.notes.append(
            "recommendations left out: right-sizing attributes workloads to teams and "
            f"projects, not to {'cost centers' if options.by == 'cost-center' else 'clusters'} "
            "(see --by team)"
        )
    else:
        extras.recommendations = kept("recommendations")
    extras.anomalies = kept("anomalies")
    return extras
