"""``finops costs``: GPU cost by team, project, model, cost center, namespace, node or GPU
model."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from finops_cli.cli.common import CommandContext, data_command, option


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


HELP = {
    "--by": "Group by this key; repeat for two levels. Default: team.",
    "--team": "Only this team.",
    "--project": "Only this project.",
    "--model": "Only this model.",
    "--namespace": "Only this namespace.",
    "--cluster": (
        "Only this cluster (its cluster label value): a scope, so that cluster's idle stays in."
    ),
    "--include-idle": (
        "With --team, --project, --model or --namespace: add the cluster's __idle__ row and its "
        "cost to the total (left out by default: idle capacity belongs to no team)."
    ),
    "--compare": "Put another source's figures beside these, per row, with the difference.",
    "--energy": (
        "Add GPU energy (kWh, from dcgm-exporter's energy counter or power) and kgCO2e (kWh x "
        "PUE x the region's grid factor) per row, and per 1M tokens with --unit-costs."
    ),
    "--unit-costs": (
        "Per model: requests, tokens, cost per 1k requests and per 1M tokens (implies --by model)."
    ),
}
"""Each option's help text, by flag (by command and flag where two commands share one)."""


@data_command
def costs(
    ctx: CommandContext,
    by: Annotated[
        list[GroupKey] | None, option(HELP["--by"], "--by", "-b", show_default=True)
    ] = None,
    team: Annotated[str | None, option(HELP["--team"], "--team", panel=FILTERS)] = None,
    project: Annotated[str | None, option(HELP["--project"], "--project", panel=FILTERS)] = None,
    model: Annotated[str | None, option(HELP["--model"], "--model", panel=FILTERS)] = None,
    namespace: Annotated[
        str | None, option(HELP["--namespace"], "--namespace", panel=FILTERS)
    ] = None,
    cluster: Annotated[str | None, option(HELP["--cluster"], "--cluster", panel=FILTERS)] = None,
    include_idle: Annotated[
        bool, option(HELP["--include-idle"], "--include-idle", panel=FILTERS, show_default=True)
    ] = False,
    compare: Annotated[
        CompareWith | None, option(HELP["--compare"], "--compare", show_default=True)
    ] = None,
    unit_costs: Annotated[
        bool, option(HELP["--unit-costs"], "--unit-costs", show_default=True)
    ] = False,
    energy: Annotated[bool, option(HELP["--energy"], "--energy", show_default=True)] = False,
) -> None:
    """GPU cost, GPU-hours, efficiency and waste per group, plus idle and unallocated spend.

    Rows + __unallocated__ (pods without the grouping label) + __idle__ (capacity no pod held)
    add up to the cluster's whole GPU spend. A filter (--team, ...) shows the matching pods only:
    no __idle__ unless --include-idle; a value that matches nothing is a warning.
    """
    from finops_cli.usecases.costs import CostsOptions
    from finops_cli.usecases.costs import costs as run_costs

    given = {"team": team, "project": project, "model": model, "namespace": namespace}
    options = CostsOptions(
        by=[k.value.replace("-", "_") for k in by or []],
        filters={k: v for k, v in (given | {"cluster": cluster}).items() if v is not None},
        unit_costs=unit_costs,
        compare=compare.value if compare else None,
        include_idle=include_idle,
        energy=energy,
    )
    ctx.emit(run_costs(ctx, options))
