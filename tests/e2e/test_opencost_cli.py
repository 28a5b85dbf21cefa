"""``--source opencost`` and ``--compare opencost`` through the installed CLI and a wire-level
OpenCost stand-in (the fake server of the OpenCost source's unit tests)."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import run_finops
from tests.unit.test_opencost_source import FakeOpenCost, fixture, ok


@pytest.fixture
def opencost():
    fake = FakeOpenCost()
    fake.thread.start()
    yield fake
    fake.release.set()
    fake.server.shutdown()
    fake.server.server_close()


def test_source_opencost_fills_the_costs_rows(opencost):
    result = run_finops(
        "costs",
        "--source",
        "opencost",
        "--opencost-url",
        opencost.url,
        "--window",
        "3d",
        "-o",
        "json",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["source"] == "opencost"
    rows = {r["team"]: r for r in doc["rows"]}
    assert rows["nlp"]["gpu_cost"] == pytest.approx(1152)
    assert rows["__unallocated__"]["gpu_cost"] == pytest.approx(576)
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(1872)
    assert sum(r["gpu_cost"] for r in doc["rows"]) == pytest.approx(4608)
    seen = opencost.requests[0]
    assert seen.path == "/allocation/compute"
    assert seen.params["aggregate"] == ["label:ai-finops.io/team"]
    assert seen.params["includeIdle"] == ["true"]


def test_compare_puts_opencost_beside_the_primary_source(opencost):
    opencost.default = ok(fixture("current_team.json"))
    result = run_finops(
        "costs",
        "--source",
        "sample",
        "--compare",
        "opencost",
        "--opencost-url",
        opencost.url,
        "--window",
        "3d",
        "-o",
        "json",
        "-q",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    comparison = {r["team"]: r for r in doc["comparison"]["rows"]}
    assert doc["comparison"]["source"] == "opencost"
    nlp = comparison["nlp"]
    assert nlp["opencost_gpu_cost"] == pytest.approx(1152)
    assert nlp["difference"] == pytest.approx(nlp["gpu_cost"] - 1152, abs=1e-5)
    assert comparison["recsys"]["gpu_cost"] is None  # only OpenCost knows it


def test_opencost_unreachable_is_one_line_exit_1():
    result = run_finops(
        "costs",
        "--source",
        "opencost",
        "--opencost-url",
        "http://127.0.0.1:9",
        env={"FINOPS_PROMETHEUS_RETRIES": "0"},
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1


def test_source_opencost_without_url_is_a_usage_error():
    result = run_finops("costs", "--source", "opencost")
    assert result.returncode == 2
    assert "opencost" in result.stderr
