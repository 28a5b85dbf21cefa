"""``finops gpus``: every GPU's state, utilisation and cost; the wasted ones with their waste."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from finops_cli.cli.common import CommandContext, data_command, option


class GpuGroup(StrEnum):
    node = "node"
    team = "team"
    gpu_model = "gpu-model"


HELP = {
    "--idle": "Only wasted GPUs (idle-allocated, unallocated).",
    "--by": "Summarise per node, team or GPU model.",
    "--team": "Only GPUs this team's pods held.",
    "--cluster": "Only this cluster's GPUs (the labels.cluster label's value).",
}
"""Each option's help text, by flag (by command and flag where two commands share one)."""


@data_command(sources=("sample", "prometheus"))
def gpus(
    ctx: CommandContext,
    idle: Annotated[bool, option(HELP["--idle"], "--idle", show_default=True)] = False,
    by: Annotated[GpuGroup | None, option(HELP["--by"], "--by", "-b", show_default=True)] = None,
    team: Annotated[str | None, option(HELP["--team"], "--team")] = None,
    cluster: Annotated[str | None, option(HELP["--cluster"], "--cluster")] = None,
) -> None:
    """One row per GPU (and MIG instance): state, busy avg/p95, memory, power, $/h and cost.

    States: active, underused (busy avg < 30%), idle-allocated (held, busy p95 < 10%) and
    unallocated (no pod held it for half the window); thresholds: the gpus table of finops.toml.
    """
    from finops_cli.usecases.inventory import gpus as run_gpus

    key = by.value.replace("-", "_") if by else None
    ctx.emit(run_gpus(ctx, idle=idle, by=key, team=team, cluster=cluster))
