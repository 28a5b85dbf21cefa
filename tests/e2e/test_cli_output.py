"""The one output path: report files' permissions, the CSV formula guard on every command
(``pricing list`` included), and explicit windows honoured by ``report``."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.support.cli import run_finops

FAST = ("--by", "team", "--no-details", "-q", "--source", "sample")


@pytest.fixture
def umask() -> Iterator[None]:
    """Run with ``umask 022`` unless the test sets its own; the caller's umask is put back."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077])
@pytest.mark.usefixtures("umask")
def test_report_files_are_private_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    """A chargeback report holds every team's spend: 0600, not the 0644 it used to be."""
    os.umask(mask)
    target = tmp_path / "chargeback.json"
    result = run_finops(
        "report", "chargeback", "--month", "2026-10", "-f", "json", "--output-file", target, *FAST
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text(encoding="utf-8"))["kind"] == "chargeback"
    assert [p.name for p in tmp_path.iterdir()] == ["chargeback.json"]  # no temporary left


def test_pricing_csv_guards_formulas(tmp_path: Path) -> None:
    """A catalog row is user input (``pricing.extra_catalog``): its text cells must stay text."""
    header = (
        "provider,instance_type,region,gpu_model,gpu_count,gpu_memory_gib,vcpu,memory_gib,"
        "on_demand_hourly,spot_hourly,as_of,source,verified"
    )
    row = 'aws,p9.evil,us-east-1,"=HYPERLINK(""http://x"")",1,80,8,64,9.5,,2026-11-01,@SUM(A1),true'
    extra = tmp_path / "extra.csv"
    extra.write_text(f"{header}\n{row}\n", encoding="utf-8")
    config = tmp_path / "finops.toml"
    config.write_text(f"[pricing]\nextra_catalog = {json.dumps(str(extra))}\n", encoding="utf-8")
    result = run_finops("pricing", "list", "--gpu", "HYPERLINK", "--config", config, "-o", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1, result.stdout
    assert rows[0]["gpu_model"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["source"] == "'@SUM(A1)"
    document = run_finops("pricing", "list", "--gpu", "HYPERLINK", "--config", config, "-o", "json")
    assert json.loads(document.stdout)["rows"][0]["gpu_model"] == '=HYPERLINK("http://x")'


def test_report_honours_an_explicit_7d_window() -> None:
    """``--window 7d`` is the shared options' default value, but given, it is the period."""
    result = run_finops(
        "report", "chargeback", "--window", "7d", "-f", "json", "--output-file", "-", *FAST
    )
    assert result.returncode == 0, result.stderr
    period = json.loads(result.stdout)["period"]
    start = datetime.fromisoformat(period["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(period["end"].replace("Z", "+00:00"))
    assert period["kind"] == "custom"
    assert end - start == timedelta(days=7)
    # Without any window option the period is still the last complete month.
    default = run_finops("report", "chargeback", "-f", "json", "--output-file", "-", *FAST)
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout)["period"]["kind"] == "month"
