"""The installed ``finops`` command: exit codes, streams and the output contract."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.support.cli import run_finops


def _one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("finops: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_sample_source_json_contract():
    result = run_finops("costs", "--window", "7d", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert "SAMPLE cluster" in result.stderr  # said once, on stderr
    assert len(result.stderr.strip().splitlines()) == 1
    doc = json.loads(result.stdout)  # stdout is data only
    assert doc["schema_version"] == "1"
    assert doc["source"] == "sample"
    assert set(doc["window"]) >= {"start", "end"}
    assert doc["currency"] == "USD"
    assert doc["group_by"] == ["team"]
    kinds = [r["kind"] for r in doc["rows"]]
    assert kinds[-2:] == ["unallocated", "idle"]
    for row in doc["rows"]:
        assert {"team", "gpu_hours", "gpu_cost", "total_cost", "efficiency"} <= set(row)
    assert {r["team"] for r in doc["rows"]} >= {"research", "nlp", "__unallocated__", "__idle__"}
    assert sum(r["gpu_cost"] for r in doc["rows"]) == pytest.approx(
        doc["totals"]["cluster_gpu_cost"], abs=0.01
    )


def test_quiet_silences_the_banner_and_csv_has_stable_columns():
    result = run_finops("costs", "--window", "24h", "-o", "csv", "--by", "namespace", "-q")
    assert result.returncode == 0
    assert result.stderr == ""
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[:3] == ["namespace", "kind", "gpu_hours"]
    assert rows[-1]["namespace"] == "__idle__"


def test_table_output_when_asked():
    result = run_finops("costs", "--window", "3d", "-o", "table", "-q", env={"COLUMNS": "160"})
    assert result.returncode == 0
    assert "research" in result.stdout and "__idle__" in result.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (["costs", "--window", "nonsense"], "--window"),
        (["costs", "--start", "2026-10-05", "--end", "2026-10-01"], "--end"),
        (["costs", "--window", "7d", "--start", "2026-10-01"], "not both"),
        (["costs", "--by", "colour"], "--by"),
        (["costs", "--by", "team", "--by", "project", "--by", "model"], "at most two"),
        (["costs", "--output", "xml"], "--output"),
        (["costs", "--basic-auth", "nocolon"], "--basic-auth"),
        (["costs", "--prometheus-url", "ftp://x"], "http"),
        (["costs", "--no-such-flag"], "no-such-flag"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, needle):
    result = run_finops(*args)
    assert result.returncode == 2, result.stderr
    assert needle in _one_line_error(result)
    assert result.stdout == ""


def test_bad_config_file_exits_2(tmp_path):
    (tmp_path / "finops.toml").write_text("[prometheus]\nulr = 'http://x'\n")
    result = run_finops("costs", cwd=tmp_path)
    assert result.returncode == 2
    assert "ulr" in _one_line_error(result)


def test_unreachable_prometheus_exits_1_and_hides_secrets():
    secret = "s3cr3t-token-value"
    result = run_finops(
        "costs",
        "--prometheus-url",
        "http://127.0.0.1:9",
        "--timeout",
        "2s",
        "--debug",
        env={"FINOPS_PROMETHEUS_BEARER_TOKEN": secret, "FINOPS_PROMETHEUS_RETRIES": "0"},
    )
    assert result.returncode == 1
    assert secret not in result.stderr and secret not in result.stdout
    assert "cannot reach Prometheus" in result.stderr


def test_unreachable_prometheus_one_line_without_debug():
    result = run_finops(
        "costs",
        "--prometheus-url",
        "http://127.0.0.1:9",
        env={"FINOPS_PROMETHEUS_RETRIES": "0"},
    )
    assert result.returncode == 1
    assert "127.0.0.1:9" in _one_line_error(result)


def test_environment_selects_prometheus_and_flags_win(tmp_path):
    (tmp_path / "finops.toml").write_text('source = "prometheus"\n')
    result = run_finops("costs", "--source", "sample", "-o", "json", "-q", cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout)["source"] == "sample"


def test_gpus_json_rows_carry_the_documented_fields():
    result = run_finops("gpus", "--window", "2d", "-o", "json", "-q")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["kind"] == "gpus" and doc["source"] == "sample"
    for row in doc["rows"]:
        assert {"node", "gpu", "uuid", "model_name", "state", "busy_avg", "cost"} <= set(row)
        assert row["state"] in {"active", "underused", "idle-allocated", "unallocated"}
    summary = json.loads(run_finops("gpus", "--by", "gpu-model", "-o", "json", "-q").stdout)
    assert sum(r["gpus"] for r in summary["rows"]) == len(doc["rows"])
