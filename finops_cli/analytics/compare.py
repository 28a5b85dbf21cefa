"""Two sources side by side: the same rows from Prometheus and from OpenCost, and their gap.

Pure. A gap is expected to be small where both read the same allocation; a large one points at a
pricing or labelling difference worth a look (OpenCost's GPU efficiency, for instance, is
MIG-unaware and its idle entry carries no GPU-hours).
"""

from __future__ import annotations

from dataclasses import dataclass

from finops_cli.analytics.costs import CostReport


@dataclass(frozen=True)
class ComparedRow:
    keys: dict[str, str]
    gpu_cost: float | None
    other_gpu_cost: float | None
    difference: float | None  # gpu_cost - other_gpu_cost
    difference_pct: float | None  # of other_gpu_cost


def compare_reports(primary: CostReport, other: CostReport) -> tuple[ComparedRow, ...]:
    """Row by row on the group keys; a row missing on one side shows None there."""

    def key(keys: dict[str, str]) -> tuple[str, ...]:
        return tuple(keys.get(k, "") for k in primary.group_by)

    mine = {key(r.keys): r for r in primary.rows}
    theirs = {key(r.keys): r for r in other.rows}
    order = list(mine) + [k for k in theirs if k not in mine]
    out = []
    for k in order:
        a = mine[k].gpu_cost if k in mine else None
        b = theirs[k].gpu_cost if k in theirs else None
        diff = a - b if a is not None and b is not None else None
        pct = diff / b if diff is not None and b else None
        out.append(ComparedRow(dict(zip(primary.group_by, k, strict=True)), a, b, diff, pct))
    return tuple(out)
