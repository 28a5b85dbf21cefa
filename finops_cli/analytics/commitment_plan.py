"""What to buy: a Savings Plan for the steady baseline, and the price of one planned job.

Pure functions, no I/O, no clock. Two questions:

**The baseline.** Given the fleet's hourly on-demand GPU instance spend (the ledger: each
on-demand node's instance price, hour by hour; spot nodes left out, as a Savings Plan does not
apply to them), the recommended hourly commitment is the ``percentile`` (default 10th) of that
spend over the training hours, at the Savings Plan rate: ``C = (1 - discount) x P10(spend)``. A
low percentile buys only what ran nearly every hour, so the commitment is rarely idle. It is
then **backtested on held-out hours** (the last ``holdout`` share of the history, never seen when
choosing C): each hour the plan covers ``min(spend, C / (1 - discount))`` of on-demand spend at
its rate, so

    cost with the plan = C + (spend - covered)        unused = C - (1 - discount) x covered

summed over the hours, against buying nothing (cost = spend). Cost Explorer's own
recommendation, when given, is backtested the same way on the same hours.

**A planned job** (``gpus`` GPUs of ``instance_type`` for ``days``): the same hours priced four
ways, each with its risk: on-demand (no capacity guarantee), Capacity Block (all upfront, fixed
start and end, not cancellable), a Savings Plan (a year's commitment, of which the job uses a
few days: the rest is unused unless other usage absorbs it), spot (interruptible).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Backtest:
    """One hourly commitment played over the held-out hours."""

    label: str
    hourly_commitment: float
    hours: int
    cost_without: float
    cost_with: float
    unused: float

    @property
    def savings(self) -> float:
        return self.cost_without - self.cost_with

    @property
    def savings_pct(self) -> float | None:
        return self.savings / self.cost_without if self.cost_without > 0 else None

    @property
    def utilisation(self) -> float | None:
        committed = self.hourly_commitment * self.hours
        return (committed - self.unused) / committed if committed > 0 else None


@dataclass(frozen=True)
class Baseline:
    percentile: float
    discount: float
    training_hours: int
    holdout_hours: int
    spend_percentile: float  # on-demand $/h at the percentile, over the training hours
    spend_mean: float
    hourly_commitment: float  # at the Savings Plan rate
    backtests: tuple[Backtest, ...]  # the recommendation first, then Cost Explorer's if given


def backtest(label: str, commitment: float, spend: Sequence[float], discount: float) -> Backtest:
    """``commitment`` ($/h at the plan's rate) over the hourly on-demand ``spend``."""
    rate = 1.0 - discount
    cost_with = unused = 0.0
    for hour in spend:
        covered = min(hour, commitment / rate) if rate > 0 else hour
        cost_with += commitment + (hour - covered)
        unused += commitment - rate * covered
    return Backtest(label, commitment, len(spend), float(sum(spend)), cost_with, unused)


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100), linear between the two nearest ranks."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100.0
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def recommend_baseline(
    spend: Sequence[float],
    *,
    discount: float,
    percentile_p: float = 10.0,
    holdout: float = 1 / 3,
    ce_commitment: float | None = None,
) -> Baseline:
    """The commitment from the training hours, backtested on the held-out hours."""
    if not 0 <= discount < 1:
        raise ValueError("discount must be in [0, 1)")
    held = max(1, round(len(spend) * holdout)) if len(spend) > 1 else 0
    training, test = list(spend[: len(spend) - held]), list(spend[len(spend) - held :])
    level = percentile(training, percentile_p)
    commitment = (1.0 - discount) * level
    tests = [backtest("recommended", commitment, test, discount)]
    if ce_commitment is not None:
        tests.append(backtest("cost-explorer", ce_commitment, test, discount))
    return Baseline(
        percentile=percentile_p,
        discount=discount,
        training_hours=len(training),
        holdout_hours=len(test),
        spend_percentile=level,
        spend_mean=sum(training) / len(training) if training else 0.0,
        hourly_commitment=commitment,
        backtests=tuple(tests),
    )


@dataclass(frozen=True)
class JobOption:
    """One way to buy a planned job's hours."""

    option: str
    hourly: float | None  # per instance
    cost: float | None  # for the job's hours
    commitment: float | None  # money committed in total (a plan's whole term)
    risk: str
    source: str


@dataclass(frozen=True)
class JobPlan:
    instance_type: str
    gpus: int
    instances: int
    hours: float
    options: tuple[JobOption, ...]

    @property
    def cheapest(self) -> JobOption | None:
        priced = [o for o in self.options if o.cost is not None]
        return min(priced, key=lambda o: o.cost or 0.0) if priced else None


SP_TERM_HOURS = {"1yr": 8760.0, "3yr": 26280.0}


def price_job(
    *,
    instance_type: str,
    gpus: int,
    gpus_per_instance: int,
    days: float,
    on_demand: float | None,
    spot: float | None,
    block: float | None,
    sp_discount: float | None,
    sp_term: str = "1yr",
    sources: dict[str, str] | None = None,
) -> JobPlan:
    """The job's hours priced on demand, as a Capacity Block, under a Savings Plan and on spot."""
    sources = sources or {}
    instances = math.ceil(gpus / max(gpus_per_instance, 1))
    hours = days * 24.0
    count_hours = instances * hours

    def cost(rate: float | None) -> float | None:
        return None if rate is None else rate * count_hours

    sp_rate = None if on_demand is None or sp_discount is None else on_demand * (1 - sp_discount)
    term = SP_TERM_HOURS.get(sp_term, 8760.0)
    options = (
        JobOption(
            "on-demand",
            on_demand,
            cost(on_demand),
            None,
            "no capacity guarantee: large GPU launches can fail for lack of capacity; "
            "pay only for what runs, stop any time",
            sources.get("on-demand", ""),
        ),
        JobOption(
            "capacity-block",
            block,
            cost(block),
            cost(block),
            "capacity guaranteed for fixed dates; all upfront, not cancellable or changeable; "
            "paid whether used or not; ends at a fixed time (save checkpoints)",
            sources.get("capacity-block", "") if block is not None else "no rate for this type",
        ),
        JobOption(
            "savings-plan",
            sp_rate,
            cost(sp_rate),
            None if sp_rate is None else sp_rate * instances * term,
            f"a {sp_term} commitment of {instances} instance(s)' worth per hour: after the job "
            "it is unused money unless other usage absorbs it; no capacity guarantee",
            sources.get("savings-plan", ""),
        ),
        JobOption(
            "spot",
            spot,
            cost(spot),
            None,
            "interruptible with two minutes' notice; needs checkpointing and retries; "
            "large GPU spot capacity is scarce",
            sources.get("spot", "") if spot is not None else "no spot price for this type",
        ),
    )
    return JobPlan(instance_type, gpus, instances, hours, options)
