"""What ``forecast`` and ``anomalies`` share: the moment to evaluate "as of", length flags, and
posting findings to a webhook.

Both are meant for cron and CI: they evaluate "as of" a moment, print their data, post to a
webhook when there is something to say, and only then decide the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from finops_cli.errors import UsageError

DEFAULT_HISTORY = "90d"
"""How much daily history forecasts read before --as-of; here, not in usecases.forecast, so
that ``forecast --help`` (and the root help) does not import the use case to show it."""

if TYPE_CHECKING:
    from finops_cli.notify import Message
    from finops_cli.usecases.context import RunContext


def resolve_as_of(run: RunContext, as_of: str | None) -> datetime:
    """``--as-of``, else the window end (``--end`` or now); never in the future."""
    from finops_cli.timewindow import parse_time

    if as_of is None:
        return run.window.end
    if " ending " in run.window.label:
        raise UsageError("--as-of and --end both set the moment to evaluate: give only one")
    try:
        moment = parse_time(as_of, now=run.now)
    except UsageError as exc:
        reason = str(exc).split(": ", 1)[-1]
        raise UsageError(f"invalid --as-of {as_of!r}: {reason}") from None
    if moment > run.now:
        raise UsageError(f"invalid --as-of {as_of!r}: it is in the future (no data exists yet)")
    return moment


def parse_length(flag: str, text: str, low_days: int, high_days: int) -> timedelta:
    """A duration flag between ``low_days`` and ``high_days``, or a UsageError naming the flag."""
    from finops_cli.timewindow import parse_duration

    hint = f"expected a duration from {low_days}d to {high_days}d, e.g. 28d"
    try:
        length = parse_duration(text)
    except UsageError:
        raise UsageError(f"invalid {flag} {text!r}: {hint}") from None
    if not timedelta(days=low_days) <= length <= timedelta(days=high_days):
        raise UsageError(f"invalid {flag} {text!r}: {hint}")
    return length


@dataclass(frozen=True)
class Webhook:
    url: str = field(repr=False)  # a secret: never in reprs, logs or errors
    format: str


def resolve_webhook(run: RunContext, url_flag: str | None, fmt_flag: str | None) -> Webhook | None:
    """``--notify`` or FINOPS_NOTIFY_URL, checked before any query runs; None when unset."""
    from finops_cli import notify as webhook

    url = url_flag
    if url is None and run.settings.notify.url is not None:
        url = run.settings.notify.url.get_secret_value()
    if url is None:
        if fmt_flag is not None:
            raise UsageError("--notify-format needs --notify URL or FINOPS_NOTIFY_URL")
        return None
    fmt = fmt_flag if fmt_flag is not None else run.settings.notify.format
    return Webhook(webhook.check_url(url), fmt)


def notify(
    run: RunContext, target: Webhook | None, message: Message, document: dict[str, Any]
) -> None:
    """Post ``message`` when a webhook is configured and there is a finding to post."""
    from finops_cli import notify as webhook

    if target is None:
        return
    if not message.lines:
        run.notice("finops: nothing to notify: no findings")
        return
    body = webhook.payload(message, target.format, document)
    settings = run.settings.notify
    with run.progress("Notifying"):
        webhook.send(target.url, body, timeout_s=settings.timeout_seconds, retries=settings.retries)
    run.notice(f"finops: notified the webhook ({target.format}): {message.summary}")
