"""``finops costs``: attributed GPU cost per group, unit costs and a second source's view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from finops_cli.errors import UsageError
from finops_cli.usecases.context import RunContext
from finops_cli.usecases.sources import open_source


@dataclass(frozen=True)
class CostsOptions:
    """``--by`` keys as the group keys (``cost_center``, not ``cost-center``), filters, flags."""

    by: Sequence[str] = ()
    filters: Mapping[str, str] = field(default_factory=dict)
    unit_costs: bool = False
    compare: str | None = None


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
    request = CostRequest(window, keys, filters, bucket_size(window.seconds))
    with open_source(run) as source, run.progress("Querying costs"):
        data = source.costs(request)
        inference = source.inference(request) if options.unit_costs else None
    # Analytics (pandas) after the queries: it loads in the background while they run.
    from finops_cli.analytics.costs import attribute_costs
    from finops_cli.render import costs as render

    report = attribute_costs(data, keys, filters, window.start, window.end)
    if inference is not None:
        from finops_cli.analytics.unit_costs import with_unit_costs

        report = with_unit_costs(report, inference)
    comparison = None
    if options.compare is not None:
        from finops_cli.analytics.compare import compare_reports

        with open_source(run, opencost=True) as other_source, run.progress("Querying OpenCost"):
            other_data = other_source.costs(request)
        other = attribute_costs(other_data, keys, filters, window.start, window.end)
        comparison = (other.source, compare_reports(report, other))
    run.warn_all(report.notes)
    return render.to_document(
        report,
        currency=run.settings.currency,
        window_label=window.label,
        generated_at=run.now,
        comparison=comparison,
    )
