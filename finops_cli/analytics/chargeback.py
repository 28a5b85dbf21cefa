"""Chargeback: who pays what for a period, built from ``attribute_costs`` reports.

Pure: cost reports (this period's and the one before), budgets and the optional sections in, one
``dict`` document out (the JSON of ``finops report chargeback``; the CSV, HTML and PDF are
renderings of exactly this document).

Idle sharing (``share_idle``):

- ``none``: ``__unallocated__`` and ``__idle__`` stay rows of their own; the rows add up to the
  cluster's spend exactly as in ``finops costs``.
- ``proportional``: the idle and unallocated GPU cost (and the unallocated CPU/RAM cost) is spread
  over the groups in proportion to their own GPU cost; the groups' totals then add up to the
  cluster's whole spend, and ``shared_idle_cost`` says how much of each total came from the pool.

The change against the period before compares like with like (``analytics.periods``): a whole
month with the whole previous month, a month to date with the same elapsed span of the previous
month, a week or any other window with the span of the same length just before it. The
``comparison`` object and a note say which.

Budgets are monthly GPU budgets (``[budgets]``); a calendar-month period compares against the
monthly amount, any other period against the amount pro-rated by its length (30.4375-day month).
The variance is the group's chargeable GPU cost (its GPU cost plus shared idle) minus the budget:
positive means over budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from finops_cli.analytics.costs import IDLE, UNALLOCATED, CostReport, CostRow
from finops_cli.analytics.periods import Period, comparison, describe, iso
from finops_cli.analytics.rightsize_common import CAPACITY_ACTIONS

RULE = (
    "commitment discount (ListCost - EffectiveCost of the bill's used commitment rows) of each "
    "GPU instance family shared by the ledger's GPU-hours on that family's nodes; hours no pod "
    "held take their part as __idle__"
)
UNUSED_COMMITMENT = "__unused_commitment__"

if TYPE_CHECKING:
    from finops_cli.analytics.anomalies import Anomaly
    from finops_cli.analytics.budgets import Budget
    from finops_cli.analytics.chargeback_commitments import CommitmentShare
    from finops_cli.analytics.rightsize_common import Recommendation

SCHEMA_VERSION = "1"
SHARE_MODES = ("none", "proportional")
# --by value -> the cost-report group key, which is also the rows' field name.
GROUP_FIELDS = {
    "team": "team",
    "project": "project",
    "cost-center": "cost_center",
    "cluster": "cluster",
}
# Recommendations are per workload, which knows its team and project (not its cost center).
RECOMMENDATION_KEYS = {"team": "team", "project": "project"}
AVERAGE_MONTH_DAYS = 30.4375
TOP_TEAMS = 5
TOP_RECOMMENDATIONS = 3
TOP_ANOMALIES = 5


@dataclass(frozen=True)
class Group:
    """One group's figures before sharing (cost rows of the same kind and name, merged)."""

    name: str
    kind: str  # allocated, unallocated, idle
    gpu_hours: float
    gpu_cost: float
    cpu_ram_cost: float | None
    waste: float | None
    efficiency: float | None
    daily_cost: tuple[float, ...]
    kwh: float | None = None  # GPU energy (with --energy), kWh at the GPU
    kg_co2e: float | None = None  # kWh x PUE x grid factor; None where a factor is unknown
    cluster: str = ""
    """The cluster an ``__unallocated__`` or ``__idle__`` row belongs to when the report is split
    by cluster ("" otherwise): those rows are per cluster and never merged across clusters."""

    @property
    def ident(self) -> tuple[str, str, str]:
        """What tells groups apart: by cluster, a cluster's own row and its idle share a name."""
        return (self.kind, self.name, self.cluster)


@dataclass
class Extras:
    """Optional sections; ``None`` means the section could not be built (left out, not faked)."""

    models: dict[str, list[dict[str, Any]]] | None = None
    recommendations: list[Recommendation] | None = None
    anomalies: list[Anomaly] | None = None
    notes: list[str] = field(default_factory=list)


