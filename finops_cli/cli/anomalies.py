"""``finops anomalies``: unusual GPU cost and busy share per team, hourly and daily."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from finops_cli.cli.alerting import AsOfOption, NotifyFormatOption, NotifyOption, TeamsOption
from finops_cli.cli.common import CommandContext, data_command, number_in, option

DETECTION = "Detection"


class Method(StrEnum):
    seasonal = "seasonal"
    zscore = "zscore"
    iqr = "iqr"
    moving_average = "moving-average"


class Metric(StrEnum):
    hourly_cost = "hourly_cost"
    daily_cost = "daily_cost"
    busy_share = "busy_share"
    efficiency = "efficiency"


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"


HELP = {
    "--since": (
        "Report anomalies from this moment (2026-11-01, or 24h before --as-of). "
        "Default: the window's start (--window, 7d)."
    ),
    "--baseline": (
        "History before --since that sets what is normal. 28d (four weeks) lets the "
        "seasonal method learn each hour of the week."
    ),
    "--method": (
        "seasonal (hour-of-week median + MAD; copes with daily and weekly patterns), "
        "zscore, iqr or moving-average."
    ),
    "--metric": "Only these series (repeatable). Default: all four.",
    "--min-impact": (
        "Leave out anomalies whose estimated dollar impact is smaller than this (0 or more)."
    ),
    "--fail-on-anomaly": (
        "Exit 3 when an anomaly of this severity or worse is reported (data still printed)."
    ),
}
"""Each option's help text, by flag (by command and flag where two commands share one)."""


@data_command
def anomalies(
    ctx: CommandContext,
    as_of: AsOfOption = None,
    since: Annotated[
        str | None, option(HELP["--since"], "--since", metavar="TIME|DURATION")
    ] = None,
    baseline: Annotated[
        str,
        option(
            HELP["--baseline"], "--baseline", metavar="DURATION", panel=DETECTION, show_default=True
        ),
    ] = "28d",
    method: Annotated[
        Method, option(HELP["--method"], "--method", panel=DETECTION, show_default=True)
    ] = Method.seasonal,
    metric: Annotated[
        list[Metric] | None, option(HELP["--metric"], "--metric", panel=DETECTION)
    ] = None,
    team: TeamsOption = None,
    min_impact: Annotated[
        float,
        option(
            HELP["--min-impact"],
            "--min-impact",
            metavar="AMOUNT",
            panel=DETECTION,
            show_default=True,
            callback=number_in(ge=0),
        ),
    ] = 0.0,
    fail_on_anomaly: Annotated[
        Severity | None, option(HELP["--fail-on-anomaly"], "--fail-on-anomaly", panel=DETECTION)
    ] = None,
    notify_url: NotifyOption = None,
    notify_format: NotifyFormatOption = None,
) -> None:
    """Spikes, level shifts, idle GPUs and efficiency drops per team, with dollar impact.

    Checks hourly and daily GPU cost, hourly GPU busy share and daily efficiency of every team
    against a baseline learnt from the weeks before. See docs/anomalies.md.
    """
    from finops_cli.usecases.anomalies import AnomalyOptions
    from finops_cli.usecases.anomalies import anomalies as run_anomalies

    options = AnomalyOptions(
        as_of=as_of,
        since=since,
        baseline=baseline,
        method=method.value,
        metrics=[m.value for m in metric or []],
        teams=team or [],
        min_impact=min_impact,
        fail_on=fail_on_anomaly.value if fail_on_anomaly else None,
        notify_url=notify_url,
        notify_format=notify_format.value if notify_format else None,
    )
    ctx.deliver(run_anomalies(ctx, options))
