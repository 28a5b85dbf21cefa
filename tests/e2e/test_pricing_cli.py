"""``finops pricing``: the catalog as users see it, the explanation of prices, refresh errors."""

from __future__ import annotations

import csv
import io
import json

from tests.support.cli import run_finops

NO_AWS = {
    "AWS_EC2_METADATA_DISABLED": "true",  # never reach for an instance role from a test
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
}


def test_list_shows_post_cut_prices_with_dates_and_sources():
    result = run_finops("pricing", "list", "--provider", "aws", "-o", "csv")
    assert result.returncode == 0, result.stderr
    rows = {r["instance_type"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert float(rows["p5.48xlarge"]["on_demand_hourly"]) == 55.04  # not the pre-2025 98.32
    assert float(rows["p5.48xlarge"]["per_gpu_on_demand"]) == 6.88
    assert all(r["as_of"] and r["source"] for r in rows.values())


def test_discount_override_changes_the_effective_price(tmp_path):
    (tmp_path / "finops.toml").write_text("[pricing]\ndiscount_percent = 10\n")
    result = run_finops("pricing", "list", "--provider", "aws", "-o", "json", cwd=tmp_path)
    row = next(r for r in json.loads(result.stdout)["rows"] if r["instance_type"] == "p5.48xlarge")
    assert row["effective_per_gpu"] == 6.192
    assert "discount" in row["price_source"]


def test_explain_shows_the_price_charged_and_the_catalog_price():
    result = run_finops("pricing", "explain", "--window", "1d", "-o", "json", "-q")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    p5 = next(r for r in rows if r["instance_type"] == "p5.48xlarge")
    assert p5["catalog_per_gpu"] == 6.88 and p5["charged_per_gpu"] > 0
    assert p5["catalog_source"].startswith("catalog:aws.csv")


def test_refresh_without_credentials_is_one_line_exit_1(tmp_path):
    result = run_finops("pricing", "refresh", "--output-file", str(tmp_path / "p.csv"), env=NO_AWS)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "credential" in lines[0].lower()
    assert not (tmp_path / "p.csv").exists()