def groups_of(report: CostReport, key: str) -> list[Group]:
    """The report's rows as groups named by ``key``'s value (unallocated and idle by kind).

    A report split by cluster (``cluster`` among its keys) has an ``__unallocated__`` and an
    ``__idle__`` row per cluster: they stay apart (``Group.cluster``), so the invariant holds per
    cluster. By cluster alone, a cluster's special rows are named by the cluster, as in
    ``finops costs --by cluster`` (``kind`` tells them from its allocated row)."""
    split = "cluster" in report.group_by
    merged: dict[tuple[str, str, str], list[CostRow]] = {}
    for row in report.rows:
        name = row.keys.get(key, row.keys.get("group", ""))
        cluster = ""
        if row.kind != "allocated":
            cluster = row.keys.get("cluster", "") if split else ""
            if cluster in (UNALLOCATED, IDLE):  # pods with no cluster label: no cluster
                cluster = ""
            if key != "cluster" or not cluster:
                name = UNALLOCATED if row.kind == "unallocated" else IDLE
        elif split and key == "cluster":
            cluster = name  # a cluster's own row: its idle and unallocated are shared over it
        merged.setdefault((row.kind, name, cluster), []).append(row)
    out = [_merge(name, kind, rows, cluster) for (kind, name, cluster), rows in merged.items()]
    order = {"allocated": 0, "unallocated": 1, "idle": 2}
    # Rounded to the cent: groups of equal cost whose sums differ in the last float bits (summed
    # in another order, from recorded rollups or raw series) keep one order, by name.
    return sorted(out, key=lambda g: (order[g.kind], g.cluster, -round(g.gpu_cost, 2), g.name))


def _merge(name: str, kind: str, rows: list[CostRow], cluster: str = "") -> Group:
    gpu_cost = sum(r.gpu_cost for r in rows)
    cpu = [r.cpu_ram_cost for r in rows]
    wastes = [r.waste for r in rows]
    waste = None if any(w is None for w in wastes) else sum(w or 0.0 for w in wastes)
    if len(rows) == 1:
        efficiency = rows[0].efficiency
    elif waste is not None and gpu_cost > 0:
        efficiency = min(max(1.0 - waste / gpu_cost, 0.0), 1.0)  # cost-weighted
    else:
        efficiency = None
    days = len(rows[0].daily_cost)
    energies = [r.energy for r in rows]
    kwh = kg = None
    if all(e is not None for e in energies):
        kwh = sum(e.kwh for e in energies if e is not None)
        kgs = [e.kg_co2e for e in energies if e is not None]
        kg = None if any(k is None for k in kgs) else sum(k or 0.0 for k in kgs)
    return Group(
        name=name,
        kind=kind,
        gpu_hours=sum(r.gpu_hours for r in rows),
        gpu_cost=gpu_cost,
        cpu_ram_cost=None if any(c is None for c in cpu) else sum(c or 0.0 for c in cpu),
        waste=waste,
        efficiency=efficiency,
        daily_cost=tuple(sum(r.daily_cost[i] for r in rows) for i in range(days)),
        kwh=kwh,
        kg_co2e=kg,
        cluster=cluster,
    )


@dataclass(frozen=True)
class _Shared:
    idle: dict[str, float]
    cpu_ram: dict[str, float]
    shared: bool
    kwh: dict[str, float] = field(default_factory=dict)  # the pool's energy, like its cost
    kg_co2e: dict[str, float | None] = field(default_factory=dict)


def _share(groups: Sequence[Group], mode: str) -> _Shared:
    """``proportional``: each idle or unallocated group's cost spread over the allocated groups
    in proportion to their GPU cost; a cluster's own over that cluster's groups when the report
    is split by cluster (over every group when it has none)."""
    allocated = [g for g in groups if g.kind == "allocated"]
    base = sum(g.gpu_cost for g in allocated)
    if mode != "proportional" or base <= 0:
        return _Shared({}, {}, False)
    idle: dict[str, float] = {g.name: 0.0 for g in allocated}
    cpu_ram: dict[str, float] = {g.name: 0.0 for g in allocated}
    kwh: dict[str, float] = {g.name: 0.0 for g in allocated}
    kg: dict[str, float | None] = {g.name: 0.0 for g in allocated}
    for pool in (g for g in groups if g.kind != "allocated"):
        targets = [g for g in allocated if pool.cluster and g.cluster == pool.cluster]
        if sum(g.gpu_cost for g in targets) <= 0:
            targets = allocated
        weight = sum(g.gpu_cost for g in targets)
        for g in targets:
            part = g.gpu_cost / weight
            idle[g.name] += pool.gpu_cost * part
            cpu_ram[g.name] += (pool.cpu_ram_cost or 0.0) * part
            kwh[g.name] += (pool.kwh or 0.0) * part
            before = kg[g.name]
            had = pool.kg_co2e is not None or not pool.kwh
            kg[g.name] = (
                before + (pool.kg_co2e or 0.0) * part if before is not None and had else None
            )
    return _Shared(idle, cpu_ram, True, kwh, kg)


