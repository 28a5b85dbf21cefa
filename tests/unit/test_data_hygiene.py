"""Data hygiene: stale and unpriced catalog rows, JSON booleans, option ranges, corrupt Parquet.

Commands run in-process through the real entry point (``tests.support.inprocess``), on the
sample cluster and the packaged catalog.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from finops_cli.pricing import load_catalog
from finops_cli.pricing.catalog import STALE_AFTER_DAYS, staleness_note
from tests.support.inprocess import run_inprocess

# ---- the price catalog ------------------------------------------------------------------------


def test_staleness_rule():
    today = date(2026, 12, 6)
    fresh = date(2026, 11, 1)
    assert staleness_note([fresh], today) is None
    edge = date.fromordinal(today.toordinal() - STALE_AFTER_DAYS)
    assert staleness_note([edge], today) is None  # exactly the documented age: not yet stale
    note = staleness_note([fresh, date(2025, 6, 5), date(2025, 1, 1)], today)
    assert note is not None
    assert "2 of 3 catalog prices are over 180 days old" in note
    assert "2025-01-01 to 2025-06-05" in note and "finops pricing refresh" in note


def test_lookups_record_the_dates_of_the_prices_they_used():
    catalog = load_catalog()
    assert catalog.staleness_note(date(2025, 6, 6)) is None  # nothing looked up yet
    assert catalog.lookup("p5.48xlarge", "us-east-1") is not None
    assert catalog.staleness_note(date(2025, 6, 6)) is None
    note = catalog.staleness_note(date(2026, 12, 6))
    assert note is not None and "1 of 1" in note


def test_pricing_list_flags_unpriced_rows_and_stale_prices(tmp_path):
    run = run_inprocess("pricing", "list", "-o", "json", home=tmp_path)
    assert run.code == 0, run.stderr
    doc = json.loads(run.stdout)
    unpriced = {r["instance_type"] for r in doc["rows"] if not r["priced"]}
    assert unpriced == {r["instance_type"] for r in doc["rows"] if r["effective_per_gpu"] is None}
    assert unpriced == {"p5e.48xlarge", "g2-standard-4"}  # documented in pricing/README.md
    assert all(isinstance(r["priced"], bool) for r in doc["rows"])
    assert any("unpriced: aws p5e.48xlarge" in n for n in doc["notes"])
    # The packaged rows are dated 2025; the run's clock is the real one, so they are stale
    # whenever the tests run after mid-2025 + 180 days, which is always from now on.
    if (datetime.now().date() - date(2025, 6, 5)).days > STALE_AFTER_DAYS:
        assert any(n.startswith("stale prices:") for n in doc["notes"])
        assert "finops: warning: stale prices:" in run.stderr
    assert "finops: warning: unpriced:" in run.stderr


def test_verified_is_a_json_boolean(tmp_path):
    run = run_inprocess("pricing", "list", "-o", "json", home=tmp_path)
    rows = json.loads(run.stdout)["rows"]
    assert {type(r["verified"]) for r in rows} == {bool}
    assert {r["verified"] for r in rows} == {True, False}
    csv_run = run_inprocess("pricing", "list", "-o", "csv", home=tmp_path)
    header = csv_run.stdout.splitlines()[0]
    assert "priced" in header.split(",") and "verified" in header.split(",")


def test_pricing_list_table_says_unpriced(tmp_path):
    from rich.console import Console

    from finops_cli.render.pricing import render_table

    run = run_inprocess("pricing", "list", "--gpu", "h200", "-o", "json", home=tmp_path)
    console = Console(width=400, record=True)
    console.print(render_table(json.loads(run.stdout), width=400))
    assert "unpriced" in console.export_text()


def test_rightsize_notes_stale_catalog_prices(tmp_path):
    run = run_inprocess("rightsize", "--window", "7d", "-o", "json", home=tmp_path)
    assert run.code == 0, run.stderr
    notes = json.loads(run.stdout)["notes"]
    if (datetime.now().date() - date(2025, 6, 5)).days > STALE_AFTER_DAYS:
        assert any(n.startswith("stale prices:") for n in notes)


# ---- numeric option ranges ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("rightsize", "--min-savings", "-5"), "--min-savings"),
        (("rightsize", "--min-savings", "nan"), "--min-savings"),
        (("anomalies", "--min-impact", "-1"), "--min-impact"),
        (("anomalies", "--min-impact", "inf"), "--min-impact"),
        (("billing", "compare", "--threshold", "-1"), "--threshold"),
        (("billing", "compare", "--threshold", "nan"), "--threshold"),
        (("billing", "forecast", "--prediction-interval", "20"), "--prediction-interval"),
        (("billing", "forecast", "--prediction-interval", "100"), "--prediction-interval"),
        (("deploy", "--target", "kind", "--timeout", "0"), "--timeout"),
        (("costs", "--timeout", "-3"), "timeout"),
        (("costs", "--max-concurrency", "0"), "max_concurrency"),
    ],
)
def test_out_of_range_numbers_are_one_line_usage_errors(tmp_path, args, flag):
    run = run_inprocess(*args, home=tmp_path)
    assert run.crash is None
    assert run.code == 2, run.stderr
    assert run.stdout == ""
    (line,) = run.error_lines
    assert flag in line and "Traceback" not in run.stderr


def test_zero_is_a_valid_minimum(tmp_path):
    run = run_inprocess("rightsize", "--min-savings", "0", "-o", "json", home=tmp_path)
    assert run.code == 0, run.stderr


# ---- corrupt Parquet ----------------------------------------------------------------------------


@pytest.fixture
def parquet_bytes(tmp_path: Path) -> bytes:
    from datetime import UTC

    from finops_cli.sample.bill import SampleBill, write_focus

    items = SampleBill().line_items(
        datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 3, tzinfo=UTC), datetime.now(UTC)
    )
    path = tmp_path / "good.parquet"
    write_focus(items, path, version="1.2", file_format="parquet")
    return path.read_bytes()


def _focus_error(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    run = run_inprocess(
        "billing",
        "actual",
        "--focus",
        str(path),
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-03",
        home=tmp_path,
    )
    assert run.crash is None and run.code == 2, run.stderr
    (line,) = run.error_lines
    assert str(path) in line
    return line


def test_corrupt_parquet_is_named_for_what_it_is(tmp_path, parquet_bytes):
    data = parquet_bytes
    assert "does not end with the Parquet magic bytes" in _focus_error(
        tmp_path, "truncated.parquet", data[: len(data) // 2]
    )
    assert "does not start with the Parquet magic bytes" in _focus_error(
        tmp_path, "head.parquet", b"XXXX" + data[4:]
    )
    assert "empty file (0 bytes)" in _focus_error(tmp_path, "empty.parquet", b"")
    body = bytearray(data)
    body[200:2000] = b"\x55" * 1800
    message = _focus_error(tmp_path, "body.parquet", bytes(body))
    assert "corrupt Parquet data in row group 1 of 1" in message and "column " in message
    assert "header" not in message


def test_a_csv_named_parquet_is_still_read(tmp_path):
    """The kind comes from the bytes: a text file under a .parquet name is read as CSV."""
    sample = Path(__file__).resolve().parent.parent / "fixtures" / "focus"
    path = tmp_path / "mislabelled.parquet"
    path.write_bytes((sample / "focus_sample_shaped.csv").read_bytes())
    run = run_inprocess(
        "billing", "actual", "--focus", str(path), "--start", "2024-09-01", "--end", "2024-09-04",
        "-o", "json", home=tmp_path,
    )  # fmt: skip
    assert run.code == 0, run.stderr
