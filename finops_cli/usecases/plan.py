"""``finops billing plan``: what to buy. A Savings Plan hourly commitment for the fleet's steady
baseline, backtested on held-out history; and, for a planned job, on-demand vs Capacity Block vs
Savings Plan vs spot with the risk of each.

The history is the cluster's own ledger: each node's instance price hour by hour
(``CostSource.node_costs`` over one-hour windows, the figures ``billing compare`` uses), by
instance type and capacity type. Prices for the job come from the dated catalogs
(``pricing/*.csv`` on demand and spot, ``pricing/commitments/*.csv`` Capacity Block and Savings
Plan rates), or EC2's live Capacity Block offerings with ``--offerings``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finops_cli.errors import UsageError
from finops_cli.usecases.context import RunContext
from finops_cli.usecases.sources import open_source

if TYPE_CHECKING:
    from finops_cli.sources.interface import CostSource

HOUR = timedelta(hours=1)
MAX_HOURS = 24 * 92


@dataclass(frozen=True)
class PlanOptions:
    """The command's own flags, as given."""

    percentile: float = 10.0
    holdout: float = 1 / 3
    discount: float | None = None
    ce_commitment: float | None = None
    ask_cost_explorer: bool = False
    gpus: int | None = None
    instance_type: str | None = None
    days: float | None = None
    job_start: str | None = None
    region: str | None = None
    offerings: bool = False
    rates: Path | None = None
    profile: str | None = None


@dataclass
class Ledger:
    """Hourly on-demand GPU instance spend, and instance-hours by type and capacity type."""

    start: datetime
    end: datetime
    spend: list[float]
    hours: dict[tuple[str, str], float]
    cost: dict[tuple[str, str], float]


def read_ledger(source: CostSource, start: datetime, end: datetime) -> Ledger:
    """One ``node_costs`` question per hour of ``[start, end)`` (both on whole hours)."""
    from finops_cli.sources.billing import is_gpu_machine
    from finops_cli.timewindow import Window

    spend: list[float] = []
    hours: dict[tuple[str, str], float] = {}
    cost: dict[tuple[str, str], float] = {}
    moment = start
    while moment < end:
        frame = source.node_costs(Window(moment, moment + HOUR, "ledger"))
        total = 0.0
        for itype, capacity, node_hours, instance_cost, gpu_cost in zip(
            frame["instance_type"],
            frame["capacity_type"],
            frame["hours"],
            frame["instance_cost"],
            frame["gpu_cost"],
            strict=True,
        ):
            if not is_gpu_machine(str(itype)):
                continue
            price = float(gpu_cost) if math.isnan(float(instance_cost)) else float(instance_cost)
            key = (str(itype), str(capacity or "on-demand"))
            hours[key] = hours.get(key, 0.0) + float(node_hours)
            cost[key] = cost.get(key, 0.0) + price
            if key[1] != "spot":
                total += price
        spend.append(total)
        moment += HOUR
    return Ledger(start, end, spend, hours, cost)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def billing_plan(run: RunContext, options: PlanOptions) -> dict[str, Any]:
    """The ``billing-plan`` document."""
    from finops_cli.pricing.commitment_rates import find_rate, load_rates, parse_rates

    if not 0 <= options.percentile <= 100:
        raise UsageError(f"invalid --percentile {options.percentile:g}: 0 to 100")
    if not 0 < options.holdout < 1:
        raise UsageError(f"invalid --holdout {options.holdout:g}: a share between 0 and 1")
    job = _job_flags(options)
    rates = load_rates()
    if options.rates is not None:
        try:
            text = options.rates.read_text(encoding="utf-8")
        except OSError as err:
            raise UsageError(f"--rates {options.rates}: cannot read it ({err.strerror})") from None
        rates = parse_rates(text, str(options.rates)) + rates
    start, end = _hour(run.window.start), _hour(run.window.end)
    if (end - start) / HOUR < 3:
        raise UsageError("billing plan needs at least 3 whole hours of history: use --window 14d")
    if (end - start) / HOUR > MAX_HOURS:
        raise UsageError("billing plan reads at most 92 days of hourly history: shorten --window")
    with open_source(run) as source, run.progress("Reading the fleet's hourly ledger"):
        ledger = read_ledger(source, start, end)
        source_name = source.name
    sp_rate = find_rate(rates, "savings-plan", options.instance_type or "*", options.region)
    discount = options.discount
    notes: list[str] = []
    if discount is None:
        discount = sp_rate.discount if sp_rate and sp_rate.discount is not None else 0.0
        if sp_rate is not None and not sp_rate.verified:
            notes.append(
                f"Savings Plan discount {discount:.0%}: {sp_rate.source}; --discount sets yours"
            )
    elif not 0 <= discount < 1:
        raise UsageError(f"invalid --discount {discount:g}: a share from 0 to below 1 (0.28)")
    ce_commitment, paid = options.ce_commitment, 0
    if ce_commitment is None and options.ask_cost_explorer:
        from finops_cli.usecases.commitments import open_apis

        apis = open_apis(run, options.profile, ec2=False)
        recommendation = apis.recommendation()
        paid = apis.ce.paid_calls
        if recommendation is not None:
            ce_commitment = recommendation.hourly_commitment
    from finops_cli.analytics.commitment_plan import recommend_baseline
    from finops_cli.render.plan import plan_document

    baseline = recommend_baseline(
        ledger.spend,
        discount=discount,
        percentile_p=options.percentile,
        holdout=options.holdout,
        ce_commitment=ce_commitment,
    )
    job_plan = _price_job(run, options, rates, discount, notes) if job else None
    run.warn_all(notes)
    return plan_document(
        baseline,
        job_plan,
        ledger_hours=ledger.hours,
        ledger_cost=ledger.cost,
        source=source_name,
        start=start,
        end=end,
        window_label=run.window.label,
        generated_at=run.now,
        currency=run.settings.currency,
        job_start=_job_start(options.job_start, run.now) if job else None,
        notes=notes,
        paid_calls=paid,
    )