def _totals_by_name(groups: Sequence[Group], mode: str) -> dict[tuple[str, str, str], float]:
    """Each group's total as the report shows it (for the change against the previous period),
    by ``Group.ident``."""
    shared = _share(groups, mode)
    out = {}
    for g in groups:
        if shared.shared and g.kind != "allocated":
            continue
        out[g.ident] = (
            g.gpu_cost
            + (g.cpu_ram_cost or 0.0)
            + shared.idle.get(g.name, 0.0)
            + shared.cpu_ram.get(g.name, 0.0)
        )
    return out


def _num(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


_iso = iso


def budget_factor(period: Period) -> float:
    """1 for a calendar month, else the period's share of an average month."""
    if period.kind == "month":
        return 1.0
    return period.hours / 24 / AVERAGE_MONTH_DAYS


def build_document(  # noqa: PLR0915 - one document, field by field
    *,
    report: CostReport,
    previous: CostReport | None,
    by: str,
    period: Period,
    share_idle: str,
    currency: str,
    generated_at: datetime,
    window_label: str,
    budgets: Mapping[tuple[str, str], Budget],
    extras: Extras | None = None,
    commitments: CommitmentShare | None = None,
) -> dict[str, Any]:
    """The chargeback document (see docs/reports.md for every field).

    With ``commitments`` (the bill's, ``analytics.chargeback_commitments``): each row's
    ``commitment_discount`` and ``net_cost``, an ``__unused_commitment__`` row, and the
    ``commitments`` object; without, none of them."""
    extras = extras or Extras()
    field_name = GROUP_FIELDS[by]
    groups = groups_of(report, field_name)
    shared = _share(groups, share_idle)
    notes = list(report.notes) + list(extras.notes)
    if share_idle == "proportional" and not shared.shared:
        notes.append("no allocated GPU cost to share idle over: idle shown separately")
    if previous is not None:
        notes.append(describe(period))  # which span the changes compare with (like with like)
    prev_totals = (
        _totals_by_name(groups_of(previous, field_name), share_idle)
        if previous is not None
        else None
    )
    factor = budget_factor(period)
    budget_scope = {"team": "team", "project": "project"}.get(by)
    # Workloads know their team and project, not their cost center; unit costs per model and
    # anomalies are per team. A section with no key to attribute it by is left out, not faked.
    rec_key = RECOMMENDATION_KEYS.get(by)
    recommendations = extras.recommendations if rec_key is not None else None
    models = extras.models if by == "team" else None
    anomalies = extras.anomalies if by == "team" else None

    recs_by: dict[str, list[Recommendation]] = {}
    if recommendations is not None and rec_key is not None:
        for rec in recommendations:
            # Capacity advice (remove / scale-down a node) is about GPUs no pod held: the idle
            # row's money, not the unlabelled pods' of __unallocated__.
            if rec.action in CAPACITY_ACTIONS:
                name = IDLE
            else:
                name = getattr(rec.workload, rec_key) or UNALLOCATED
            recs_by.setdefault(name, []).append(rec)
    anomalies_by: dict[str, list[Anomaly]] = {}
    if anomalies is not None:
        for a in anomalies:
            anomalies_by.setdefault(a.team, []).append(a)

    energy = report.energy if report.energy is not None and report.energy.method else None
    if report.energy is not None:
        notes.extend(energy_notes(report, shared.shared))

    discounts = _discounts(groups, shared, commitments) if commitments is not None else {}
    if commitments is not None:
        notes.append(f"{RULE}; unused commitment is the row {UNUSED_COMMITMENT}")
        notes.extend(commitments.notes)

    hours = period.hours
    rows: list[dict[str, Any]] = []
    for g in groups:
        if shared.shared and g.kind != "allocated":
            continue
        idle_share = shared.idle.get(g.name, 0.0) if shared.shared else None
        cpu_share = shared.cpu_ram.get(g.name, 0.0) if shared.shared else 0.0
        cpu_ram = None if g.cpu_ram_cost is None else g.cpu_ram_cost + cpu_share
        total = g.gpu_cost + (cpu_ram or 0.0) + (idle_share or 0.0)
        chargeable_gpu = g.gpu_cost + (idle_share or 0.0)
        row: dict[str, Any] = {
            field_name: g.name,
            "kind": g.kind,
            "gpu_hours": _num(g.gpu_hours),
            "avg_gpus": _num(g.gpu_hours / hours if hours > 0 else 0.0),
            "gpu_cost": _num(g.gpu_cost),
            "cpu_ram_cost": _num(cpu_ram),
            "shared_idle_cost": _num(idle_share),
            "total_cost": _num(total),
            "efficiency": _num(g.efficiency),
            "waste": _num(g.waste),
        }
        if energy is not None:
            kwh, kg = g.kwh, g.kg_co2e
            if shared.shared:
                kwh = (kwh or 0.0) + shared.kwh.get(g.name, 0.0)
                more = shared.kg_co2e.get(g.name, 0.0)
                kg = None if kg is None or more is None else kg + more
            row["energy_kwh"] = _num(kwh)
            row["kg_co2e"] = _num(kg)
        if commitments is not None:
            discount = discounts.get(g.ident, 0.0)
            row["commitment_discount"] = _num(discount)
            row["net_cost"] = _num(total - discount)
        budget = budgets.get((budget_scope, g.name)) if budget_scope else None
        if budget is not None and g.kind == "allocated":
            amount = budget.monthly * factor
            row["budget"] = _num(amount)
            row["budget_variance"] = _num(chargeable_gpu - amount)
            row["budget_used"] = _num(chargeable_gpu / amount if amount > 0 else None)
        else:
            row["budget"] = row["budget_variance"] = row["budget_used"] = None
        if prev_totals is not None:
            before = prev_totals.get(g.ident)
            row["previous_total_cost"] = _num(before)
            row["change"] = _num(None if before is None else total - before)
            row["change_pct"] = _num(
                (total - before) / before if before is not None and before > 0 else None
            )
        if models is not None and g.kind == "allocated":
            row["models"] = models.get(g.name, [])
        if recommendations is not None:
            mine = sorted(recs_by.get(g.name, []), key=_recommendation_rank)
            row["savings_available"] = _num(sum((max(r.monthly_savings, 0.0) for r in mine), 0.0))
            row["recommendations"] = [_rec(r) for r in mine[:TOP_RECOMMENDATIONS]]
        if anomalies is not None and g.kind == "allocated":
            mine_a = sorted(anomalies_by.get(g.name, []), key=_anomaly_rank)
            row["anomalies"] = [_anomaly(a) for a in mine_a[:TOP_ANOMALIES]]
        rows.append(row)

    if commitments is not None:
        unused_row = _unused_row(field_name, commitments, prev_totals is not None)
        if energy is not None:  # the bill's money drew no energy
            unused_row["energy_kwh"] = unused_row["kg_co2e"] = None
        rows.append(unused_row)

    t = report.totals
    total_cost = t.total_cost
    allocated_rows = [r for r in rows if r["kind"] == "allocated"]
    top = sorted(allocated_rows, key=lambda r: (-round(r["total_cost"], 2), r[field_name]))
    top = top[:TOP_TEAMS]
    daily = [
        {
            "date": day,
            "allocated_gpu_cost": _num(
                sum(g.daily_cost[i] for g in groups if g.kind == "allocated")
            ),
            "unallocated_gpu_cost": _num(
                sum(g.daily_cost[i] for g in groups if g.kind == "unallocated")
            ),
            "idle_gpu_cost": _num(sum(g.daily_cost[i] for g in groups if g.kind == "idle")),
        }
        for i, day in enumerate(report.days)
    ]
    summary: dict[str, Any] = {
        "total_cost": _num(total_cost),
        "gpu_cost": _num(t.gpu_cost),
        "cpu_ram_cost": _num(t.cpu_ram_cost),
        "gpu_share": _num(t.gpu_cost / total_cost if total_cost > 0 else None),
        "allocated_gpu_cost": _num(t.allocated_gpu_cost),
        "unallocated_gpu_cost": _num(t.unallocated_gpu_cost),
        "idle_gpu_cost": _num(t.idle_gpu_cost),
        "idle_gpu_hours": _num(t.idle_gpu_hours),
        "gpu_hours": _num(t.gpu_hours),
        "efficiency": _num(t.efficiency),
        "waste": _num(t.waste),
        "top": [
            {
                field_name: r[field_name],
                "total_cost": r["total_cost"],
                "share": _num(r["total_cost"] / total_cost if total_cost > 0 else None),
            }
            for r in top
        ],
        "savings_available": _num(
            sum((max(r.monthly_savings, 0.0) for r in recommendations), 0.0)
            if recommendations is not None
            else None
        ),
        "previous_total_cost": _num(previous.totals.total_cost if previous else None),
    }
    if commitments is not None:
        summary["commitment_discount"] = _num(commitments.discount)
        summary["unused_commitment"] = _num(commitments.unused_total)
        summary["net_cost"] = _num(total_cost - commitments.discount + commitments.unused_total)
    if energy is not None:
        summary["energy_kwh"] = _num(energy.kwh)
        summary["kg_co2e"] = _num(energy.kg_co2e)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "chargeback",
        "source": report.source,
        "generated_at": _iso(generated_at),
        "window": {"start": _iso(report.start), "end": _iso(report.end), "label": window_label},
        "period": {
            "label": period.label,
            "kind": period.kind,
            "start": _iso(period.start),
            "end": _iso(period.end),
            "previous_start": _iso(period.previous_start),
            "previous_end": _iso(period.previous_end),
        },
        "comparison": comparison(period),
        "currency": currency,
        "group_by": field_name,
        "share_idle": share_idle if shared.shared or share_idle == "none" else "none",
        "efficiency_metric": report.busy_metric,
        "budget_factor": _num(factor) if budget_scope else None,
        "sections": {
            "budgets": budget_scope is not None,
            "previous_period": previous is not None,
            "unit_costs": models is not None,
            "recommendations": recommendations is not None,
            "anomalies": anomalies is not None,
            # only with --energy: false when the cluster reported no power or energy
            **({"energy": energy is not None} if report.energy is not None else {}),
            **({"commitments": True} if commitments is not None else {}),
        },
        **({"energy": energy.as_json()} if energy is not None else {}),
        **({"commitments": commitments_block(commitments)} if commitments is not None else {}),
        "summary": summary,
        "rows": rows,
        "days": list(report.days),
        "daily": daily,
        "notes": notes,
    }


