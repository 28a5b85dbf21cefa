"""The options ``finops forecast`` and ``finops anomalies`` share: ``--as-of`` and ``--notify``.

What they mean is in ``usecases/alerting.py``; this module only declares them once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

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
TeamsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--team", metavar="TEAM", help="Only these teams (repeatable).", show_default=False
    ),
]
