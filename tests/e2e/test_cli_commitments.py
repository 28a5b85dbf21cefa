"""``finops billing commitments`` through the installed CLI: the JSON envelope, CSV, a table that
fits 80 and 120 columns, --fail-on gates exiting 3 (data still on stdout), bad gates exiting 2."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.support import focus_commitments as fx
from tests.support.cli import run_finops

WINDOW = ["--start", "2026-10-01", "--end", "2026-10-04"]


@pytest.fixture(scope="module")
def bill(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bill")
    fx.write_csv(fx.aws_rows(), fx.AWS_COLUMNS, folder / "aws.csv", "NULL")
    fx.write_csv(fx.azure_rows(), fx.AZURE_COLUMNS, folder / "azure.csv", "")
    return folder


def test_json_document_and_gates(bill):
    result = run_finops(
        *["billing", "commitments", "--focus", str(bill), *WINDOW, "-o", "json",
         "--fail-on", "utilisation<0.6", "--fail-on", "coverage<10%"]
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    document = json.loads(result.stdout)
    assert document["schema_version"] == "1"
    assert document["kind"] == "billing-commitments"
    assert document["window"]["start"] == "2026-10-01T00:00:00Z"
    ids = {o["reservation_id"]: o for o in document["overlaps"]}
    assert ids[fx.ODCR]["hours"] == 10.0
    tripped = document["fail_on"]["tripped"]
    assert len(tripped) == 1 and tripped[0].startswith("utilisation<0.6")
    assert "--fail-on utilisation<0.6" in result.stderr.splitlines()[-1]


def test_no_gate_trips_exit_0_and_csv(bill):
    result = run_finops(
        *["billing", "commitments", "--focus", str(bill), *WINDOW, "-o", "csv", "--fail-on",
         "unused>100000"]
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["record"] for r in rows} == {"commitment", "family", "coverage", "overlap"}


@pytest.mark.parametrize("width", [80, 120])
def test_table_fits(bill, width):
    result = run_finops(
        *["billing", "commitments", "--focus", str(bill), *WINDOW, "-o", "table"],
        env={"COLUMNS": str(width)},
    )
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= width


def test_bad_gate_is_a_usage_error(bill):
    result = run_finops(*["billing", "commitments", "--focus", str(bill), "--fail-on", "foo<1"])
    assert result.returncode == 2
    assert result.stderr.startswith("finops: error: invalid --fail-on 'foo<1'")
    assert "Traceback" not in result.stderr


def test_plan_json_with_a_job_and_its_own_start():
    result = run_finops(
        "billing", "plan", "--window", "3d", "--gpus", "64", "--type", "p5.48xlarge", "--days",
        "14", "--start", "2027-01-04", "-o", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["kind"] == "billing-plan"
    assert document["baseline"]["beats_no_commitment"] is True
    assert document["baseline"]["backtests"][0]["savings"] > 0
    assert document["job"]["start"] == "2027-01-04T00:00:00Z"
    assert {o["option"] for o in document["job"]["options"]} == {
        "on-demand", "capacity-block", "savings-plan", "spot",
    }  # fmt: skip


def test_plan_job_flags_go_together():
    result = run_finops("billing", "plan", "--gpus", "8")
    assert result.returncode == 2
    assert "needs --gpus, --type and --days together" in result.stderr


def test_focus_and_athena_conflict(bill):
    result = run_finops(
        "billing", "commitments", "--focus", str(bill), "--athena", "billing.focus_export"
    )
    assert result.returncode == 2
    assert "--focus and --athena conflict" in result.stderr.splitlines()[-1]


def test_the_sample_bill_has_unused_commitment_and_an_idle_reservation():
    """Ground truth of the sample: the Savings Plan commits 85.00/h, both p5 nodes use
    2 x 55.04 x 0.72 = 79.2576/h of it; one g5.12xlarge reservation slot idles every hour while
    the cluster's two g5.12xlarge nodes run on demand."""
    from finops_cli.sample.bill import (
        ON_DEMAND_PRICE,
        RESERVATION_ID,
        RESERVATION_TYPE,
        SAVINGS_PLAN_ARN,
        SAVINGS_PLAN_HOURLY,
    )

    result = run_finops(
        "billing", "commitments", "--source", "sample", "--start", "2026-10-05", "--end",
        "2026-10-08", "-o", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    got = {c["id"]: c for c in document["commitments"]}
    hours = 72
    sp_unused = (SAVINGS_PLAN_HOURLY - 2 * 55.04 * 0.72) * hours
    assert round(sp_unused, 2) == 413.45
    assert round(got[SAVINGS_PLAN_ARN]["unused"], 2) == round(sp_unused, 2)
    assert round(got[SAVINGS_PLAN_ARN]["committed"], 2) == SAVINGS_PLAN_HOURLY * hours
    reserved = ON_DEMAND_PRICE[RESERVATION_TYPE] * hours
    assert round(got[RESERVATION_ID]["unused"], 2) == round(reserved, 2) == 408.38
    assert got[RESERVATION_ID]["utilisation"] == 0.0
    assert round(document["totals"]["unused"], 2) == round(sp_unused + reserved, 2)
    (overlap,) = document["overlaps"]
    assert overlap["reservation_id"] == RESERVATION_ID and overlap["hours"] == hours
    assert round(overlap["money"], 2) == round(reserved, 2)


def test_plan_on_the_sample_beats_no_commitment_and_says_by_how_much():
    result = run_finops("billing", "plan", "--window", "3d", "-o", "json", "-q")
    assert result.returncode == 0, result.stderr
    baseline = json.loads(result.stdout)["baseline"]
    recommended = baseline["backtests"][0]
    assert baseline["beats_no_commitment"] is True
    assert recommended["savings"] == pytest.approx(
        recommended["cost_without"] - recommended["cost_with"], abs=1e-3
    )
    assert recommended["savings"] > 0 and recommended["savings_pct"] > 0
    table = run_finops("billing", "plan", "--window", "3d", "-o", "table", "-q")
    said = f"{recommended['savings']:,.2f} ({100 * recommended['savings_pct']:.1f}%)"
    assert said in table.stdout


def test_savings_plan_rates_from_the_offer_file_price_the_plan(tmp_path):
    from pathlib import Path

    offer = Path(__file__).parents[1] / "fixtures" / "pricing" / "savings-plan-offer.json"
    rates = tmp_path / "aws-commitments.csv"
    written = run_finops(
        "pricing", "savings-plans", "--offer", str(offer), "--output-file", str(rates)
    )
    assert written.returncode == 0, written.stderr
    assert "Savings Plan rate(s)" in written.stderr and rates.exists()
    result = run_finops(
        *["billing", "plan", "--window", "3d", "--gpus", "8", "--type", "p5.48xlarge", "--days",
          "1", "--rates", str(rates), "-o", "json", "-q"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["baseline"]["discount"] == pytest.approx(0.25)  # 41.28 / 55.04
    assert not any("ASSUMPTION" in n for n in document["notes"])
    options = {o["option"]: o for o in document["job"]["options"]}
    assert options["savings-plan"]["cost"] == pytest.approx(41.28 * 24, abs=0.01)


def test_a_bad_offer_file_is_one_line(tmp_path):
    bad = tmp_path / "offer.json"
    bad.write_text('{"products": []}')
    result = run_finops("pricing", "savings-plans", "--offer", str(bad), "--output-file",
                        str(tmp_path / "out.csv"))  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("finops: error: ")
    assert "Traceback" not in result.stderr
