"""Notifications: Slack and generic payloads, retries and one-line errors, the URL kept secret."""

from __future__ import annotations

import logging
import socket

import pytest

from finops_cli import notify
from finops_cli.errors import UsageError
from tests.support.webhook import webhook

SECRET = "XXXXSECRETXXXX"

FORECAST_DOC = {
    "currency": "USD",
    "as_of": "2026-11-20T00:00:00Z",
    "source": "sample",
    "month": {"start": "2026-11-01T00:00:00Z"},
    "rows": [
        {"team": "nlp", "scope": "team", "status": "critical", "projected": 3100.0,
         "budget": 3000.0, "actual_to_date": 2000.0, "days_until_exhausted": 9.5,
         "owner": "nlp-leads@example.com"},
        {"team": "vision", "scope": "team", "status": "on_track", "projected": 10.0,
         "budget": 3000.0, "actual_to_date": 5.0, "days_until_exhausted": None, "owner": None},
    ],
    "projects": [],
    "total": None,
}  # fmt: skip


def test_forecast_message_lists_budgets_at_risk_only():
    message = notify.forecast_message(FORECAST_DOC)
    assert message.summary == "finops forecast 2026-11: 1 budget(s) at risk (1 critical)"
    assert len(message.lines) == 1
    assert "*nlp*" in message.lines[0] and "103%" in message.lines[0]
    assert "nlp-leads@example.com" in message.lines[0]
    calm = {**FORECAST_DOC, "rows": FORECAST_DOC["rows"][1:]}
    assert notify.forecast_message(calm).lines == ()


def test_slack_payload_shape_and_truncation():
    message = notify.Message("anomalies", "3 found", tuple(f"line {i}" for i in range(30)), "ctx")
    body = notify.payload(message, "slack", {})
    assert body["text"] == "3 found"
    assert [b["type"] for b in body["blocks"]] == ["section", "section", "context"]
    shown = body["blocks"][1]["text"]["text"]
    assert "line 19" in shown and "line 20" not in shown and "and 10 more" in shown
    generic = notify.payload(message, "json", {"kind": "anomalies"})
    assert generic["findings"][29] == "line 29" and generic["document"] == {"kind": "anomalies"}


def test_retries_server_errors_then_succeeds():
    with webhook(503, 500, 200) as hook:
        attempts = notify.send(hook.url, {"text": "hi"}, sleep=lambda s: None)
    assert attempts == 3
    assert hook.bodies == [{"text": "hi"}] * 3
    assert hook.requests[0]["type"] == "application/json"


def test_client_errors_fail_at_once_without_the_url():
    with webhook(404) as hook, pytest.raises(notify.NotifyError) as err:
        notify.send(hook.url, {"text": "hi"}, sleep=lambda s: None)
    assert len(hook.requests) == 1
    message = str(err.value)
    assert "HTTP 404" in message and "not retried" in message
    assert SECRET not in message and "127.0.0.1" not in message
    assert "\n" not in message


def test_gives_up_after_the_retries():
    with (
        webhook(502) as hook,
        pytest.raises(notify.NotifyError, match="after 3 attempts: HTTP 502"),
    ):
        notify.send(hook.url, {}, retries=2, sleep=lambda s: None)
    assert len(hook.requests) == 3


def test_unreachable_webhook_is_one_line_without_the_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/services/{SECRET}"
    with pytest.raises(notify.NotifyError) as err:
        notify.send(url, {}, retries=1, sleep=lambda s: None)
    message = str(err.value)
    assert message.startswith("notification failed: cannot reach the webhook (URL hidden)")
    assert "connection refused after 2 attempts" in message
    assert SECRET not in message and str(port) not in message


@pytest.mark.parametrize("url", ["ftp://hooks/x", "hooks.slack.com/x", "http://", "http://a b/"])
def test_bad_urls_are_refused_without_echo(url):
    with pytest.raises(UsageError) as err:
        notify.check_url(url)
    assert url not in str(err.value)


def test_debug_logs_never_show_the_url(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook(503, 200) as hook:
        notify.send(hook.url, {"text": "hi"}, sleep=lambda s: None)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("finops")]
    assert lines == [
        line for line in lines if "POST (URL hidden)" in line and "127.0.0.1" not in line
    ]
    assert len(lines) == 2 and "HTTP 503" in lines[0] and "HTTP 200" in lines[1]
    # httpx's own INFO line prints the URL: the CLI keeps httpx and httpcore at WARNING
    # (cli/common.configure_logging), which tests/faults/test_hostile_servers.py runs through.


def test_an_endless_answer_is_capped_like_any_source() -> None:
    """The webhook shares the client: its answer is bounded too (and the URL still hidden)."""
    from tests.faults.hostile import HostileServer, endless

    with HostileServer(endless(600)) as server, pytest.raises(notify.NotifyError) as err:
        notify.send(f"{server.url}/hooks/{SECRET}", {}, retries=0)
    message = str(err.value)
    assert message.startswith("notification failed: the webhook (URL hidden) sent an answer over")
    assert SECRET not in message and "127.0.0.1" not in message