def _discounts(
    groups: Sequence[Group], shared: _Shared, commitments: CommitmentShare
) -> dict[tuple[str, str, str], float]:
    """Each group's part of the commitment discount (by ``Group.ident``); with proportional
    sharing the idle and unallocated parts follow their cost to the groups."""
    out = {g.ident: commitments.discount_of(g.name) for g in groups}
    if not shared.shared:
        return out
    allocated = [g for g in groups if g.kind == "allocated"]
    base = sum(g.gpu_cost for g in allocated)
    pool = sum(out[g.ident] for g in groups if g.kind != "allocated")
    for g in allocated:
        out[g.ident] += pool * g.gpu_cost / base if base > 0 else 0.0
    return out


def _unused_row(field_name: str, c: CommitmentShare, previous: bool) -> dict[str, Any]:
    """Unused commitment: money paid for commitment no usage consumed, a line of its own."""
    row: dict[str, Any] = {field_name: UNUSED_COMMITMENT, "kind": "unused_commitment"}
    for name in ("gpu_hours", "avg_gpus", "gpu_cost", "cpu_ram_cost", "shared_idle_cost"):
        row[name] = None
    row["total_cost"] = None  # not in the cluster's ledger: the bill's money
    for name in ("efficiency", "waste", "budget", "budget_variance", "budget_used"):
        row[name] = None
    if previous:
        row["previous_total_cost"] = row["change"] = row["change_pct"] = None
    row["commitment_discount"] = None
    row["net_cost"] = _num(c.unused_total)
    return row


