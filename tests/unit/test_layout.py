"""``render.layout``: columns drop whole, least useful first; numbers and names are never cut."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from finops_cli.render.layout import Column, Row, common_domain, fitted_table, kept_headers

COLUMNS = [
    Column("Name"),
    Column("Cost", "right"),
    Column("Detail", drop=2, wrap=True, min_width=10),
    Column("Extra", "right", drop=1),
]
ROWS = [
    Row(["a-rather-long-identifier-0001", "1,234,567.89", "some words that may wrap", "42"]),
    Row(["short", "0.01", "x", "7"]),
]


def _render(width: int) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(fitted_table("t", COLUMNS, ROWS, width))
    return out.getvalue().splitlines()


@pytest.mark.parametrize(
    ("width", "headers"),
    [
        (200, ["Name", "Cost", "Detail", "Extra"]),
        (70, ["Name", "Cost", "Detail", "Extra"]),  # Detail wraps
        (60, ["Name", "Cost", "Extra"]),  # Detail (drop 2) goes before Extra (drop 1)
        (50, ["Name", "Cost"]),
        (30, ["Name", "Cost"]),  # too narrow even for these: they stay, rich folds them
    ],
)
def test_columns_drop_whole_by_priority(width, headers):
    assert kept_headers(COLUMNS, ROWS, width) == headers


@pytest.mark.parametrize("width", [50, 60, 80, 120])
def test_nothing_is_cut_and_nothing_overflows(width):
    lines = _render(width)
    text = "\n".join(lines)
    assert "…" not in text
    assert all(len(line) <= width for line in lines)
    assert "a-rather-long-identifier-0001" in text and "1,234,567.89" in text


def test_common_domain():
    assert common_domain(["ip-1.ec2.internal", "ip-2.ec2.internal"]) == ".ec2.internal"
    assert common_domain(["a.x.example.com", "b.y.example.com"]) == ".example.com"
    assert common_domain(["gpu-node-1", "gpu-node-2"]) == ""
    assert common_domain(["a.b", "c"]) == ""


def test_deploy_status_table_keeps_names_whole():
    from finops_cli.cli.deploy import status_table
    from finops_cli.deploy.orchestrate import Workload

    rows = [
        Workload("finops-monitoring", "DaemonSet", "nvidia-dcgm-exporter-with-long-name", 3, 3),
        Workload("opencost", "Deployment", "opencost", 0, 1),
    ]
    for width in (60, 80, 120):
        out = io.StringIO()
        console = Console(file=out, width=width, color_system=None)
        console.print(status_table("kind-finops", rows, width))
        text = out.getvalue()
        assert "nvidia-dcgm-exporter-with-long-name" in text and "0/1" in text
        assert "…" not in text
        assert all(len(line) <= width for line in text.splitlines())
