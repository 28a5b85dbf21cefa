"""``finops forecast``: month-end GPU spend per team and in total, against budgets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finops_cli.errors import ThresholdError, UsageError
from finops_cli.render.format import iso
from finops_cli.usecases.alerting import (
    DEFAULT_HISTORY,
    notify,
    parse_length,
    resolve_as_of,
    resolve_webhook,
)
from finops_cli.usecases.context import Outcome, RunContext
from finops_cli.usecases.sources import open_source

if TYPE_CHECKING:
    from finops_cli.analytics.budgets import Budget
    from finops_cli.usecases.history import ForecastHistory


@dataclass(frozen=True)
class ForecastOptions:
    """The command's own flags, as given (texts are parsed here, with the flag's name)."""

    as_of: str | None = None
    history: str = DEFAULT_HISTORY
    budgets: Sequence[str] = ()
    teams: Sequence[str] = ()
    fail_on: str | None = None
    notify_url: str | None = None
    notify_format: str | None = None


def forecast(run: RunContext, options: ForecastOptions) -> Outcome:
    """The ``forecast`` document, posted to the webhook; the ``--fail-on`` failure, if any."""
    from finops_cli.analytics.budgets import parse_budget_flag, resolve_budgets
    from finops_cli.usecases.history import forecast_history

    if run.window.label != "7d" and not run.window.label.startswith("7d ending "):
        raise UsageError(
            "finops forecast reads the month of --as-of and --history before it; "
            "--window and --start do not apply (use --as-of or --end for the moment)"
        )
    moment = resolve_as_of(run, options.as_of)
    length = parse_length("--history", options.history, 1, 400)
    target = resolve_webhook(run, options.notify_url, options.notify_format)
    flags = dict(parse_budget_flag(text) for text in options.budgets)
    budgets = resolve_budgets(run.settings.budgets, flags)
    teams = list(options.teams) or None
    with open_source(run) as source, run.progress("Querying daily GPU cost"):
        history_in = forecast_history(source, moment, length.days, budgets, teams)
    # Analytics (pandas) after the queries: it loads in the background while they run.
    from finops_cli.analytics.forecast import forecast_report
    from finops_cli.notify import forecast_message
    from finops_cli.render import forecast as render

    notes = [*history_in.notes, *_unspent_budgets(history_in, budgets)]
    report = forecast_report(
        source=history_in.source,
        as_of=moment,
        history_start=history_in.start,
        last_day=history_in.last_day,
        series=history_in.inputs,
        budgets=budgets,
        fail_on=options.fail_on,
        notes=notes,
    )
    run.warn_all(report.notes)
    document = render.to_document(
        report,
        currency=run.settings.currency,
        window_label=f"{options.history} history, month to date as of {iso(moment)}",
        generated_at=run.now,
    )
    failure = None
    if report.tripped:
        who = ", ".join(f"{t.scope} {t.name or 'total'} ({t.status})" for t in report.tripped[:5])
        more = f" and {len(report.tripped) - 5} more" if len(report.tripped) > 5 else ""
        failure = ThresholdError(f"--fail-on {report.fail_on}: {who}{more}")
    message = forecast_message(document)
    return Outcome(document, failure, lambda: notify(run, target, message, document))


def _unspent_budgets(
    history: ForecastHistory, budgets: Mapping[tuple[str, str], Budget]
) -> list[str]:
    """A note per team or project budget whose name spent nothing in the history read (its row
    has the status ``no_spend``), with the nearest names that did spend."""
    from finops_cli.analytics.forecast import spent
    from finops_cli.usecases.filters import unmatched_budget

    shown = {(s.scope, s.name): s for s in history.inputs}
    notes = []
    for (scope, name), budget in sorted(budgets.items()):
        row = shown.get((scope, name))
        if scope == "total" or row is None or spent(row):
            continue
        notes.append(unmatched_budget(scope, name, budget.origin, history.known.get(scope, [])))
    return notes