def commitments_block(c: CommitmentShare) -> dict[str, Any]:
    """The ``commitments`` object: the rule, each family's discount and who got it, unused."""
    return {
        "source": c.source,
        "rule": RULE,
        "committed": _num(c.committed),
        "used": _num(c.used),
        "unused": _num(c.unused_total),
        "discount": _num(c.discount),
        "families": [
            {
                "family": f.family,
                "instance_types": list(f.instance_types),
                "covered_hours": _num(f.covered_hours),
                "on_demand_cost": _num(f.list_cost),
                "effective_cost": _num(f.effective_cost),
                "discount": _num(f.discount),
                "shared": _num(f.shared),
                "gpu_hours": _num(f.gpu_hours),
                "shares": {k: _num(v) for k, v in sorted(f.shares.items())},
            }
            for f in c.families
        ],
        "unused_lines": [
            {
                "id": u.commitment_id,
                "kind": u.kind,
                "unused": _num(u.unused),
                "utilisation": _num(u.utilisation),
            }
            for u in c.unused
        ],
    }


def energy_notes(report: CostReport, shared: bool) -> list[str]:
    """What the energy columns are made of (the method is in the report's notes already), or
    why there are none: no energy series is a note, never a failure."""
    e = report.energy
    if e is None:
        return []
    if e.method is None:
        return [
            "energy left out: dcgm-exporter reports neither DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION "
            "nor DCGM_FI_DEV_POWER_USAGE for this period"
        ]
    parts = []
    for f in e.factors:
        grid = (
            "no grid factor" if f.kg_co2e_per_kwh is None else f"{f.kg_co2e_per_kwh:g} kgCO2e/kWh"
        )
        year = f" ({f.year} data)" if f.year else " (override)"
        where = f.region or "(no region)"
        parts.append(f"{where} ({f.provider}): PUE {f.pue:g} x {grid}{year}")
    out = [
        "kgCO2e = GPU kWh x PUE x grid factor (location-based; sources in energy.factors): "
        + ("; ".join(parts) if parts else "no region with energy")
    ]
    if shared:
        out.append("idle and unallocated energy is shared over the groups like their cost")
    return out


