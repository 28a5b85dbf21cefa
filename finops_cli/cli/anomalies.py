"""``finops anomalies``: unusual GPU cost and busy share per team, hourly and daily."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer

from finops_cli.cli.alerting import (
    AsOfOption,
    NotifyFormatOption,
    NotifyOption,
    notify,
    parse_length,
    print_document,
    resolve_as_of,
    resolve_webhook,
)
from finops_cli.cli.common import CommandContext, data_command
from finops_cli.errors import ThresholdError, UsageError

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


@data_command
def anomalies(
    ctx: CommandContext,
    as_of: AsOfOption = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME|DURATION",
            help="Report anomalies from this moment (2026-11-01, or 24h before --as-of). "
            "Default: the window's start (--window, 7d).",
            show_default=False,
        ),
    ] = None,
    baseline: Annotated[
        str,
        typer.Option(
            "--baseline",
            metavar="DURATION",
            help="History before --since that sets what is normal. 28d (four weeks) lets the "
            "seasonal method learn each hour of the week.",
            rich_help_panel=DETECTION,
        ),
    ] = "28d",
    method: Annotated[
        Method,
        typer.Option(
            "--method",
            help="seasonal (hour-of-week median + MAD; copes with daily and weekly patterns), "
            "zscore, iqr or moving-average.",
            rich_help_panel=DETECTION,
        ),
    ] = Method.seasonal,
    metric: Annotated[
        list[Metric] | None,
        typer.Option(
            "--metric",
            help="Only these series (repeatable). Default: all four.",
            rich_help_panel=DETECTION,
            show_default=False,
        ),
    ] = None,
    team: Annotated[
        list[str] | None,
        typer.Option(
            "--team", metavar="TEAM", help="Only these teams (repeatable).", show_default=False
        ),
    ] = None,
    min_impact: Annotated[
        float,
        typer.Option(
            "--min-impact",
            metavar="AMOUNT",
            help="Leave out anomalies whose estimated dollar impact is smaller than this.",
            rich_help_panel=DETECTION,
        ),
    ] = 0.0,
    fail_on_anomaly: Annotated[
        Severity | None,
        typer.Option(
            "--fail-on-anomaly",
            help="Exit 3 when an anomaly of this severity or worse is reported (data still "
            "printed).",
            rich_help_panel=DETECTION,
            show_default=False,
        ),
    ] = None,
    notify_url: NotifyOption = None,
    notify_format: NotifyFormatOption = None,
) -> None:
    """Spikes, level shifts, idle GPUs and efficiency drops per team, with dollar impact.

    Checks hourly and daily GPU cost, hourly GPU busy share and daily efficiency of every team
    against a baseline learnt from the weeks before. See docs/anomalies.md.
    """
    from finops_cli.sources.history import anomaly_history

    moment = resolve_as_of(ctx, as_of)
    start = (
        _since(since, moment, ctx)
        if since is not None
        else moment - (ctx.window.end - ctx.window.start)
    )
    if start >= moment:
        raise UsageError(f"invalid --since {since!r}: it must be before --as-of")
    base = parse_length("--baseline", baseline, 1, 180)
    target = resolve_webhook(ctx, notify_url, notify_format)
    if min_impact < 0:
        raise UsageError("invalid --min-impact: it must be zero or more")
    source = ctx.open_cost_source()
    try:
        with ctx.progress("Querying hourly GPU cost"):
            found = anomaly_history(source, moment, start, base.days, team)
    finally:
        source.close()
    # Analytics (pandas) after the queries: it loads in the background while they run.
    from finops_cli.analytics.anomalies import METRICS, anomaly_report
    from finops_cli.notify import anomalies_message
    from finops_cli.render import anomalies as render

    report = anomaly_report(
        source=found.source,
        series=found.series,
        method=method.value,
        as_of=moment,
        since=start,
        baseline_start=found.start,
        baseline_days=base.days,
        min_impact=min_impact,
        metrics=[m.value for m in metric] if metric else METRICS,
        fail_on=fail_on_anomaly.value if fail_on_anomaly else None,
        currency=ctx.settings.currency,
        notes=found.notes,
    )
    for note in report.notes:
        ctx.warn(note)
    document = render.to_document(
        report,
        currency=ctx.settings.currency,
        window_label=_label(ctx.window.label, since, as_of),
        generated_at=ctx.now,
        filters={"team": list(team)} if team else {},
        min_impact=min_impact,
    )
    print_document(ctx, document, render.render_csv, render.render_table)
    notify(ctx, target, anomalies_message(document), document)
    if report.tripped:
        worst = report.tripped[0]
        raise ThresholdError(
            f"--fail-on-anomaly {report.fail_on}: {len(report.tripped)} anomalies, e.g. "
            f"{worst.team} {worst.metric} at {worst.start:%Y-%m-%dT%H:%MZ} ({worst.severity})"
        )


def _since(text: str, moment: datetime, ctx: CommandContext) -> datetime:
    """A moment, or a duration back from --as-of."""
    from finops_cli.timewindow import parse_duration, parse_time

    stripped = text.strip()
    try:
        return moment - parse_duration(stripped)
    except UsageError:
        pass
    try:
        return parse_time(stripped, now=ctx.now)
    except UsageError:
        raise UsageError(
            f"invalid --since {text!r}: expected a time (2026-11-01, RFC 3339) or a duration "
            "such as 24h or 7d"
        ) from None


def _label(window: str, since: str | None, as_of: str | None) -> str:
    """How the report period was asked for, in the user's words (as ``costs`` records it)."""
    if since is not None:
        window = f"since {since.strip()}"
    return window if as_of is None else f"{window} ending {as_of.strip()}"
