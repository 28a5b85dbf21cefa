"""Cost attribution: rows per group, plus the two rows that make the cluster's spend add up.

Pure: frames in, a ``CostReport`` out. The invariant every figure rests on is
``sum(allocated rows) + __unallocated__ + __idle__ == cluster GPU spend`` (without filters);
``__unallocated__`` takes pods without the grouping label and any allocated cost no labelled pod
explains (for instance pods kube-state-metrics never reported), ``__idle__`` the capacity nobody
held, at its price. A pod filter (anything but ``cluster``) shows the matching pods only: the
cluster's ``__idle__`` belongs to no team and is left out unless ``include_idle`` asks for it.
Rows split by cluster get one ``__unallocated__`` and one ``__idle__`` row per cluster (the
cluster frame then carries a ``cluster`` column), so a platform team sees which cluster wastes
and the invariant holds per cluster as well as in total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from finops_cli.sources.interface import ALLOCATION_MEASURES, CostData

if TYPE_CHECKING:
    from finops_cli.analytics.energy import EnergySummary, RowEnergy
    from finops_cli.analytics.unit_costs import UnitCost

UNALLOCATED = "__unallocated__"
IDLE = "__idle__"
_EPSILON = 1e-9
_MONEY_NOISE = 1e-6
"""Below a millionth of a currency unit, a difference of two server sums is float noise: the
cluster-wide waste and the rows' waste add the same terms in another order (more so when they
come from different recorded rollups), and noise must not turn an unknown waste into 0."""


@dataclass(frozen=True)
class CostRow:
    """One line of the answer. ``kind`` is ``allocated``, ``unallocated`` or ``idle``."""

    keys: dict[str, str]
    kind: str
    gpu_hours: float
    gpu_cost: float
    cpu_ram_cost: float | None
    total_cost: float
    efficiency: float | None
    waste: float | None
    share: float  # of the total GPU cost shown
    daily_cost: tuple[float, ...]  # GPU cost per UTC day of the window, for trends
    unit: UnitCost | None = None  # requests/tokens economics, when asked for (--unit-costs)
    energy: RowEnergy | None = None  # GPU kWh and kgCO2e, when asked for (--energy)


@dataclass(frozen=True)
class CostTotals:
    gpu_hours: float
    gpu_cost: float
    cpu_ram_cost: float | None
    total_cost: float
    allocated_gpu_cost: float
    unallocated_gpu_cost: float
    idle_gpu_cost: float
    idle_gpu_hours: float
    efficiency: float | None
    waste: float
    cluster_gpu_cost: float
    includes: tuple[str, ...] = ("allocated", "unallocated", "idle")
    """The row kinds ``gpu_cost`` sums: without ``idle`` under a pod filter (no --include-idle)."""


@dataclass(frozen=True)
class CostReport:
    source: str
    start: datetime
    end: datetime
    group_by: tuple[str, ...]
    filters: dict[str, str]
    rows: tuple[CostRow, ...]
    totals: CostTotals
    days: tuple[str, ...]  # the UTC dates ``daily_cost`` refers to
    busy_metric: str | None
    has_cpu_ram: bool
    sample_interval_s: int
    notes: tuple[str, ...]
    energy: EnergySummary | None = None  # when asked for (--energy): method, factors, totals


def attribute_costs(
    data: CostData,
    group_by: tuple[str, ...],
    filters: dict[str, str],
    start: datetime,
    end: datetime,
    *,
    include_idle: bool = False,
) -> CostReport:
    """Turn a source's frames into report rows; see the module docstring for the invariant.

    Without a pod filter the ``__idle__`` row is always there; with one, only if
    ``include_idle`` (a filtered view holds the matching pods only)."""
    alloc = data.allocations.copy()
    keys = list(group_by)
    alloc["_day"] = _day(alloc["bucket_end"])
    if "wasted_cost" not in alloc.columns:  # a frame without the ledger's waste: per bucket row
        seen = alloc["observed_gpu_hours"].where(alloc["observed_gpu_hours"] > 0)
        share = (alloc["busy_gpu_hours"] / seen).clip(0.0, 1.0).fillna(1.0)
        alloc["wasted_cost"] = alloc["gpu_cost"] * (1.0 - share)
    cluster = data.cluster.copy()
    if "allocated_wasted_cost" not in cluster.columns:
        cluster["allocated_wasted_cost"] = 0.0
    cluster["_day"] = _day(cluster["bucket_end"])
    days = tuple(sorted(set(cluster["_day"]) | set(alloc["_day"])))

    # Split by cluster (``--by cluster``, alone or with another key), the special rows are per
    # cluster too: each cluster's __unallocated__ and __idle__, so the invariant holds per
    # cluster. ``_scope`` is the cluster (or "" for the whole estate) a special row belongs to.
    by_cluster = "cluster" in keys and "cluster" in cluster.columns
    alloc["_scope"] = alloc["cluster"].astype(str) if by_cluster else ""
    cluster["_scope"] = cluster["cluster"].astype(str) if by_cluster else ""
    # A pod is unlabelled when it lacks every grouping label; its cluster alone does not label
    # it when there are other keys (it goes to its cluster's __unallocated__ row).
    label_keys = [k for k in keys if k != "cluster"] if by_cluster and len(keys) > 1 else keys
    labelled_mask = (
        (alloc[label_keys] != "").any(axis=1) if keys else pd.Series(True, index=alloc.index)
    )
    labelled = alloc[labelled_mask]
    unlabelled = alloc[~labelled_mask]

    rows = _allocated_rows(labelled, keys, days, data.has_cpu_ram) if keys else []
    scopes = sorted(set(cluster["_scope"]) | set(alloc["_scope"])) or [""]
    unaccounted = not set(filters) - {"cluster"}  # a cluster filter narrows both sides alike
    idle_rows = []
    for scope in scopes:
        in_alloc = alloc[alloc["_scope"] == scope]
        in_cluster = cluster[cluster["_scope"] == scope]
        rows.append(
            _unallocated_row(
                unlabelled[unlabelled["_scope"] == scope],
                in_alloc if unaccounted else None,
                in_cluster,
                _special_keys(keys, scope, UNALLOCATED),
                days,
                data.has_cpu_ram,
            )
        )
        idle_rows.append(_idle_row(in_cluster, _special_keys(keys, scope, IDLE), days))
    with_idle = include_idle or not pod_filters(filters)
    if with_idle:
        rows.extend(idle_rows)

    # Ties (to a millionth: sums of the same costs in another order differ by float noise)
    # keep the groups' alphabetical order.
    allocated_rows = sorted(
        (r for r in rows if r.kind == "allocated"), key=lambda r: -round(r.gpu_cost, 6)
    )
    ordered = [*allocated_rows, *(r for r in rows if r.kind != "allocated")]
    total_gpu = sum(r.gpu_cost for r in ordered)
    ordered = [_with_share(r, total_gpu) for r in ordered]

    cpu_ram_total = sum(r.cpu_ram_cost or 0.0 for r in ordered) if data.has_cpu_ram else None
    busy_all = float(alloc["busy_gpu_hours"].sum())
    observed_all = float(alloc["observed_gpu_hours"].sum())
    unallocated_cost = sum(r.gpu_cost for r in ordered if r.kind == "unallocated")
    idle_cost = sum(r.gpu_cost for r in idle_rows)
    idle_hours = sum(r.gpu_hours for r in idle_rows)
    totals = CostTotals(
        gpu_hours=sum(r.gpu_hours for r in ordered),
        gpu_cost=total_gpu,
        cpu_ram_cost=cpu_ram_total,
        total_cost=total_gpu + (cpu_ram_total or 0.0),
        allocated_gpu_cost=sum(r.gpu_cost for r in allocated_rows),
        unallocated_gpu_cost=unallocated_cost,
        idle_gpu_cost=idle_cost if with_idle else 0.0,
        idle_gpu_hours=idle_hours if with_idle else 0.0,
        efficiency=busy_all / observed_all if observed_all > 0 else None,
        waste=sum(r.waste or 0.0 for r in ordered),
        cluster_gpu_cost=float(cluster["capacity_gpu_cost"].sum()),
        includes=("allocated", "unallocated", *(("idle",) if with_idle else ())),
    )
    return CostReport(
        source=data.source,
        start=start,
        end=end,
        group_by=group_by,
        filters=dict(filters),
        rows=tuple(ordered),
        totals=totals,
        days=days,
        busy_metric=data.busy_metric,
        has_cpu_ram=data.has_cpu_ram,
        sample_interval_s=data.sample_interval_s,
        notes=tuple(data.notes),
    )


def _special_keys(keys: list[str], scope: str, marker: str) -> dict[str, str]:
    """The key columns of an ``__unallocated__`` or ``__idle__`` row: the marker in every key,
    but the cluster it belongs to in the cluster key when rows are split by cluster."""
    if not keys:
        return {"group": marker}
    return {k: (scope if k == "cluster" and scope else marker) for k in keys}


def _unallocated_row(
    unlabelled: pd.DataFrame,
    alloc: pd.DataFrame | None,
    cluster: pd.DataFrame,
    row_keys: dict[str, str],
    days: tuple[str, ...],
    has_cpu_ram: bool,
) -> CostRow:
    """Pods without the grouping labels, plus (``alloc`` given: no pod filter) the allocation
    no row explains, per UTC day and floored at 0: pods kube-state-metrics never reported."""
    un_hours = unlabelled.groupby("_day")["gpu_hours"].sum()
    un_cost = unlabelled.groupby("_day")["gpu_cost"].sum()
    un_wasted = float(unlabelled["wasted_cost"].sum())
    unaccounted_wasted = 0.0
    if alloc is not None:
        all_wasted = cluster.groupby("_day")["allocated_wasted_cost"].sum()
        known_wasted = alloc.groupby("_day")["wasted_cost"].sum()
        unaccounted_wasted = float(all_wasted.sub(known_wasted, fill_value=0).clip(lower=0).sum())
        all_hours = cluster.groupby("_day")["allocated_gpu_hours"].sum()
        all_cost = cluster.groupby("_day")["allocated_gpu_cost"].sum()
        known_hours = alloc.groupby("_day")["gpu_hours"].sum()
        known_cost = alloc.groupby("_day")["gpu_cost"].sum()
        un_hours = un_hours.add(
            all_hours.sub(known_hours, fill_value=0).clip(lower=0), fill_value=0
        )
        un_cost = un_cost.add(all_cost.sub(known_cost, fill_value=0).clip(lower=0), fill_value=0)
    busy = float(unlabelled["busy_gpu_hours"].sum())
    observed = float(unlabelled["observed_gpu_hours"].sum())
    un_cpu_ram = float(unlabelled["cpu_ram_cost"].sum()) if has_cpu_ram else None
    return _make_row(
        row_keys,
        "unallocated",
        float(un_hours.sum()),
        float(un_cost.sum()),
        un_cpu_ram,
        busy / observed if observed > 0 else None,
        tuple(float(un_cost.get(d, 0.0)) for d in days),
        wasted=(
            un_wasted + unaccounted_wasted
            if observed > 0 or unaccounted_wasted > _MONEY_NOISE
            else None
        ),
    )


def _idle_row(cluster: pd.DataFrame, idle_keys: dict[str, str], days: tuple[str, ...]) -> CostRow:
    """Capacity no pod held: its whole cost is idle and all of it is waste."""
    idle_hours_by_day = (
        cluster.groupby("_day")["capacity_gpu_hours"]
        .sum()
        .sub(cluster.groupby("_day")["allocated_gpu_hours"].sum(), fill_value=0)
    )
    idle_cost_by_day = (
        cluster.groupby("_day")["capacity_gpu_cost"]
        .sum()
        .sub(cluster.groupby("_day")["allocated_gpu_cost"].sum(), fill_value=0)
    )
    return _make_row(
        idle_keys,
        "idle",
        max(float(idle_hours_by_day.sum()), 0.0),
        max(float(idle_cost_by_day.sum()), 0.0),
        None,
        0.0,
        tuple(max(float(idle_cost_by_day.get(d, 0.0)), 0.0) for d in days),
        wasted=max(float(idle_cost_by_day.sum()), 0.0),
    )


def pod_filters(filters: dict[str, str]) -> dict[str, str]:
    """The filters that select pods (``cluster`` is a scope: it narrows capacity alike)."""
    return {k: v for k, v in filters.items() if k != "cluster"}


def _day(bucket_end: pd.Series) -> pd.Series:
    """The UTC date a bucket belongs to (a bucket ending at midnight belongs to the day before).

    Dates are formatted once per distinct day, not once per row: a fleet's frame has a row per
    group and bucket."""
    shifted = pd.to_datetime(bucket_end, utc=True) - pd.Timedelta(milliseconds=1)
    codes, uniques = pd.factorize(shifted.dt.floor("D"))
    names = pd.DatetimeIndex(uniques).strftime("%Y-%m-%d").to_numpy(dtype=object)
    return pd.Series(names[codes] if len(codes) else codes, index=bucket_end.index, dtype=object)


def _allocated_rows(
    labelled: pd.DataFrame, keys: list[str], days: tuple[str, ...], has_cpu_ram: bool
) -> list[CostRow]:
    """One row per group, in key order: every group's sums and daily costs in two grouped
    passes (a pass per group costs a second or more at a hundred teams)."""
    measures = [*ALLOCATION_MEASURES]
    sums = labelled.groupby(keys, sort=True)[measures].sum()
    daily = (
        labelled.groupby([*keys, "_day"], sort=False)["gpu_cost"]
        .sum()
        .unstack("_day", fill_value=0)
        .reindex(index=sums.index, columns=list(days), fill_value=0.0)
    )
    rows = []
    for key_values, (hours, cost, cpu_ram, busy, observed, wasted), daily_row in zip(
        sums.index,
        sums.to_numpy(dtype="float64").tolist(),
        daily.to_numpy(dtype="float64").tolist(),
        strict=True,
    ):
        values = key_values if isinstance(key_values, tuple) else (key_values,)
        row_keys = {
            k: (str(v) if v != "" else UNALLOCATED) for k, v in zip(keys, values, strict=True)
        }
        rows.append(
            _make_row(
                row_keys,
                "allocated",
                hours,
                cost,
                cpu_ram if has_cpu_ram else None,
                busy / observed if observed > 0 else None,
                tuple(daily_row),
                wasted=wasted if observed > 0 else None,
            )
        )
    return rows


def _make_row(
    keys: dict[str, str],
    kind: str,
    gpu_hours: float,
    gpu_cost: float,
    cpu_ram_cost: float | None,
    efficiency: float | None,
    daily: tuple[float, ...],
    *,
    wasted: float | None,
) -> CostRow:
    """``wasted`` is the ledger's waste of the row (``wasted_cost`` summed), ``None`` when no
    GPU of the row had a busy reading."""
    gpu_cost = 0.0 if abs(gpu_cost) < _EPSILON else gpu_cost
    gpu_hours = 0.0 if abs(gpu_hours) < _EPSILON else gpu_hours
    if efficiency is not None:
        efficiency = min(max(efficiency, 0.0), 1.0)
    return CostRow(
        keys=keys,
        kind=kind,
        gpu_hours=gpu_hours,
        gpu_cost=gpu_cost,
        cpu_ram_cost=cpu_ram_cost,
        total_cost=gpu_cost + (cpu_ram_cost or 0.0),
        efficiency=efficiency,
        waste=wasted,
        share=0.0,
        daily_cost=daily,
    )


def _with_share(row: CostRow, total: float) -> CostRow:
    from dataclasses import replace

    return replace(row, share=row.gpu_cost / total if total > 0 else 0.0)