def _recommendation_rank(rec: Recommendation) -> tuple[float, str, str, str]:
    """Largest saving first, ties by name: savings are ranked to the cent, so a figure read from
    recorded series and the same figure read raw (equal to the cent) rank alike."""
    w = rec.workload
    return (-round(rec.monthly_savings, 2), w.namespace, w.name, rec.action)


def _anomaly_rank(anomaly: Anomaly) -> tuple[float, datetime, str]:
    """Largest impact first, ties (an hourly and a daily view of one episode) by start and metric,
    to the cent for the same reason as ``_recommendation_rank``."""
    return (-round(abs(anomaly.impact), 2), anomaly.start, anomaly.metric)


def _rec(rec: Recommendation) -> dict[str, Any]:
    w = rec.workload
    return {
        "workload": f"{w.kind}/{w.name}",
        "namespace": w.namespace,
        "action": rec.action,
        "current": rec.current,
        "target": rec.target,
        "monthly_savings": _num(rec.monthly_savings),
        "confidence": rec.confidence,
    }


def _anomaly(a: Anomaly) -> dict[str, Any]:
    return {
        "metric": a.metric,
        "start": _iso(a.start),
        "end": _iso(a.end),
        "severity": a.severity,
        "direction": a.direction,
        "impact": _num(a.impact),
        "reason": a.reason,
    }


def team_models(
    by_team_model: CostReport, by_model_units: CostReport
) -> dict[str, list[dict[str, Any]]]:
    """Per team, the models it ran (its GPU cost on each) with each model's cluster-wide unit
    costs (``with_unit_costs`` of a ``--by model`` report)."""
    units = {r.keys["model"]: r.unit for r in by_model_units.rows if r.kind == "allocated"}
    energy = by_model_units.energy is not None and by_model_units.energy.method is not None
    out: dict[str, list[dict[str, Any]]] = {}
    for row in by_team_model.rows:
        if row.kind != "allocated":
            continue
        team, model = row.keys.get("team", ""), row.keys.get("model", "")
        if team in ("", UNALLOCATED) or model in ("", UNALLOCATED):
            continue
        unit = units.get(model)
        entry = {
            "model": model,
            "gpu_cost": _num(row.gpu_cost),
            "requests": _num(unit.requests, 3) if unit else None,
            "cost_per_1k_requests": _num(unit.cost_per_1k_requests) if unit else None,
            "cost_per_1m_tokens": _num(unit.cost_per_1m_tokens) if unit else None,
            "unit_cost_status": unit.status if unit else None,
        }
        if energy:  # the model's cluster-wide energy and emissions per 1M tokens
            entry["kwh_per_1m_tokens"] = _num(unit.kwh_per_1m_tokens) if unit else None
            entry["kg_co2e_per_1m_tokens"] = _num(unit.kg_co2e_per_1m_tokens) if unit else None
        out.setdefault(team, []).append(entry)
    for models in out.values():
        models.sort(key=lambda m: (-(m["gpu_cost"] or 0.0), m["model"]))
    return out
