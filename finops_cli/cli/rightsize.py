"""``finops rightsize``: what to terminate, downsize, upsize, consolidate or move to spot."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from finops_cli.cli.common import CommandContext, data_command


class Action(StrEnum):
    terminate = "terminate"
    downsize = "downsize"
    upsize = "upsize"
    consolidate = "consolidate"
    spot = "spot"


@data_command
def rightsize(
    ctx: CommandContext,
    min_savings: Annotated[
        float,
        typer.Option("--min-savings", metavar="AMOUNT", help="Hide savings under this $/month."),
    ] = 0.0,
    team: Annotated[str | None, typer.Option(help="Only this team's workloads.")] = None,
    action: Annotated[
        list[Action] | None, typer.Option("--action", help="Only these actions (repeatable).")
    ] = None,
) -> None:
    """Recommendations per workload with the evidence, target type and monthly saving.

    Rules and thresholds: docs/rightsize.md. Upsizes (a cost, not a saving) are always shown.
    """
    from finops_cli.usecases.inventory import rightsize as run_rightsize

    actions = [a.value for a in action or []]
    ctx.emit(run_rightsize(ctx, min_savings=min_savings, team=team, actions=actions))
