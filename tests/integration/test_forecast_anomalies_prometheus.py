"""``finops forecast`` and ``finops anomalies`` through a real Prometheus holding the planted
cluster, against the labels and against the same analytics over the in-process sample source.

The cluster is ``sample.anomalies.planted_cluster``: the sample cast plus spikes, a level shift,
an idle GPU and efficiency drops. It is backfilled at a 15-minute step (every state change is on
a 15-minute boundary, so costs stay exact) with only the series the cost queries read, for five
four weeks: enough for a forecast early in November with 25 days of history behind it, and for
a week of anomaly detection on a three-week baseline.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finops_cli.analytics.anomalies import anomaly_report
from finops_cli.analytics.budgets import resolve_budgets
from finops_cli.analytics.forecast import forecast_report
from finops_cli.render import anomalies as render_anomalies
from finops_cli.render import forecast as render_forecast
from finops_cli.sample.anomalies import planted_cluster, planted_labels
from finops_cli.sample.openmetrics import write_openmetrics_file
from finops_cli.settings import BudgetSettings
from finops_cli.sources.sample import SampleCostSource
from finops_cli.usecases.history import anomaly_history, forecast_history
from tests.benchmarks.anomaly_detection import score
from tests.support.cli import run_finops

pytestmark = pytest.mark.prometheus

SEED = 7
STEP = 900
DATA_FROM = datetime(2026, 10, 5, tzinfo=UTC)
DATA_TO = datetime(2026, 11, 2, 6, tzinfo=UTC)
SINCE = datetime(2026, 10, 26, tzinfo=UTC)
UNTIL = datetime(2026, 11, 2, tzinfo=UTC)
BASELINE_DAYS = 21
AS_OF = datetime(2026, 11, 1, 15, tzinfo=UTC)  # 15 h into November, 25 days of history
HISTORY_DAYS = 25
KEEP = {  # what the cost queries read; the rest of the export only slows the backfill
    "container_gpu_allocation",
    "container_cpu_allocation",
    "container_memory_allocation_bytes",
    "node_gpu_hourly_cost",
    "node_gpu_count",
    "node_cpu_hourly_cost",
    "node_ram_hourly_cost",
    "kube_pod_labels",
    "kube_node_labels",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
}
POD_LABELS = {
    "team": "ai-finops.io/team",
    "project": "ai-finops.io/project",
    "model": "ai-finops.io/model",
    "environment": "ai-finops.io/environment",
}
BUDGETS = {"research": 42000.0, "vision": 20.0, "nlp": 4200.0, "ml-platform": 10000.0}


@pytest.fixture(scope="module")
def planted(prometheus_from_openmetrics, tmp_path_factory):
    cluster = planted_cluster(SEED)
    path = Path(tmp_path_factory.mktemp("planted")) / "planted.om"
    series = (
        s
        for s in cluster.series(int(DATA_FROM.timestamp()), int(DATA_TO.timestamp()), STEP)
        if s.name in KEEP
    )
    write_openmetrics_file(series, path)
    return prometheus_from_openmetrics(path, "planted"), cluster


def _run(url: str, *args: str):
    # The scrape interval is given: detection reads 900 s scrapes as 600 s on Prometheus 2.x,
    # whose closed ranges count five samples in an hour.
    result = run_finops(
        *args, "--prometheus-url", url, "--sample-interval", "15m", "-o", "json", timeout=300
    )
    return result, json.loads(result.stdout) if result.stdout else None


def _in_process_anomalies(cluster) -> dict:
    source = SampleCostSource(POD_LABELS, cluster=cluster, sample_interval_s=STEP)
    found = anomaly_history(source, UNTIL, SINCE, BASELINE_DAYS)
    report = anomaly_report(
        source="sample",
        series=found.series,
        method="seasonal",
        as_of=UNTIL,
        since=SINCE,
        baseline_start=found.start,
        baseline_days=BASELINE_DAYS,
    )
    return render_anomalies.to_document(
        report,
        currency="USD",
        window_label="",
        generated_at=UNTIL,
        filters={},
        min_impact=0.0,
    )


def test_planted_anomalies_are_found_through_prometheus(planted):
    url, cluster = planted
    result, doc = _run(
        url,
        "anomalies",
        "--as-of",
        UNTIL.isoformat(),
        "--since",
        SINCE.isoformat(),
        "--baseline",
        f"{BASELINE_DAYS}d",
        "--fail-on-anomaly",
        "warning",
    )
    assert result.returncode == 3, result.stderr
    assert doc["source"] == "prometheus"
    labels = planted_labels(cluster, SINCE, UNTIL)
    kinds = {label.kind for label in labels}
    assert kinds == {"spike", "level-shift", "idle-gpu", "efficiency-drop"}

    class Found:  # the scorer reads anomalies' attributes; rebuild them from the JSON rows
        def __init__(self, row):
            self.team, self.metric = row["team"], row["metric"]
            self.start = datetime.fromisoformat(row["at"].replace("Z", "+00:00"))
            self.end = datetime.fromisoformat(row["end"].replace("Z", "+00:00"))

    result_score = score([Found(r) for r in doc["rows"]], labels)  # type: ignore[arg-type]
    assert result_score.missed == ()
    assert result_score.false == ()

    # The same analytics over the in-process sample source give the same anomalies.
    sample = _in_process_anomalies(cluster)
    key = ("team", "metric", "at", "end", "severity")
    assert [tuple(r[k] for k in key) for r in doc["rows"]] == [
        tuple(r[k] for k in key) for r in sample["rows"]
    ]
    for prom, ref in zip(doc["rows"], sample["rows"], strict=True):
        assert prom["actual"] == pytest.approx(ref["actual"], rel=0.005, abs=1e-3)
        assert prom["expected"] == pytest.approx(ref["expected"], rel=0.005, abs=1e-3)
        assert prom["impact"] == pytest.approx(ref["impact"], rel=0.01, abs=0.05)


def test_forecast_statuses_match_the_sample_source(planted):
    url, cluster = planted
    args = [arg for team, amount in BUDGETS.items() for arg in ("--budget", f"{team}={amount}")]
    result, doc = _run(
        url,
        "forecast",
        "--as-of",
        AS_OF.isoformat(),
        "--history",
        f"{HISTORY_DAYS}d",
        "--fail-on",
        "critical",
        *args,
    )
    assert result.returncode == 3, result.stderr
    rows = {r["team"]: r for r in doc["rows"]}
    source = SampleCostSource(POD_LABELS, cluster=cluster, sample_interval_s=STEP)
    budgets = resolve_budgets(BudgetSettings(), BUDGETS)
    history = forecast_history(source, AS_OF, HISTORY_DAYS, budgets)
    report = forecast_report(
        source="sample",
        as_of=AS_OF,
        history_start=history.start,
        last_day=history.last_day,
        series=history.inputs,
        budgets=budgets,
        fail_on="critical",
    )
    sample = render_forecast.to_document(
        report, currency="USD", window_label="", generated_at=AS_OF
    )
    expected = {r["team"]: r for r in sample["rows"]}
    assert set(rows) == set(expected)
    for team, ref in expected.items():
        row = rows[team]
        assert row["status"] == ref["status"], team
        assert row["method"] == ref["method"] == "seasonal-trend", team
        assert row["actual_to_date"] == pytest.approx(ref["actual_to_date"], rel=0.002), team
        assert row["projected"] == pytest.approx(ref["projected"], rel=0.01), team
    # research's new always-on service (a level shift on 2026-10-24) pushes it over budget.
    assert rows["vision"]["status"] == "exceeded"
    assert rows["research"]["status"] == "critical"
    assert rows["research"]["level_change_on"] == "2026-10-24"
    assert rows["nlp"]["status"] == "warning"
    assert rows["ml-platform"]["status"] == "on_track"
    tripped = {t["name"] for t in doc["fail_on"]["tripped"]}
    assert tripped == {t["name"] for t in sample["fail_on"]["tripped"]} == {"vision", "research"}
    assert doc["total"]["actual_to_date"] == pytest.approx(
        sample["total"]["actual_to_date"], rel=0.002
    )
    assert timedelta(days=HISTORY_DAYS) <= AS_OF - DATA_FROM
    assert doc["notes"] == []  # the whole history is there
