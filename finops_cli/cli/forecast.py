"""``finops forecast``: month-end GPU spend per team and in total, against budgets."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from finops_cli.cli.alerting import AsOfOption, NotifyFormatOption, NotifyOption, TeamsOption
from finops_cli.cli.common import CommandContext, data_command, option
from finops_cli.usecases.alerting import DEFAULT_HISTORY

BUDGETS = "Budgets"


class FailOn(StrEnum):
    warning = "warning"
    critical = "critical"
    exceeded = "exceeded"


HELP = {
    "--history": (
        "How much daily history to read before --as-of (the month so far is always "
        "read). 30d or more lets the projection see weekly patterns and trends."
    ),
    "--budget": (
        "Monthly GPU budget for a team, repeatable; replaces the amount from "
        "finops.toml for that team (thresholds and owner are kept)."
    ),
    "--fail-on": (
        "Exit 3 when any budget reaches this status or worse (the data is still "
        "printed; the JSON lists who tripped it)."
    ),
}
"""Each option's help text, by flag (by command and flag where two commands share one)."""


@data_command(hide=("window", "start"))
def forecast(
    ctx: CommandContext,
    as_of: AsOfOption = None,
    history: Annotated[
        str, option(HELP["--history"], "--history", metavar="DURATION", show_default=True)
    ] = DEFAULT_HISTORY,
    budget: Annotated[
        list[str] | None, option(HELP["--budget"], "--budget", metavar="TEAM=AMOUNT", panel=BUDGETS)
    ] = None,
    team: TeamsOption = None,
    fail_on: Annotated[FailOn | None, option(HELP["--fail-on"], "--fail-on", panel=BUDGETS)] = None,
    notify_url: NotifyOption = None,
    notify_format: NotifyFormatOption = None,
) -> None:
    """Month-to-date GPU spend, month-end projection with a 90% range, and budget status.

    Per team, for pods without a team label and for idle capacity, and for the whole cluster.
    Status: exceeded (spent more than the budget), critical / warning (the projection reaches
    the critical / warning percentage of the budget), on_track. See docs/forecast.md.
    """
    from finops_cli.usecases.forecast import ForecastOptions
    from finops_cli.usecases.forecast import forecast as run_forecast

    options = ForecastOptions(
        as_of=as_of,
        history=history,
        budgets=budget or [],
        teams=team or [],
        fail_on=fail_on.value if fail_on else None,
        notify_url=notify_url,
        notify_format=notify_format.value if notify_format else None,
    )
    ctx.deliver(run_forecast(ctx, options))
