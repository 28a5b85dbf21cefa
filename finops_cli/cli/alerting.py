"""What ``finops forecast`` and ``finops anomalies`` share: ``--as-of``, and sending findings.

Both are meant for cron and CI: they evaluate "as of" a moment, print their data, post to a
webhook when there is something to say, and only then decide the exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from finops_cli.errors import UsageError

if TYPE_CHECKING:
    from finops_cli.cli.common import CommandContext
    from finops_cli.notify import Message

NOTIFY = "Notifications"


class NotifyFormat(StrEnum):
    slack = "slack"
    json = "json"


AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="TIME",
        help="Evaluate as if it were this moment (RFC 3339 or YYYY-MM-DD, UTC): only data "
        "before it is used. Default: --end, else now.",
        show_default=False,
    ),
]
NotifyOption = Annotated[
    str | None,
    typer.Option(
        "--notify",
        metavar="URL",
        help="Post findings to this webhook (Slack incoming webhook by default). The URL is a "
        "secret: prefer FINOPS_NOTIFY_URL, flags show in ps.",
        rich_help_panel=NOTIFY,
        show_default=False,
    ),
]
NotifyFormatOption = Annotated[
    NotifyFormat | None,
    typer.Option(
        "--notify-format",
        help="slack (incoming-webhook JSON) or json (generic: summary, findings, document). "
        "Env: FINOPS_NOTIFY_FORMAT.",
        rich_help_panel=NOTIFY,
        show_default=False,
    ),
]


def resolve_as_of(ctx: CommandContext, as_of: str | None) -> datetime:
    """``--as-of``, else the window end (``--end`` or now); never in the future."""
    from finops_cli.timewindow import parse_time

    if as_of is None:
        return ctx.window.end
    if " ending " in ctx.window.label:
        raise UsageError("--as-of and --end both set the moment to evaluate: give only one")
    try:
        moment = parse_time(as_of, now=ctx.now)
    except UsageError as exc:
        reason = str(exc).split(": ", 1)[-1]
        raise UsageError(f"invalid --as-of {as_of!r}: {reason}") from None
    if moment > ctx.now:
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


def resolve_webhook(
    ctx: CommandContext, url_flag: str | None, fmt_flag: NotifyFormat | None
) -> Webhook | None:
    """``--notify`` or FINOPS_NOTIFY_URL, checked before any query runs; None when unset."""
    from finops_cli import notify as webhook

    url = url_flag
    if url is None and ctx.settings.notify.url is not None:
        url = ctx.settings.notify.url.get_secret_value()
    if url is None:
        if fmt_flag is not None:
            raise UsageError("--notify-format needs --notify URL or FINOPS_NOTIFY_URL")
        return None
    fmt = fmt_flag.value if fmt_flag is not None else ctx.settings.notify.format
    return Webhook(webhook.check_url(url), fmt)


def notify(
    ctx: CommandContext, target: Webhook | None, message: Message, document: dict[str, Any]
) -> None:
    """Post ``message`` when a webhook is configured and there is a finding to post."""
    from finops_cli import notify as webhook

    if target is None:
        return
    if not message.lines:
        if not ctx.quiet:
            typer.echo("finops: nothing to notify: no findings", err=True)
        return
    body = webhook.payload(message, target.format, document)
    settings = ctx.settings.notify
    with ctx.progress("Notifying"):
        webhook.send(target.url, body, timeout_s=settings.timeout_seconds, retries=settings.retries)
    if not ctx.quiet:
        typer.echo(f"finops: notified the webhook ({target.format}): {message.summary}", err=True)


def print_document(
    ctx: CommandContext,
    document: dict[str, Any],
    as_csv: Callable[[dict[str, Any]], str],
    as_table: Callable[[dict[str, Any], int], Any],
) -> None:
    """The document on stdout in the chosen format, through ``CommandContext.emit``; these
    tables take the console width."""
    from rich import get_console

    ctx.emit(document, as_csv, lambda doc: as_table(doc, get_console().width))
