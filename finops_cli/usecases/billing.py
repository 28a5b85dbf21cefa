"""``finops billing``: what the cloud bill says (actual, forecast) and how it squares with the
cluster's own cost model (compare).

Where the bill comes from: ``focus`` (FOCUS files from any cloud), ``athena`` (a FOCUS or CUR 2.0
table), the sample cluster's simulated bill (``--source sample``), else AWS Cost Explorer through
boto3's usual credentials. ``compare`` reads the cluster through the same source as ``finops
costs`` and, when that is the sample cluster, the sample's bill too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from finops_cli.errors import ThresholdError, UsageError
from finops_cli.usecases.context import Outcome, RunContext
from finops_cli.usecases.sources import open_source

if TYPE_CHECKING:
    from finops_cli.sources.billing import BillRequest, BillSource, Dimension, Granularity
    from finops_cli.timewindow import Window

SAMPLE_BILL_BANNER = (
    "finops: reading the SAMPLE cluster's simulated bill (with planted discrepancies); "
    "drop --source sample to read AWS Cost Explorer, or use --focus PATH"
)


@dataclass(frozen=True)
class BillOptions:
    """Where the bill comes from and which part of it: the flags every billing command shares."""

    metric: str = "UnblendedCost"
    services: Sequence[str] = ()
    all_services: bool = False
    instance_families: Sequence[str] = ()
    tags: Sequence[str] = ()
    focus: Path | None = None
    athena: str | None = None
    profile: str | None = None
    no_cache: bool = False


def parse_tags(entries: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``--tag KEY=VALUE`` (repeatable; ``KEY=`` selects spend without the tag)."""
    out: dict[str, list[str]] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"invalid --tag {entry!r}: expected KEY=VALUE (or KEY= for untagged)")
        out.setdefault(key.strip(), []).append(value.strip())
    return {k: tuple(v) for k, v in out.items()}


