"""``finops forecast``: month-end GPU spend per team and in total, against budgets."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from finops_cli.cli.alerting import (
    AsOfOption,
    NotifyFormatOption,
    NotifyOption,
    notify,
    parse_length,
    print_document,
    resolve_as_of,
    resolve_webhook,
)
from finops_cli.cli.common import CommandContext, data_command
from finops_cli.errors import ThresholdError, UsageError

BUDGETS = "Budgets"
DEFAULT_HISTORY = "90d"


class FailOn(StrEnum):
    warning = "warning"
    critical = "critical"
    exceeded = "exceeded"


@data_command
def forecast(
    ctx: CommandContext,
    as_of: AsOfOption = None,
    history: Annotated[
        str,
        typer.Option(
            "--history",
            metavar="DURATION",
            help="How much daily history to read before --as-of (the month so far is always "
            "read). 30d or more lets the projection see weekly patterns and trends.",
        ),
    ] = DEFAULT_HISTORY,
    budget: Annotated[
        list[str] | None,
        typer.Option(
            "--budget",
            metavar="TEAM=AMOUNT",
            help="Monthly GPU budget for a team, repeatable; replaces the amount from "
            "finops.toml for that team (thresholds and owner are kept).",
            rich_help_panel=BUDGETS,
            show_default=False,
        ),
    ] = None,
    team: Annotated[
        list[str] | None,
        typer.Option(
            "--team", metavar="TEAM", help="Only these teams (repeatable).", show_default=False
        ),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on",
            help="Exit 3 when any budget reaches this status or worse (the data is still "
            "printed; the JSON lists who tripped it).",
            rich_help_panel=BUDGETS,
            show_default=False,
        ),
    ] = None,
    notify_url: NotifyOption = None,
    notify_format: NotifyFormatOption = None,
) -> None:
    """Month-to-date GPU spend, month-end projection with a 90% range, and budget status.

    Per team, for pods without a team label and for idle capacity, and for the whole cluster.
    Status: exceeded (spent more than the budget), critical / warning (the projection reaches
    the critical / warning percentage of the budget), on_track. See docs/forecast.md.
    """
    from finops_cli.analytics.budgets import parse_budget_flag, resolve_budgets
    from finops_cli.sources.history import forecast_history

    if ctx.window.label != "7d" and not ctx.window.label.startswith("7d ending "):
        raise UsageError(
            "finops forecast reads the month of --as-of and --history before it; "
            "--window and --start do not apply (use --as-of or --end for the moment)"
        )
    moment = resolve_as_of(ctx, as_of)
    length = parse_length("--history", history, 1, 400)
    target = resolve_webhook(ctx, notify_url, notify_format)
    flags: dict[str, float] = {}
    for text in budget or []:
        name, amount = parse_budget_flag(text)
        flags[name] = amount
    budgets = resolve_budgets(ctx.settings.budgets, flags)
    source = ctx.open_cost_source()
    try:
        with ctx.progress("Querying daily GPU cost"):
            history_in = forecast_history(source, moment, length.days, budgets, team)
    finally:
        source.close()
    # Analytics (pandas) after the queries: it loads in the background while they run.
    from finops_cli.analytics.forecast import forecast_report
    from finops_cli.notify import forecast_message
    from finops_cli.render import forecast as render

    report = forecast_report(
        source=history_in.source,
        as_of=moment,
        history_start=history_in.start,
        last_day=history_in.last_day,
        series=history_in.inputs,
        budgets=budgets,
        fail_on=fail_on.value if fail_on else None,
        notes=history_in.notes,
    )
    for note in report.notes:
        ctx.warn(note)
    document = render.to_document(
        report,
        currency=ctx.settings.currency,
        window_label=f"{history} history, month to date as of {moment:%Y-%m-%dT%H:%M:%SZ}",
        generated_at=ctx.now,
    )
    print_document(ctx, document, render.render_csv, render.render_table)
    notify(ctx, target, forecast_message(document), document)
    if report.tripped:
        who = ", ".join(f"{t.scope} {t.name or 'total'} ({t.status})" for t in report.tripped[:5])
        more = f" and {len(report.tripped) - 5} more" if len(report.tripped) > 5 else ""
        raise ThresholdError(f"--fail-on {report.fail_on}: {who}{more}")
