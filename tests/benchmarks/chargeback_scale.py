"""Chargeback report at scale: time and peak memory of ``finops report chargeback`` for many teams.

    python -m tests.benchmarks.chargeback_scale                  # 50 and 500 teams, the CLI too
    python -m tests.benchmarks.chargeback_scale --teams 2000 --no-cli
    python -m tests.benchmarks.chargeback_scale --update-docs    # ... and rewrite docs/reports.md

The input is what ``build_document`` receives from the command, generated here (seeded numpy,
nothing read from a file) for a calendar month (2026-10, 31 days) and the month before:

- the ``--by team`` cost reports of both months, one row per team plus ``__unallocated__`` and
  ``__idle__``, each with its daily GPU cost (31 values) for the daily chart;
- a monthly budget for most teams;
- the ``--details`` sections: unit costs (every team runs 1 to 4 of 24 models and works on 1 to 4
  projects; ``team_models`` joins a team x model report with a per-model one, as the command
  does), rightsizing recommendations (2 per team on average, Poisson; the document keeps the top
  3) and anomalies (1.5 per team on average; it keeps the top 5).

Team names mix plain ASCII, accented Latin, Greek and Cyrillic (DejaVu Sans covers them all),
long names the PDF must shorten to fit, and names that start like a spreadsheet formula.

Each size runs in its own child process, which times, one after the other: ``build_document``,
then each format rendered and written with the command's atomic writer (pdf, html, csv, json),
and reports its peak resident memory (``VmHWM``, else ``ru_maxrss``). A second child per size
runs the same steps under ``tracemalloc`` for the peak of the Python heap of each step (its times
are not used). ``--repeat N`` keeps the fastest of N runs of each step and CLI run.

The end-to-end CLI (``finops report chargeback --month 2026-10 --format pdf --quiet``) runs on
the built-in sample cluster (10 teams; no configuration, so the sample source) with and without
``--details``; its wall time is measured around the process and its peak RSS comes from
``os.wait4`` (that child's own rusage).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.benchmarks.common import cpu_model, peak_rss_mib

if TYPE_CHECKING:
    from finops_cli.analytics.budgets import Budget
    from finops_cli.analytics.chargeback import Extras, Period
    from finops_cli.analytics.costs import CostReport, CostRow

MODULE = "tests.benchmarks.chargeback_scale"
COMMAND = f"python -m {MODULE}"
DOC = Path(__file__).resolve().parents[2] / "docs" / "reports.md"
MARK = "chargeback-scale"
FORMATS = ("pdf", "html", "csv", "json")
STEPS = ("build_document", *FORMATS)
MONTH = "2026-10"
START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)
PREVIOUS_START = datetime(2026, 9, 1, tzinfo=UTC)
SOURCE_DATE_EPOCH = str(int(END.timestamp()))
SEED = 7

WORDS = (
    "nlp", "vision", "research", "platform", "search", "ads", "speech", "robotics", "recsys",
    "safety", "infra", "data", "eval", "agents", "fraud", "maps", "health", "finance",
)  # fmt: skip
UNICODE_WORDS = (
    "équipe-données", "Zürich-Forschung", "café-naïve", "ομάδα-Ωmega", "команда-поиска",
    "São-Paulo-análise", "Kraków-łódź", "Ærø-fjord", "déjà-vu-ŒIL", "Ελλάδα-ML",
)  # fmt: skip
LONG_WORD = "platform-engineering-large-language-model-inference-and-evaluation"
FORMULA_WORDS = ("=growth", "+partners", "-ops", "@mentions")
MODELS = tuple(
    f"{family}-{size}"
    for family in ("llama-3", "mistral", "qwen-2.5", "gemma-2", "phi-3", "falcon", "bert", "sdxl")
    for size in ("small", "8b-instruct", "70b-chat")
)
INSTANCES = (
    ("g5.xlarge", "A10G", 1.006),
    ("g5.12xlarge", "A10G", 5.672),
    ("g6e.xlarge", "L40S", 1.861),
    ("p4d.24xlarge", "A100", 32.773),
    ("p5.48xlarge", "H100", 98.32),
)
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "CronJob", "Job")
RECOMMENDATION_ACTIONS = ("downsize", "terminate", "consolidate", "spot", "upsize")
ANOMALY_METRICS = ("hourly_cost", "daily_cost", "busy_share", "efficiency")
SEVERITIES = ("info", "warning", "critical")


# ---- the input ------------------------------------------------------------------------------


@dataclass
class Inputs:
    """Everything ``build_document`` takes besides the fixed options (by team, USD, 2026-10)."""

    period: Period
    report: CostReport
    previous: CostReport
    budgets: dict[tuple[str, str], Budget]
    extras: Extras | None
    teams: list[str] = field(default_factory=list)


def team_names(count: int) -> list[str]:
    """``count`` distinct names: mostly ASCII, every 5th Unicode, every 7th long, a few formulas."""
    names = []
    for i in range(count):
        if i % 7 == 3:
            name = f"{LONG_WORD}-{i:04d}"
        elif i % 5 == 1:
            name = f"{UNICODE_WORDS[i // 5 % len(UNICODE_WORDS)]}-{i:04d}"
        elif i % 41 == 17:
            name = f"{FORMULA_WORDS[i // 41 % len(FORMULA_WORDS)]}-{i:04d}"
        else:
            name = f"{WORDS[i % len(WORDS)]}-{i:04d}"
        names.append(name)
    return names


def _days(start: datetime, end: datetime) -> tuple[str, ...]:
    count = (end - start).days
    return tuple(f"{start + timedelta(days=d):%Y-%m-%d}" for d in range(count))


def _row(keys: dict[str, str], kind: str, hours: Any, cost: Any, **kw: Any) -> CostRow:
    from finops_cli.analytics.costs import CostRow

    gpu_cost = float(cost.sum())
    cpu_ram = kw.get("cpu_ram_cost")
    efficiency = kw.get("efficiency")
    return CostRow(
        keys=keys,
        kind=kind,
        gpu_hours=float(hours.sum()),
        gpu_cost=gpu_cost,
        cpu_ram_cost=cpu_ram,
        total_cost=gpu_cost + (cpu_ram or 0.0),
        efficiency=efficiency,
        waste=None if efficiency is None else gpu_cost * (1.0 - efficiency),
        share=0.0,
        daily_cost=tuple(float(v) for v in cost),
        unit=kw.get("unit"),
    )


def _report(
    rows: list[CostRow], start: datetime, end: datetime, group_by: tuple[str, ...]
) -> CostReport:
    """A report as ``attribute_costs`` returns it: allocated rows by cost, shares, totals."""
    from finops_cli.analytics.costs import CostReport, CostTotals

    allocated = sorted((r for r in rows if r.kind == "allocated"), key=lambda r: -r.gpu_cost)
    ordered = [*allocated, *(r for r in rows if r.kind != "allocated")]
    total_gpu = sum(r.gpu_cost for r in ordered)
    ordered = [replace(r, share=r.gpu_cost / total_gpu if total_gpu else 0.0) for r in ordered]
    cpu_ram = sum(r.cpu_ram_cost or 0.0 for r in ordered)
    unallocated = [r for r in ordered if r.kind == "unallocated"]
    idle = [r for r in ordered if r.kind == "idle"]
    busy = sum(r.gpu_hours * (r.efficiency or 0.0) for r in ordered if r.kind != "idle")
    held = sum(r.gpu_hours for r in ordered if r.kind != "idle")
    totals = CostTotals(
        gpu_hours=sum(r.gpu_hours for r in ordered),
        gpu_cost=total_gpu,
        cpu_ram_cost=cpu_ram,
        total_cost=total_gpu + cpu_ram,
        allocated_gpu_cost=sum(r.gpu_cost for r in allocated),
        unallocated_gpu_cost=sum(r.gpu_cost for r in unallocated),
        idle_gpu_cost=sum(r.gpu_cost for r in idle),
        idle_gpu_hours=sum(r.gpu_hours for r in idle),
        efficiency=busy / held if held > 0 else None,
        waste=sum(r.waste or 0.0 for r in ordered),
        cluster_gpu_cost=total_gpu,
    )
    return CostReport(
        source="bench",
        start=start,
        end=end,
        group_by=group_by,
        filters={},
        rows=tuple(ordered),
        totals=totals,
        days=_days(start, end),
        busy_metric="DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        has_cpu_ram=True,
        sample_interval_s=60,
        notes=(),
    )


def make_inputs(teams: int, seed: int = SEED, details: bool = True) -> Inputs:  # noqa: PLR0915
    """The month's and the previous month's reports, budgets and (``details``) the extras, for
    ``teams`` teams; the same ``teams`` and ``seed`` always give the same input."""
    import numpy as np

    from finops_cli.analytics.anomalies import Anomaly
    from finops_cli.analytics.budgets import Budget
    from finops_cli.analytics.chargeback import Extras, Period, team_models
    from finops_cli.analytics.costs import IDLE, UNALLOCATED
    from finops_cli.analytics.rightsize_common import Recommendation, Workload
    from finops_cli.analytics.unit_costs import unit_cost

    rng = np.random.default_rng(seed)
    period = Period(START, END, MONTH, "month", PREVIOUS_START, START)
    names = team_names(teams)
    n_days, n_prev = (END - START).days, (START - PREVIOUS_START).days
    weekly = np.array([1.0, 1.04, 1.06, 1.05, 1.02, 0.8, 0.74])  # Monday first
    week_now = weekly[(np.arange(n_days) + START.weekday()) % 7]
    week_prev = weekly[(np.arange(n_prev) + PREVIOUS_START.weekday()) % 7]

    gpus = np.maximum(rng.lognormal(1.2, 1.0, teams), 0.25)  # GPUs held on average
    price = rng.choice(np.array([i[2] for i in INSTANCES]) / np.array([1, 4, 1, 8, 8]), teams)
    efficiency = rng.uniform(0.12, 0.95, teams)
    cpu_share = rng.uniform(0.02, 0.15, teams)
    growth = rng.normal(1.03, 0.12, teams)
    new_team = rng.random(teams) < 0.04  # not in the previous month
    gone = rng.random(max(teams // 25, 1))  # teams only in the previous month

    def series(gpus_held: float, pattern: Any) -> Any:
        """GPU-hours per day: the weekly pattern with +-15 % day-to-day noise."""
        return gpus_held * 24 * pattern * rng.uniform(0.85, 1.15, len(pattern))

    rows_now: list[CostRow] = []
    rows_prev: list[CostRow] = []
    for i, name in enumerate(names):
        hours = series(float(gpus[i]), week_now)
        cost = hours * price[i]
        kw = {"efficiency": float(efficiency[i]), "cpu_ram_cost": float(cost.sum() * cpu_share[i])}
        rows_now.append(_row({"team": name}, "allocated", hours, cost, **kw))
        if not new_team[i]:
            hours_p = series(float(gpus[i] / max(growth[i], 0.3)), week_prev)
            cost_p = hours_p * price[i]
            kw_p = {**kw, "cpu_ram_cost": float(cost_p.sum() * cpu_share[i])}
            rows_prev.append(_row({"team": name}, "allocated", hours_p, cost_p, **kw_p))
    for j, share in enumerate(gone):
        hours_p = series(float(1 + 4 * share), week_prev)
        cost_p = hours_p * 4.0
        kw_p = {"efficiency": 0.5, "cpu_ram_cost": float(cost_p.sum() * 0.05)}
        rows_prev.append(_row({"team": f"retired-{j:04d}"}, "allocated", hours_p, cost_p, **kw_p))

    for rows, pattern in ((rows_now, week_now), (rows_prev, week_prev)):
        allocated_daily = np.sum([r.daily_cost for r in rows], axis=0)
        per_gpu_hour = float(np.sum(allocated_daily)) / sum(r.gpu_hours for r in rows)
        un_cost = allocated_daily * rng.uniform(0.005, 0.02, len(pattern))
        un_hours = un_cost / 4.0
        rows.append(
            _row(
                {"team": UNALLOCATED},
                "unallocated",
                un_hours,
                un_cost,
                efficiency=0.4,
                cpu_ram_cost=float(un_cost.sum() * 0.08),
            )
        )
        idle_cost = allocated_daily * (0.55 - 0.25 * pattern) * rng.uniform(0.9, 1.1, len(pattern))
        idle_hours = idle_cost / per_gpu_hour
        rows.append(_row({"team": IDLE}, "idle", idle_hours, idle_cost, efficiency=0.0))
    report = _report(rows_now, START, END, ("team",))
    previous = _report(rows_prev, PREVIOUS_START, START, ("team",))

    budgets = {}
    for i, name in enumerate(names):
        if rng.random() < 0.8:
            monthly = max(round(float(rows_now[i].gpu_cost * rng.uniform(0.7, 1.4)), -2), 100.0)
            budgets[("team", name)] = Budget(
                scope="team",
                name=name,
                monthly=monthly,
                warning_percent=80.0,
                critical_percent=100.0,
                owner=f"lead-{i:04d}@example.com",
                origin="finops.toml",
            )

    extras = None
    if details:
        extras = Extras()
        team_model_rows: list[CostRow] = []
        per_model: dict[str, float] = {}
        projects: dict[str, list[str]] = {}
        models_of: dict[str, list[str]] = {}
        for i, name in enumerate(names):
            row = rows_now[i]
            chosen = [MODELS[k] for k in rng.choice(len(MODELS), rng.integers(1, 5), replace=False)]
            models_of[name] = chosen
            projects[name] = [
                f"{WORDS[(i + k) % len(WORDS)]}-p{k}" for k in range(rng.integers(1, 5))
            ]
            split = rng.dirichlet(np.ones(len(chosen)))
            daily = np.array(row.daily_cost)
            for model, part in zip(chosen, split, strict=True):
                cost = daily * part
                team_model_rows.append(
                    _row(
                        {"team": name, "model": model},
                        "allocated",
                        np.array([row.gpu_hours * part]),
                        cost,
                        efficiency=row.efficiency,
                        cpu_ram_cost=(row.cpu_ram_cost or 0.0) * float(part),
                    )
                )
                per_model[model] = per_model.get(model, 0.0) + float(cost.sum())
        model_rows = []
        for k, (model, cost_sum) in enumerate(sorted(per_model.items())):
            requests = 0.0 if k % 11 == 5 else float(rng.lognormal(16, 1.2))
            tokens = requests * float(rng.uniform(200, 2500))
            unit = unit_cost(cost_sum, requests, tokens * 0.7, tokens * 0.3)
            zero = np.zeros(n_days)
            row = _row({"model": model}, "allocated", zero, zero, unit=unit)
            model_rows.append(replace(row, gpu_cost=cost_sum, total_cost=cost_sum))
        extras.models = team_models(
            _report(team_model_rows, START, END, ("team", "model")),
            _report(model_rows, START, END, ("model",)),
        )

        recommendations = []
        anomalies = []
        for i, name in enumerate(["", *names]):  # "" : workloads without the team label
            monthly_gpu = rows_now[i - 1].gpu_cost if i else 2000.0
            for r in range(int(rng.poisson(2.0))):
                instance, gpu_model, _ = INSTANCES[int(rng.integers(len(INSTANCES)))]
                target = INSTANCES[int(rng.integers(len(INSTANCES)))]
                action = RECOMMENDATION_ACTIONS[int(rng.integers(len(RECOMMENDATION_ACTIONS)))]
                current = float(monthly_gpu * rng.uniform(0.05, 0.4))  # the workload's share
                saving = current * float(rng.uniform(0.1, 0.7))
                if action == "upsize":
                    saving = -saving / 2
                project = projects.get(name, ["shared"])[r % len(projects.get(name, ["shared"]))]
                workload = Workload(
                    kind=WORKLOAD_KINDS[r % len(WORKLOAD_KINDS)],
                    name=f"{project}-{'inference-server' if r % 2 else 'trainer'}-{r}",
                    namespace=f"{(name or 'default')[:30]}-serving",
                    pods=tuple(f"pod-{i}-{r}-{p}" for p in range(1 + r % 3)),
                    team=name,
                    project=project,
                    model=(models_of.get(name) or [""])[0],
                    interruptible=bool(r % 2),
                    instance_type=instance,
                    region="us-east-1",
                    capacity_type="on-demand",
                    gpu_model=gpu_model,
                    gpus_per_pod=1,
                    gpu_hours=float(rng.uniform(50, 700)),
                    busy_avg=float(rng.uniform(0.05, 0.9)),
                    busy_p95=float(rng.uniform(0.1, 1.0)),
                    memory_peak_mib=float(rng.uniform(2_000, 70_000)),
                    memory_total_mib=81_920.0,
                    cost=min(current, monthly_gpu),
                    observed_hours=744.0,
                )
                recommendations.append(
                    Recommendation(
                        workload=workload,
                        action=action,
                        current=f"{instance} (on-demand)",
                        target=f"{target[0]} ({'spot' if action == 'spot' else 'on-demand'})",
                        current_monthly=current,
                        target_monthly=current - saving,
                        monthly_savings=saving,
                        confidence=("low", "medium", "high")[r % 3],
                        evidence="busy p95 and memory peak over the period",
                        risk="restart during the change",
                    )
                )
            if not i:
                continue
            for _ in range(int(rng.poisson(1.5))):
                metric = ANOMALY_METRICS[int(rng.integers(len(ANOMALY_METRICS)))]
                begin = START + timedelta(hours=int(rng.integers(0, n_days * 24 - 6)))
                buckets = int(rng.integers(1, 6))
                expected = monthly_gpu / n_days / 24 * buckets
                actual = expected * float(rng.uniform(1.5, 4.0))
                impact = actual - expected
                anomalies.append(
                    Anomaly(
                        team=name,
                        metric=metric,
                        start=begin,
                        end=begin + timedelta(hours=buckets),
                        buckets=buckets,
                        actual=actual,
                        expected=expected,
                        score=float(rng.uniform(4, 12)),
                        direction="up",
                        severity=SEVERITIES[int(rng.integers(len(SEVERITIES)))],
                        impact=impact,
                        reason=(
                            f"GPU cost per hour of {name} averaged {actual / buckets:,.2f} USD vs "
                            f"{expected / buckets:,.2f} expected for {buckets} h from "
                            f"{begin:%a %Y-%m-%d %H:%M UTC}; {impact:+,.2f} USD (expected: median "
                            "of the same hour of the week over the baseline)"
                        ),
                    )
                )
        extras.recommendations = recommendations
        extras.anomalies = anomalies
    return Inputs(period, report, previous, budgets, extras, names)


def build(inputs: Inputs, share_idle: str = "none") -> dict[str, Any]:
    """The document, exactly as ``finops report chargeback --by team`` builds it."""
    from finops_cli.analytics.chargeback import build_document

    return build_document(
        report=inputs.report,
        previous=inputs.previous,
        by="team",
        period=inputs.period,
        share_idle=share_idle,
        currency="USD",
        generated_at=inputs.period.end,
        window_label=inputs.period.label,
        budgets=inputs.budgets,
        extras=inputs.extras,
    )


def render(document: dict[str, Any], fmt: str) -> bytes:
    """One format's bytes, as the command makes them."""
    from finops_cli.render import chargeback as render_module

    if fmt == "pdf":
        from finops_cli.render.chargeback_pdf import render_pdf

        return render_pdf(document)
    fn = {
        "json": render_module.render_json,
        "csv": render_module.render_csv,
        "html": render_module.render_html,
    }[fmt]
    return fn(document).encode("utf-8")


