"""``finops costs``: GPU cost by team, project, model, cost center, namespace, node or GPU
model."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from finops_cli.cli.common import CommandContext, data_command
from finops_cli.errors import UsageError


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
    from finops_cli.buckets import bucket_size
    from finops_cli.sources.interface import CostRequest

    keys = _group_keys(by, unit_costs, cluster is not None, ctx.settings.labels.cluster)
    given = {"team": team, "project": project, "model": model, "namespace": namespace}
    filters = {k: v for k, v in (given | {"cluster": cluster}).items() if v is not None}
    request = CostRequest(ctx.window, keys, filters, bucket_size(ctx.window.seconds))
    source = ctx.open_cost_source()
    try:
        with ctx.progress("Querying costs"):
            data = source.costs(request)
            inference = source.inference(request) if unit_costs else None
    finally:
        source.close()
    # Analytics (pandas) after the queries: it loads in the background while they run.
    from finops_cli.analytics.costs import attribute_costs
    from finops_cli.render import costs as render

    report = attribute_costs(data, keys, filters, ctx.window.start, ctx.window.end)
    if inference is not None:
        from finops_cli.analytics.unit_costs import with_unit_costs

        report = with_unit_costs(report, inference)
    comparison = None
    if compare is not None:
        from finops_cli.analytics.compare import compare_reports

        other_source = ctx.open_opencost()
        try:
            with ctx.progress("Querying OpenCost"):
                other = attribute_costs(
                    other_source.costs(request), keys, filters, ctx.window.start, ctx.window.end
                )
        finally:
            other_source.close()
        comparison = (other.source, compare_reports(report, other))
    for note in report.notes:
        ctx.warn(note)
    document = render.to_document(
        report,
        currency=ctx.settings.currency,
        window_label=ctx.window.label,
        generated_at=ctx.now,
        comparison=comparison,
    )

    def table(doc: dict[str, Any]) -> Any:
        from rich import get_console
        from rich.console import Group

        parts = [render.render_table(doc, get_console().width)]
        if comparison is not None:
            parts.append(render.render_comparison_table(doc))
        return Group(*parts)

    ctx.emit(document, render.render_csv, table)


def _group_keys(
    by: list[GroupKey] | None, unit_costs: bool, cluster_filter: bool, cluster_label: str | None
) -> tuple[str, ...]:
    """The --by keys, checked: at most two, distinct, and what the other flags need."""
    default = GroupKey.model if unit_costs else GroupKey.team
    keys = tuple(k.value.replace("-", "_") for k in (by or [default]))
    if unit_costs and keys != ("model",):
        raise UsageError("--unit-costs works per model: use it with --by model (or no --by)")
    if len(keys) > 2:
        raise UsageError("--by takes at most two keys (e.g. --by team --by project)")
    if len(set(keys)) != len(keys):
        raise UsageError("--by was given the same key twice")
    if ("cluster" in keys or cluster_filter) and not cluster_label:
        raise UsageError("--by cluster / --cluster need labels.cluster (it is set to off)")
    return keys
