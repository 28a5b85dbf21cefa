"""``finops costs``: GPU cost by team, project, model, cost center, namespace, node or GPU
model."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from finops_cli.cli.common import CommandContext, data_command


class GroupKey(StrEnum):
    team = "team"
    project = "project"
    model = "model"
    environment = "environment"
    cost_center = "cost-center"
    namespace = "namespace"
    node = "node"
    gpu_model = "gpu-model"
    cluster = "cluster"


FILTERS = "Filters"


class CompareWith(StrEnum):
    opencost = "opencost"


@data_command
def costs(
    ctx: CommandContext,
    by: Annotated[
        list[GroupKey] | None,
        typer.Option("--by", "-b", help="Group by this key; repeat for two levels. Default: team."),
    ] = None,
    team: Annotated[
        str | None, typer.Option(help="Only this team.", rich_help_panel=FILTERS)
    ] = None,
    project: Annotated[
        str | None, typer.Option(help="Only this project.", rich_help_panel=FILTERS)
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Only this model.", rich_help_panel=FILTERS)
    ] = None,
    namespace: Annotated[
        str | None, typer.Option(help="Only this namespace.", rich_help_panel=FILTERS)
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(help="Only this cluster (its cluster label value).", rich_help_panel=FILTERS),
    ] = None,
    compare: Annotated[
        CompareWith | None,
        typer.Option(
            "--compare",
            help="Put another source's figures beside these, per row, with the difference.",
        ),
    ] = None,
    unit_costs: Annotated[
        bool,
        typer.Option(
            "--unit-costs",
            help="Per model: requests, tokens, cost per 1k requests and per 1M tokens "
            "(implies --by model).",
        ),
    ] = False,
) -> None:
    """GPU cost, GPU-hours, efficiency and waste per group, plus idle and unallocated spend.

    Rows + __unallocated__ (pods without the grouping label) + __idle__ (capacity no pod held)
    add up to the cluster's whole GPU spend.
    """
    from finops_cli.usecases.costs import CostsOptions
    from finops_cli.usecases.costs import costs as run_costs

    given = {"team": team, "project": project, "model": model, "namespace": namespace}
    options = CostsOptions(
        by=[k.value.replace("-", "_") for k in by or []],
        filters={k: v for k, v in (given | {"cluster": cluster}).items() if v is not None},
        unit_costs=unit_costs,
        compare=compare.value if compare else None,
    )
    ctx.emit(run_costs(ctx, options))
