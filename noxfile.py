"""Developer and CI sessions: `nox` runs lint, typecheck and tests; `nox -s fast` is the inner
loop (no real servers, no subprocess CLI runs); `nox -s audit` checks the pinned dependencies for
known vulnerabilities; `nox -s bench` on demand. Every install is pinned by constraints.txt
(regenerate it with `nox -s lock`)."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
# The lock file: every package any session installs, pinned (docs/testing.md).
CONSTRAINTS = ROOT / "constraints.txt"
# pytest-xdist: a worker per CPU (at most 4), each taking whole modules (docs/testing.md).
PARALLEL = ("-n", "auto", "--maxprocesses=4", "--dist", "loadfile")


def install(session: nox.Session, *args: str) -> None:
    """``pip install`` pinned to constraints.txt."""
    session.install("-c", str(CONSTRAINTS), *args)


@nox.session(venv_backend="venv")
def lint(session: nox.Session) -> None:
    """ruff lint and format check over the whole repository."""
    install(session, "ruff==0.17.6")  # pinned: formatting changes between releases
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="venv")
def typecheck(session: nox.Session) -> None:
    """Strict mypy over the package."""
    install(session, "-e", ".[dev]")
    session.run("mypy", "finops_cli")


@nox.session(venv_backend="venv")
def tests(session: nox.Session) -> None:
    """pytest, all of it (what CI runs); extra arguments after `--` are passed through
    (e.g. `nox -s tests -- -k prom`, `nox -s tests -- -m prometheus`, `-- -n 0` for one
    process). Parallel by test module (pytest-xdist, `--dist loadfile`): a module's servers are
    built once, in one worker. On 2 vCPUs: 43 min with two workers; one process took 72 min
    inside the CI run of 2026-12-07."""
    install(session, "-e", ".[test]")
    session.run("pytest", *PARALLEL, *session.posargs)


@nox.session(venv_backend="venv")
def fast(session: nox.Session) -> None:
    """The inner loop: `pytest -m "not slow"`, i.e. without the tests that start Prometheus or
    VictoriaMetrics or run the `finops` script in a subprocess (markers: docs/testing.md)."""
    install(session, "-e", ".[test]")
    session.run("pytest", "-m", "not slow", "-q", *session.posargs)


@nox.session(venv_backend="venv")
def audit(session: nox.Session) -> None:
    """Known vulnerabilities (PyPI's advisory data, via pip-audit) in every version
    constraints.txt pins. Any finding fails; a package that could not be checked is named on
    stderr, and fails too with AUDIT_STRICT=1 (.ci/audit.py says why it is not the default)."""
    install(session, "pip-audit")
    report = Path(session.create_tmp()) / "pip-audit.json"
    session.run(
        "pip-audit",
        "--progress-spinner=off",
        "--requirement",
        str(CONSTRAINTS),
        "--no-deps",  # the file is already the whole resolved set
        "--disable-pip",
        "--format=json",
        f"--output={report}",
        *session.posargs,
        success_codes=[0, 1],  # a finding exits 1; .ci/audit.py judges the report
    )
    session.run("python", str(ROOT / ".ci" / "audit.py"), str(report))


@nox.session(venv_backend="venv", reuse_venv=False)
def lock(session: nox.Session) -> None:
    """Regenerate constraints.txt: resolve the project with every extra (and pip-audit) from
    PyPI alone into a fresh venv, unconstrained, and freeze it."""
    header = [
        line
        for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    ]
    # PyPI alone: no pip.conf, find-links, extra index or constraints of this machine.
    pypi_only = {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_FIND_LINKS": "",
        "PIP_EXTRA_INDEX_URL": "",
        "PIP_CONSTRAINT": "",
        "PIP_INDEX_URL": "https://pypi.org/simple",
    }
    session.install("-e", ".[dev,bench]", "pip-audit", env=pypi_only)
    frozen = session.run("pip", "freeze", "--exclude-editable", silent=True)
    assert isinstance(frozen, str)
    pins = [line for line in frozen.splitlines() if line and not line.startswith("#")]
    CONSTRAINTS.write_text("\n".join([*header, *pins]) + "\n", encoding="utf-8")
    session.log(f"wrote {len(pins)} pins to {CONSTRAINTS.name}")


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
    # docs/performance.md: samples read, recorded ledger vs raw, test-sized Prometheus (~7 min)
    "tests.benchmarks.recorded_samples",
]


@nox.session(venv_backend="venv")
def generate(session: nox.Session) -> None:
    """Regenerate manifests/ rules, Prometheus config and dashboards from the query library."""
    install(session, "-e", ".")
    session.run("python", "-m", "finops_cli.deploy.generate", *session.posargs)


@nox.session(venv_backend="venv")
def bench(session: nox.Session) -> None:
    """Every benchmark in BENCHMARKS; `nox -s bench -- NAME [ARGS]` runs one, with its arguments
    (e.g. `nox -s bench -- focus_reader --rows 1000000`)."""
    install(session, "-e", ".[test,bench]")
    chosen = BENCHMARKS
    args: list[str] = []
    if session.posargs:
        name, *args = session.posargs
        chosen = [m for m in BENCHMARKS if m.rsplit(".", 1)[-1] == name or m == name]
        if not chosen:
            session.error(f"no benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    for module in chosen:
        session.run("python", "-m", module, *args)
