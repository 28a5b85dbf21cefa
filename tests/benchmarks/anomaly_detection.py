"""Anomaly detection benchmark: precision and recall of each ``--method`` against planted labels.

    python -m tests.benchmarks.anomaly_detection                 # the table in docs/anomalies.md
    python -m tests.benchmarks.anomaly_detection --update-docs   # ... and rewrite it there

The cluster is ``finops_cli.sample.anomalies.planted_cluster(seed)``: the sample cast with its
daily and weekly patterns, a weekday-only notebook pool, and labelled anomalies (spikes, a level
shift, a GPU left idle, efficiency drops, and the base cast's recurring sweep) in the two weeks
from ``REPORT_START``. The sample source is asked for hourly GPU cost, busy and held GPU-hours
per team exactly as ``finops anomalies`` asks for it (28-day baseline), and every method runs on
the same series.

Scoring, per seed and method:

- an anomaly is **correct** when a label of the same team lists its metric and their time
  ranges overlap (one bucket of slack: an hour for hourly series, a day for daily ones);
- **precision** = correct anomalies / reported anomalies;
- **recall** = labels found by at least one correct anomaly / labels.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from finops_cli.analytics.anomalies import (
    DEFAULT_METHOD,
    METHODS,
    Anomaly,
    Series,
    anomaly_report,
)
from finops_cli.sample.anomalies import (
    REPORT_END,
    REPORT_START,
    Label,
    planted_cluster,
    planted_labels,
)
from finops_cli.sources.sample import SampleCostSource
from finops_cli.usecases.history import anomaly_history
from tests.benchmarks.forecast_backtest import DOC as FORECAST_DOC
from tests.benchmarks.forecast_backtest import POD_LABELS, update_docs

SEEDS = (1, 2, 3, 4, 5)
BASELINE_DAYS = 28
SHORT_BASELINE_DAYS = 14
DOC = FORECAST_DOC.with_name("anomalies.md")
MARK = "anomaly-detection"
COMMAND = "python -m tests.benchmarks.anomaly_detection"
HOURLY = ("hourly_cost", "busy_share")


@dataclass(frozen=True)
class Score:
    reported: int
    correct: int
    labels: int
    found: int
    found_by_kind: Counter[str]
    labels_by_kind: Counter[str]
    false: tuple[Anomaly, ...]
    missed: tuple[Label, ...]

    @property
    def precision(self) -> float:
        return self.correct / self.reported if self.reported else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.labels if self.labels else 1.0


def matches(anomaly: Anomaly, label: Label) -> bool:
    slack = timedelta(hours=1) if anomaly.metric in HOURLY else timedelta(days=1)
    return (
        anomaly.team == label.team
        and anomaly.metric in label.metrics
        and anomaly.start < label.end + slack
        and anomaly.end > label.start - slack
    )


def score(anomalies: tuple[Anomaly, ...] | list[Anomaly], labels: list[Label]) -> Score:
    found: set[int] = set()
    false: list[Anomaly] = []
    for anomaly in anomalies:
        hits = [i for i, label in enumerate(labels) if matches(anomaly, label)]
        found.update(hits)
        if not hits:
            false.append(anomaly)
    return Score(
        reported=len(anomalies),
        correct=len(anomalies) - len(false),
        labels=len(labels),
        found=len(found),
        found_by_kind=Counter(labels[i].kind for i in found),
        labels_by_kind=Counter(label.kind for label in labels),
        false=tuple(false),
        missed=tuple(label for i, label in enumerate(labels) if i not in found),
    )


def series_for(seed: int, baseline_days: int = BASELINE_DAYS) -> tuple[list[Series], list[Label]]:
    cluster = planted_cluster(seed)
    source = SampleCostSource(POD_LABELS, cluster=cluster)
    found = anomaly_history(source, REPORT_END, REPORT_START, baseline_days)
    return found.series, planted_labels(cluster)


def evaluate(
    seeds: tuple[int, ...],
    methods: tuple[str, ...] = METHODS,
    baseline_days: int = BASELINE_DAYS,
) -> dict[str, Score]:
    """Scores per method, summed over seeds."""
    totals: dict[str, list[Score]] = {m: [] for m in methods}
    for seed in seeds:
        series, labels = series_for(seed, baseline_days)
        for method in methods:
            report = anomaly_report(
                source="sample",
                series=series,
                method=method,
                as_of=REPORT_END,
                since=REPORT_START,
                baseline_start=REPORT_START - timedelta(days=baseline_days),
                baseline_days=baseline_days,
            )
            totals[method].append(score(report.anomalies, labels))
    return {m: _sum(scores) for m, scores in totals.items()}


def _sum(scores: list[Score]) -> Score:
    return Score(
        reported=sum(s.reported for s in scores),
        correct=sum(s.correct for s in scores),
        labels=sum(s.labels for s in scores),
        found=sum(s.found for s in scores),
        found_by_kind=sum((s.found_by_kind for s in scores), Counter()),
        labels_by_kind=sum((s.labels_by_kind for s in scores), Counter()),
        false=tuple(a for s in scores for a in s.false),
        missed=tuple(label for s in scores for label in s.missed),
    )


KINDS = ("spike", "level-shift", "idle-gpu", "efficiency-drop")


def table(scores: dict[str, Score]) -> str:
    lines = [
        "| Method | Reported | Correct | Precision | Labels found | Recall | "
        + " | ".join(f"{k} found" for k in KINDS)
        + " |",
        "|---|---:|---:|---:|---:|---:|" + "---:|" * len(KINDS),
    ]
    for method, s in scores.items():
        name = f"**{method}** (default)" if method == DEFAULT_METHOD else method
        kinds = " | ".join(f"{s.found_by_kind[k]}/{s.labels_by_kind[k]}" for k in KINDS)
        lines.append(
            f"| {name} | {s.reported} | {s.correct} | {s.precision:.2f} | "
            f"{s.found}/{s.labels} | {s.recall:.2f} | {kinds} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite the table in {DOC}")
    parser.add_argument("--verbose", "-v", action="store_true", help="list misses and false alarms")
    args = parser.parse_args(argv)
    started = time.monotonic()
    scores = evaluate(tuple(args.seeds))
    short = evaluate(tuple(args.seeds), baseline_days=SHORT_BASELINE_DAYS)
    seeds = ", ".join(str(s) for s in args.seeds)
    text = (
        f"With the default {BASELINE_DAYS}-day baseline:\n\n{table(scores)}\n\n"
        f"With only {SHORT_BASELINE_DAYS} days of baseline (a new cluster, short retention):"
        f"\n\n{table(short)}\n\n"
        f"Seeds {seeds}; two weeks of hourly data from {REPORT_START:%Y-%m-%d}. "
        f"Produced by `{COMMAND}`."
    )
    print(text)
    if args.verbose:
        for method, s in scores.items():
            for label in s.missed:
                print(f"{method}: missed {label.kind} {label.team} {label.start:%m-%d %H:%M}")
            for anomaly in s.false:
                print(f"{method}: false alarm: {anomaly.reason}")
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    if args.update_docs:
        update_docs(text, DOC, MARK)
        print(f"updated {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
