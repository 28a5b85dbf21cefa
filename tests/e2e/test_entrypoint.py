"""The installed `finops` console script starts, and start-up stays light."""

from __future__ import annotations

import ast

import pytest

from finops_cli import __version__
from tests.support.cli import run_finops, run_python

# pydantic: about 0.15 s of imports and model building (typer 0.29 needs it; pyproject pins below)
HEAVY_MODULES = ("pandas", "numpy", "boto3", "fpdf", "jinja2", "pydantic")


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


QUERY_COMMANDS = {
    "costs": ["costs", "--by", "team", "-o", "json"],
    "unit costs": ["costs", "--unit-costs", "-o", "json"],
    "forecast": ["forecast", "-o", "json"],
    "anomalies": ["anomalies", "-o", "json"],
    "gpus": ["gpus", "-o", "json"],
    "rightsize": ["rightsize", "-o", "json"],
    # A document command: its format is --format, not -o.
    "report chargeback": ["report", "chargeback", "-f", "json", "--output-file", "-"],
}

# The first query is stopped where it would leave, and the modules loaded by then are printed
# (once: a report's sections, and costs with unit costs, send their first queries side by side).
FIRST_QUERY_PROBE = """
import sys
import threading
import finops_cli.usecases.sources as sources
from finops_cli.sources import prometheus_client

sources.load_in_background = lambda modules: None  # only what the command itself imports
first = threading.Lock()
def first_query(*args, **kwargs):
    if first.acquire(blocking=False):
        print(sorted(m for m in {heavy!r} if m in sys.modules), flush=True)
    raise SystemExit(0)
prometheus_client.PrometheusClient._send = first_query
sys.argv = ["finops", *{argv!r}, "--prometheus-url", "http://127.0.0.1:9"]
from finops_cli.cli.app import main
main()
"""


@pytest.mark.parametrize("command", list(QUERY_COMMANDS))
def test_the_first_query_leaves_before_pandas_is_imported(command: str) -> None:
    """pandas takes half a second to import: it loads on a thread while the queries run
    (``load_in_background``), so nothing on the way to the first query may import it."""
    code = FIRST_QUERY_PROBE.format(heavy=HEAVY_MODULES, argv=QUERY_COMMANDS[command])
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert ast.literal_eval(result.stdout.strip()) == []


def test_a_subcommand_run_registers_only_that_command() -> None:
    """typer builds every registered command's parameters on each run: a run builds its own."""
    code = (
        "import sys; from finops_cli.cli.app import build_app, COMMANDS; "
        "names = lambda app: [c.name for c in app.registered_commands] "
        "+ [g.name for g in app.registered_groups]; "
        "costs = names(build_app(['costs', '--by', 'team'])); "
        "other_modules = sorted(m for m in sys.modules if m.startswith('finops_cli.cli.') "
        "and m not in ('finops_cli.cli.app', 'finops_cli.cli.costs', 'finops_cli.cli.common', "
        "'finops_cli.cli.help')); "
        "print(costs, other_modules, names(build_app(['billing', 'actual'])), "
        "len(names(build_app(['--help']))), len(names(build_app(['cost']))), len(COMMANDS))"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["['costs']", "[]", "['billing']", "9", "9", "9"]


def test_a_mistyped_command_is_still_suggested() -> None:
    result = run_finops("cost", "--by", "team")
    assert result.returncode == 2
    assert result.stderr.strip() == "finops: error: No such command 'cost'. Did you mean 'costs'?"
