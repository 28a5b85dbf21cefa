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
    from finops_cli.pricing import load_catalog

    catalog = load_catalog(ctx.settings.pricing)
    source = ctx.open_cost_source()
    try:
        with ctx.progress("Querying GPU pods"):
            data = source.pods(ctx.window)
    finally:
        source.close()
    # Analytics (pandas) after the queries: it loads in the background while they run.
    from finops_cli.analytics.rightsize import UPSIZE, recommend
    from finops_cli.render import rightsize as render

    recs = recommend(data, catalog, ctx.window.seconds / 3600)
    wanted = {a.value for a in action} if action else None
    recs = [
        r
        for r in recs
        if (team is None or r.workload.team == team)
        and (wanted is None or r.action in wanted)
        and (r.monthly_savings >= min_savings or r.action == UPSIZE)
    ]
    for note in data.notes:
        ctx.warn(note)
    document = render.to_document(
        recs,
        source=source.name,
        start=ctx.window.start,
        end=ctx.window.end,
        window_label=ctx.window.label,
        generated_at=ctx.now,
        currency=ctx.settings.currency,
        notes=data.notes,
    )
    ctx.emit(document, render.render_csv, render.render_table)
