"""``finops report``: documents for people who do not run the CLI (chargeback)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from finops_cli.cli.common import CommandContext, document_command
from finops_cli.errors import UsageError

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
    cluster = "cluster"


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
            help="Who is charged: the team or project pod label, the cost-center pod "
            "annotation (labels.cost_center), or the cluster (labels.cluster: idle and "
            "unallocated per cluster).",
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
    energy: Annotated[
        bool,
        typer.Option(
            "--energy",
            help="GPU kWh and kgCO2e per group, in the summary and per 1M tokens (dcgm-exporter "
            "energy or power; a note when the cluster reports neither).",
            rich_help_panel=REPORT,
        ),
    ] = False,
    focus: Annotated[
        Path | None,
        typer.Option(
            "--focus",
            metavar="PATH",
            help="A FOCUS export (file or folder): commitment discounts shared to the groups "
            "that used the covered hours, unused commitment a line of its own.",
            rich_help_panel=REPORT,
            show_default=False,
        ),
    ] = None,
    commitments: Annotated[
        bool,
        typer.Option(
            "--commitments",
            help="The same from the sample cluster's bill (--source sample).",
            rich_help_panel=REPORT,
        ),
    ] = False,
) -> None:
    """A chargeback report per team, project or cost center for a month, a week or a range.

    Figures are those of finops costs for the same window; see docs/reports.md.
    """
    from finops_cli.files import write_atomic
    from finops_cli.render.registry import render
    from finops_cli.usecases.report import ChargebackOptions, chargeback_period
    from finops_cli.usecases.report import chargeback as run_chargeback

    if output_file == "-" and fmt is ReportFormat.pdf:
        raise UsageError("--format pdf cannot go to stdout: give --output-file PATH")
    options = ChargebackOptions(
        month=month,
        period=period.value if period else None,
        by=by.value,
        share_idle=share_idle.value,
        details=details,
        energy=energy,
        focus=focus,
        commitments=commitments,
    )
    chosen = chargeback_period(ctx, options)
    target = output_file or f"chargeback-{chosen.label}.{fmt.value}"
    document = run_chargeback(ctx, options, chosen)
    payload = render(document, fmt.value)
    if target == "-":
        typer.echo(payload, nl=False)
        return
    write_atomic(Path(target), payload)
    ctx.notice(f"finops: wrote {target}")
