"""``finops billing``: what the cloud bill says (actual, forecast) and how it squares with the
cluster's own cost model (compare).

Where the bill comes from: ``--focus PATH`` (FOCUS files from any cloud), ``--athena TABLE``
(a FOCUS or CUR 2.0 table), ``--source sample`` (the sample cluster's simulated bill), else AWS
Cost Explorer through boto3's usual credentials. ``billing compare`` reads the cluster through the
same source as ``finops costs`` and, when that is the sample cluster, the sample's bill too.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from finops_cli.cli.common import CommandContext, OutputFormat, data_command
from finops_cli.errors import ThresholdError, UsageError

if TYPE_CHECKING:
    from finops_cli.sources.billing import BillRequest, BillSource, Dimension

billing_app = typer.Typer(
    name="billing",
    help="What the cloud bill says: AWS Cost Explorer, FOCUS files (any cloud), Athena; and the "
    "gap between the bill and the cluster's estimate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

BILL = "Bill"
FILTERS = "Filters"
SAMPLE_BILL_BANNER = (
    "finops: reading the SAMPLE cluster's simulated bill (with planted discrepancies); "
    "drop --source sample to read AWS Cost Explorer, or use --focus PATH"
)


class Granularity(StrEnum):
    daily = "daily"
    monthly = "monthly"


FocusOption = Annotated[
    Path | None,
    typer.Option(
        "--focus",
        metavar="PATH",
        help="Read FOCUS 1.0-1.3 files (CSV, CSV.gz, Parquet): a file or a folder of them.",
        rich_help_panel=BILL,
        show_default=False,
    ),
]
AthenaOption = Annotated[
    str | None,
    typer.Option(
        "--athena",
        metavar="[DATABASE.]TABLE",
        help="Query a FOCUS or CUR 2.0 table in Athena (workgroup, database and output location "
        "from the billing.athena_* settings).",
        rich_help_panel=BILL,
        show_default=False,
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME",
        help="AWS profile (default: billing.aws_profile, then boto3's own chain).",
        rich_help_panel=BILL,
        show_default=False,
    ),
]
NoCacheOption = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Ask Cost Explorer again even if a cached answer is fresh (each page costs $0.01).",
        rich_help_panel=BILL,
    ),
]
ServiceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--service",
        metavar="NAME",
        help="Only this service, repeatable (Cost Explorer SERVICE or FOCUS ServiceName). "
        "Default: compute usage (Cost Explorer: EC2 instances; FOCUS: ServiceCategory Compute, "
        "ChargeCategory Usage).",
        rich_help_panel=FILTERS,
        show_default=False,
    ),
]
AllServicesOption = Annotated[
    bool,
    typer.Option(
        "--all-services", help="Every service: no service filter.", rich_help_panel=FILTERS
    ),
]
FamilyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--instance-family",
        metavar="FAMILY",
        help="Only these instance families, repeatable (p5, g6e...; 'gpu' = every GPU family).",
        rich_help_panel=FILTERS,
        show_default=False,
    ),
]
TagOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        metavar="KEY=VALUE",
        help="Only spend with this tag value, repeatable ('KEY=' selects spend without the tag).",
        rich_help_panel=FILTERS,
        show_default=False,
    ),
]


def _tags(entries: list[str] | None) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for entry in entries or []:
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"invalid --tag {entry!r}: expected KEY=VALUE (or KEY= for untagged)")
        out.setdefault(key.strip(), []).append(value.strip())
    return {k: tuple(v) for k, v in out.items()}


def _days(ctx: CommandContext, *, whole_days_only: bool = False) -> tuple[date, date]:
    """The window as whole UTC days, end exclusive: bills are daily."""
    start = ctx.window.start.date()
    if whole_days_only and ctx.window.start.time() != datetime.min.time():
        start += timedelta(days=1)  # only the days the window covers whole
    end_moment = ctx.window.end
    end = end_moment.date()
    if not whole_days_only and (end_moment.time() != datetime.min.time() or end <= start):
        end += timedelta(days=1)
    if end <= start:
        raise UsageError(
            "billing compare needs at least one whole UTC day: use --window 2d or more, or "
            "--start/--end dates"
        )
    return start, end


def _filters(
    service: list[str] | None,
    all_services: bool,
    families: list[str] | None,
    tag: list[str] | None,
) -> tuple[tuple[str, ...] | None, tuple[str, ...], dict[str, tuple[str, ...]]]:
    from finops_cli.sources.billing import expand_families

    if all_services and service:
        raise UsageError("--service and --all-services conflict: use one")
    services: tuple[str, ...] | None = () if all_services else (tuple(service) if service else None)
    return services, expand_families(tuple(families or ())), _tags(tag)


def _filters_json(request: BillRequest) -> dict[str, Any]:
    return {
        "services": None if request.services is None else list(request.services),
        "instance_families": list(request.instance_families),
        "tags": {k: list(v) for k, v in request.tags.items()},
    }


def _dimensions(by: list[str] | None, team_tag: str) -> tuple[Dimension, ...]:
    from finops_cli.sources.billing import parse_dimension

    dims = tuple(parse_dimension(text, team_tag) for text in (by or ["team"]))
    if len(dims) > 2:
        raise UsageError("--by takes at most two keys (e.g. --by team --by service)")
    if len({d.column for d in dims}) != len(dims):
        raise UsageError("--by was given the same key twice")
    return dims


def _open_bill(
    ctx: CommandContext,
    *,
    focus: Path | None,
    athena: str | None,
    profile: str | None,
    no_cache: bool,
    sample: bool,
) -> BillSource:
    """The bill source the flags pick; see the module docstring for the order."""
    billing = ctx.settings.billing
    if focus is not None and athena is not None:
        raise UsageError("--focus and --athena conflict: read one bill at a time")
    if focus is not None:
        from finops_cli.sources.focus import FocusSource

        return FocusSource(focus)
    if athena is not None:
        from finops_cli.sources.athena import open_athena

        return open_athena(
            athena,
            profile=profile or billing.aws_profile,
            region=billing.aws_region,
            database=billing.athena_database,
            workgroup=billing.athena_workgroup,
            output_location=billing.athena_output_location,
        )
    if sample:
        from finops_cli.sample.bill import SampleBill, SampleCostExplorer
        from finops_cli.sources.cost_explorer import CostExplorerSource

        if not ctx.quiet:
            typer.echo(SAMPLE_BILL_BANNER, err=True)
        client = SampleCostExplorer(SampleBill(seed=ctx.settings.sample_seed), ctx.now)
        return CostExplorerSource(client, name="sample", paid=False)
    from finops_cli.sources.cost_explorer import open_cost_explorer

    return open_cost_explorer(
        profile or billing.aws_profile,
        billing.aws_region,
        cache_ttl_seconds=billing.cache_ttl_seconds,
        use_cache=not no_cache,
    )


def _report_calls(ctx: CommandContext, source: BillSource, paid: int, cached: int) -> None:
    if ctx.quiet or source.name != "cost-explorer":
        return
    typer.echo(
        f"finops: Cost Explorer: {paid} paid request(s) (${paid * 0.01:.2f}), "
        f"{cached} answered from the cache",
        err=True,
    )


def _emit(ctx: CommandContext, document: dict[str, Any], csv_fn: Any, table_fn: Any) -> None:
    from finops_cli.render import billing as render

    if ctx.output is OutputFormat.json:
        typer.echo(render.render_json(document), nl=False)
    elif ctx.output is OutputFormat.csv:
        typer.echo(csv_fn(document), nl=False)
    else:
        from rich.console import Console

        Console().print(table_fn(document))


@data_command
def actual(
    ctx: CommandContext,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            "-b",
            metavar="KEY",
            help="Group by team (the team tag, default), service, instance-type, account, region, "
            "usage-type, purchase-option, resource, sku, provider, tag:KEY or category:NAME; "
            "repeat for two levels.",
        ),
    ] = None,
    granularity: Annotated[
        Granularity, typer.Option("--granularity", help="Periods of the answer.")
    ] = Granularity.daily,
    metric: Annotated[
        str,
        typer.Option(
            "--metric",
            help="UnblendedCost, AmortizedCost, NetAmortizedCost, NetUnblendedCost, or a FOCUS "
            "column (BilledCost, EffectiveCost, ListCost, ContractedCost).",
        ),
    ] = "UnblendedCost",
    service: ServiceOption = None,
    all_services: AllServicesOption = False,
    instance_family: FamilyOption = None,
    tag: TagOption = None,
    focus: FocusOption = None,
    athena: AthenaOption = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="Print the Athena SQL instead of running it.", rich_help_panel=BILL
        ),
    ] = False,
    profile: ProfileOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """Billed cost per period and group; spend without the tag is its own __untagged__ row.

    Rows add up to the bill for the filters. The window is widened to whole UTC days (end
    exclusive); periods the provider has not finalised are marked estimated.
    """
    from finops_cli.analytics.billing import summarize_bill
    from finops_cli.render import billing as render
    from finops_cli.sources.billing import BillRequest

    if explain and athena is None:
        raise UsageError("--explain shows the SQL of --athena: give --athena TABLE")
    _no_cluster_source(ctx)
    dims = _dimensions(by, ctx.settings.billing.team_tag)
    services, families, tags = _filters(service, all_services, instance_family, tag)
    start, end = _days(ctx)
    request = BillRequest(
        start=start,
        end=end,
        granularity=granularity.value,
        metric=metric,
        group_by=dims,
        services=services,
        instance_families=families,
        tags=tags,
        now=ctx.now,
    )
    source = _open_bill(
        ctx,
        focus=focus,
        athena=athena,
        profile=profile,
        no_cache=no_cache,
        sample=ctx.settings.source == "sample",
    )
    try:
        if explain:
            typer.echo(source.explain(request), nl=False)
            return
        with ctx.progress("Reading the bill"):
            data = source.actual(request)
    finally:
        source.close()
    _report_calls(ctx, source, data.paid_calls, data.cached_calls)
    for note in data.notes:
        ctx.warn(note)
    report = summarize_bill(data, tuple(request.columns), start, end, granularity.value)
    document = render.actual_document(
        report, window_label=ctx.window.label, generated_at=ctx.now, filters=_filters_json(request)
    )
    _emit(ctx, document, render.render_actual_csv, render.render_actual_table)


def _no_cluster_source(ctx: CommandContext) -> None:
    if ctx.settings.source in ("prometheus", "opencost"):
        raise UsageError(
            f"--source {ctx.settings.source} reads the cluster, not the bill: billing actual and "
            "forecast take --source sample, --focus, --athena, or Cost Explorer by default"
        )


@data_command
def forecast(
    ctx: CommandContext,
    granularity: Annotated[
        Granularity,
        typer.Option("--granularity", help="monthly: one figure for the rest of the month."),
    ] = Granularity.monthly,
    metric: Annotated[
        str,
        typer.Option("--metric", help="UnblendedCost, AmortizedCost, NetAmortizedCost..."),
    ] = "UnblendedCost",
    prediction_interval: Annotated[
        int,
        typer.Option(
            "--prediction-interval",
            min=51,
            max=99,
            help="Confidence of the interval, in percent.",
        ),
    ] = 80,
    service: ServiceOption = None,
    all_services: AllServicesOption = False,
    instance_family: FamilyOption = None,
    tag: TagOption = None,
    profile: ProfileOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """Month to date plus Cost Explorer's forecast for the rest of the month, with its interval.

    The window options are ignored: a forecast always runs from today to the end of the month.
    """
    from finops_cli.render import billing as render
    from finops_cli.sources.billing import BillRequest

    _no_cluster_source(ctx)
    services, families, tags = _filters(service, all_services, instance_family, tag)
    today = ctx.now.date()
    request = BillRequest(
        start=today,
        end=today + timedelta(days=1),
        granularity=granularity.value,
        metric=metric,
        group_by=(),
        services=services,
        instance_families=families,
        tags=tags,
        now=ctx.now,
    )
    source = _open_bill(
        ctx,
        focus=None,
        athena=None,
        profile=profile,
        no_cache=no_cache,
        sample=ctx.settings.source == "sample",
    )
    try:
        with ctx.progress("Asking Cost Explorer for a forecast"):
            result = source.forecast(request, prediction_interval)
    finally:
        source.close()
    paid = int(getattr(source, "paid_calls", 0))
    cached = int(getattr(source, "cached_calls", 0))
    _report_calls(ctx, source, paid, cached)
    document = render.forecast_document(
        result,
        source=source.name,
        generated_at=ctx.now,
        filters=_filters_json(request),
        paid_calls=paid,
        cached_calls=cached,
    )
    _emit(ctx, document, render.render_forecast_csv, render.render_forecast_table)


@data_command
def compare(
    ctx: CommandContext,
    metric: Annotated[
        str,
        typer.Option(
            "--metric",
            help="What the bill says an instance cost; amortized (the default) spreads Savings "
            "Plans and reservations onto the instances that used them.",
        ),
    ] = "AmortizedCost",
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold", min=0.0, help="Flag differences over this many percent of the estimate."
        ),
    ] = 5.0,
    fail_on_flagged: Annotated[
        bool,
        typer.Option("--fail-on-flagged", help="Exit 3 when any instance type is flagged."),
    ] = False,
    focus: FocusOption = None,
    athena: AthenaOption = None,
    profile: ProfileOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """The cluster's cost per instance type beside the bill for those instances.

    Estimate: every node's instance price over the window, as the cluster model has it (OpenCost
    prices, the same ones `finops costs` splits). Bill: Cost Explorer by instance type and
    purchase option, or FOCUS / Athena by resource. Differences over --threshold are flagged
    with their likely causes. Whole UTC days only.
    """
    from finops_cli.analytics.billing import reconcile
    from finops_cli.render import billing as render
    from finops_cli.sources.billing import BillRequest, Dimension
    from finops_cli.timewindow import Window

    start, end = _days(ctx, whole_days_only=True)
    window = Window(
        start=datetime(start.year, start.month, start.day, tzinfo=ctx.window.start.tzinfo),
        end=datetime(end.year, end.month, end.day, tzinfo=ctx.window.start.tzinfo),
        label=ctx.window.label,
    )
    cluster = ctx.open_cost_source()
    try:
        with ctx.progress("Pricing the cluster's nodes"):
            nodes = cluster.node_costs(window)
    finally:
        cluster.close()
    by_resource = focus is not None or athena is not None
    dims = [Dimension("instance_type"), Dimension("purchase_option")]
    if by_resource:
        dims.append(Dimension("resource"))
    request = BillRequest(
        start=start,
        end=end,
        granularity="monthly",
        metric=metric,
        group_by=tuple(dims),
        services=None,
        now=ctx.now,
    )
    source = _open_bill(
        ctx,
        focus=focus,
        athena=athena,
        profile=profile,
        no_cache=no_cache,
        sample=cluster.name == "sample" and not by_resource,
    )
    try:
        with ctx.progress("Reading the bill"):
            data = source.actual(request)
    finally:
        source.close()
    _report_calls(ctx, source, data.paid_calls, data.cached_calls)
    result = reconcile(nodes, data.frame, threshold=threshold / 100.0, by_resource=by_resource)
    notes = list(data.notes)
    if bool(data.frame["estimated"].any()) if len(data.frame) else False:
        notes.append("part of the bill is estimated: the provider has not finalised it yet")
    currencies = sorted(set(data.frame["currency"])) if len(data.frame) else [ctx.settings.currency]
    for note in [*notes, *result.notes]:
        ctx.warn(note)
    document = render.compare_document(
        result,
        cost_source=cluster.name,
        bill_source=source.name,
        metric=data.metric,
        currency=currencies[0],
        start=start,
        end=end,
        window_label=ctx.window.label,
        generated_at=ctx.now,
        paid_calls=data.paid_calls,
        cached_calls=data.cached_calls,
        notes=notes,
    )
    _emit(ctx, document, render.render_compare_csv, render.render_compare_table)
    flagged = [r.group for r in result.rows if r.flagged]
    if fail_on_flagged and flagged:
        raise ThresholdError(
            f"{len(flagged)} instance type(s) differ from the bill by more than "
            f"{threshold:g}%: {', '.join(flagged)}"
        )


billing_app.command("actual")(actual)
billing_app.command("forecast")(forecast)
billing_app.command("compare")(compare)