# ---- one size, in a child process -----------------------------------------------------------


def run_size(
    teams: int,
    outdir: Path,
    *,
    share_idle: str = "none",
    repeat: int = 1,
    heap: bool = False,
    formats: tuple[str, ...] = FORMATS,
) -> dict[str, Any]:
    """Generate, build and render ``teams`` teams into ``outdir``; figures per step."""
    import tracemalloc

    from finops_cli.files import write_atomic

    if heap:
        tracemalloc.start()
    steps: dict[str, dict[str, Any]] = {}

    def timed(name: str, fn: Any) -> Any:
        best, cpu, result, held = float("inf"), float("inf"), None, 0
        for _ in range(max(repeat, 1)):
            if heap:
                tracemalloc.reset_peak()
                held = tracemalloc.get_traced_memory()[0]
            began, began_cpu = time.perf_counter(), time.process_time()
            result = fn()
            best = min(best, time.perf_counter() - began)
            cpu = min(cpu, time.process_time() - began_cpu)
        steps[name] = {"seconds": best, "cpu_seconds": cpu}
        if heap:  # the step's own peak: above what was already held when it started
            steps[name]["heap_peak_mib"] = (tracemalloc.get_traced_memory()[1] - held) / 2**20
        return result

    inputs = timed("generate", lambda: make_inputs(teams))
    document = timed("build_document", lambda: build(inputs, share_idle))
    for fmt in formats:
        path = outdir / f"chargeback-{MONTH}-{teams}.{fmt}"

        def step(fmt: str = fmt, path: Path = path) -> None:
            write_atomic(path, render(document, fmt))

        timed(fmt, step)
        steps[fmt]["bytes"] = path.stat().st_size
        if fmt == "pdf":
            from pypdf import PdfReader

            steps[fmt]["pages"] = len(PdfReader(path).pages)
    rows = document["rows"]
    return {
        "teams": teams,
        "rows": len(rows),
        "model_rows": sum(len(r.get("models") or []) for r in rows),
        "recommendation_rows": sum(len(r.get("recommendations") or []) for r in rows),
        "anomaly_rows": sum(len(r.get("anomalies") or []) for r in rows),
        "days": len(document["days"]),
        "repeat": max(repeat, 1),
        "steps": steps,
        "peak_rss_mib": peak_rss_mib(),
    }


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = SOURCE_DATE_EPOCH
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def measure(teams: int, outdir: Path, args: argparse.Namespace, heap: bool) -> dict[str, Any]:
    command = [
        sys.executable, "-m", MODULE, "--child", str(teams), "--outdir", str(outdir),
        "--share-idle", args.share_idle, "--repeat", str(1 if heap else args.repeat),
    ]  # fmt: skip
    command.append("--heap" if heap else "--no-heap")
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, env=_child_env(), cwd=_root()
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{teams} teams: the child failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _root() -> Path:
    return Path(__file__).resolve().parents[2]


