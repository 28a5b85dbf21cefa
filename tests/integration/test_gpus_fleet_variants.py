"""``finops gpus`` on fleets the default sample lacks: an A100 split into MIG instances (no
GPU_UTIL, each instance a row and 1/7 of the GPU's cost) and a pre-Volta M60 (no profiling
metrics: busy from GPU_UTIL/100), through a real Prometheus, against the simulator's truth."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.sample.scenario import NODES, VARIANT_NODES, variant_workloads, workloads
from finops_cli.sample.simulate import SampleCluster
from finops_cli.sample.truth import gpu_truth
from tests.support.cli import run_finops

pytestmark = pytest.mark.prometheus

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 3, tzinfo=UTC)
STEP = 300


@pytest.fixture(scope="module")
def fleet(prometheus_from_openmetrics, tmp_path_factory):
    cluster = SampleCluster(
        4, nodes=(*NODES, *VARIANT_NODES), cast=(*workloads(), *variant_workloads())
    )
    path = Path(tmp_path_factory.mktemp("fleet")) / "cluster.om"
    series = cluster.series(int(START.timestamp()) - 3600, int(END.timestamp()) + 3600, STEP)
    write_openmetrics_file(series, path)
    return prometheus_from_openmetrics(path, "fleet-variants"), cluster


def test_mig_instances_and_pre_volta_gpus(fleet):
    url, cluster = fleet
    result = run_finops(
        "gpus",
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-03",
        "--prometheus-url",
        url,
        "-o",
        "json",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    rows = {(r["uuid"], r["mig_instance"]): r for r in doc["rows"]}
    truth = gpu_truth(cluster, int(START.timestamp()), int(END.timestamp()), STEP)
    assert len(rows) == len(truth)
    for expected in truth.to_dict("records"):
        row = rows[(expected["uuid"], expected["mig_instance"])]
        assert row["mig_profile"] == expected["mig_profile"]
        assert row["cost"] == pytest.approx(expected["cost"], rel=0.01)
        if pd.notna(expected["busy_avg"]):
            assert row["busy_avg"] == pytest.approx(expected["busy_avg"], abs=0.01)
        assert row["held_share"] == pytest.approx(
            expected["held_hours"] / expected["present_hours"], abs=0.01
        )
    mig = [r for r in doc["rows"] if r["mig_profile"] == "1g.5gb"]
    assert len(mig) == 7 and {r["pod"][:11] for r in mig if r["pod"]} == {
        "ocr-slice-0",
        "ocr-slice-1",
    }
    whole = next(
        r for r in doc["rows"] if r["model_name"].startswith("NVIDIA A100") and not r["mig_profile"]
    )
    assert mig[0]["cost"] == pytest.approx(whole["cost"] / 7, rel=0.01)
    m60 = next(r for r in doc["rows"] if r["model_name"] == "Tesla M60")
    assert m60["busy_avg"] is not None  # from GPU_UTIL: no profiling metrics on pre-Volta
    assert "DCGM_FI_DEV_GPU_UTIL" in doc["busy_metric"]
