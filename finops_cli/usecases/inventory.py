"""``finops gpus``, ``finops rightsize`` and ``finops pricing explain``: one read of the fleet
over the window (per GPU or per pod), then analytics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from finops_cli.usecases.context import RunContext

if TYPE_CHECKING:
    from finops_cli.render.format import Provenance
from finops_cli.usecases.sources import open_source


def gpus(
    run: RunContext,
    *,
    idle: bool = False,
    by: str | None = None,
    team: str | None = None,
    cluster: str | None = None,
) -> dict[str, Any]:
    """The ``gpus`` document: per GPU (or per ``by`` group), wasted ones only with ``idle``;
    ``cluster`` narrows every series read to that cluster."""
    _check_cluster(run, cluster)
    ledger_data = None
    with open_source(run) as source, run.progress("Querying GPUs"):
        data = source.gpus(run.window, cluster)
        if by == "team" and not idle:  # each GPU's cost split over its holders: the ledger's
            ledger_data = source.costs(_team_request(run, team, cluster))
    # Analytics (pandas) after the queries: it loads in the background while they run.
    from finops_cli.analytics.gpus import WASTED_STATES, GpuThresholds, assess_gpus, summarise_gpus
    from finops_cli.render import gpus as render

    s = run.settings.gpus
    frame = assess_gpus(
        data, GpuThresholds(s.idle_busy_p95, s.underused_busy_avg, s.min_held_share)
    )
    if team is not None:
        frame = frame[frame["team"] == team]
    if idle:
        frame = frame[frame["state"].isin(WASTED_STATES)].sort_values("waste", ascending=False)
    ledger = None
    if ledger_data is not None:
        from finops_cli.analytics.costs import attribute_costs

        filters = ({} if team is None else {"team": team}) | (
            {} if cluster is None else {"cluster": cluster}
        )
        ledger = attribute_costs(ledger_data, ("team",), filters, run.window.start, run.window.end)
    shown = summarise_gpus(frame, by, ledger) if by else frame
    if ledger is not None and team is not None:
        shown = shown[shown["team"] == team]
    return render.to_document(
        shown,
        _provenance(run, source.name, data.notes),
        busy_metric=data.busy_metric,
        group_by=by,
        idle_only=idle,
    )


def _check_cluster(run: RunContext, cluster: str | None) -> None:
    if cluster is not None and not run.settings.labels.cluster:
        from finops_cli.errors import UsageError

        raise UsageError("--cluster needs labels.cluster (it is set to off)")


def _team_request(run: RunContext, team: str | None, cluster: str | None = None) -> Any:
    """The ``costs --by team`` request of the window (``--team`` and ``--cluster`` as its
    filters), so that ``gpus --by team`` gives the same cost, GPU-hours and waste as ``costs``."""
    from finops_cli.buckets import bucket_size
    from finops_cli.sources.interface import CostRequest

    filters = ({} if team is None else {"team": team}) | (
        {} if cluster is None else {"cluster": cluster}
    )
    return CostRequest(run.window, ("team",), filters, bucket_size(run.window.seconds))


def rightsize(
    run: RunContext,
    *,
    min_savings: float = 0.0,
    team: str | None = None,
    actions: Sequence[str] = (),
    cluster: str | None = None,
) -> dict[str, Any]:
    """The ``rightsize`` document: recommendations over the window, filtered as asked
    (``cluster``: that cluster's series only)."""
    from finops_cli.pricing import load_catalog

    _check_cluster(run, cluster)
    catalog = load_catalog(run.settings.pricing)
    with open_source(run) as source, run.progress("Querying GPU pods"):
        data = source.pods(run.window, cluster)
    # Analytics (pandas) after the queries: it loads in the background while they run.
    from finops_cli.analytics.rightsize import recommend
    from finops_cli.analytics.rightsize_capacity import unlabelled_holders
    from finops_cli.analytics.rightsize_common import UPSIZE
    from finops_cli.render import rightsize as render

    recs = [
        r
        for r in recommend(data, catalog, run.window.seconds / 3600)
        if (team is None or r.workload.team == team)
        and (not actions or r.action in actions)
        and (r.monthly_savings >= min_savings or r.action == UPSIZE)
    ]
    notes = list(data.notes) + [
        f"{'/'.join(p for p in key if p)}: pods hold {hours:,.0f} GPU-h there that "
        "dcgm-exporter does not label (HAMi shares, or an exporter without its pod mapping): "
        "which of its GPUs are free is unknown, so it gets no capacity advice"
        for key, hours in sorted(unlabelled_holders(data).items())
    ]
    stale = catalog.staleness_note(run.now.date())  # both sides of a saving are catalog prices
    if stale:
        notes.append(stale)
    return render.to_document(recs, _provenance(run, source.name, notes))


def _provenance(run: RunContext, source: str, notes: list[str]) -> Provenance:
    """What the ``gpus`` and ``rightsize`` documents share; the notes also go to stderr."""
    from finops_cli.render.format import Provenance

    run.warn_all(notes)
    window = run.window
    return Provenance(
        source, window.start, window.end, window.label, run.now, run.settings.currency, notes
    )


def pricing_explain(run: RunContext) -> dict[str, Any]:
    """The ``pricing-explain`` document: what each node was charged per GPU-hour, and why."""
    from finops_cli.pricing import load_catalog
    from finops_cli.render.format import iso

    catalog = load_catalog(run.settings.pricing)
    with open_source(run) as source, run.progress("Querying node prices"):
        data = source.gpus(run.window)
    from finops_cli.analytics.gpus import with_nodes
    from finops_cli.pricing.node_key import gpu_count_note, node_key

    on = ["cluster", "node"] if "cluster" in data.gpus.columns else ["node"]
    frame = with_nodes(data.gpus, data.nodes).fillna(
        {"instance_type": "", "region": "", "capacity_type": "", "accelerator": ""}
    )
    rows = []
    notes = list(data.notes)
    for (*cluster, node), group in frame.groupby(on, sort=True):
        first = group.iloc[0]
        capacity = str(first["capacity_type"]) or "on-demand"
        key = node_key(str(first["instance_type"]), str(first.get("accelerator", "")))
        listed = catalog.lookup(key.key, str(first["region"]) or None, capacity)
        physical = len(group[group["mig_profile"].fillna("") == ""]) or len(group)
        if listed is not None and (note := gpu_count_note(key, listed.gpu_count, physical)):
            notes.append(note)
        rows.append(
            {
                "cluster": str(cluster[0]) if cluster else "",
                "node": str(node),
                "instance_type": str(first["instance_type"]),
                "capacity_type": capacity,
                "gpus": len(group),
                "charged_per_gpu": round(float(group["hourly_price"].mean()), 6),
                "charged_from": data.price_source,
                "catalog_key": key.key,
                "catalog_key_from": key.built_from,
                "catalog_per_gpu": round(listed.per_gpu_hourly, 6) if listed else None,
                "catalog_gpus": listed.gpu_count if listed else None,
                "catalog_source": listed.source if listed else None,
            }
        )
    notes = list(data.notes)
    stale = catalog.staleness_note(run.now.date())
    if stale:
        notes.append(stale)
        run.warn(stale)
    return {
        "schema_version": "1",
        "kind": "pricing-explain",
        "source": source.name,
        "generated_at": iso(run.now),
        "window": {
            "start": iso(run.window.start),
            "end": iso(run.window.end),
            "label": run.window.label,
        },
        "currency": run.settings.currency,
        "notes": notes,
        "rows": rows,
    }
