"""GPU energy in PromQL: each physical GPU's power (kW) at each sample instant, and its region.

Apart from ``context`` because it reads other series (dcgm-exporter's energy counter and power
gauge) and keys them by physical GPU, not by holder; ``QueryContext.energy_entries`` binds the
result to the ledger's holders exactly as busy is bound.

Integrated like every measure (``over_buckets``: ``sum_over_time(kW[bucket:S]) * S/3600``), a
GPU's kW gives kWh. Where dcgm-exporter reports ``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`` (mJ
since the driver loaded), the kW at ``t`` is the counter's rise over the last scrape interval:
``irate`` over a two-step subquery of the counter collapsed per physical GPU, so a counter reset
(a driver or exporter restart) counts as a restart from zero, each consecutive pair of scrapes
counts once, and a GPU whose holder changes keeps one continuous counter (a pod label change
makes a new series). Otherwise ``DCGM_FI_DEV_POWER_USAGE`` (W) at ``t`` is taken for the
interval before it, as busy is. ``or`` prefers the counter GPU by GPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finops_cli.promql import duration
from finops_cli.queries.names import ENERGY_COUNTER, POWER_USAGE, REGION_LABEL

if TYPE_CHECKING:
    from finops_cli.queries.context import QueryContext

GPU_ENERGY_KEY = ("node", "UUID")
"""What identifies a physical GPU on dcgm-exporter's series (MIG instances carry the parent's
UUID and repeat its power and energy)."""
MJ_PER_S_TO_KW = 1e6  # mJ/s is mW
W_TO_KW = 1000


def energy_method(present: frozenset[str]) -> str | None:
    """Which series the energy comes from: ``counter``, ``power``, or None without either."""
    if ENERGY_COUNTER in present:
        return "counter"
    if POWER_USAGE in present:
        return "power"
    return None


def gpu_kw(ctx: QueryContext, present: frozenset[str]) -> str:
    """kW of each physical GPU at each instant, keyed ``(cluster,) node, UUID``."""
    by = ctx.grouping(GPU_ENERGY_KEY)
    step = ctx.sample_interval_s
    parts = []
    if ENERGY_COUNTER in present:
        counter = f"max by ({by}) ({ctx.dcgm_labels(ctx.exact(ENERGY_COUNTER))})"
        window = f"{duration(2 * step - 0.001)}:{duration(step)}"
        parts.append(f"irate(({counter})[{window}]) / {MJ_PER_S_TO_KW:g}")
    if POWER_USAGE in present:
        parts.append(f"max by ({by}) ({ctx.dcgm_labels(ctx.exact(POWER_USAGE))}) / {W_TO_KW}")
    if not parts:
        raise ValueError("no dcgm-exporter power or energy metric present")
    return " or ".join(f"({p})" for p in parts)


def node_regions(ctx: QueryContext) -> str:
    """Each node's cloud region (``region``) from its kube-state-metrics labels."""
    nodes = ctx.attribute("kube_node_labels")
    regions = f'label_replace({nodes}, "region", "$1", "{REGION_LABEL}", "(.+)")'
    return f"max by ({ctx.grouping(['node', 'region'])}) ({regions})"


def gpu_kw_by_region(ctx: QueryContext, present: frozenset[str]) -> str:
    """``gpu_kw`` with each GPU's ``region`` label ("" where its node names none)."""
    kw = gpu_kw(ctx, present)
    regions = node_regions(ctx)
    on = f"on ({ctx.node_join})"
    return f"(({kw}) * {on} group_left (region) {regions}) or (({kw}) unless {on} {regions})"


def bound_kw(ctx: QueryContext, present: frozenset[str], shard: str = "") -> str:
    """kW of each dcgm-exporter series bound to a pod: its physical GPU's, keyed and labelled
    as ``QueryContext.busy_per_gpu`` keys busy (before shares are applied)."""
    selector = ",".join(m for m in (f'{ctx.dcgm_pod_label}!=""', shard) if m)
    reads = [ctx.exact(m, selector) for m in (ENERGY_COUNTER, POWER_USAGE) if m in present]
    bound = ctx.dcgm_labels(" or ".join(f"({r})" for r in reads))
    on = f"on ({ctx.grouping(GPU_ENERGY_KEY)})"
    series = f"({bound}) * 0 + {on} group_left () ({gpu_kw(ctx, present)})"
    return f'label_replace({series}, "gpu_model", "$1", "modelName", "(.+)")'
