"""The installed ``finops forecast``: statuses, exit codes 0/1/2/3, notifications, streams.

Budgets are set from the simulator's ground truth for the month, so each team lands in a known
status however the sample cast evolves: vision has already spent more than its budget, research
is projected 5 % over, nlp at 95 % of it, ml-platform at half.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import ground_truth
from tests.support.cli import run_finops
from tests.support.webhook import webhook

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
MONTH = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
SECRET = "XXXXSECRETXXXX"


def _cost(start: datetime, end: datetime) -> dict[str, float]:
    truth = ground_truth(SampleCluster(42), int(start.timestamp()), int(end.timestamp()))
    return truth.by("team")["gpu_cost"].to_dict()


@pytest.fixture(scope="module")
def budgets() -> list[str]:
    month = _cost(*MONTH)
    so_far = _cost(MONTH[0], AS_OF)
    amounts = {
        "vision": so_far["vision"] * 0.8,  # exceeded
        "research": month["research"] * 0.95,  # critical
        "nlp": month["nlp"] / 0.95,  # warning
        "ml-platform": month["ml-platform"] * 2,  # on_track
    }
    return [arg for team, amount in amounts.items() for arg in ("--budget", f"{team}={amount:.2f}")]


def _forecast(*args: str, env: dict[str, str] | None = None):
    return run_finops(
        "forecast", "--as-of", "2026-11-20T12:00:00Z", "--history", "21d", *args, env=env
    )


def _one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("finops: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1]


def test_statuses_json_contract_and_fail_on(budgets):
    result = _forecast(*budgets, "--fail-on", "critical", "-o", "json", "-q")
    assert result.returncode == 3, result.stderr
    doc = json.loads(result.stdout)  # the data is printed before the gate trips
    assert (doc["schema_version"], doc["kind"], doc["source"]) == ("1", "forecast", "sample")
    assert doc["currency"] == "USD" and doc["as_of"] == "2026-11-20T12:00:00Z"
    assert doc["window"]["end"] == "2026-11-20T12:00:00Z"
    assert {"generated_at", "month", "rows", "total", "notes"} <= set(doc)
    rows = {r["team"]: r for r in doc["rows"]}
    for row in rows.values():
        assert {"team", "actual_to_date", "projected", "budget", "status"} <= set(row)
        assert "days_until_exhausted" in row
    assert rows["vision"]["status"] == "exceeded"
    assert rows["vision"]["days_until_exhausted"] == 0
    assert rows["research"]["status"] == "critical"
    assert rows["research"]["days_until_exhausted"] > 0
    assert rows["nlp"]["status"] == "warning"
    assert rows["nlp"]["days_until_exhausted"] is None  # not before month end
    assert rows["ml-platform"]["status"] == "on_track"
    assert rows["__idle__"]["status"] is None and rows["__idle__"]["budget"] is None
    # Actual to date is measured, not extrapolated: it matches the ground truth.
    so_far = _cost(MONTH[0], AS_OF)
    for team in ("research", "nlp", "vision", "ml-platform"):
        assert rows[team]["actual_to_date"] == pytest.approx(so_far[team], rel=0.002), team
        assert rows[team]["method"] == "seasonal-trend"
    total = doc["total"]
    assert total["team"] == "__total__"
    assert total["actual_to_date"] == pytest.approx(sum(r["actual_to_date"] for r in rows.values()))
    tripped = {(t["name"], t["status"]) for t in doc["fail_on"]["tripped"]}
    assert tripped == {("vision", "exceeded"), ("research", "critical")}
    error = _one_line_error(result)
    assert "--fail-on critical" in error and "research" in error


def test_fail_on_exceeded_only_and_csv(budgets):
    result = _forecast(*budgets, "--fail-on", "exceeded", "-o", "csv", "-q")
    assert result.returncode == 3
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[-1]["scope"] == "total"
    assert {r["name"]: r["status"] for r in rows}["vision"] == "exceeded"
    assert "vision" in result.stderr and "research" not in result.stderr


def test_budgets_from_finops_toml_and_table(tmp_path):
    config = tmp_path / "finops.toml"
    config.write_text(
        "[budgets]\nwarning_percent = 50\n"
        '[budgets.teams.research]\nmonthly = 1e9\nowner = "research-leads@example.com"\n'
        "[budgets.total]\nmonthly = 100000\n",
        encoding="utf-8",
    )
    result = _forecast("--config", str(config), "-o", "table", env={"COLUMNS": "160"})
    assert result.returncode == 0, result.stderr
    assert "Total (cluster)" in result.stdout and "on_track" in result.stdout
    assert "warning" in result.stdout  # the total: ~83k projected >= 50 % of 100k


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--budget", "nlp"), "invalid --budget 'nlp'"),
        (("--as-of", "soon"), "invalid --as-of 'soon'"),
        (("--as-of", "2999-01-01"), "in the future"),
        (("--window", "30d"), "--window and --start do not apply"),
    ],
)
def test_usage_errors_exit_2(args, needle):
    result = run_finops("forecast", *args, "-o", "json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert needle in _one_line_error(result)


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[budgets.teams.nlp]\nmonthly = -5\n", "budgets.teams.nlp.monthly"),
        ("[budgets]\nwarning_percent = 95\ncritical_percent = 90\n", "budgets.critical_percent"),
    ],
)
def test_bad_budget_configuration_exits_2(tmp_path, toml, needle):
    config = tmp_path / "finops.toml"
    config.write_text(toml, encoding="utf-8")
    result = run_finops("forecast", "--config", str(config), "-o", "json")
    assert result.returncode == 2
    assert needle in _one_line_error(result)


def test_slack_notification_with_retries_and_a_secret_url(budgets):
    with webhook(503, 200) as hook:
        result = _forecast(
            *budgets, "--history", "7d", "--notify", hook.url, "--debug", "-o", "json"
        )
    assert result.returncode == 0, result.stderr
    assert len(hook.requests) == 2  # one 503, retried
    body = hook.bodies[-1]
    assert body["text"].startswith("finops forecast 2026-11: 3 budget(s) at risk")
    text = json.dumps(body["blocks"])
    assert "*vision*" in text and "*research*" in text and "ml-platform" not in text
    assert "notified the webhook (slack)" in result.stderr
    assert SECRET not in result.stderr + result.stdout  # not even with --debug


def test_refused_notification_exits_1_after_printing(budgets):
    with webhook(404) as hook:
        result = _forecast(
            *budgets, "--history", "7d", "-q", "-o", "json",
            env={"FINOPS_NOTIFY_URL": hook.url, "FINOPS_NOTIFY_FORMAT": "json"},
        )  # fmt: skip
    assert result.returncode == 1
    assert json.loads(result.stdout)["kind"] == "forecast"
    error = _one_line_error(result)
    assert "HTTP 404" in error and SECRET not in error
    assert hook.bodies[0]["kind"] == "forecast" and hook.bodies[0]["document"]["rows"]
