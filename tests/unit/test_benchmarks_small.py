"""The benchmarks of docs/forecast.md and docs/anomalies.md, cut down to one seed, as tests:
the claims in the docs must keep holding as the code changes."""

from __future__ import annotations

import pytest

from finops_cli.analytics.anomalies import SEASONAL, ZSCORE
from finops_cli.sample.anomalies import REPORT_END, REPORT_START, planted_cluster, planted_labels
from tests.benchmarks import anomaly_detection, forecast_backtest

# Benchmarks cut down to one seed: seconds each, so in `nox -s tests`, not `nox -s fast`.
pytestmark = pytest.mark.slow


def test_planted_labels_cover_every_kind_inside_the_report_weeks():
    labels = planted_labels(planted_cluster(3))
    assert {label.kind for label in labels} == {
        "spike",
        "level-shift",
        "idle-gpu",
        "efficiency-drop",
    }
    assert all(REPORT_START <= label.start < label.end <= REPORT_END for label in labels)
    assert any("defect-sweep" in label.what for label in labels)


def test_default_detector_meets_its_targets_and_zscore_falls_short():
    scores = anomaly_detection.evaluate((2,), (SEASONAL, ZSCORE))
    assert scores[SEASONAL].recall >= 0.9
    assert scores[SEASONAL].precision >= 0.8
    assert scores[ZSCORE].recall < 0.9


def test_forecast_beats_the_naive_run_rate_on_growth():
    cases = forecast_backtest.run(("growth",), (1,), (7, 14))
    ours = sum(c.error for c in cases) / len(cases)
    naive = sum(c.naive_error for c in cases) / len(cases)
    assert ours < naive / 2
