"""``finops anomalies``: unusual GPU cost and busy share per team, hourly and daily."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from finops_cli.errors import ThresholdError, UsageError
from finops_cli.usecases.alerting import notify, parse_length, resolve_as_of, resolve_webhook
from finops_cli.usecases.context import Outcome, RunContext
from finops_cli.usecases.sources import open_source


@dataclass(frozen=True)
class AnomalyOptions:
    """The command's own flags, as given (texts are parsed here, with the flag's name)."""

    as_of: str | None = None
    since: str | None = None
    baseline: str = "28d"
    method: str = "seasonal"
    metrics: Sequence[str] = ()
    teams: Sequence[str] = ()
    min_impact: float = 0.0
    fail_on: str | None = None
    notify_url: str | None = None
    notify_format: str | None = None


def anomalies(run: RunContext, options: AnomalyOptions) -> Outcome:
    """The ``anomalies`` document, posted to the webhook; the ``--fail-on-anomaly`` failure."""
    from finops_cli.usecases.history import anomaly_history

    moment = resolve_as_of(run, options.as_of)
    since = options.since
    start = (
        _since(since, moment, run.now)
        if since is not None
        else moment - (run.window.end - run.window.start)
    )
    if start >= moment:
        raise UsageError(f"invalid --since {since!r}: it must be before --as-of")
    base = parse_length("--baseline", options.baseline, 1, 180)
    target = resolve_webhook(run, options.notify_url, options.notify_format)
    if options.min_impact < 0:
        raise UsageError("invalid --min-impact: it must be zero or more")
    teams = list(options.teams) or None
    with open_source(run) as source, run.progress("Querying hourly GPU cost"):
        found = anomaly_history(source, moment, start, base.days, teams)
    # Analytics (pandas) after the queries: it loads in the background while they run.
    from finops_cli.analytics.anomalies import METRICS, anomaly_report
    from finops_cli.notify import anomalies_message
    from finops_cli.render import anomalies as render

    report = anomaly_report(
        source=found.source,
        series=found.series,
        method=options.method,
        as_of=moment,
        since=start,
        baseline_start=found.start,
        baseline_days=base.days,
        min_impact=options.min_impact,
        metrics=list(options.metrics) or METRICS,
        fail_on=options.fail_on,
        currency=run.settings.currency,
        notes=found.notes,
    )
    run.warn_all(report.notes)
    document = render.to_document(
        report,
        currency=run.settings.currency,
        window_label=_label(run.window.label, since, options.as_of),
        generated_at=run.now,
        filters={"team": list(options.teams)} if options.teams else {},
        min_impact=options.min_impact,
    )
    failure = None
    if report.tripped:
        worst = report.tripped[0]
        failure = ThresholdError(
            f"--fail-on-anomaly {report.fail_on}: {len(report.tripped)} anomalies, e.g. "
            f"{worst.team} {worst.metric} at {worst.start:%Y-%m-%dT%H:%MZ} ({worst.severity})"
        )
    message = anomalies_message(document)
    return Outcome(document, failure, lambda: notify(run, target, message, document))


def _since(text: str, moment: datetime, now: datetime) -> datetime:
    """A moment, or a duration back from --as-of."""
    from finops_cli.timewindow import parse_duration, parse_time

    stripped = text.strip()
    try:
        return moment - parse_duration(stripped)
    except UsageError:
        pass
    try:
        return parse_time(stripped, now=now)
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
