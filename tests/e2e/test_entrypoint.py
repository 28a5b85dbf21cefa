"""The installed `finops` console script starts, and start-up stays light."""

from __future__ import annotations

import ast

from finops_cli import __version__
from tests.support.cli import run_finops, run_python

HEAVY_MODULES = ("pandas", "numpy", "boto3", "fpdf", "jinja2")


def test_version() -> None:
    result = run_finops("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"finops {__version__}"


def test_help() -> None:
    result = run_finops("--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_importing_the_app_loads_no_heavy_module() -> None:
    code = (
        "import finops_cli.cli.app, sys; "
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert ast.literal_eval(result.stdout.strip()) == []
