"""Developer and CI sessions: `nox` runs lint, typecheck and tests; `nox -s bench` on demand."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent


@nox.session(venv_backend="venv")
def lint(session: nox.Session) -> None:
    """ruff lint and format check over the whole repository."""
    session.install("ruff==0.17.6")  # pinned: formatting changes between releases
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="venv")
def typecheck(session: nox.Session) -> None:
    """Strict mypy over the package."""
    session.install("-e", ".[dev]")
    session.run("mypy", "finops_cli")


@nox.session(venv_backend="venv")
def tests(session: nox.Session) -> None:
    """pytest; extra arguments after `--` are passed through (e.g. `nox -s tests -- -k prom`)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


# Every benchmark is a module run with `python -m`; add yours to the list.
BENCHMARKS = [
    "tests.benchmarks.focus_reader",  # FOCUS reader vs DuckDB vs pandas.read_csv, 10M rows
    "tests.benchmarks.forecast_backtest",  # the table in docs/forecast.md (about a minute)
    "tests.benchmarks.anomaly_detection",  # the table in docs/anomalies.md (about 20 s)
    "tests.benchmarks.chargeback_scale",  # "Scale" in docs/reports.md: 50/500 teams (~1.5 min)
    "tests.benchmarks.startup",  # docs/performance.md: finops --version beside python -c pass
    # docs/performance.md: 200/2,000/20,000 GPUs in VictoriaMetrics (an hour on 2 vCPU; needs
    # the victoria-metrics package; `-- scale --sizes 200,2000` for a quick run)
    "tests.benchmarks.scale",
]


@nox.session(venv_backend="venv")
def generate(session: nox.Session) -> None:
    """Regenerate manifests/ rules, Prometheus config and dashboards from the query library."""
    session.install("-e", ".")
    session.run("python", "-m", "finops_cli.deploy.generate", *session.posargs)


@nox.session(venv_backend="venv")
def bench(session: nox.Session) -> None:
    """Every benchmark in BENCHMARKS; `nox -s bench -- NAME [ARGS]` runs one, with its arguments
    (e.g. `nox -s bench -- focus_reader --rows 1000000`)."""
    session.install("-e", ".[test,bench]")
    chosen = BENCHMARKS
    args: list[str] = []
    if session.posargs:
        name, *args = session.posargs
        chosen = [m for m in BENCHMARKS if m.rsplit(".", 1)[-1] == name or m == name]
        if not chosen:
            session.error(f"no benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    for module in chosen:
        session.run("python", "-m", module, *args)
