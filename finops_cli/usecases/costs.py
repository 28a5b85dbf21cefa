"""``finops costs``: attributed GPU cost per group, unit costs and a second source's view."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from finops_cli.errors import UsageError
from finops_cli.usecases.context import RunContext
from finops_cli.usecases.sources import open_source

if TYPE_CHECKING:
    from finops_cli.sources.interface import CostData, CostRequest, CostSource

FILTER_FLAGS = {
    "team": "--team",
    "project": "--project",
    "model": "--model",
    "namespace": "--namespace",
    "cluster": "--cluster",
}
"""Each filter key's flag, as the warnings name it."""


@dataclass(frozen=True)
class CostsOptions:
    """``--by`` keys as the group keys (``cost_center``, not ``cost-center``), filters, flags."""

    by: Sequence[str] = ()
    filters: Mapping[str, str] = field(default_factory=dict)
    unit_costs: bool = False
    compare: str | None = None
    include_idle: bool = False
    """Keep the cluster's ``__idle__`` row (and its cost in the totals) under a pod filter."""
    energy: bool = False
    """GPU kWh and kgCO2e per row (and per 1M tokens with unit costs)."""


def group_keys(options: CostsOptions, cluster_label: str | None) -> tuple[str, ...]:
    """The --by keys, checked: at most two, distinct, and what the other flags need."""
    keys = tuple(options.by) or (("model",) if options.unit_costs else ("team",))
    if options.unit_costs and keys != ("model",):
        raise UsageError("--unit-costs works per model: use it with --by model (or no --by)")
    if len(keys) > 2:
        raise UsageError("--by takes at most two keys (e.g. --by team --by project)")
    if len(set(keys)) != len(keys):
        raise UsageError("--by was given the same key twice")
    if ("cluster" in keys or "cluster" in options.filters) and not cluster_label:
        raise UsageError("--by cluster / --cluster need labels.cluster (it is set to off)")
    return keys


def costs(run: RunContext, options: CostsOptions) -> dict[str, Any]:
    """The ``costs`` document: source -> attribute_costs (-> unit costs, comparison)."""
    from finops_cli.buckets import bucket_size
    from finops_cli.sources.interface import CostRequest

    keys = group_keys(options, run.settings.labels.cluster)
    filters = dict(options.filters)
    window = run.window
    request = CostRequest(
        window,
        keys,
        filters,
        bucket_size(window.seconds),
        energy=options.energy,
        daily_totals=True,
    )
    with open_source(run) as source, run.progress("Querying costs"):
        from finops_cli.usecases.together import asked_together

        calls: list[Callable[[], Any]] = [lambda: source.costs(request)]
        if options.unit_costs:
            calls.append(lambda: source.inference(request))
        data, *served = asked_together(calls, source.concurrent_questions)
        unmatched = unmatched_filters(source, request, data)
        inference = served[0] if served else None
    # Analytics (pandas) after the queries: it loads in the background while they run.
    from finops_cli.analytics.costs import attribute_costs
    from finops_cli.render import costs as render

    idle = options.include_idle
    report = attribute_costs(data, keys, filters, window.start, window.end, include_idle=idle)
    if inference is not None:
        from finops_cli.analytics.unit_costs import with_unit_costs

        report = with_unit_costs(report, inference)
    if options.energy:
        from finops_cli.usecases.energy import with_energy

        report = with_energy(run, report, data.energy, inference)
    comparison = None
    if options.compare is not None:
        from finops_cli.analytics.compare import compare_reports

        with open_source(run, opencost=True) as other_source, run.progress("Querying OpenCost"):
            other_data = other_source.costs(request)
        other = attribute_costs(
            other_data, keys, filters, window.start, window.end, include_idle=idle
        )
        comparison = (other.source, compare_reports(report, other))
    if unmatched:
        from dataclasses import replace

        report = replace(report, notes=(*report.notes, *unmatched))
    run.warn_all(report.notes)
    return render.to_document(
        report,
        currency=run.settings.currency,
        window_label=window.label,
        generated_at=run.now,
        comparison=comparison,
    )


def _spent(data: CostData) -> bool:
    """Whether the answer holds any GPU-hours or GPU cost (a filter matched something)."""
    alloc = data.allocations
    if not len(alloc):
        return False
    return bool(((alloc["gpu_hours"] > 0) | (alloc["gpu_cost"] > 0)).any())


def unmatched_filters(source: CostSource, request: CostRequest, data: CostData) -> list[str]:
    """A note per filter value that matched no GPU spend, with the nearest known values.

    Only when the filtered answer is empty: then each filter key is asked for once more, grouped
    by that key without filters, to name the values that do exist. A combination of known
    values that matches nothing together gets one note naming all of them."""
    filters = request.filters
    if not filters:
        return []
    scope_only = set(filters) == {"cluster"}
    if scope_only:
        capacity = data.cluster["capacity_gpu_hours"] if len(data.cluster) else None
        if _spent(data) or (capacity is not None and float(capacity.sum()) > 0):
            return []
    elif _spent(data):
        return []
    from dataclasses import replace

    from finops_cli.sources.interface import SERIES_MEASURES
    from finops_cli.usecases.filters import known_names, shown, unmatched_filter

    notes: list[str] = []
    for key, value in filters.items():
        lookup = replace(request, group_by=(key,), filters={}, measures=SERIES_MEASURES)
        alloc = source.costs(lookup).allocations
        spent = alloc[alloc["gpu_cost"] > 0] if len(alloc) else alloc
        known = known_names(spent[key]) if len(spent) else []
        if value not in known:
            notes.append(unmatched_filter(FILTER_FLAGS.get(key, key), key, value, known))
    if not notes:
        given = " ".join(f"{FILTER_FLAGS.get(k, k)} {shown(v)}" for k, v in filters.items())
        notes.append(f"{given} together matched no GPU spend in the window")
    return notes
