"""``finops report``: documents for people who do not run the CLI (chargeback)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from finops_cli.cli.common import CommandContext, document_command
from finops_cli.errors import FinopsError, UsageError

if TYPE_CHECKING:
    from finops_cli.analytics.chargeback import Extras, Period
    from finops_cli.analytics.costs import CostReport
    from finops_cli.sources.interface import CostSource

report_app = typer.Typer(
    name="report",
    help="Chargeback reports (PDF, HTML, CSV, JSON).",
    no_args_is_help=True,
)

REPORT = "Report"


class ReportBy(StrEnum):
    team = "team"
    project = "project"
    cost_center = "cost-center"


class ShareIdle(StrEnum):
    none = "none"
    proportional = "proportional"


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"
    html = "html"
    pdf = "pdf"


class PeriodChoice(StrEnum):
    weekly = "weekly"
    monthly = "monthly"


_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def _next_month(moment: datetime) -> datetime:
    if moment.month == 12:
        return moment.replace(year=moment.year + 1, month=1)
    return moment.replace(month=moment.month + 1)


def _prev_month(moment: datetime) -> datetime:
    if moment.month == 1:
        return moment.replace(year=moment.year - 1, month=12)
    return moment.replace(month=moment.month - 1)


def resolve_period(
    month: str | None,
    period: str | None,
    explicit: tuple[datetime, datetime] | None,
    now: datetime,
) -> Period:
    """``--month``, ``--period`` or ``--start/--end`` (one of them; default: the last month)."""
    from finops_cli.analytics.chargeback import Period

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
        end = _next_month(start)
        if start >= now:
            raise UsageError(f"invalid --month {month!r}: it has not started yet")
        prev = _prev_month(start)
        label = f"{start:%Y-%m}"
        if end > now:
            end = now
            label += "-to-date"
        return Period(
            start, end, label, "month" if "to-date" not in label else "custom", prev, start
        )
    if period == "monthly":
        end = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        start = _prev_month(end)
        return Period(start, end, f"{start:%Y-%m}", "month", _prev_month(start), start)
    if period == "weekly":
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        end = today - timedelta(days=today.weekday())  # the last Monday 00:00 UTC
        start = end - timedelta(days=7)
        iso = start.isocalendar()
        label = f"{iso.year}-W{iso.week:02d}"
        return Period(start, end, label, "week", start - timedelta(days=7), start)
    assert explicit is not None
    start, end = explicit
    length = end - start
    label = f"{start:%Y-%m-%d}_{end:%Y-%m-%d}"
    if start.time() != datetime.min.time() or end.time() != datetime.min.time():
        label = f"{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}"
    return Period(start, end, label, "custom", start - length, start)


@report_app.command("chargeback")
@document_command
def chargeback(
    ctx: CommandContext,
    month: Annotated[
        str | None,
        typer.Option(
            "--month",
            metavar="YYYY-MM",
            help="A calendar month (UTC).",
            rich_help_panel=REPORT,
            show_default=False,
        ),
    ] = None,
    period: Annotated[
        PeriodChoice | None,
        typer.Option(
            "--period",
            help="The last complete week (Monday to Monday, UTC) or month. Default: monthly, "
            "unless --month or --start is given.",
            rich_help_panel=REPORT,
            show_default=False,
        ),
    ] = None,
    by: Annotated[
        ReportBy,
        typer.Option(
            "--by",
            "-b",
            help="Who is charged: the team or project pod label, or the cost-center pod "
            "annotation (labels.cost_center).",
            rich_help_panel=REPORT,
        ),
    ] = ReportBy.team,
    share_idle: Annotated[
        ShareIdle,
        typer.Option(
            "--share-idle",
            help="none: idle and unallocated GPU cost shown separately; proportional: spread "
            "over the groups in proportion to their GPU cost.",
            rich_help_panel=REPORT,
        ),
    ] = ShareIdle.none,
    fmt: Annotated[
        ReportFormat,
        typer.Option("--format", "-f", help="Document format.", rich_help_panel=REPORT),
    ] = ReportFormat.pdf,
    output_file: Annotated[
        str | None,
        typer.Option(
            "--output-file",
            metavar="PATH",
            help="Where to write (default chargeback-<period>.<ext>); '-' for stdout "
            "(json, csv, html).",
            rich_help_panel=REPORT,
            show_default=False,
        ),
    ] = None,
    details: Annotated[
        bool,
        typer.Option(
            "--details/--no-details",
            help="Unit costs, recommendations and anomalies (extra queries).",
            rich_help_panel=REPORT,
        ),
    ] = True,
) -> None:
    """A chargeback report per team, project or cost center for a month, a week or a range.

    Figures are those of `finops costs` for the same window; see docs/reports.md.
    """
    from finops_cli.analytics.budgets import resolve_budgets
    from finops_cli.analytics.chargeback import GROUP_FIELDS, build_document
    from finops_cli.render import chargeback as render

    # The shared window options default to 7d; any other window (--start/--end, --window,
    # --end) chooses the period explicitly.
    explicit = None if ctx.window.label == "7d" else (ctx.window.start, ctx.window.end)
    chosen = resolve_period(month, period.value if period else None, explicit, ctx.now)
    if output_file == "-" and fmt is ReportFormat.pdf:
        raise UsageError("--format pdf cannot go to stdout: give --output-file PATH")
    target = output_file or f"chargeback-{chosen.label}.{fmt.value}"

    key = GROUP_FIELDS[by.value]  # team, project or cost_center (the pod annotation)
    source = ctx.open_cost_source()
    try:
        with ctx.progress("Querying costs"):
            current = _costs(source, (key,), chosen.start, chosen.end, ctx)
            previous = _previous(source, (key,), chosen, ctx)
        extras = _extras(source, chosen, by, ctx) if details else None
    finally:
        source.close()
    for note in current.notes:
        ctx.warn(note)
    document = build_document(
        report=current,
        previous=previous,
        by=by.value,
        period=chosen,
        share_idle=share_idle.value,
        currency=ctx.settings.currency,
        generated_at=chosen.end,  # not the clock: same data and options, same bytes
        window_label=chosen.label,
        budgets=resolve_budgets(ctx.settings.budgets),
        extras=extras,
    )
    if fmt is ReportFormat.pdf:
        from finops_cli.render.chargeback_pdf import render_pdf

        payload: bytes = render_pdf(document)
    else:
        renderer = {
            "json": render.render_json,
            "csv": render.render_csv,
            "html": render.render_html,
        }
        payload = renderer[fmt.value](document).encode("utf-8")
    if target == "-":
        typer.echo(payload.decode("utf-8"), nl=False)
        return
    render.write_atomic(Path(target), payload)
    if not ctx.quiet:
        typer.echo(f"finops: wrote {target}", err=True)


def _costs(
    source: CostSource, keys: tuple[str, ...], start: datetime, end: datetime, ctx: CommandContext
) -> CostReport:
    from finops_cli.analytics.costs import attribute_costs
    from finops_cli.buckets import bucket_size
    from finops_cli.sources.interface import CostRequest
    from finops_cli.timewindow import Window

    window = Window(start, end, ctx.window.label)
    request = CostRequest(window, keys, {}, bucket_size(window.seconds))
    return attribute_costs(source.costs(request), keys, {}, start, end)


def _previous(
    source: CostSource, keys: tuple[str, ...], period: Period, ctx: CommandContext
) -> CostReport | None:
    try:
        return _costs(source, keys, period.previous_start, period.previous_end, ctx)
    except FinopsError as err:
        ctx.warn(f"previous period left out: {err}")
        return None


def _extras(source: CostSource, period: Period, by: ReportBy, ctx: CommandContext) -> Extras:
    """Each optional section on its own: one that fails is left out with a note."""
    from finops_cli.analytics.chargeback import Extras, team_models
    from finops_cli.timewindow import Window

    extras = Extras()
    window = Window(period.start, period.end, period.label)

    def attempt(what: str, fn: Any) -> Any:
        try:
            with ctx.progress(f"Querying {what}"):
                return fn()
        except FinopsError as err:
            extras.notes.append(f"{what} left out: {err}")
            ctx.warn(f"{what} left out: {err}")
            return None

    if by is ReportBy.team:

        def models() -> Any:
            from finops_cli.analytics.unit_costs import with_unit_costs
            from finops_cli.buckets import bucket_size
            from finops_cli.sources.interface import CostRequest

            per_model = CostRequest(window, ("model",), {}, bucket_size(window.seconds))
            units = with_unit_costs(
                _costs(source, ("model",), period.start, period.end, ctx),
                source.inference(per_model),
            )
            team_model = _costs(source, ("team", "model"), period.start, period.end, ctx)
            return team_models(team_model, units)

        extras.models = attempt("unit costs", models)

    def recommendations() -> Any:
        from finops_cli.analytics.rightsize import recommend
        from finops_cli.pricing import load_catalog

        catalog = load_catalog(ctx.settings.pricing)
        return recommend(source.pods(window), catalog, window.seconds / 3600)

    if by is ReportBy.cost_center:  # workloads carry no cost center to attribute them by
        extras.notes.append(
            "recommendations left out: right-sizing attributes workloads to teams and "
            "projects, not to cost centers (see --by team)"
        )
    else:
        extras.recommendations = attempt("recommendations", recommendations)

    if by is ReportBy.team:

        def anomalies() -> Any:
            from finops_cli.analytics.anomalies import anomaly_report
            from finops_cli.sources.history import anomaly_history

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
                    currency=ctx.settings.currency,
                ).anomalies
            )

        extras.anomalies = attempt("anomalies", anomalies)
    return extras
