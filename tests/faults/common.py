"""Data, servers and checks shared by the fault suite (fixtures live in ``conftest.py``).

One small sample cluster (seed 7, six hours at 5-minute scrapes) is backfilled into a real
Prometheus; variants of it (a series with a gap, metrics missing) go into servers of their own.
Every command runs through the installed ``finops`` entry point, as a user would run it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.simulate import SampleCluster, SampleSeries
from finops_cli.sample.truth import GroundTruth, ground_truth
from tests.support.cli import run_finops
from tests.support.promserver import PromServerPool

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 1, 6, tzinfo=UTC)
T0, T1 = int(START.timestamp()), int(END.timestamp())
STEP = 300
DATA_FROM, DATA_TO = T0 - 2 * 3600, T1 + 3600
WINDOW = ["--start", "2026-10-01T00:00:00Z", "--end", "2026-10-01T06:00:00Z"]
SEED = 7
# One retry (two attempts) with the client's real backoff keeps each failing case short; the
# cases about retrying more than once say so.
ENV = {"FINOPS_PROMETHEUS_RETRIES": "1"}


def cluster() -> SampleCluster:
    return SampleCluster(SEED)


def truth() -> GroundTruth:
    return ground_truth(cluster(), T0, T1)


def backend(
    pool: PromServerPool,
    tmp: Path,
    name: str,
    series: Iterable[SampleSeries] | None = None,
) -> str:
    """A real Prometheus holding ``series`` (default: the whole sample cluster)."""
    path = tmp / f"{name}.om"
    if series is None:
        series = cluster().series(DATA_FROM, DATA_TO, STEP)
    write_openmetrics_file(series, path)
    return pool(path, f"faults-{name}")


def without(names: Callable[[str], bool]) -> Iterator[SampleSeries]:
    """The sample cluster minus every series whose metric name ``names`` accepts."""
    return (s for s in cluster().series(DATA_FROM, DATA_TO, STEP) if not names(s.name))


def with_gap(
    metric: str, pod: str, gap_from: int, gap_to: int, source: Iterable[SampleSeries]
) -> Iterator[SampleSeries]:
    """``source`` with the samples of ``metric`` for ``pod`` in ``(gap_from, gap_to]`` removed."""
    for s in source:
        if s.name == metric and s.labels.get("pod") == pod:
            keep = (s.timestamps <= gap_from) | (s.timestamps > gap_to)
            yield replace(s, timestamps=s.timestamps[keep], values=s.values[keep])
        else:
            yield s


# ---- running and checking -----------------------------------------------------------------------


def finops(*args: str, env: dict[str, str] | None = None, timeout: float = 90) -> Any:
    return run_finops(*args, env={**ENV, **(env or {})}, timeout=timeout)


def costs(url: str, *extra: str, env: dict[str, str] | None = None) -> Any:
    return finops("costs", *WINDOW, "--prometheus-url", url, "-o", "json", *extra, env=env)


def _no_constants(token: str) -> float:
    raise AssertionError(f"output JSON holds {token}: a non-finite number reached the output")


def document(result: Any) -> dict[str, Any]:
    """The JSON on stdout of a successful run; NaN/Infinity in it fail the test."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout, parse_constant=_no_constants)
    return doc


def one_line_error(result: Any, code: int, *needles: str) -> str:
    """Exit ``code``, nothing on stdout, exactly one ``finops: error:`` line on stderr."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line: str = lines[0]
    assert line.startswith("finops: error: "), line
    assert "Traceback" not in line and "internal error" not in line, line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def rows_by(doc: dict[str, Any], key: str = "team") -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in doc["rows"]}


def assert_matches_truth(doc: dict[str, Any], expected: GroundTruth | None = None) -> None:
    """Every team's GPU cost and hours, idle, and the whole cluster's spend, as simulated."""
    expected = expected or truth()
    rows = rows_by(doc)
    for team, figures in expected.by("team").iterrows():
        row = rows[str(team) or "__unallocated__"]
        assert row["gpu_cost"] == pytest.approx(figures["gpu_cost"], rel=0.005), team
        assert row["gpu_hours"] == pytest.approx(figures["gpu_hours"], rel=0.005), team
    assert rows["__idle__"]["gpu_cost"] == pytest.approx(expected.idle_gpu_cost, rel=0.005)
    total = sum(r["gpu_cost"] for r in doc["rows"])
    assert total == pytest.approx(expected.cluster_gpu_cost, rel=0.005)
    assert doc["totals"]["cluster_gpu_cost"] == pytest.approx(total, abs=0.01)


def partial_notes(doc: dict[str, Any]) -> list[str]:
    return [n for n in doc["notes"] if n.startswith("PARTIAL DATA")]
