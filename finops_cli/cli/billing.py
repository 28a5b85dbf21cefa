"""``finops billing``: what the cloud bill says (actual, forecast) and how it squares with the
cluster's own cost model (compare).

Where the bill comes from: ``--focus PATH`` (FOCUS files from any cloud), ``--athena TABLE``
(a FOCUS or CUR 2.0 table), ``--source sample`` (the sample cluster's simulated bill), else AWS
Cost Explorer through boto3's usual credentials. ``billing compare`` reads the cluster through the
same source as ``finops costs`` and, when that is the sample cluster, the sample's bill too.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from finops_cli.cli.common import CommandContext, data_command

if TYPE_CHECKING:
    from finops_cli.usecases.billing import BillOptions

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
    from finops_cli.usecases.billing import billing_actual, billing_explain

    options = _options(metric, service, all_services, instance_family, tag, profile, no_cache)
    options = replace(options, focus=focus, athena=athena)
    by = by or []
    if explain:
        typer.echo(billing_explain(ctx, options, by=by, granularity=granularity.value), nl=False)
        return
    ctx.emit(billing_actual(ctx, options, by=by, granularity=granularity.value))


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
    from finops_cli.usecases.billing import billing_forecast

    options = _options(metric, service, all_services, instance_family, tag, profile, no_cache)
    document = billing_forecast(
        ctx, options, granularity=granularity.value, prediction_interval=prediction_interval
    )
    ctx.emit(document)


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
    from finops_cli.usecases.billing import BillOptions, billing_compare

    options = BillOptions(metric, focus=focus, athena=athena, profile=profile, no_cache=no_cache)
    outcome = billing_compare(ctx, options, threshold=threshold, fail_on_flagged=fail_on_flagged)
    ctx.emit(outcome.document)
    outcome.finish()


def _options(
    metric: str,
    service: list[str] | None,
    all_services: bool,
    instance_family: list[str] | None,
    tag: list[str] | None,
    profile: str | None,
    no_cache: bool,
) -> BillOptions:
    from finops_cli.usecases.billing import BillOptions

    return BillOptions(
        metric=metric,
        services=service or [],
        all_services=all_services,
        instance_families=instance_family or [],
        tags=tag or [],
        profile=profile,
        no_cache=no_cache,
    )


billing_app.command("actual")(actual)
billing_app.command("forecast")(forecast)
billing_app.command("compare")(compare)
