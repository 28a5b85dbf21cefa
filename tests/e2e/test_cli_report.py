"""`finops report chargeback` end to end on the sample cluster (short windows, no extras)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from tests.support.cli import run_finops

WINDOW = ("--start", "2026-10-05", "--end", "2026-10-07")
FAST = ("--no-details", "-q", "--source", "sample")


@pytest.fixture(scope="module")
def costs_doc():
    result = run_finops("costs", *WINDOW, "-o", "json", "-q", "--source", "sample")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def report_json():
    result = run_finops("report", "chargeback", *WINDOW, *FAST, "-f", "json", "--output-file", "-")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_json_figures_match_costs_to_the_cent(costs_doc, report_json):
    doc = json.loads(report_json)
    assert doc["kind"] == "chargeback"
    assert doc["period"]["label"] == "2026-10-05_2026-10-07"
    assert doc["window"] == {**costs_doc["window"], "label": doc["period"]["label"]}
    expected = {r["team"]: r for r in costs_doc["rows"]}
    assert {r["team"] for r in doc["rows"]} == set(expected)
    for row in doc["rows"]:
        want = expected[row["team"]]
        for field in ("gpu_hours", "gpu_cost", "cpu_ram_cost", "total_cost", "efficiency"):
            assert row[field] == want[field], (row["team"], field)
    assert doc["summary"]["total_cost"] == costs_doc["totals"]["total_cost"]
    assert doc["summary"]["idle_gpu_cost"] == costs_doc["totals"]["idle_gpu_cost"]


def _moment(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_a_window_compares_with_the_span_just_before(report_json):
    doc = json.loads(report_json)
    assert doc["comparison"]["basis"] == "preceding_span"
    assert doc["comparison"]["previous_start"] == "2026-10-03T00:00:00Z"
    assert doc["comparison"]["previous_end"] == doc["period"]["start"]
    assert doc["comparison"]["description"] in doc["notes"]


def test_month_to_date_compares_the_same_span_of_the_previous_month():
    """Issue 18: the current month against the same elapsed span of the month before (clamped
    to that month's end), not against the whole of it."""
    now = datetime.now(UTC)
    month = f"{now:%Y-%m}"
    result = run_finops(
        "report", "chargeback", "--month", month, *FAST, "--format", "json", "--output-file", "-"
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    period, comparison = doc["period"], doc["comparison"]
    assert period["label"] == f"{month}-to-date"
    assert comparison["basis"] == "same_span"
    start, end = _moment(period["start"]), _moment(period["end"])
    before, before_end = _moment(comparison["previous_start"]), _moment(comparison["previous_end"])
    assert start == now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (start.year, start.month - 1) if start.month > 1 else (start.year - 1, 12)
    assert before == start.replace(year=last_month[0], month=last_month[1])
    assert (period["previous_start"], period["previous_end"]) == (
        comparison["previous_start"],
        comparison["previous_end"],
    )
    if comparison["clamped"]:  # the 29th to 31st after a shorter month: all of that month
        assert before_end == start
        assert before_end - before < end - start
    else:
        assert before_end - before == end - start
        assert comparison["previous_hours"] == comparison["hours"]
    assert comparison["description"] in doc["notes"]
    assert doc["sections"]["previous_period"] is True


def test_a_complete_month_compares_whole_months():
    result = run_finops(
        "report", "chargeback", "--month", "2026-10", *FAST, "-f", "json", "--output-file", "-"
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["comparison"] == {
        "basis": "whole_month",
        "previous_start": "2026-09-01T00:00:00Z",
        "previous_end": "2026-10-01T00:00:00Z",
        "hours": 744.0,
        "previous_hours": 720.0,
        "clamped": False,
        "description": "Changes compare the whole month 2026-10 (31 days) with the whole "
        "previous month 2026-09 (30 days).",
    }
    assert doc["comparison"]["description"] in doc["notes"]


def test_json_is_reproducible_with_source_date_epoch(report_json):
    """``generated_at`` is when the report ran; SOURCE_DATE_EPOCH pins it (reproducible builds):
    the same data, options and epoch give the same bytes."""
    args = ("report", "chargeback", *WINDOW, *FAST, "-f", "json", "--output-file", "-")
    pinned = {"SOURCE_DATE_EPOCH": "1700000000"}
    first, again = run_finops(*args, env=pinned), run_finops(*args, env=pinned)
    assert first.stdout == again.stdout
    assert json.loads(first.stdout)["generated_at"] == "2023-11-14T22:13:20Z"
    ran = json.loads(report_json)["generated_at"]
    assert ran > json.loads(report_json)["period"]["end"]  # the clock, not the period's end
    assert first.stdout.replace("2023-11-14T22:13:20Z", ran) == report_json


def test_csv_file_default_name_and_proportional_sum(tmp_path, costs_doc):
    result = run_finops(
        "report", "chargeback", *WINDOW, *FAST, "-f", "csv", "--share-idle", "proportional",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = tmp_path / "chargeback-2026-10-05_2026-10-07.csv"
    assert [p.name for p in tmp_path.iterdir()] == [written.name]
    rows = list(csv.DictReader(io.StringIO(written.read_text(encoding="utf-8"))))
    assert {r["kind"] for r in rows} == {"allocated"}
    charged = sum(float(r["gpu_cost"]) + float(r["shared_idle_cost"]) for r in rows)
    assert charged == pytest.approx(costs_doc["totals"]["cluster_gpu_cost"], abs=0.005)
    assert {r["share_idle"] for r in rows} == {"proportional"}


def test_cost_center_grouping_from_the_annotation():
    """--by cost-center reads the ai-finops.io/cost-center pod annotation: the rows are those of
    `finops costs --by cost-center`, to the cent."""
    result = run_finops(
        "report", "chargeback", *WINDOW, *FAST, "-f", "json", "--output-file", "-",
        "--by", "cost-center",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["group_by"] == "cost_center"
    costs = run_finops("costs", *WINDOW, "--by", "cost-center", "-o", "json", "-q")
    assert costs.returncode == 0, costs.stderr
    expected = {r["cost_center"]: r for r in json.loads(costs.stdout)["rows"]}
    assert {r["cost_center"] for r in doc["rows"]} == set(expected)
    assert {"NLP-210", "NLP-220", "__unallocated__", "__idle__"} <= set(expected)
    for row in doc["rows"]:
        want = expected[row["cost_center"]]
        for field in ("gpu_hours", "gpu_cost", "cpu_ram_cost", "total_cost", "efficiency"):
            assert row[field] == want[field], (row["cost_center"], field)


def test_cost_centers_mapping_option_is_gone(tmp_path):
    mapping = tmp_path / "cc.csv"
    mapping.write_text("team,cost_center\nnlp,CC-1\n", encoding="utf-8")
    result = run_finops(
        "report", "chargeback", *WINDOW, *FAST, "-f", "json", "--output-file", "-",
        "--by", "cost-center", "--cost-centers", str(mapping),
    )  # fmt: skip
    assert result.returncode == 2
    assert "--cost-centers" in result.stderr


def test_pdf_written(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    out = tmp_path / "r.pdf"
    result = run_finops(
        "report", "chargeback", *WINDOW, *FAST, "--output-file", str(out), "--share-idle",
        "proportional",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = pypdf.PdfReader(out).pages[0].extract_text()
    assert "GPU chargeback" in text
    assert "Page 1 of" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--month", "2026-13"), "invalid --month '2026-13'"),
        (("--month", "2026-10", "--period", "weekly"), "conflict"),
        (("--month", "2026-10", "--output-file", "-"), "cannot go to stdout"),
        # The document's format is --format: -o would be accepted and ignored.
        (("--month", "2026-10", "-o", "json"), "No such option: -o"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, args, message):
    result = run_finops("report", "chargeback", *args, *FAST, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_leaves_no_file(tmp_path):
    target = tmp_path / "missing" / "r.json"
    result = run_finops(
        "report", "chargeback", *WINDOW, *FAST, "-f", "json", "--output-file", str(target)
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert not target.parent.exists()
