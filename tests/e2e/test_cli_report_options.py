"""`finops report chargeback --by cluster / --energy / --commitments` through the installed CLI."""

from __future__ import annotations

import json

from tests.support.cli import run_finops

WINDOW = ("--start", "2026-10-05", "--end", "2026-10-07", "--no-details", "-q")


def test_cluster_energy_and_the_sample_bill():
    result = run_finops(
        "report", "chargeback", *WINDOW, "--source", "sample", "--energy", "--commitments",
        "-f", "json", "--output-file", "-",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["sections"]["energy"] and doc["sections"]["commitments"]
    assert sum(r["energy_kwh"] for r in doc["rows"] if r["energy_kwh"]) > 0
    assert doc["rows"][-1]["team"] == "__unused_commitment__"
    assert doc["summary"]["commitment_discount"] > 0
    by_cluster = run_finops(
        "report", "chargeback", *WINDOW, "--source", "sample", "--by", "cluster",
        "-f", "json", "--output-file", "-",
    )  # fmt: skip
    assert by_cluster.returncode == 0, by_cluster.stderr
    rows = json.loads(by_cluster.stdout)["rows"]
    assert [(r["cluster"], r["kind"]) for r in rows] == [
        ("sample", "allocated"),
        ("sample", "unallocated"),
        ("sample", "idle"),
    ]


def test_the_bill_options_are_checked_before_any_query():
    result = run_finops(
        "report", "chargeback", *WINDOW, "--prometheus-url", "http://127.0.0.1:1",
        "--commitments", "-f", "json", "--output-file", "-",
    )  # fmt: skip
    assert result.returncode == 2
    assert "--focus PATH" in result.stderr
