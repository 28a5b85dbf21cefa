"""Forecast backtest: month-end error of ``finops forecast`` vs the naive run-rate, on the sample.

    python -m tests.benchmarks.forecast_backtest                 # the table in docs/forecast.md
    python -m tests.benchmarks.forecast_backtest --update-docs   # ... and rewrite it there

For each scenario of ``finops_cli.sample.forecast_scenarios`` (flat, growth, step) and each
seed (each seed is a different month, with different step days and growth pace), the sample
source is asked for daily GPU cost per team exactly as ``finops forecast`` asks for it; then, as
of the end of day 7, 14 and 21 of the month, every row is projected from the data before that
moment only, and the projection is compared with what the month really cost. The baseline is
the naive run-rate: spend so far / time elapsed x length of the month.

Rows are teams, ``__unallocated__``, ``__idle__`` and the cluster total; rows that spent under
100 a month are left out (a percentage of nothing says nothing).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from finops_cli.analytics.forecast import naive_run_rate, project, series_inputs
from finops_cli.analytics.series import GroupSeries
from finops_cli.sample.forecast_scenarios import SCENARIOS, month_after, scenario_cluster
from finops_cli.sources.sample import SampleCostSource
from finops_cli.usecases import history

POD_LABELS = {
    "team": "ai-finops.io/team",
    "project": "ai-finops.io/project",
    "model": "ai-finops.io/model",
    "environment": "ai-finops.io/environment",
}
MONTHS = {  # seed -> the month it forecasts: different lengths and weekday alignments
    1: datetime(2026, 4, 1, tzinfo=UTC),
    2: datetime(2026, 6, 1, tzinfo=UTC),
    3: datetime(2026, 9, 1, tzinfo=UTC),
    4: datetime(2026, 11, 1, tzinfo=UTC),
}
DAYS = (7, 14, 21)
HISTORY_DAYS = 90
MIN_MONTH_SPEND = 100.0
DOC = Path(__file__).resolve().parents[2] / "docs" / "forecast.md"
MARK = "forecast-backtest"
COMMAND = "python -m tests.benchmarks.forecast_backtest"


@dataclass(frozen=True)
class Case:
    scenario: str
    seed: int
    day: int
    row: str
    actual: float
    ours: float
    naive: float
    low: float | None
    high: float | None
    method: str

    @property
    def error(self) -> float:
        return abs(self.ours - self.actual) / self.actual

    @property
    def naive_error(self) -> float:
        return abs(self.naive - self.actual) / self.actual

    @property
    def covered(self) -> bool:
        if self.low is None or self.high is None:
            return False
        slack = 1e-6 * self.actual
        return self.low - slack <= self.actual <= self.high + slack


def run(scenarios: tuple[str, ...], seeds: tuple[int, ...], days: tuple[int, ...]) -> list[Case]:
    cases: list[Case] = []
    for scenario in scenarios:
        for seed in seeds:
            month = MONTHS[seed]
            end = month_after(month)
            cluster = scenario_cluster(scenario, month, seed)
            # Every state change is on a 15-minute boundary, so 15-minute samples are exact.
            source = SampleCostSource(POD_LABELS, cluster=cluster, sample_interval_s=900)
            daily = history.series(source, month - timedelta(days=HISTORY_DAYS), end, 86400)
            cases += _cases(scenario, seed, month, end, daily, days)
    return cases


def _cases(
    scenario: str,
    seed: int,
    month: datetime,
    end: datetime,
    daily: GroupSeries,
    days: tuple[int, ...],
) -> list[Case]:
    out: list[Case] = []
    for day in days:
        as_of = month + timedelta(days=day)
        keep = daily.cost.index <= as_of
        known = GroupSeries(
            daily.cost[keep], daily.busy[keep], daily.observed[keep], daily.present[keep]
        )
        for series in series_inputs(known, None):
            full = daily.cost[series.name]
            actual = float(full[(full.index > month) & (full.index <= end)].sum())
            if actual < MIN_MONTH_SPEND:
                continue
            p = project(series.daily, (as_of - timedelta(days=1)).date(), 0.0, as_of)
            out.append(
                Case(
                    scenario,
                    seed,
                    day,
                    series.name,
                    actual,
                    p.projected,
                    naive_run_rate(p.actual_to_date, as_of),
                    p.low,
                    p.high,
                    p.method,
                )
            )
    return out


def table(cases: list[Case]) -> str:
    """Markdown: mean absolute percentage error per scenario and day, then overall."""
    frame = pd.DataFrame(
        {
            "scenario": c.scenario,
            "day": c.day,
            "ours": c.error * 100,
            "naive": c.naive_error * 100,
            "better": c.error <= c.naive_error + 1e-9,
            "covered": c.covered,
        }
        for c in cases
    )
    lines = [
        "| Scenario | Day | Rows | finops error | Naive run-rate error | finops at least as good "
        "| 90% range covers actual |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    groups = [*((s, frame[frame.scenario == s]) for s in SCENARIOS), ("**all**", frame)]
    for name, part in groups:
        for day, rows in part.groupby("day"):
            lines.append(
                f"| {name} | {day} | {len(rows)} | {rows.ours.mean():.2f} % "
                f"| {rows.naive.mean():.2f} % | {rows.better.mean() * 100:.0f} % "
                f"| {rows.covered.mean() * 100:.0f} % |"
            )
    return "\n".join(lines)


def update_docs(text: str, path: Path = DOC, mark: str = MARK) -> None:
    """Replace the block between ``<!-- bench:MARK -->`` and ``<!-- /bench:MARK -->``."""
    doc = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"(<!-- bench:{mark} -->\n).*?(<!-- /bench:{mark} -->)", re.S)
    if not pattern.search(doc):
        raise SystemExit(f"{path}: no <!-- bench:{mark} --> block to update")
    new = pattern.sub(lambda m: m.group(1) + text.rstrip("\n") + "\n" + m.group(2), doc)
    path.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=sorted(MONTHS))
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite the table in {DOC}")
    args = parser.parse_args(argv)
    started = time.monotonic()
    cases = run(SCENARIOS, tuple(args.seeds), DAYS)
    text = table(cases)
    seeds = ", ".join(str(s) for s in args.seeds)
    text += (
        f"\n\n{len(cases)} projections: {len(SCENARIOS)} scenarios x seeds {seeds} x days "
        f"{', '.join(map(str, DAYS))}; error = mean |projected - actual| / actual of the "
        f"month-end GPU spend. Produced by `{COMMAND}`."
    )
    print(text)
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    if args.update_docs:
        update_docs(text)
        print(f"updated {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