# ---- the CLI, end to end --------------------------------------------------------------------


def _finops_command() -> list[str]:
    script = Path(sys.executable).parent / "finops"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "finops_cli"]


def run_cli(details: bool, workdir: Path) -> dict[str, Any]:
    """``finops report chargeback --month 2026-10 --format pdf`` on the sample cluster: wall time
    and the child's own peak RSS (``os.wait4``)."""
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),  # no user finops.toml: the sample cluster
        "XDG_CONFIG_HOME": str(home / ".config"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUTF8": "1",
        "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
    }
    if os.environ.get("FINOPS_PDF_FONT_DIR"):
        env["FINOPS_PDF_FONT_DIR"] = os.environ["FINOPS_PDF_FONT_DIR"]
    target = workdir / f"cli-{'details' if details else 'no-details'}.pdf"
    command = [
        *_finops_command(), "report", "chargeback", "--month", MONTH, "--format", "pdf",
        "--details" if details else "--no-details", "--quiet", "--output-file", str(target),
    ]  # fmt: skip
    with (workdir / "cli-stderr.txt").open("wb") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=err, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        text = (workdir / "cli-stderr.txt").read_text(errors="replace").strip()
        return {"error": f"exit {proc.returncode}: {text.splitlines()[-1:] or ''}"}
    from pypdf import PdfReader

    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
        "bytes": target.stat().st_size,
        "pages": len(PdfReader(target).pages),
    }


