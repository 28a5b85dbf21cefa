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

from finops_cli.cli.common import CommandContext, data_command, number_in, option

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


HELP = {
    "--focus": "Read FOCUS 1.0-1.3 files (CSV, CSV.gz, Parquet): a file or a folder of them.",
    "--athena": (
        "Query a FOCUS or CUR 2.0 table in Athena (workgroup, database and output location "
        "from the billing.athena_* settings)."
    ),
    "--profile": "AWS profile (default: billing.aws_profile, then boto3's own chain).",
    "--no-cache": (
        "Ask Cost Explorer again even if a cached answer is fresh (each page costs $0.01)."
    ),
    "--service": (
        "Only this service, repeatable (Cost Explorer SERVICE or FOCUS ServiceName). "
        "Default: compute usage (Cost Explorer: EC2 instances; FOCUS: ServiceCategory Compute, "
        "ChargeCategory Usage)."
    ),
    "--all-services": "Every service: no service filter.",
    "--instance-family": (
        "Only these instance families, repeatable (p5, g6e...; 'gpu' = every GPU family)."
    ),
    "--tag": "Only spend with this tag value, repeatable ('KEY=' selects spend without the tag).",
    "--by": (
        "Group by team (the team tag, default), service, instance-type, account, region, "
        "usage-type, purchase-option, resource, sku, provider, tag:KEY or category:NAME; "
        "repeat for two levels."
    ),
    "actual --granularity": "Periods of the answer.",
    "actual --metric": (
        "Cost Explorer and the sample: UnblendedCost, AmortizedCost, NetAmortizedCost, "
        "NetUnblendedCost (or BilledCost, EffectiveCost, their FOCUS names). FOCUS files and "
        "Athena FOCUS tables: those, plus ListCost and ContractedCost. Athena CUR 2.0: "
        "UnblendedCost, NetUnblendedCost."
    ),
    "--explain": "Print the Athena SQL instead of running it.",
    "forecast --granularity": "monthly: one figure for the rest of the month.",
    "forecast --metric": "UnblendedCost, AmortizedCost, NetAmortizedCost...",
    "--prediction-interval": "Confidence of the interval, in percent (51 to 99).",
    "compare --metric": (
        "What the bill says an instance cost; amortized (the default) spreads Savings "
        "Plans and reservations onto the instances that used them."
    ),
    "--threshold": "Flag differences over this many percent of the estimate (0 or more).",
    "--fail-on-flagged": "Exit 3 when any instance type is flagged.",
    "--expiring-within": "List commitments that end within this long after now (30d, 8w...).",
    "commitments --fail-on": (
        "Exit 3 when a gate trips, repeatable: utilisation<0.8 (any commitment), coverage<60%, "
        "unused>500, idle>0 (money lost to reservations idle beside on-demand), expiring>0."
    ),
    "--percentile": "Commit to this percentile of hourly on-demand GPU spend (default 10th).",
    "--holdout": "Share of the history held out to backtest the recommendation (0 to 1).",
    "--discount": "Savings Plan discount off on-demand, 0 to below 1 (default: the catalog's).",
    "--ce-commitment": "Cost Explorer's recommended hourly commitment, to backtest beside ours.",
    "--ask-cost-explorer": "Ask Cost Explorer for its Savings Plan recommendation ($0.01).",
    "--rates": (
        "A commitment rates CSV (finops pricing savings-plans writes one from AWS's offer file) "
        "read before the packaged rates."
    ),
    "--gpus": "A planned job: how many GPUs.",
    "--type": "A planned job: the instance type (p5.48xlarge).",
    "--days": "A planned job: how many days.",
    "plan --start": "A planned job: when it starts (a date or date-time, UTC).",
    "--region": "Region of the prices (default: the catalog's first).",
    "--offerings": "Ask EC2 for live Capacity Block offerings for the job (needs credentials).",
    "--ec2": "With --focus: ask EC2 for capacity reservation and Capacity Block end dates.",
}
"""Each option's help text, by flag (by command and flag where two commands share one)."""


