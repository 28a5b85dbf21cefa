"""The installed ``finops anomalies`` on the sample cluster: the base cast's planted sweep is
found, the rest of its strong daily/weekly rhythm is not; exit codes 0/2/3; notifications."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from finops_cli.sample.simulate import SampleCluster
from tests.support.cli import run_finops
from tests.support.webhook import webhook

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
ARGS = ("--as-of", "2026-11-20", "--window", "7d", "--baseline", "14d")


def _sweep_start() -> str:
    """When the defect-sweep of seed 42 starts in the week before 2026-11-20 (from schedules)."""
    import numpy as np

    cluster = SampleCluster(42)
    sweep = next(w for w in cluster.workloads if w.name == "defect-sweep")
    quanta = np.arange(1794787200, 1795132800, 900, dtype=np.int64)  # 2026-11-16 .. 2026-11-20
    first = int(quanta[cluster.runs_at(sweep, quanta) >= 0][0])
    return f"{first // 3600 * 3600}"


def test_the_sweep_is_found_and_nothing_else(tmp_path):
    result = run_finops("anomalies", *ARGS, "--fail-on-anomaly", "critical", "-o", "json", "-q")
    assert result.returncode == 3, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["schema_version"], doc["kind"], doc["method"]) == ("1", "anomalies", "seasonal")
    assert {"source", "window", "generated_at", "currency", "rows", "summary"} <= set(doc)
    assert doc["window"] == {
        "start": "2026-11-13T00:00:00Z",
        "end": "2026-11-20T00:00:00Z",
        "label": "7d ending 2026-11-20",
    }
    for row in doc["rows"]:
        assert {"team", "metric", "at", "actual", "expected", "severity", "impact"} <= set(row)
        assert RFC3339_UTC.fullmatch(row["at"])
    found = {(r["team"], r["metric"]) for r in doc["rows"]}
    assert found == {("vision", "hourly_cost"), ("vision", "daily_cost")}
    hourly = next(r for r in doc["rows"] if r["metric"] == "hourly_cost")
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(int(_sweep_start()), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert hourly["at"] == start
    assert hourly["severity"] == "critical" and hourly["direction"] == "up"
    assert 14 <= hourly["buckets"] <= 15
    assert hourly["impact"] == pytest.approx(346.75, rel=0.02)  # 4 H100s x 14 h
    assert hourly["actual"] > 10 * hourly["expected"]
    assert "vision" in hourly["reason"] and "\n" not in hourly["reason"]
    assert len(doc["fail_on"]["tripped"]) == 2
    assert "--fail-on-anomaly critical" in result.stderr


def test_filters_leave_nothing_to_trip_and_csv():
    result = run_finops(
        "anomalies", *ARGS, "--team", "vision", "--min-impact", "400",
        "--fail-on-anomaly", "info", "-o", "csv", "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows == []
    assert result.stdout.startswith("team,metric,at,end,")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--since", "tomorrow"), "invalid --since 'tomorrow'"),
        (("--since", "2026-11-21", "--as-of", "2026-11-20"), "must be before --as-of"),
        (("--baseline", "2h"), "invalid --baseline"),
        (("--as-of", "2026-11-20", "--end", "2026-11-19"), "--as-of and --end"),
        (("--method", "magic"), "--method"),
        (("--notify", "not-a-url"), "invalid --notify URL"),
    ],
)
def test_usage_errors_exit_2(args, needle):
    result = run_finops("anomalies", *args, "-o", "json")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.stderr


def test_generic_json_notification():
    with webhook(200) as hook:
        result = run_finops(
            "anomalies", *ARGS, "--notify", hook.url, "--notify-format", "json", "-o", "json"
        )
    assert result.returncode == 0, result.stderr
    (body,) = hook.bodies
    assert body["kind"] == "anomalies" and body["summary"].startswith("finops anomalies: 2 found")
    assert len(body["findings"]) == 2 and body["document"]["rows"]
    assert "SECRET" not in result.stderr