# ---- the table ------------------------------------------------------------------------------


def machine() -> str:
    model = cpu_model()
    try:
        from importlib.metadata import version

        fpdf = f", fpdf2 {version('fpdf2')}"
    except Exception:  # only a label
        fpdf = ""
    return (
        f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}{fpdf}"
    )


def _load() -> float:
    """The 1-minute load average (a busy machine makes every wall time longer), or NaN."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _mib(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} MiB"


def _aligned(header: list[str], body: list[list[str]], right: set[int]) -> list[str]:
    """A markdown table with padded columns: plain to read, and a table on the docs page."""
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    return [line(header), rule, *(line(r) for r in body)]


def table(results: list[dict[str, Any]], cli: list[tuple[str, dict[str, Any]]]) -> str:
    header = [
        "Teams",
        "Step",
        "Seconds",
        "CPU s",
        "Output bytes",
        "PDF pages",
        "Heap (step)",
        "Peak RSS",
    ]
    body: list[list[str]] = []
    for r in results:
        steps = r["steps"]
        for name in STEPS:
            s = steps[name]
            body.append(
                [
                    str(r["teams"]),
                    name,
                    f"{s['seconds']:.2f}",
                    f"{s['cpu_seconds']:.2f}",
                    f"{s['bytes']:,}" if "bytes" in s else "",
                    str(s.get("pages", "")),
                    _mib(s.get("heap_peak_mib")),
                    "",
                ]
            )
        total = sum(steps[name]["seconds"] for name in STEPS)
        total_cpu = sum(steps[name]["cpu_seconds"] for name in STEPS)
        body.append(
            [
                str(r["teams"]),
                "**total**",
                f"**{total:.2f}**",
                f"{total_cpu:.2f}",
                "",
                "",
                "",
                _mib(r["peak_rss_mib"]),
            ]
        )
    lines = _aligned(header, body, {0, 2, 3, 4, 5, 6, 7})
    if results:
        first = results[0]
        lines.append("")
        runs = "the fastest of {n} runs" if first.get("repeat", 1) > 1 else "one run"
        lines.append(
            f"Input: {first['days']} days ({MONTH}) and the month before, `--by team`, budgets "
            "and every `--details` section ("
            + "; ".join(
                f"{r['teams']} teams: {r['rows']} cost rows, {r['model_rows']} unit-cost, "
                f"{r['recommendation_rows']} recommendation and {r['anomaly_rows']} anomaly rows"
                for r in results
            )
            + f"). Seconds (wall) and CPU s (user + system): "
            f"{runs.format(n=first.get('repeat', 1))}; a format's time is its rendering plus the "
            "atomic write, the total is `build_document` plus the four formats "
            "(generating the input is not counted), and the PDF's includes importing fpdf2 and "
            "reading the font (the first PDF of a process). Heap: tracemalloc's peak during the "
            "step above what was held when it began, from a second run (the PDF's includes "
            "fpdf2's modules and the font). Peak RSS: the whole child process (interpreter, "
            "imports, input, document and every format)."
        )
    if cli:
        lines.append("")
        rows = []
        for variant, c in cli:
            if "error" in c:
                rows.append([variant, c["error"], "", "", "", ""])
                continue
            rows.append(
                [
                    variant,
                    f"{c['seconds']:.2f}",
                    f"{c['cpu_seconds']:.2f}",
                    f"{c['bytes']:,}",
                    str(c["pages"]),
                    _mib(c["peak_rss_mib"]),
                ]
            )
        lines += _aligned(
            [
                "`finops report chargeback --month 2026-10 -f pdf -q`",
                "Seconds",
                "CPU s",
                "Output bytes",
                "PDF pages",
                "Peak RSS",
            ],
            rows,
            {1, 2, 3, 4, 5},
        )
        lines.append("")
        lines.append(
            "End to end on the built-in sample cluster (10 teams, no configuration), in a fresh "
            "process: start-up, queries against the sample source, the document and the PDF."
        )
    return "\n".join(lines)


def run_all(
    args: argparse.Namespace, sizes: list[int]
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Every size in its own child (and a second with ``--heap``), then the CLI variants."""
    results = []
    cli: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="finops-chargeback-bench-") as tmp:
        outdir = args.outdir or Path(tmp)
        outdir.mkdir(parents=True, exist_ok=True)
        for teams in sizes:
            print(f"{teams} teams ...", file=sys.stderr)
            result = measure(teams, outdir, args, heap=False)
            if args.heap:
                heap = measure(teams, Path(tmp), args, heap=True)
                for name, step in heap["steps"].items():
                    result["steps"][name]["heap_peak_mib"] = step["heap_peak_mib"]
            results.append(result)
        if args.cli:
            for variant, details in (("--no-details", False), ("with details", True)):
                print(f"CLI {variant} ...", file=sys.stderr)
                runs = []
                for n in range(max(args.repeat, 1)):
                    workdir = Path(tmp) / f"cli-{int(details)}-{n}"
                    workdir.mkdir()
                    runs.append(run_cli(details, workdir))
                failed = [r for r in runs if "error" in r]
                cli.append(
                    (variant, failed[0] if failed else min(runs, key=lambda r: r["seconds"]))
                )
    return results, cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--teams", default="50,500", help="sizes, comma-separated (50,500)")
    parser.add_argument("--share-idle", choices=("none", "proportional"), default="none")
    parser.add_argument("--repeat", type=int, default=1, help="keep the fastest of N runs")
    parser.add_argument(
        "--heap",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure each step's Python heap peak (tracemalloc, in a second child)",
    )
    parser.add_argument(
        "--cli",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the finops command end to end on the sample cluster",
    )
    parser.add_argument("--outdir", type=Path, default=None, help="keep the reports here")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite the table in {DOC}")
    parser.add_argument("--child", type=int, metavar="TEAMS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        assert args.outdir is not None
        result = run_size(
            args.child, args.outdir, share_idle=args.share_idle, repeat=args.repeat, heap=args.heap
        )
        print(json.dumps(result))
        return 0
    sizes = [int(t) for t in args.teams.split(",") if t.strip()]
    load_before = _load()
    started = time.monotonic()
    results, cli = run_all(args, sizes)
    stamp = f"{datetime.now(UTC):%Y-%m-%d}"
    load = f"load average {load_before:.1f} at the start, {_load():.1f} at the end"
    if args.json:
        figures = {
            "machine": machine(),
            "load": load,
            "date": stamp,
            "sizes": results,
            "cli": dict(cli),
        }
        print(json.dumps(figures, indent=2))
    else:
        text = table(results, cli)
        text += f"\n\nMeasured {stamp} on {machine()}; {load}. Produced by `{COMMAND}`."
        print(text)
        if args.update_docs:
            from tests.benchmarks.forecast_backtest import update_docs

            update_docs(text, DOC, MARK)
            print(f"updated {DOC}", file=sys.stderr)
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
