"""What the bill says, and how it squares with the cluster's own cost model.

Pure: frames in, typed results out; no I/O and no clock. ``summarize_bill`` turns a bill source's
tidy frame into rows per group (spend without the grouping tag stays in its own ``__untagged__``
row: nothing is dropped, rows add up to the bill). ``reconcile`` puts the cluster's cost per
instance type beside the billed cost of the same instance types and names the likely cause of
every gap over a threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from finops_cli.sources.billing import UNTAGGED, is_gpu_instance

if TYPE_CHECKING:
    import pandas as pd

    from finops_cli.sources.billing import BillData


# ---- billing actual --------------------------------------------------------------------------
@dataclass(frozen=True)
class BillPeriod:
    start: str
    end: str
    cost: float
    estimated: bool


@dataclass(frozen=True)
class BillRow:
    keys: dict[str, str]
    currency: str
    cost: float
    estimated: bool  # some of this row's spend is in a period the provider has not finalised
    share: float  # of the bill shown, within its currency
    periods: tuple[BillPeriod, ...]


@dataclass(frozen=True)
class BillReport:
    source: str
    metric: str
    start: date
    end: date
    granularity: str
    group_by: tuple[str, ...]
    rows: tuple[BillRow, ...]
    totals: dict[str, float]  # per currency
    periods: tuple[tuple[str, str], ...]
    estimated: bool
    notes: tuple[str, ...]
    paid_calls: int = 0
    cached_calls: int = 0

    @property
    def currency(self) -> str:
        """The currency of most of the spend (the JSON's top-level ``currency``)."""
        if not self.totals:
            return "USD"
        return max(self.totals.items(), key=lambda kv: abs(kv[1]))[0]


def summarize_bill(
    data: BillData, group_by: tuple[str, ...], start: date, end: date, granularity: str
) -> BillReport:
    """Rows per group (and currency), largest first; ``__untagged__`` groups after the rest."""
    frame = data.frame
    keys = list(group_by)
    periods = tuple(
        sorted(
            {
                (str(s), str(e))
                for s, e in zip(frame["period_start"], frame["period_end"], strict=True)
            }
        )
    )
    rows: list[BillRow] = []
    totals: dict[str, float] = {}
    if len(frame):
        for values, part in frame.groupby([*keys, "currency"], sort=True, dropna=False):
            tup = values if isinstance(values, tuple) else (values,)
            row_keys = {k: str(v) for k, v in zip(keys, tup[:-1], strict=True)}
            currency = str(tup[-1])
            by_period = part.groupby(["period_start", "period_end"], sort=True).agg(
                cost=("cost", "sum"), estimated=("estimated", "any")
            )
            row_periods = tuple(
                BillPeriod(str(s), str(e), float(c), bool(x))
                for (s, e), c, x in zip(
                    by_period.index, by_period["cost"], by_period["estimated"], strict=True
                )
            )
            cost = float(part["cost"].sum())
            totals[currency] = totals.get(currency, 0.0) + cost
            rows.append(
                BillRow(row_keys, currency, cost, bool(part["estimated"].any()), 0.0, row_periods)
            )

    def order(row: BillRow) -> tuple[bool, float, tuple[str, ...]]:
        untagged = any(v == UNTAGGED for v in row.keys.values())
        return (untagged, -row.cost, tuple(row.keys.values()))

    rows.sort(key=order)
    shared = tuple(
        BillRow(
            r.keys,
            r.currency,
            _clean(r.cost),
            r.estimated,
            r.cost / totals[r.currency] if totals.get(r.currency) else 0.0,
            r.periods,
        )
        for r in rows
    )
    return BillReport(
        source=data.source,
        metric=data.metric,
        start=start,
        end=end,
        granularity=granularity,
        group_by=group_by,
        rows=shared,
        totals={c: _clean(v) for c, v in totals.items()},
        periods=periods,
        estimated=any(r.estimated for r in shared),
        notes=tuple(data.notes),
        paid_calls=data.paid_calls,
        cached_calls=data.cached_calls,
    )


def _clean(value: float) -> float:
    return 0.0 if abs(value) < 1e-9 else value


# ---- billing compare -------------------------------------------------------------------------
PURCHASE_KINDS = ("on-demand", "spot", "committed", "other")
DEFAULT_THRESHOLD = 0.05


def purchase_kind(value: str) -> str:
    """Cost Explorer PURCHASE_TYPE / FOCUS PricingCategory / CUR pricing_term, normalised."""
    text = value.strip().lower().replace("_", " ").replace("-", " ")
    if "spot" in text or text == "dynamic":
        return "spot"
    if any(w in text for w in ("savings", "reserved", "commit", "reservation")):
        return "committed"
    if text in ("on demand instances", "on demand", "ondemand", "standard", "") or (
        "on demand" in text
    ):
        return "on-demand"
    return "other"


def resource_key(value: str) -> str:
    """A resource id or provider id reduced to what both sides share: the instance's own name.

    ``aws:///us-east-1a/i-0abc`` (Kubernetes provider id), ``i-0abc`` (FOCUS ResourceId on AWS)
    and ``arn:...:instance/i-0abc`` all become ``i-0abc``; Azure and GCP paths end in the VM name.
    """
    text = value.strip().rstrip("/")
    return text.rsplit("/", 1)[-1].lower()


@dataclass(frozen=True)
class ReconciledRow:
    group: str  # the instance type
    nodes: int
    spot_nodes: int
    unpriced_nodes: int
    estimated_cost: float | None  # the cluster's model: whole instances
    estimated_gpu_cost: float | None  # its GPU part (what `finops costs` shows)
    billed_cost: float | None
    difference: float | None  # billed - estimated
    difference_pct: float | None  # of estimated
    flagged: bool
    causes: tuple[str, ...]
    billed_by_purchase: dict[str, float] = field(default_factory=dict)
    outside_resources: tuple[str, ...] = ()
    missing_nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reconciliation:
    rows: tuple[ReconciledRow, ...]
    estimated_cost: float
    billed_cost: float
    difference: float
    explained_share: float | None  # sum(min(estimate, bill)) / bill
    threshold: float
    excluded_billed_cost: float  # billed instances of non-GPU types outside the cluster
    notes: tuple[str, ...]


def reconcile(
    nodes: pd.DataFrame,
    bill: pd.DataFrame,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    by_resource: bool = False,
) -> Reconciliation:
    """Cluster cost per instance type beside billed cost, with the likely cause of each gap.

    ``nodes`` has ``NODE_COST_COLUMNS`` (``CostSource.node_costs``); ``bill`` has
    ``instance_type``, ``purchase_option``, ``cost`` and, when ``by_resource``, ``resource``
    (FOCUS ResourceId), which then decides which billed instances are cluster nodes (and so
    their type) instead of the type alone.
    """
    notes: list[str] = []
    node_name = {
        resource_key(str(p)): str(n)
        for p, n in zip(nodes["provider_id"], nodes["node"], strict=True)
        if str(p)
    }
    cluster_types = {str(t) for t in nodes["instance_type"] if str(t)}
    billed, outside, seen_nodes, excluded = _billed_by_type(nodes, bill, by_resource)

    rows: list[ReconciledRow] = []
    for itype in sorted(cluster_types | set(billed)):
        mine = nodes[nodes["instance_type"] == itype]
        count = len(mine)
        priced = mine["instance_cost"].notna() & (mine["instance_cost"] > 0)
        unpriced = int((~priced).sum()) if count else 0
        if count:
            est = float(mine["instance_cost"].fillna(0.0).sum())
            est_gpu = float(mine["gpu_cost"].fillna(0.0).sum())
            spot_mask = mine["capacity_type"].astype(str).str.lower() == "spot"
            spot_nodes = int(spot_mask.sum())
            est_spot = float(mine.loc[spot_mask, "instance_cost"].fillna(0.0).sum())
        else:
            est, est_gpu, spot_nodes, est_spot = 0.0, 0.0, 0, 0.0
        per = billed.get(itype, {})
        bill_cost = sum(per.values()) if itype in billed else None
        missing: tuple[str, ...] = ()
        if by_resource and count:
            missing = tuple(
                sorted(
                    node_name[resource_key(str(p))]
                    for p in mine["provider_id"]
                    if str(p) and resource_key(str(p)) not in seen_nodes
                )
            )
        diff = (bill_cost or 0.0) - est if (count or bill_cost is not None) else None
        pct = diff / est if diff is not None and est > 0 else None
        flagged = bool(
            (pct is not None and abs(pct) > threshold)
            or (est <= 0 and (bill_cost or 0.0) > 0)
            or (count and not bill_cost and est > 0)
            or unpriced
        )
        causes = (
            _causes(
                itype,
                count=count,
                spot_nodes=spot_nodes,
                unpriced=unpriced,
                est=est,
                est_spot=est_spot,
                billed=per,
                bill_cost=bill_cost,
                outside=outside.get(itype, {}),
                missing=missing,
            )
            if flagged
            else ()
        )
        rows.append(
            ReconciledRow(
                group=itype,
                nodes=count,
                spot_nodes=spot_nodes,
                unpriced_nodes=unpriced,
                estimated_cost=est if count else None,
                estimated_gpu_cost=est_gpu if count else None,
                billed_cost=bill_cost,
                difference=diff,
                difference_pct=pct,
                flagged=flagged,
                causes=causes,
                billed_by_purchase={k: per[k] for k in PURCHASE_KINDS if k in per},
                outside_resources=tuple(sorted(outside.get(itype, {}))),
                missing_nodes=missing,
            )
        )
    rows.sort(key=lambda r: -max(r.estimated_cost or 0.0, r.billed_cost or 0.0))
    total_est = sum(r.estimated_cost or 0.0 for r in rows)
    total_bill = sum(r.billed_cost or 0.0 for r in rows)
    explained = sum(min(r.estimated_cost or 0.0, r.billed_cost or 0.0) for r in rows)
    if excluded:
        notes.append(
            f"{excluded:,.2f} of billed instance spend is on non-GPU instance types outside the "
            "cluster and is left out"
        )
    if nodes["instance_cost"].isna().all() and len(nodes):
        notes.append(
            "the cluster exports no instance prices (node_total_hourly_cost): estimates are "
            "unknown; is OpenCost scraped?"
        )
    return Reconciliation(
        rows=tuple(rows),
        estimated_cost=total_est,
        billed_cost=total_bill,
        difference=total_bill - total_est,
        explained_share=explained / total_bill if total_bill > 0 else None,
        threshold=threshold,
        excluded_billed_cost=excluded,
        notes=tuple(notes),
    )


def _billed_by_type(
    nodes: pd.DataFrame, bill: pd.DataFrame, by_resource: bool
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]], set[str], float]:
    """Billed cost per instance type and purchase kind; billed GPU instances that are not
    cluster nodes; the cluster nodes seen in the bill; billed non-GPU spend left out."""
    node_type = {
        resource_key(str(p)): str(t)
        for p, t in zip(nodes["provider_id"], nodes["instance_type"], strict=True)
        if str(p)
    }
    cluster_types = {str(t) for t in nodes["instance_type"] if str(t)}
    billed: dict[str, dict[str, float]] = {}
    outside: dict[str, dict[str, float]] = {}
    seen: set[str] = set()
    excluded = 0.0
    for row in bill.itertuples(index=False):
        kind = purchase_kind(str(row.purchase_option))
        cost = float(str(row.cost))
        itype = str(row.instance_type)
        resource = resource_key(str(getattr(row, "resource", ""))) if by_resource else ""
        if by_resource and resource in node_type:
            itype = node_type[resource]
            if cost:
                seen.add(resource)
        elif by_resource and resource and is_gpu_instance(itype) and cost:
            slot = outside.setdefault(itype, {})
            slot[resource] = slot.get(resource, 0.0) + cost
        if itype not in cluster_types and not is_gpu_instance(itype):
            excluded += cost
            continue
        per = billed.setdefault(itype, {})
        per[kind] = per.get(kind, 0.0) + cost
    return billed, outside, seen, excluded


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _causes(
    itype: str,
    *,
    count: int,
    spot_nodes: int,
    unpriced: int,
    est: float,
    est_spot: float,
    billed: dict[str, float],
    bill_cost: float | None,
    outside: dict[str, float],
    missing: tuple[str, ...],
) -> tuple[str, ...]:
    """The likely reasons, most specific first; a flagged row always gets at least one."""
    causes: list[str] = []
    spot_billed = billed.get("spot", 0.0)
    committed = billed.get("committed", 0.0)
    on_demand = billed.get("on-demand", 0.0)
    paid = bill_cost or 0.0
    if count == 0 and paid > 0:
        causes.append(
            f"nodes outside the cluster: {itype} instances are billed ({_money(paid)}) but the "
            "cluster runs none"
        )
    elif outside:
        ids = ", ".join(sorted(outside)[:3]) + (" ..." if len(outside) > 3 else "")
        causes.append(
            f"nodes outside the cluster: {len(outside)} billed {itype} instance(s) are not "
            f"cluster nodes ({ids}; {_money(sum(outside.values()))})"
        )
    if unpriced:
        causes.append(
            f"unpriced nodes: {unpriced} {itype} node(s) have no price in the cluster model "
            "(OpenCost's node_total_hourly_cost, or the pricing catalog)"
        )
    if spot_nodes and est_spot > 0 and spot_billed < 0.5 * est_spot and on_demand > 0:
        causes.append(
            f"spot vs on-demand: the cluster prices {spot_nodes} {itype} node(s) as spot, but the "
            "bill charges on-demand rates (capacity fell back to on-demand, or a stale "
            "capacity-type label)"
        )
    elif not spot_nodes and spot_billed > 0:
        causes.append(
            f"spot vs on-demand: the bill has spot usage for {itype} ({_money(spot_billed)}) "
            "but the cluster prices every such node as on-demand"
        )
    if committed and paid < est:
        causes.append(
            f"discount: a Savings Plan or reservation covers {itype} "
            f"({_money(committed)} of {_money(paid)} billed as committed use), so the bill is "
            "below the cluster's on-demand prices"
        )
    elif count and est > 0 and paid == 0 and not committed:
        names = f" ({', '.join(missing[:3])})" if missing else ""
        causes.append(
            f"not in the bill: the cluster ran {count} {itype} node(s){names} the bill does not "
            "show (billed to another account or payer, or the bill is not complete yet)"
        )
    elif missing and paid > 0:
        causes.append(
            f"not in the bill: {len(missing)} {itype} node(s) have no bill lines "
            f"({', '.join(missing[:3])})"
        )
    if not causes and math.isfinite(est) and count:
        if paid < est:
            causes.append(
                "bill below the estimate: negotiated discounts or credits (EDP, private pricing), "
                "or the cluster's prices are list prices"
            )
        else:
            causes.append(
                "bill above the estimate: a capacity reservation of the type billed while idle "
                "(finops billing commitments lists them), nodes that ran longer than the cluster "
                "saw them (gaps in metrics), or cluster prices below the real rate"
            )
    if not causes:
        causes.append("difference over the threshold")
    return tuple(causes)