def bill_filters(
    options: BillOptions,
) -> tuple[tuple[str, ...] | None, tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Services (None: the compute default, (): every service), instance families, tags."""
    from finops_cli.sources.billing import expand_families

    if options.all_services and options.services:
        raise UsageError("--service and --all-services conflict: use one")
    services: tuple[str, ...] | None = (
        () if options.all_services else (tuple(options.services) if options.services else None)
    )
    families = expand_families(tuple(options.instance_families))
    return services, families, parse_tags(options.tags)


def dimensions(by: Sequence[str], team_tag: str) -> tuple[Dimension, ...]:
    """``--by`` keys as bill dimensions: at most two, distinct; default the team tag."""
    from finops_cli.sources.billing import parse_dimension

    dims = tuple(parse_dimension(text, team_tag) for text in (by or ["team"]))
    if len(dims) > 2:
        raise UsageError("--by takes at most two keys (e.g. --by team --by service)")
    if len({d.column for d in dims}) != len(dims):
        raise UsageError("--by was given the same key twice")
    return dims


def bill_days(window: Window) -> tuple[date, date]:
    """The window as whole UTC days, end exclusive: bills are daily.

    One rule for every billing command: both ends are rounded *down* to midnight UTC, so
    ``--window 7d`` is the last seven complete days (today's partial day is left out, as the
    bill has not caught up with it) and ``--start``/``--end`` dates are taken as given.
    """
    start = window.start.date()
    end = window.end.date()
    if end <= start:
        raise UsageError(
            "billing needs at least one whole UTC day before the window's end: use --window 1d "
            "or more, or --start/--end dates"
        )
    return start, end


def filters_json(request: BillRequest) -> dict[str, Any]:
    return {
        "services": None if request.services is None else list(request.services),
        "instance_families": list(request.instance_families),
        "tags": {k: list(v) for k, v in request.tags.items()},
    }


def _request(
    run: RunContext,
    options: BillOptions,
    days: tuple[date, date],
    granularity: str,
    group_by: tuple[Dimension, ...] = (),
    *,
    filtered: bool = True,
) -> BillRequest:
    from finops_cli.sources.billing import BillRequest

    if granularity not in ("daily", "monthly"):
        raise UsageError(f"invalid granularity {granularity!r}: daily or monthly")
    services, families, tags = bill_filters(options) if filtered else (None, (), {})
    return BillRequest(
        start=days[0],
        end=days[1],
        granularity=cast("Granularity", granularity),
        metric=options.metric,
        group_by=group_by,
        services=services,
        instance_families=families,
        tags=tags,
        now=run.now,
    )


@contextmanager
def open_bill(run: RunContext, options: BillOptions, *, sample: bool) -> Iterator[BillSource]:
    """The bill source the options pick (see the module docstring), closed when done."""
    source = _bill_source(run, options, sample=sample)
    try:
        yield source
    finally:
        source.close()


def _bill_source(run: RunContext, options: BillOptions, *, sample: bool) -> BillSource:
    billing = run.settings.billing
    if options.focus is not None and options.athena is not None:
        raise UsageError("--focus and --athena conflict: read one bill at a time")
    if options.focus is not None:
        from finops_cli.sources.focus import FocusSource

        return FocusSource(options.focus)
    if options.athena is not None:
        from finops_cli.sources.athena import open_athena

        return open_athena(
            options.athena,
            profile=options.profile or billing.aws_profile,
            region=billing.aws_region,
            database=billing.athena_database,
            workgroup=billing.athena_workgroup,
            output_location=billing.athena_output_location,
        )
    if sample:
        from finops_cli.sample.bill import SampleBill, SampleCostExplorer
        from finops_cli.sources.cost_explorer import CostExplorerSource

        run.notice(SAMPLE_BILL_BANNER)
        client = SampleCostExplorer(SampleBill(seed=run.settings.sample_seed), run.now)
        return CostExplorerSource(client, name="sample", paid=False)
    from finops_cli.sources.cost_explorer import open_cost_explorer

    return open_cost_explorer(
        options.profile or billing.aws_profile,
        billing.aws_region,
        cache_ttl_seconds=billing.cache_ttl_seconds,
        use_cache=not options.no_cache,
    )


def _report_calls(run: RunContext, source: BillSource, paid: int, cached: int) -> None:
    if source.name == "cost-explorer":
        run.notice(
            f"finops: Cost Explorer: {paid} paid request(s) (${paid * 0.01:.2f}), "
            f"{cached} answered from the cache"
        )


def _no_cluster_source(run: RunContext) -> None:
    if run.settings.source in ("prometheus", "opencost"):
        raise UsageError(
            f"--source {run.settings.source} reads the cluster, not the bill: billing actual and "
            "forecast take --source sample, --focus, --athena, or Cost Explorer by default"
        )


def _actual_request(
    run: RunContext, options: BillOptions, by: Sequence[str], granularity: str
) -> BillRequest:
    _no_cluster_source(run)
    dims = dimensions(by, run.settings.billing.team_tag)
    return _request(run, options, bill_days(run.window), granularity, dims)


def billing_explain(
    run: RunContext, options: BillOptions, *, by: Sequence[str] = (), granularity: str = "daily"
) -> str:
    """The Athena SQL ``billing_actual`` would run."""
    if options.athena is None:
        raise UsageError("--explain shows the SQL of --athena: give --athena TABLE")
    request = _actual_request(run, options, by, granularity)
    with open_bill(run, options, sample=False) as source:
        return source.explain(request)


def billing_actual(
    run: RunContext, options: BillOptions, *, by: Sequence[str] = (), granularity: str = "daily"
) -> dict[str, Any]:
    """The ``billing-actual`` document: billed cost per period and group."""
    from finops_cli.analytics.billing import summarize_bill
    from finops_cli.render import billing as render

    request = _actual_request(run, options, by, granularity)
    with (
        open_bill(run, options, sample=run.settings.source == "sample") as source,
        run.progress("Reading the bill"),
    ):
        data = source.actual(request)
    _report_calls(run, source, data.paid_calls, data.cached_calls)
    run.warn_all(data.notes)
    report = summarize_bill(data, tuple(request.columns), request.start, request.end, granularity)
    return render.actual_document(
        report, window_label=run.window.label, generated_at=run.now, filters=filters_json(request)
    )


def billing_forecast(
    run: RunContext, options: BillOptions, *, granularity: str, prediction_interval: int
) -> dict[str, Any]:
    """The ``billing-forecast`` document: month to date plus the provider's forecast."""
    from finops_cli.render import billing as render

    _no_cluster_source(run)
    today = run.now.date()
    request = _request(run, options, (today, today + timedelta(days=1)), granularity)
    bill = BillOptions(options.metric, profile=options.profile, no_cache=options.no_cache)
    with (
        open_bill(run, bill, sample=run.settings.source == "sample") as source,
        run.progress("Asking Cost Explorer for a forecast"),
    ):
        result = source.forecast(request, prediction_interval)
    paid = int(getattr(source, "paid_calls", 0))
    cached = int(getattr(source, "cached_calls", 0))
    _report_calls(run, source, paid, cached)
    return render.forecast_document(
        result,
        source=source.name,
        generated_at=run.now,
        filters=filters_json(request),
        paid_calls=paid,
        cached_calls=cached,
    )


def billing_compare(
    run: RunContext, options: BillOptions, *, threshold: float, fail_on_flagged: bool
) -> Outcome:
    """The ``billing-compare`` document: the cluster's cost per instance type beside the bill;
    a failure when ``fail_on_flagged`` and an instance type differs by over ``threshold`` %."""
    from finops_cli.analytics.billing import reconcile
    from finops_cli.render import billing as render
    from finops_cli.sources.billing import Dimension
    from finops_cli.timewindow import Window

    start, end = bill_days(run.window)
    window = Window(
        start=datetime(start.year, start.month, start.day, tzinfo=UTC),
        end=datetime(end.year, end.month, end.day, tzinfo=UTC),
        label=run.window.label,
    )
    with open_source(run) as cluster, run.progress("Pricing the cluster's nodes"):
        nodes = cluster.node_costs(window)
    by_resource = options.focus is not None or options.athena is not None
    dims = [Dimension("instance_type"), Dimension("purchase_option")]
    if by_resource:
        dims.append(Dimension("resource"))
    request = _request(run, options, (start, end), "monthly", tuple(dims), filtered=False)
    sample = cluster.name == "sample" and not by_resource
    with open_bill(run, options, sample=sample) as source, run.progress("Reading the bill"):
        data = source.actual(request)
    _report_calls(run, source, data.paid_calls, data.cached_calls)
    result = reconcile(nodes, data.frame, threshold=threshold / 100.0, by_resource=by_resource)
    notes = list(data.notes)
    if bool(data.frame["estimated"].any()) if len(data.frame) else False:
        notes.append("part of the bill is estimated: the provider has not finalised it yet")
    currencies = sorted(set(data.frame["currency"])) if len(data.frame) else [run.settings.currency]
    run.warn_all([*notes, *result.notes])
    document = render.compare_document(
        result,
        cost_source=cluster.name,
        bill_source=source.name,
        metric=data.metric,
        currency=currencies[0],
        start=start,
        end=end,
        window_label=run.window.label,
        generated_at=run.now,
        paid_calls=data.paid_calls,
        cached_calls=data.cached_calls,
        notes=notes,
    )
    flagged = [r.group for r in result.rows if r.flagged]
    failure = None
    if fail_on_flagged and flagged:
        failure = ThresholdError(
            f"{len(flagged)} instance type(s) differ from the bill by more than "
            f"{threshold:g}%: {', '.join(flagged)}"
        )
    return Outcome(document, failure)
