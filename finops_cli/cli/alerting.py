"""The options ``finops forecast`` and ``finops anomalies`` share: ``--as-of`` and ``--notify``.

What they mean is in ``usecases/alerting.py``; this module only declares them once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from finops_cli.cli.common import option

NOTIFY = "Notifications"


class NotifyFormat(StrEnum):
    slack = "slack"
    json = "json"


HELP = {
    "--as-of": (
        "Evaluate as if it were this moment (RFC 3339 or YYYY-MM-DD, UTC): only data "
        "before it is used. Default: --end, else now."
    ),
    "--notify": (
        "Post findings to this webhook (Slack incoming webhook by default). The URL is a "
        "secret: prefer FINOPS_NOTIFY_URL, flags show in ps."
    ),
    "--notify-format": (
        "slack (incoming-webhook JSON) or json (generic: summary, findings, document). "
        "Env: FINOPS_NOTIFY_FORMAT."
    ),
    "--team": "Only these teams (repeatable).",
}
"""Each option's help text, by flag (by command and flag where two commands share one)."""


AsOfOption = Annotated[str | None, option(HELP["--as-of"], "--as-of", metavar="TIME")]
NotifyOption = Annotated[
    str | None, option(HELP["--notify"], "--notify", metavar="URL", panel=NOTIFY)
]
NotifyFormatOption = Annotated[
    NotifyFormat | None, option(HELP["--notify-format"], "--notify-format", panel=NOTIFY)
]
TeamsOption = Annotated[list[str] | None, option(HELP["--team"], "--team", metavar="TEAM")]
