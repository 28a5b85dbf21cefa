"""``finops rightsize``: what to terminate, downsize, upsize, consolidate or move to spot, and
GPU capacity nobody holds (remove or scale-down)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from finops_cli.cli.common import CommandContext, data_command, number_in, option


class Action(StrEnum):
    terminate = "terminate"
    downsize = "downsize"
    upsize = "upsize"
    consolidate = "consolidate"
    spot = "spot"
    remove = "remove"
    scale_down = "scale-down"
    fewer_replicas = "fewer-replicas"


HELP = {
    "--min-savings": "Hide savings under this $/month (0 or more).",
    "--team": "Only this team's workloads.",
    "--cluster": "Only this cluster's workloads and nodes (the labels.cluster label's value).",
    "--action": "Only these actions (repeatable).",
}
"""Each option's help text, by flag (by command and flag where two commands share one)."""


@data_command(sources=("sample", "prometheus"))
def rightsize(
    ctx: CommandContext,
    min_savings: Annotated[
        float,
        option(
            HELP["--min-savings"],
            "--min-savings",
            metavar="AMOUNT",
            show_default=True,
            callback=number_in(ge=0),
        ),
    ] = 0.0,
    team: Annotated[str | None, option(HELP["--team"], "--team")] = None,
    cluster: Annotated[str | None, option(HELP["--cluster"], "--cluster")] = None,
    action: Annotated[
        list[Action] | None, option(HELP["--action"], "--action", show_default=True)
    ] = None,
) -> None:
    """Recommendations per workload with the evidence, target type and monthly saving.

    Rules and thresholds: docs/rightsize.md. Upsizes (a cost, not a saving) are always shown.
    """
    from finops_cli.usecases.inventory import rightsize as run_rightsize

    actions = [a.value for a in action or []]
    ctx.emit(
        run_rightsize(ctx, min_savings=min_savings, team=team, actions=actions, cluster=cluster)
    )