def _job_flags(options: PlanOptions) -> bool:
    given = [options.gpus is not None, options.instance_type is not None, options.days is not None]
    if any(given) and not all(given):
        raise UsageError("a planned job needs --gpus, --type and --days together")
    if options.gpus is not None and options.gpus < 1:
        raise UsageError("--gpus must be 1 or more")
    if options.days is not None and not 0 < options.days <= 366:
        raise UsageError("--days must be more than 0 and at most 366")
    return all(given)


def _job_start(text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    from finops_cli.sources.focus_values import BadValue, parse_time

    try:
        return parse_time(text)
    except BadValue:
        raise UsageError(f"invalid --start {text!r}: a date such as 2026-12-15") from None


def _price_job(
    run: RunContext, options: PlanOptions, rates: list[Any], discount: float, notes: list[str]
) -> Any:
    from finops_cli.analytics.commitment_plan import price_job
    from finops_cli.pricing import load_catalog
    from finops_cli.pricing.commitment_rates import find_rate

    itype, region = str(options.instance_type), options.region
    catalog = load_catalog(run.settings.pricing)
    row = catalog.find(itype, region) or catalog.find(itype)
    if row is None:
        raise UsageError(f"--type {itype}: not in the price catalog (finops pricing list shows it)")
    block = find_rate(rates, "capacity-block", itype, region)
    block_hourly = block.hourly if block else None
    sources = {
        "on-demand": f"{row.source} ({row.as_of})",
        "spot": f"{row.source} ({row.as_of}, typical snapshot)",
        "savings-plan": f"{discount:.0%} off on-demand",
    }
    if block is not None:
        sources["capacity-block"] = f"{block.source} ({block.as_of})"
    if options.offerings:
        from finops_cli.usecases.commitments import open_apis

        apis = open_apis(run, options.profile, ec2=True)
        hours = round(float(options.days or 0) * 24)
        instances = -(-int(options.gpus or 0) // max(row.gpu_count, 1))
        start = _job_start(options.job_start, run.now)
        offers = apis.block_offerings(itype, instances, hours, start)
        if offers:
            best = min(offers, key=lambda o: o.upfront)
            block_hourly = best.hourly_per_instance
            sources["capacity-block"] = (
                f"EC2 DescribeCapacityBlockOfferings {best.offering_id} ({best.zone}, "
                f"{best.upfront:,.2f} {best.currency} upfront, read {run.now.date()})"
            )
        else:
            notes.append(f"EC2 offers no Capacity Block of {instances} x {itype} for those dates")
    return price_job(
        instance_type=itype,
        gpus=int(options.gpus or 0),
        gpus_per_instance=row.gpu_count,
        days=float(options.days or 0),
        on_demand=row.on_demand_hourly,
        spot=row.spot_hourly,
        block=block_hourly,
        sp_discount=discount,
        sources=sources,
    )


__all__ = ["PlanOptions", "billing_plan", "read_ledger"]
