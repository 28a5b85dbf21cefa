"""``finops pricing``: the price catalog, a live AWS refresh, and the price each node got."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from finops_cli.cli.common import CommandContext, OutputFormat, data_command

pricing_app = typer.Typer(
    help="The GPU price catalog: list it, refresh AWS rows live, explain the prices used.",
    no_args_is_help=True,
)


@pricing_app.command("list")
def list_prices(
    provider: Annotated[str | None, typer.Option(help="aws, gcp or azure.")] = None,
    gpu: Annotated[str | None, typer.Option(help="Only GPU models containing this text.")] = None,
    output: Annotated[OutputFormat | None, typer.Option("--output", "-o")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="finops.toml to use.")] = None,
) -> None:
    """Every catalog row with its date and source, and the price finops uses after overrides."""
    from finops_cli.cli.common import emit
    from finops_cli.settings import load_settings
    from finops_cli.usecases.pricing import pricing_list

    settings = load_settings({}, config_file=config)
    document = pricing_list(settings, datetime.now(UTC), provider=provider, gpu=gpu)
    for note in document["notes"]:
        typer.echo(f"finops: warning: {note}", err=True)
    emit(document, output or (OutputFormat.table if sys.stdout.isatty() else OutputFormat.json))


@pricing_app.command("refresh")
def refresh(
    region: Annotated[str, typer.Option(help="AWS region whose rows to refresh.")] = "us-east-1",
    output_file: Annotated[
        Path,
        typer.Option("--output-file", help="Where to write the refreshed catalog CSV."),
    ] = Path("aws-prices.csv"),
    spot: Annotated[bool, typer.Option("--spot/--no-spot", help="Also read spot history.")] = True,
    profile: Annotated[str | None, typer.Option(help="AWS profile (boto3's chain).")] = None,
) -> None:
    """Read AWS on-demand prices (Price List API) and spot history live; write them as a catalog.

    Point the pricing.extra_catalog setting (or FINOPS_PRICING_EXTRA_CATALOG) at the file to
    use it.
    Needs pricing:GetProducts and ec2:DescribeSpotPriceHistory.
    """
    from finops_cli.usecases.pricing import pricing_refresh

    done = pricing_refresh(
        datetime.now(UTC), region=region, output_file=output_file, spot=spot, profile=profile
    )
    for line in done:
        typer.echo(line, err=True)


@pricing_app.command("savings-plans")
def savings_plans(
    offer: Annotated[
        Path,
        typer.Option(
            "--offer",
            help="A downloaded Price List Savings Plans offer file (the bulk savingsPlan JSON).",
        ),
    ],
    output_file: Annotated[
        Path,
        typer.Option("--output-file", help="Where to write the commitment rates CSV."),
    ] = Path("aws-commitments.csv"),
    family: Annotated[
        str,
        typer.Option(help="ComputeSavingsPlans or EC2InstanceSavingsPlans."),
    ] = "ComputeSavingsPlans",
    all_types: Annotated[
        bool, typer.Option("--all-types", help="Every priced instance type, not only GPU ones.")
    ] = False,
) -> None:
    """Savings Plan rates from AWS's published offer file, as commitment rates for billing plan.

    Download the file first (nothing is fetched here), e.g. https://pricing.us-east-1.amazonaws.
    com/savingsPlan/v1.0/aws/AWSComputeSavingsPlan/current/us-east-1/index.json; each rate gets
    its discount off the catalog's on-demand price and the file's publication date.
    """
    from finops_cli.usecases.pricing import pricing_savings_plans

    done = pricing_savings_plans(
        offer=offer, output_file=output_file, family=family, all_types=all_types
    )
    for line in done:
        typer.echo(line, err=True)


@data_command(sources=("sample", "prometheus"))
def explain(ctx: CommandContext) -> None:
    """The $/GPU-hour each node was charged at in the window, where it came from, and the
    catalog's list price beside it."""
    from finops_cli.usecases.inventory import pricing_explain

    ctx.emit(pricing_explain(ctx))


pricing_app.command("explain")(explain)
