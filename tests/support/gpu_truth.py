"""``finops gpus`` read through a real engine, checked GPU by GPU against the simulator."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import gpu_truth
from tests.support.cli import run_finops


def gpus_matching_truth(
    url: str, cluster: SampleCluster, start: datetime, end: datetime, step: int
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """``gpus`` over ``[start, end]`` (whole UTC days) from ``url``: one row per GPU of the
    cluster, each on its node at its cost; the rows by UUID and the truth's records, for the
    caller's further checks."""
    result = run_finops(
        "gpus",
        "--start",
        f"{start:%Y-%m-%d}",
        "--end",
        f"{end:%Y-%m-%d}",
        "--prometheus-url",
        url,
        "-o",
        "json",
    )
    assert result.returncode == 0, result.stderr
    rows = {r["uuid"]: r for r in json.loads(result.stdout)["rows"]}
    truth = gpu_truth(cluster, int(start.timestamp()), int(end.timestamp()), step)
    assert len(rows) == len(truth) == sum(n.gpu_count for n in cluster.nodes)
    records = truth.to_dict("records")
    for expected in records:
        row = rows[expected["uuid"]]
        assert row["node"] == expected["node"] and row["gpu"] == expected["gpu"]
        assert row["cost"] == pytest.approx(expected["cost"], rel=0.01)
    return rows, records
