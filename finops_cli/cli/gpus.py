"""``finops gpus``: every GPU's state, utilisation and cost; the wasted ones with their waste."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from finops_cli.cli.common import CommandContext, data_command


class GpuGroup(StrEnum):
    node = "node"
    team = "team"
    gpu_model = "gpu-model"


@data_command
def gpus(
    ctx: CommandContext,
    idle: Annotated[
        bool, typer.Option("--idle", help="Only wasted GPUs (idle-allocated, unallocated).")
    ] = False,
    by: Annotated[
        GpuGroup | None, typer.Option("--by", "-b", help="Summarise per node, team or GPU model.")
    ] = None,
    team: Annotated[str | None, typer.Option(help="Only GPUs this team's pods held.")] = None,
) -> None:
    """One row per GPU (and MIG instance): state, busy avg/p95, memory, power, $/h and cost.

    States: active, underused (busy avg < 30%), idle-allocated (held, busy p95 < 10%) and
    unallocated (no pod held it for half the window); thresholds: the gpus table of finops.toml.
    """
    source = ctx.open_cost_source()
    try:
        with ctx.progress("Querying GPUs"):
            data = source.gpus(ctx.window)
    finally:
        source.close()
    # Analytics (pandas) after the queries: it loads in the background while they run.
    from finops_cli.analytics.gpus import WASTED_STATES, GpuThresholds, assess_gpus, summarise_gpus
    from finops_cli.render import gpus as render

    s = ctx.settings.gpus
    frame = assess_gpus(
        data, GpuThresholds(s.idle_busy_p95, s.underused_busy_avg, s.min_held_share)
    )
    if team is not None:
        frame = frame[frame["team"] == team]
    if idle:
        frame = frame[frame["state"].isin(WASTED_STATES)].sort_values("waste", ascending=False)
    key = by.value.replace("-", "_") if by else None
    shown = summarise_gpus(frame, key) if key else frame
    for note in data.notes:
        ctx.warn(note)
    document = render.to_document(
        shown,
        source=source.name,
        start=ctx.window.start,
        end=ctx.window.end,
        window_label=ctx.window.label,
        generated_at=ctx.now,
        currency=ctx.settings.currency,
        busy_metric=data.busy_metric,
        group_by=key,
        idle_only=idle,
        notes=data.notes,
    )
    ctx.emit(document, render.render_csv, render.render_table)
