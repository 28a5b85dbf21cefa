"""Unit economics: what one thousand requests and one million tokens of a model cost.

Pure. Takes a ``--by model`` cost report and the inference source's traffic, moves the GPU cost of
serving pods that lack a model label from ``__unallocated__`` to the model their server reports
(the invariant rows + unallocated + idle = spend is kept), and divides.

A model that costs but served nothing has no unit cost (``no-traffic``: worth a look, not a
division by zero); a model with traffic but no GPU cost is ``unpriced``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from finops_cli.analytics.costs import UNALLOCATED, CostReport, CostRow
from finops_cli.frames import records
from finops_cli.sources.interface import InferenceData

OK = "ok"
NO_TRAFFIC = "no-traffic"
UNPRICED = "unpriced"


@dataclass(frozen=True)
class UnitCost:
    requests: float
    prompt_tokens: float
    generated_tokens: float
    cost_per_1k_requests: float | None
    cost_per_1m_tokens: float | None  # prompt + generated
    cost_per_1m_generated_tokens: float | None
    status: str  # ok | no-traffic | unpriced
    # The two prices of a token: GPU cost split by measured prefill vs decode time (vLLM), or
    # by token count where the server exports no phase times (``token_split`` "blended").
    input_cost: float | None = None
    output_cost: float | None = None
    cost_per_1m_input_tokens: float | None = None
    cost_per_1m_output_tokens: float | None = None
    token_split: str | None = None  # measured | blended
    prefix_cache_hit_rate: float | None = None  # prompt tokens found in vLLM's prefix cache
    kwh_per_1m_tokens: float | None = None  # with --energy
    kg_co2e_per_1m_tokens: float | None = None

    @property
    def tokens(self) -> float:
        return self.prompt_tokens + self.generated_tokens


def unit_cost(
    gpu_cost: float,
    requests: float,
    prompt: float,
    generated: float,
    phases: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
) -> UnitCost:
    """Cost per 1k requests, per 1M tokens, and per 1M input and output tokens; None where the
    denominator is zero.

    ``phases`` is (prefill seconds, decode seconds, prefix-cache tokens queried, hit). The GPU
    cost is split between input and output in proportion to prefill and decode time (decode is
    where a served model's GPU time goes); without phase times, in proportion to tokens, which
    is the blended price for both. Either way input + output cost is the GPU cost.
    """
    tokens = prompt + generated
    if gpu_cost <= 0 and (requests > 0 or tokens > 0):
        status = UNPRICED
    elif requests <= 0 and tokens <= 0:
        status = NO_TRAFFIC
    else:
        status = OK
    priced = status == OK
    return UnitCost(
        requests=requests,
        prompt_tokens=prompt,
        generated_tokens=generated,
        cost_per_1k_requests=gpu_cost / requests * 1e3 if priced and requests > 0 else None,
        cost_per_1m_tokens=gpu_cost / tokens * 1e6 if priced and tokens > 0 else None,
        cost_per_1m_generated_tokens=gpu_cost / generated * 1e6
        if priced and generated > 0
        else None,
        status=status,
        **_split(gpu_cost if priced else 0.0, prompt, generated, phases),
    )


def _split(
    gpu_cost: float, prompt: float, generated: float, phases: tuple[float, float, float, float]
) -> dict[str, Any]:
    prefill, decode, queried, hits = phases
    measured = prefill + decode > 0
    tokens = prompt + generated
    if not measured and tokens <= 0:
        return {"prefix_cache_hit_rate": hits / queried if queried > 0 else None}
    share = prefill / (prefill + decode) if measured else prompt / tokens
    input_cost = gpu_cost * share
    output_cost = gpu_cost - input_cost
    return {
        "input_cost": input_cost,
        "output_cost": output_cost,
        "cost_per_1m_input_tokens": input_cost / prompt * 1e6 if gpu_cost and prompt else None,
        "cost_per_1m_output_tokens": output_cost / generated * 1e6
        if gpu_cost and generated
        else None,
        "token_split": "measured" if measured else "blended",
        "prefix_cache_hit_rate": hits / queried if queried > 0 else None,
    }


def with_unit_costs(report: CostReport, inference: InferenceData) -> CostReport:
    """The report with every model row carrying its ``UnitCost`` (a ``--by model`` report)."""
    if report.group_by != ("model",):
        raise ValueError("unit costs need a report grouped by model alone")
    rows = list(report.rows)
    by_model = {r.keys["model"]: i for i, r in enumerate(rows) if r.kind == "allocated"}
    unallocated = next(i for i, r in enumerate(rows) if r.kind == "unallocated")

    for served in records(inference.served):
        model = str(served["model"])
        moved = _Moved(
            hours=float(served["gpu_hours"]),
            cost=float(served["gpu_cost"]),
            busy_hours=float(served["busy_gpu_hours"]),
            observed_hours=float(served["observed_gpu_hours"]),
            wasted=float(served["wasted_cost"]),
        )
        rows[unallocated] = _shifted(rows[unallocated], moved, sign=-1.0)
        if model in by_model:
            i = by_model[model]
            rows[i] = _shifted(rows[i], moved, sign=1.0)
        else:
            rows.insert(unallocated, _new_row(model, served, report))
            by_model[model] = unallocated
            unallocated += 1

    traffic = {
        str(t["model"]): (
            float(t["requests"]),
            float(t["prompt_tokens"]),
            float(t["generated_tokens"]),
        )
        for t in records(inference.traffic)
    }
    phases = {
        str(t["model"]): tuple(
            float(t.get(k, 0.0) or 0.0)
            for k in ("prefill_seconds", "decode_seconds", "prefix_cache_queries",
                      "prefix_cache_hits")
        )
        for t in records(inference.traffic)
    }  # fmt: skip
    for model in traffic:
        if model not in by_model:
            rows.insert(unallocated, _empty_row(model, report))
            by_model[model] = unallocated
            unallocated += 1

    total = sum(r.gpu_cost for r in rows)
    out: list[CostRow] = []
    for row in rows:
        unit = None
        if row.kind == "allocated" and row.keys["model"] != UNALLOCATED:
            requests, prompt, generated = traffic.get(row.keys["model"], (0.0, 0.0, 0.0))
            split = phases.get(row.keys["model"], (0.0, 0.0, 0.0, 0.0))
            unit = unit_cost(row.gpu_cost, requests, prompt, generated, split)  # type: ignore[arg-type]
        out.append(replace(row, share=row.gpu_cost / total if total > 0 else 0.0, unit=unit))
    allocated = [r for r in out if r.kind == "allocated"]
    # Ties to a millionth (float noise of server sums: raw and recorded sum in other orders)
    # in the models' alphabetical order, as the cost report orders them.
    ordered = sorted(allocated, key=lambda r: (-round(r.gpu_cost, 6), r.keys["model"])) + [
        r for r in out if r.kind != "allocated"
    ]
    totals = replace(
        report.totals,
        waste=sum(r.waste or 0.0 for r in ordered),
        allocated_gpu_cost=sum(r.gpu_cost for r in allocated),
        unallocated_gpu_cost=next(r.gpu_cost for r in out if r.kind == "unallocated"),
    )
    # The cost report and the inference read say some things alike (which hours were
    # recorded, why recorded series were not used): each note once.
    notes = tuple(dict.fromkeys((*report.notes, *inference.notes)))
    return replace(report, rows=tuple(ordered), totals=totals, notes=notes)


@dataclass(frozen=True)
class _Moved:
    """The GPU figures of a model's unlabelled serving pods, moved out of ``__unallocated__``."""

    hours: float
    cost: float
    busy_hours: float
    observed_hours: float
    wasted: float


def _shifted(row: CostRow, moved: _Moved, sign: float) -> CostRow:
    """The row with ``moved`` added (``sign`` 1) or taken out (-1).

    Waste moves as the ledger's sum, never as cost x (1 - efficiency), so the rows' waste still
    adds up to the report's. Efficiency is re-weighted by the observed GPU-hours moved.
    """
    efficiency = row.efficiency
    known = row.gpu_hours if row.efficiency is not None else 0.0
    observed = known + sign * moved.observed_hours
    if moved.observed_hours > 0 and observed > 0:
        weighted = (row.efficiency or 0.0) * known + sign * moved.busy_hours
        efficiency = min(max(weighted / observed, 0.0), 1.0)
    waste = row.waste
    if moved.observed_hours > 0 or moved.wasted:
        waste = max((row.waste or 0.0) + sign * moved.wasted, 0.0)
    gpu_cost = max(row.gpu_cost + sign * moved.cost, 0.0)
    return replace(
        row,
        gpu_hours=max(row.gpu_hours + sign * moved.hours, 0.0),
        gpu_cost=gpu_cost,
        total_cost=max(row.total_cost + sign * moved.cost, 0.0),
        efficiency=efficiency,
        waste=waste,
    )


def _new_row(model: str, served: dict[Any, Any], report: CostReport) -> CostRow:
    cost = float(served["gpu_cost"])
    observed = float(served["observed_gpu_hours"])
    efficiency = float(served["busy_gpu_hours"]) / observed if observed else None
    return CostRow(
        keys={"model": model},
        kind="allocated",
        gpu_hours=float(served["gpu_hours"]),
        gpu_cost=cost,
        cpu_ram_cost=0.0 if report.has_cpu_ram else None,
        total_cost=cost,
        efficiency=efficiency,
        waste=float(served["wasted_cost"]) if efficiency is not None else None,
        share=0.0,
        daily_cost=tuple(0.0 for _ in report.days),  # served pods' daily split is not kept
    )


def _empty_row(model: str, report: CostReport) -> CostRow:
    return CostRow(
        keys={"model": model},
        kind="allocated",
        gpu_hours=0.0,
        gpu_cost=0.0,
        cpu_ram_cost=0.0 if report.has_cpu_ram else None,
        total_cost=0.0,
        efficiency=None,
        waste=None,
        share=0.0,
        daily_cost=tuple(0.0 for _ in report.days),
    )
