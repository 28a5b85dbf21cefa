"""The installed ``finops billing``: the sample bill, FOCUS files written here, and Cost Explorer
through a local endpoint that speaks its protocol (real boto3, signing, retries and caching)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from finops_cli.sample.bill import (
    OUTSIDE_ID,
    OUTSIDE_TYPE,
    RESERVATION_TYPE,
    SampleBill,
    write_focus,
)
from tests.support.cli import run_finops, run_python
from tests.support.fake_ce import FAKE_KEY_ID, FAKE_SECRET, aws_env, fake_cost_explorer

START, END = "2026-10-05", "2026-10-08"


def _one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("finops: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1]


def _json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def focus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("focus") / "bill.csv.gz"
    items = SampleBill().line_items(
        datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC), datetime.now(UTC)
    )
    write_focus(items, path, version="1.3", file_format="csv.gz")
    return path, items


def test_actual_on_the_sample_bill_json_contract():
    doc = _json(
        run_finops("billing", "actual", "--source", "sample", "--window", "3d", "-o", "json")
    )
    assert doc["schema_version"] == "1" and doc["kind"] == "billing-actual"
    assert doc["source"] == "sample" and doc["currency"] == "USD"
    assert set(doc["window"]) >= {"start", "end"} and doc["generated_at"].endswith("Z")
    assert doc["group_by"] == ["team"]
    for row in doc["rows"]:
        assert {"team", "cost", "currency", "estimated"} <= set(row)
    teams = [r["team"] for r in doc["rows"]]
    assert "__untagged__" in teams and teams[-1] == "__untagged__"
    assert sum(r["cost"] for r in doc["rows"]) == pytest.approx(doc["totals"]["cost"], abs=1e-4)
    assert doc["requests"] == {"paid": 0, "cached": 0}


def test_actual_from_a_focus_file_groups_by_the_team_tag(focus_file):
    path, items = focus_file
    doc = _json(
        run_finops(
            "billing",
            "actual",
            "--focus",
            path,
            "--start",
            START,
            "--end",
            END,
            "--all-services",
            "-o",
            "json",
            "-q",
        )
    )
    assert doc["source"] == "focus" and doc["window"]["end"] == "2026-10-08T00:00:00Z"
    expected: dict[str, float] = {}
    for it in items:
        team = it.tags.get("team", "__untagged__")
        expected[team] = expected.get(team, 0.0) + it.billed_cost
    got = {r["team"]: r["cost"] for r in doc["rows"]}
    assert got.keys() == expected.keys()
    for team, cost in expected.items():
        assert got[team] == pytest.approx(cost, abs=1e-4)


def test_actual_csv_and_table(focus_file):
    path, _ = focus_file
    common = ["billing", "actual", "--focus", path, "--start", START, "--end", END, "-q"]
    result = run_finops(*common, "--by", "instance-type", "--by", "purchase-option", "-o", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[:4] == ["instance_type", "purchase_option", "cost", "currency"]
    table = run_finops(*common, "-o", "table", env={"COLUMNS": "140"})
    assert table.returncode == 0 and "__untagged__" in table.stdout


def test_compare_on_the_sample_finds_the_planted_discrepancies():
    result = run_finops("billing", "compare", "--start", START, "--end", END, "-o", "json")
    doc = _json(result)
    assert doc["kind"] == "billing-compare" and doc["source"] == "sample"
    assert doc["bill_source"] == "sample" and doc["metric"] == "AmortizedCost"
    for row in doc["rows"]:
        assert {"group", "estimated_cost", "billed_cost", "difference", "difference_pct"} <= set(
            row
        )
    flagged = {r["group"]: r for r in doc["rows"] if r["flagged"]}
    # and the idle g5.12xlarge capacity reservation: billed, run by no node
    assert set(flagged) == {"p5.48xlarge", "g6.xlarge", OUTSIDE_TYPE, RESERVATION_TYPE}
    assert flagged["p5.48xlarge"]["difference_pct"] == pytest.approx(-0.28)
    assert 0 < doc["totals"]["explained_share"] < 1
    assert "SAMPLE" in result.stderr


def test_compare_with_focus_names_the_outside_instance_and_can_fail(focus_file):
    path, _ = focus_file
    args = ["billing", "compare", "--focus", path, "--start", START, "--end", END, "-q"]
    doc = _json(run_finops(*args, "-o", "json"))
    assert doc["bill_source"] == "focus"
    outside = next(r for r in doc["rows"] if r["group"] == OUTSIDE_TYPE)
    assert outside["outside_resources"] == [OUTSIDE_ID]
    failing = run_finops(*args, "-o", "json", "--fail-on-flagged")
    assert failing.returncode == 3
    assert json.loads(failing.stdout)["flagged"] == 4  # the data still reaches stdout
    assert "differ from the bill" in _one_line_error(failing)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["billing", "actual", "--explain"], "--athena"),
        (["billing", "actual", "--by", "colour"], "--by"),
        (["billing", "actual", "--focus", "/nonexistent/bill.csv"], "no such file"),
        (  # inside one UTC day whatever the clock says (--window 12h is not, after noon)
            [
                "billing",
                "compare",
                "--start",
                "2026-11-20T03:00:00Z",
                "--end",
                "2026-11-20T15:00:00Z",
            ],
            "whole UTC day",
        ),
        (["billing", "actual", "--athena", "just_a_table"], "no database"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args, needle, tmp_path):
    result = run_finops(*args, env=aws_env(None, str(tmp_path)))
    assert result.returncode == 2, result.stderr
    assert needle in _one_line_error(result)
    assert result.stdout == ""


def test_a_bad_focus_file_names_file_row_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "BilledCost,ChargePeriodStart,BillingPeriodEnd,BillingCurrency,ProviderName,"
        "ServiceCategory,ChargeCategory\n"
        "1,2026-10-05T00:00:00Z,2026-11-01T00:00:00Z,USD,AWS,Compute,Usage\n"
        "oops,2026-10-05T01:00:00Z,2026-11-01T00:00:00Z,USD,AWS,Compute,Usage\n"
    )
    result = run_finops("billing", "actual", "--focus", path, "--start", START, "--end", END)
    assert result.returncode == 2
    line = _one_line_error(result)
    assert str(path) in line and "row 3, column BilledCost: not a number" in line


# ---- Cost Explorer through a local endpoint --------------------------------------------------
def test_cost_explorer_pages_cache_and_counts_paid_calls(tmp_path):
    with fake_cost_explorer(page_size=10) as fake:
        env = aws_env(fake.url, str(tmp_path))
        args = ("billing", "actual", "--window", "15d", "--by", "team", "-o", "json", "--debug")
        first = run_finops(*args, env=env)
        doc = _json(first)
        assert doc["source"] == "cost-explorer" and doc["requests"] == {"paid": 2, "cached": 0}
        assert "2 paid request(s) ($0.02)" in first.stderr
        assert len(fake.requests) == 2 and "NextPageToken" in fake.requests[1][1]
        assert any(r["team"] == "__untagged__" for r in doc["rows"])
        assert any(r["estimated"] for r in doc["rows"])
        second = run_finops(*args, env=env)
        assert _json(second)["requests"] == {"paid": 0, "cached": 2}
        assert "0 paid request(s)" in second.stderr and len(fake.requests) == 2
        third = run_finops(*args, "--no-cache", env=env)
        assert _json(third)["requests"]["paid"] == 2 and len(fake.requests) == 4
        for result in (first, second, third):  # not even --debug shows a key
            for secret in (FAKE_KEY_ID, FAKE_SECRET):
                assert secret not in result.stdout + result.stderr
    cached = list((tmp_path / "finops" / "cost-explorer").glob("*.json"))
    assert len(cached) == 1


def test_cost_explorer_throttling_is_retried(tmp_path):
    with fake_cost_explorer(throttle=2) as fake:
        result = run_finops(
            "billing",
            "actual",
            "--window",
            "2d",
            "-o",
            "json",
            "--no-cache",
            env=aws_env(fake.url, str(tmp_path)),
        )
        assert _json(result)["requests"]["paid"] == 1
        assert len(fake.requests) == 3


def test_cost_explorer_access_denied_says_what_to_do(tmp_path):
    with fake_cost_explorer(
        deny="User: arn:aws:iam::123456789012:user/ci is not authorized"
    ) as fake:
        result = run_finops(
            "billing", "actual", "--window", "2d", env=aws_env(fake.url, str(tmp_path))
        )
    assert result.returncode == 1
    assert "grant ce:GetCostAndUsage" in _one_line_error(result)


def test_no_credentials_is_a_usage_error(tmp_path):
    result = run_finops(
        "billing", "actual", "--window", "2d", env=aws_env(None, str(tmp_path), credentials=False)
    )
    assert result.returncode == 2
    assert "no AWS credentials" in _one_line_error(result)


def test_forecast_through_cost_explorer(tmp_path):
    with fake_cost_explorer() as fake:
        doc = _json(
            run_finops(
                "billing", "forecast", "-o", "json", "-q", env=aws_env(fake.url, str(tmp_path))
            )
        )
    assert doc["kind"] == "billing-forecast"
    today = datetime.now(UTC).date()
    assert doc["forecast"]["start"] == today.isoformat()
    fc, mtd, end = doc["forecast"], doc["month_to_date"], doc["month_end"]
    assert fc["lower"] <= fc["mean"] <= fc["upper"]
    assert end["mean"] == pytest.approx(mtd["cost"] + fc["mean"], abs=1e-4)
    if today.day > 1:
        assert mtd["cost"] > 0
    assert (datetime.fromisoformat(fc["end"]) - timedelta(days=1)).month == today.month


def test_help_lists_the_billing_commands_and_startup_stays_light():
    result = run_finops("billing", "--help")
    assert result.returncode == 0
    for command in ("actual", "forecast", "compare"):
        assert command in result.stdout
    code = (
        "import finops_cli.cli.app, sys; "
        "print(sorted(m for m in ('boto3', 'botocore', 'pyarrow', 'duckdb') if m in sys.modules))"
    )
    probe = run_python(code)
    assert probe.returncode == 0 and probe.stdout.strip() == "[]"
