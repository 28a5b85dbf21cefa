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
    session.install("ruff>=0.6")
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


@nox.session(venv_backend="venv")
def bench(session: nox.Session) -> None:
    """Benchmarks (`python -m tests.benchmarks`), when they exist."""
    session.install("-e", ".[test]")
    package = ROOT / "tests" / "benchmarks"
    if (package / "__main__.py").is_file() or (ROOT / "tests" / "benchmarks.py").is_file():
        session.run("python", "-m", "tests.benchmarks", *session.posargs)
    else:
        session.log("no benchmark exists yet (tests/benchmarks is missing); nothing to run")