FocusOption = Annotated[Path | None, option(HELP["--focus"], "--focus", metavar="PATH", panel=BILL)]
AthenaOption = Annotated[
    str | None, option(HELP["--athena"], "--athena", metavar="[DATABASE.]TABLE", panel=BILL)
]
ProfileOption = Annotated[
    str | None, option(HELP["--profile"], "--profile", metavar="NAME", panel=BILL)
]
NoCacheOption = Annotated[
    bool, option(HELP["--no-cache"], "--no-cache", panel=BILL, show_default=True)
]
ServiceOption = Annotated[
    list[str] | None, option(HELP["--service"], "--service", metavar="NAME", panel=FILTERS)
]
AllServicesOption = Annotated[
    bool, option(HELP["--all-services"], "--all-services", panel=FILTERS, show_default=True)
]
FamilyOption = Annotated[
    list[str] | None,
    option(HELP["--instance-family"], "--instance-family", metavar="FAMILY", panel=FILTERS),
]
TagOption = Annotated[
    list[str] | None, option(HELP["--tag"], "--tag", metavar="KEY=VALUE", panel=FILTERS)
]


@data_command
def actual(
    ctx: CommandContext,
    by: Annotated[
        list[str] | None, option(HELP["--by"], "--by", "-b", metavar="KEY", show_default=True)
    ] = None,
    granularity: Annotated[
        Granularity, option(HELP["actual --granularity"], "--granularity", show_default=True)
    ] = Granularity.daily,
    metric: Annotated[
        str, option(HELP["actual --metric"], "--metric", show_default=True)
    ] = "UnblendedCost",
    service: ServiceOption = None,
    all_services: AllServicesOption = False,
    instance_family: FamilyOption = None,
    tag: TagOption = None,
    focus: FocusOption = None,
    athena: AthenaOption = None,
    explain: Annotated[
        bool, option(HELP["--explain"], "--explain", panel=BILL, show_default=True)
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


@data_command(hide=("window", "start", "end"))
def forecast(
    ctx: CommandContext,
    granularity: Annotated[
        Granularity, option(HELP["forecast --granularity"], "--granularity", show_default=True)
    ] = Granularity.monthly,
    metric: Annotated[
        str, option(HELP["forecast --metric"], "--metric", show_default=True)
    ] = "UnblendedCost",
    prediction_interval: Annotated[
        int,
        option(
            HELP["--prediction-interval"],
            "--prediction-interval",
            show_default=True,
            callback=number_in(ge=51, le=99),
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

    A forecast always runs from today to the end of the month: it takes no window.
    """
    from finops_cli.usecases.billing import billing_forecast

    options = _options(metric, service, all_services, instance_family, tag, profile, no_cache)
    document = billing_forecast(
        ctx, options, granularity=granularity.value, prediction_interval=prediction_interval
    )
    ctx.emit(document)


@data_command(sources=("sample", "prometheus"))
def compare(
    ctx: CommandContext,
    metric: Annotated[
        str, option(HELP["compare --metric"], "--metric", show_default=True)
    ] = "AmortizedCost",
    threshold: Annotated[
        float,
        option(HELP["--threshold"], "--threshold", show_default=True, callback=number_in(ge=0)),
    ] = 5.0,
    fail_on_flagged: Annotated[
        bool, option(HELP["--fail-on-flagged"], "--fail-on-flagged", show_default=True)
    ] = False,
    focus: FocusOption = None,
    athena: AthenaOption = None,
    profile: ProfileOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """The cluster's cost per instance type beside the bill for those instances.

    Estimate: every node's instance price over the window, as the cluster model has it (OpenCost
    prices, the same ones finops costs splits). Bill: Cost Explorer by instance type and
    purchase option, or FOCUS / Athena by resource. Differences over --threshold are flagged
    with their likely causes. Whole UTC days only.
    """
    from finops_cli.usecases.billing import BillOptions, billing_compare

    options = BillOptions(metric, focus=focus, athena=athena, profile=profile, no_cache=no_cache)
    ctx.deliver(billing_compare(ctx, options, threshold=threshold, fail_on_flagged=fail_on_flagged))


@data_command(sources=("sample",))
def commitments(
    ctx: CommandContext,
    expiring_within: Annotated[
        str,
        option(
            HELP["--expiring-within"], "--expiring-within", metavar="DURATION", show_default=True
        ),
    ] = "30d",
    fail_on: Annotated[
        list[str] | None,
        option(HELP["commitments --fail-on"], "--fail-on", metavar="GATE"),
    ] = None,
    focus: FocusOption = None,
    athena: AthenaOption = None,
    ec2: Annotated[bool, option(HELP["--ec2"], "--ec2", panel=BILL, show_default=True)] = False,
    profile: ProfileOption = None,
) -> None:
    """What Savings Plans, reservations and Capacity Blocks cover and waste, per commitment and
    per GPU instance family; coverage of GPU instance-hours (committed / on-demand / spot);
    reserved capacity idle while on-demand instances of its type ran; what expires soon.

    From --focus (FOCUS 1.0-1.3, hour by hour), --athena (a FOCUS table, the same rows),
    --source sample, or AWS Cost Explorer and EC2.
    Whole UTC days. See docs/billing.md for the definitions.
    """
    from finops_cli.usecases.commitments import CommitmentOptions, billing_commitments

    options = CommitmentOptions(
        focus=focus,
        athena=athena,
        profile=profile,
        expiring_within=expiring_within,
        fail_on=fail_on or [],
        ec2=ec2,
    )
    ctx.deliver(billing_commitments(ctx, options))


JOB = "Planned job"


@data_command(sources=("sample", "prometheus"), omit=("start",))
def plan(
    ctx: CommandContext,
    percentile: Annotated[
        float, option(HELP["--percentile"], "--percentile", show_default=True)
    ] = 10.0,
    holdout: Annotated[float, option(HELP["--holdout"], "--holdout", show_default=True)] = 1 / 3,
    discount: Annotated[float | None, option(HELP["--discount"], "--discount")] = None,
    ce_commitment: Annotated[
        float | None, option(HELP["--ce-commitment"], "--ce-commitment", metavar="USD_PER_HOUR")
    ] = None,
    ask_cost_explorer: Annotated[
        bool, option(HELP["--ask-cost-explorer"], "--ask-cost-explorer", show_default=True)
    ] = False,
    gpus: Annotated[int | None, option(HELP["--gpus"], "--gpus", panel=JOB)] = None,
    instance_type: Annotated[
        str | None, option(HELP["--type"], "--type", metavar="TYPE", panel=JOB)
    ] = None,
    days: Annotated[float | None, option(HELP["--days"], "--days", panel=JOB)] = None,
    job_start: Annotated[
        str | None, option(HELP["plan --start"], "--start", metavar="WHEN", panel=JOB)
    ] = None,
    region: Annotated[str | None, option(HELP["--region"], "--region", panel=JOB)] = None,
    offerings: Annotated[
        bool, option(HELP["--offerings"], "--offerings", panel=JOB, show_default=True)
    ] = False,
    rates: Annotated[Path | None, option(HELP["--rates"], "--rates", metavar="CSV")] = None,
    profile: ProfileOption = None,
) -> None:
    """What to buy: a Savings Plan hourly commitment for the fleet's steady GPU baseline,
    backtested on held-out hours against buying nothing (and Cost Explorer's recommendation);
    and for a planned job (--gpus --type --days [--start]) on-demand vs Capacity Block vs
    Savings Plan vs spot, with the risk of each. --window is the history read (default 7d).
    """
    from finops_cli.usecases.plan import PlanOptions, billing_plan

    options = PlanOptions(
        percentile=percentile,
        holdout=holdout,
        discount=discount,
        ce_commitment=ce_commitment,
        ask_cost_explorer=ask_cost_explorer,
        gpus=gpus,
        instance_type=instance_type,
        days=days,
        job_start=job_start,
        region=region,
        offerings=offerings,
        rates=rates,
        profile=profile,
    )
    ctx.emit(billing_plan(ctx, options))


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
billing_app.command("commitments")(commitments)
billing_app.command("plan")(plan)
