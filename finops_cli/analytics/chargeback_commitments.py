"""Commitment discounts shared to the groups that used the covered hours; unused commitment.

Pure: the bill's commitment rows (``sources.focus_commitments.COMMITMENT_COLUMNS``), the
ledger's GPU-hours per group and node and the nodes' instance types in; a ``CommitmentShare``
out. The rule (docs/reports.md, "Commitments"):

* **The discount** of an instance family is what its committed-covered instance-hours would
  have cost on demand minus what they cost: ``ListCost - EffectiveCost`` summed over the bill's
  *used* commitment rows of GPU instances of that family (Savings Plans, Reserved Instances,
  Capacity Blocks; an on-demand capacity reservation is priced on demand and gives none).
  Rows without a ``ListCost`` give none (a note counts them).
* **Who gets it.** A commitment covers instance-hours, not pods, and a bill does not say which
  instance it covered when several of the family ran: each GPU-hour of the family's nodes gets
  the same part. A group's share is its GPU-hours on the family's nodes (the ledger: the same
  GPU-hours as its cost) over all GPU-hours of those nodes; the hours no pod held go with
  ``__idle__`` and unlabelled pods' with ``__unallocated__``, so the discount on idle capacity
  is not handed to the teams that did not use it and idle is not overstated.
* **Unused commitment** (committed money no usage consumed, as ``finops billing commitments``
  counts it) is a line of its own, never folded into idle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from finops_cli.analytics.commitments import classify, commitment_report
from finops_cli.analytics.costs import IDLE, UNALLOCATED, CostReport
from finops_cli.sources.billing import instance_family


@dataclass(frozen=True)
class FamilyDiscount:
    family: str
    instance_types: tuple[str, ...]
    covered_hours: float  # committed-covered instance-hours in the bill
    list_cost: float  # what they would have cost on demand
    effective_cost: float  # what they cost (amortized)
    gpu_hours: float  # the ledger's GPU-hours on the family's nodes
    shares: dict[str, float]  # group (or __unallocated__ / __idle__) -> its part of the discount

    @property
    def discount(self) -> float:
        return self.list_cost - self.effective_cost

    @property
    def shared(self) -> float:
        return sum(self.shares.values())


@dataclass(frozen=True)
class UnusedLine:
    commitment_id: str
    kind: str
    unused: float
    utilisation: float | None


@dataclass(frozen=True)
class CommitmentShare:
    source: str
    families: tuple[FamilyDiscount, ...]
    unused: tuple[UnusedLine, ...]
    unused_total: float
    committed: float
    used: float
    notes: tuple[str, ...]

    def discount_of(self, name: str) -> float:
        return sum(f.shares.get(name, 0.0) for f in self.families)

    @property
    def discount(self) -> float:
        return sum(f.shared for f in self.families)


def ledger_hours(by_node: CostReport, key: str) -> pd.DataFrame:
    """``group``, ``node``, ``gpu_hours`` from a report grouped by ``(key, "node")``: pods
    without the group's label as ``__unallocated__``."""
    records = []
    for row in by_node.rows:
        if row.kind != "allocated":
            continue  # allocation no pod explains has no node: it stays out of the split
        node = row.keys.get("node", "")
        group = row.keys.get(key, "") or UNALLOCATED
        records.append((group, node, row.gpu_hours))
    return pd.DataFrame(records, columns=["group", "node", "gpu_hours"])


def share_commitments(
    bill: pd.DataFrame, held: pd.DataFrame, nodes: pd.DataFrame, source: str
) -> CommitmentShare:
    """Each family's discount split over ``held`` (``ledger_hours``) and idle, by GPU-hours on
    the family's nodes (``nodes``: ``CostSource.node_costs``); the unused commitment lines."""
    rows = classify(bill)
    notes: list[str] = []
    used = rows[(rows["state"] == "used") & rows["gpu"]] if len(rows) else rows
    if len(used):
        used = used[used["kind"] != "capacity-reservation"]
    node_family = {
        str(n): instance_family(str(t))
        for n, t in zip(nodes["node"], nodes["instance_type"], strict=True)
        if t
    }
    capacity: dict[str, float] = {}
    for n, count, hours in zip(nodes["node"], nodes["gpu_count"], nodes["hours"], strict=True):
        fam = node_family.get(str(n))
        if fam is not None:
            capacity[fam] = capacity.get(fam, 0.0) + float(count) * float(hours)
    held = held.assign(family=held["node"].map(node_family))
    families = []
    missing_list = 0
    for family, rows_of in used.groupby("family", sort=True) if len(used) else ():
        listed = rows_of["list_cost"].astype(float)
        known = listed.notna() & (listed > 0)
        missing_list += int((~known).sum())
        part = rows_of[known]
        list_cost = float(part["list_cost"].astype(float).sum())
        effective = float(part["effective_cost"].astype(float).sum())
        discount = list_cost - effective
        whole = capacity.get(str(family), 0.0)
        mine = held[held["family"] == family].groupby("group")["gpu_hours"].sum()
        shares: dict[str, float] = {}
        if whole > 0 and abs(discount) > 0:
            for group, hours in mine.items():
                shares[str(group)] = discount * float(hours) / whole
            idle = max(whole - float(mine.sum()), 0.0)
            shares[IDLE] = shares.get(IDLE, 0.0) + discount * idle / whole
        elif abs(discount) > 0:
            notes.append(
                f"commitment discount {discount:,.2f} on {family} instances not shared: the "
                f"cluster ran no {family} GPU nodes in the period (another account's?)"
            )
        families.append(
            FamilyDiscount(
                family=str(family),
                instance_types=tuple(sorted({str(t) for t in part["instance_type"]})),
                covered_hours=float(part["hours"].sum()),
                list_cost=list_cost,
                effective_cost=effective,
                gpu_hours=whole,
                shares=shares,
            )
        )
    if missing_list:
        notes.append(
            f"{missing_list} used commitment row(s) without a ListCost: no discount counted "
            "for them"
        )
    report = commitment_report(bill)
    unused = tuple(
        UnusedLine(c.commitment_id, c.kind, c.unused, c.utilisation)
        for c in report.commitments
        if c.unused > 0 and not math.isclose(c.unused, 0.0, abs_tol=1e-9)
    )
    return CommitmentShare(
        source=source,
        families=tuple(families),
        unused=unused,
        unused_total=report.unused,
        committed=report.committed,
        used=report.used,
        notes=(*report.notes, *notes),
    )
