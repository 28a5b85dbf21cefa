"""Every table in a real terminal: tmux panes of 80, 120 and 200 columns on the sample. No line
wider than the terminal, no number or identifier cut with "…", and the identifiers of the JSON
shown whole."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import run_finops
from tests.support.terminal import assert_fits, assert_whole, run_in_terminal, tmux_available

pytestmark = pytest.mark.skipif(not tmux_available(), reason="tmux is not installed")

WINDOW = ("--window", "2d", "--end", "2026-11-25", "-q")
COMMANDS = {
    "costs": ("costs", *WINDOW),
    "costs-two-keys": ("costs", *WINDOW, "--by", "team", "--by", "project"),
    "costs-gpu-model": ("costs", *WINDOW, "--by", "gpu-model"),
    "unit-costs": ("costs", *WINDOW, "--unit-costs"),
    "forecast": ("forecast", "--as-of", "2026-11-20", "-q"),
    "anomalies": ("anomalies", "--window", "30d", "--end", "2026-10-31", "-q"),
    "billing-actual": ("billing", "actual", "--source", "sample", *WINDOW),
    "billing-two-keys": (
        "billing", "actual", "--source", "sample", *WINDOW, "--by", "service", "--by", "team",
    ),
    "billing-forecast": ("billing", "forecast", "--source", "sample", "-q"),
    "billing-compare": ("billing", "compare", "--source", "sample", *WINDOW),
    "pricing-list": ("pricing", "list", "--gpu", "h100"),
    "pricing-explain": ("pricing", "explain", *WINDOW),
    "gpus": ("gpus", *WINDOW),
    "gpus-idle": ("gpus", "--idle", *WINDOW),
    "gpus-by-team": ("gpus", "--by", "team", *WINDOW),
    "rightsize": ("rightsize", *WINDOW),
    "costs-energy": ("costs", *WINDOW, "--energy"),
    "billing-commitments": ("billing", "commitments", "--source", "sample", "-q"),
}  # fmt: skip
IDENTIFIERS = {  # JSON fields whose every value the table must show whole
    "costs": ("team",),
    "costs-two-keys": ("team", "project"),
    "costs-gpu-model": ("gpu_model",),
    "unit-costs": ("model",),
    "anomalies": ("team", "metric"),
    "billing-actual": ("team",),
    "billing-two-keys": ("service", "team"),
    "billing-compare": ("instance_type",),
    "pricing-list": ("provider", "instance_type"),
    "pricing-explain": ("instance_type",),
    "gpus-by-team": ("team",),
    "costs-energy": ("team",),
}


def _json_rows(args: tuple[str, ...]) -> list[dict]:
    result = run_finops(*args, "-o", "json")
    assert result.returncode in (0, 3), result.stderr
    return json.loads(result.stdout).get("rows", [])


@pytest.mark.parametrize("width", [80, 120, 200])
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_table_fits_the_terminal(name, width):
    args = COMMANDS[name]
    screen = run_in_terminal(args, width)
    assert_fits(screen, width)
    assert "─" in screen.text  # it is the table, not JSON
    fields = IDENTIFIERS.get(name, ())
    if fields:
        rows = _json_rows(args)
        if name == "unit-costs":  # the unit table lists models, not __unallocated__ / __idle__
            rows = [row for row in rows if "unit_cost_status" in row]
        values = {str(row[f]) for row in rows for f in fields if row.get(f)}
        assert_whole(screen, sorted(values))


def test_narrow_tables_drop_whole_columns_and_keep_numbers():
    screen = run_in_terminal(["forecast", "--as-of", "2026-11-20", "-q"], 80)
    assert_fits(screen, 80)
    header = next(line for line in screen.lines if "Team" in line)
    assert "Projected" in header and "Status" in header
    assert "Last 30 days" not in header  # dropped whole, not squeezed
    explain = run_in_terminal(["pricing", "explain", *WINDOW], 80)
    assert_whole(explain, ["ip-10-0-1-10", "ip-10-0-1-11", "6.1920"])
    assert "without their shared .ec2.internal" in explain.text
