"""``--notify``: post findings to a Slack incoming webhook or a generic JSON webhook.

A webhook URL is a credential (anyone holding it can post to the channel), so it is never
printed: not in errors, not in ``--debug`` logs, not in what a server echoes back. Server errors
(5xx, 429) and network failures are retried with backoff by the shared HTTP client
(:mod:`finops_cli.http_client`, imported only when a message is sent); anything else fails at
once with one line saying what the server answered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from finops_cli.errors import FinopsError, UsageError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("finops.notify")

FORMATS = ("slack", "json")
MAX_LINES = 20  # Slack shows a message, not a report: the rest is "and N more"
_SLACK_TEXT_LIMIT = 2900  # a section block holds 3000 characters


class NotifyError(FinopsError):
    """The webhook could not be reached or refused the message (exit 1); data was printed."""


@dataclass(frozen=True)
class Message:
    """What to say: a one-line summary and one line per finding (Slack mrkdwn)."""

    kind: str  # "forecast" or "anomalies"
    summary: str
    lines: tuple[str, ...]
    context: str


def check_url(url: str) -> str:
    """An http(s) URL, or a UsageError that does not repeat it."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise UsageError("invalid --notify URL: expected http(s)://... (the value is not shown)")
    return url.strip()


def forecast_message(document: dict[str, Any]) -> Message:
    """Budgets at warning or worse; nothing to say when every budget is on track."""
    rows = [*document["rows"], *document["projects"]]
    if document["total"]:
        rows.append(document["total"])
    cur = document["currency"]
    order = {"exceeded": 0, "critical": 1, "warning": 2}
    risky = sorted(
        (r for r in rows if r["status"] in order),
        key=lambda r: (order[r["status"]], -r["projected"]),
    )
    lines = []
    for r in risky:
        name = r.get("project") if r["scope"] == "project" else r["team"]
        label = "cluster total" if r["scope"] == "total" else f"{r['scope']} *{name}*"
        share = r["projected"] / r["budget"] * 100 if r["budget"] else 0.0
        days = r["days_until_exhausted"]
        when = (
            ""
            if days is None
            else (" (budget spent)" if days == 0 else f", budget gone in {days:.1f} d")
        )
        owner = f" · owner {r['owner']}" if r.get("owner") else ""
        lines.append(
            f"• {label}: *{r['status']}*: projected {r['projected']:,.0f} {cur} vs budget "
            f"{r['budget']:,.0f} ({share:.0f}%), spent {r['actual_to_date']:,.0f}{when}{owner}"
        )
    counts = ", ".join(
        f"{sum(1 for r in risky if r['status'] == s)} {s}"
        for s in order
        if any(r["status"] == s for r in risky)
    )
    month = document["month"]["start"][:7]
    summary = f"finops forecast {month}: {len(risky)} budget(s) at risk ({counts})"
    return Message(
        "forecast",
        summary,
        tuple(lines),
        f"as of {document['as_of']} · source {document['source']} · GPU cost in {cur}",
    )


def anomalies_message(document: dict[str, Any]) -> Message:
    """Every reported anomaly, worst first."""
    order = {"critical": 0, "warning": 1, "info": 2}
    rows = sorted(document["rows"], key=lambda r: (order[r["severity"]], -abs(r["impact"] or 0)))
    cur = document["currency"]
    lines = tuple(
        f"• *{r['severity']}* {r['team']} {r['metric']} at {r['at']}: {r['impact']:+,.2f} {cur}: "
        f"{r['reason']}"
        for r in rows
    )
    summary = document["summary"]
    counts = ", ".join(f"{n} {s}" for s, n in summary["by_severity"].items() if n)
    return Message(
        "anomalies",
        f"finops anomalies: {summary['count']} found ({counts}) "
        f"since {document['window']['start']}",
        lines,
        f"as of {document['as_of']} · method {document['method']} · source {document['source']}",
    )


def payload(message: Message, fmt: str, document: dict[str, Any]) -> dict[str, Any]:
    """Slack's incoming-webhook JSON (``text`` + blocks), or the generic form with the document."""
    if fmt == "json":
        return {
            "source": "finops",
            "kind": message.kind,
            "summary": message.summary,
            "findings": list(message.lines),
            "document": document,
        }
    shown = list(message.lines[:MAX_LINES])
    if len(message.lines) > MAX_LINES:
        shown.append(f"… and {len(message.lines) - MAX_LINES} more")
    body = "\n".join(shown)
    if len(body) > _SLACK_TEXT_LIMIT:
        body = body[: _SLACK_TEXT_LIMIT - 1] + "…"
    return {
        "text": message.summary,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{message.summary}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body or "_nothing to report_"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": message.context}]},
        ],
    }


def send(
    url: str,
    body: dict[str, Any],
    *,
    timeout_s: float = 10.0,
    retries: int = 3,
    backoff_s: float = 0.5,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST ``body`` as JSON; returns the attempts it took, or raises a one-line NotifyError.

    Sending, retries, the size cap and the deadline are the shared client's
    (:mod:`finops_cli.http_client`); the webhook's whole URL, its path (where Slack keeps the
    key) and its query are secrets, so the client masks them and never shows the URL.
    """
    from finops_cli.http_client import BaseUrl, HttpClient, Service

    parts = urlsplit(url)
    hidden = "the webhook (URL hidden)"
    base = BaseUrl(url, hidden, parts.scheme, parts.hostname or "")
    service = Service(
        "the webhook",
        hidden,
        url_hint="--notify or FINOPS_NOTIFY_URL",
        slow_hint="",
        error=NotifyError,
    )
    with HttpClient(
        service,
        base,
        secrets=[url, parts.path, parts.query, parts.netloc.rpartition("@")[0]],
        timeout_s=timeout_s,
        retries=retries,
        backoff_base_s=backoff_s,
        sends_secret=True,  # the URL is the credential
        transport=transport,
        sleep=sleep,
        log=log,
    ) as client:
        try:
            answer, attempts = client.request("POST", json_body=body, shown="(a JSON body)")
        except NotifyError as exc:  # no answer at all: unreachable, too slow, too large
            raise NotifyError(f"notification failed: {exc}") from None
    if 200 <= answer.status < 300:
        return attempts
    detail = client.clean(answer.text, 120)
    problem = f"HTTP {answer.status}" + (f": {detail}" if detail else "")
    if answer.status < 500 and answer.status != 429:
        raise NotifyError(
            f"notification failed: the webhook answered {problem} (not retried; "
            "check --notify or FINOPS_NOTIFY_URL)"
        )
    raise NotifyError(f"notification failed after {attempts} attempts: {problem}")
