"""``finops pricing``: the price catalog, a live AWS refresh, and the price each node got."""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from finops_cli.cli.common import CommandContext, OutputFormat, data_command
from finops_cli.errors import SourceError, UsageError
from finops_cli.timewindow import rfc3339

pricing_app = typer.Typer(
    help="The GPU price catalog: list it, refresh AWS rows live, explain the prices used.",
    no_args_is_help=True,
)

LIST_FIELDS = (
    "provider", "instance_type", "region", "gpu_model", "gpu_count", "gpu_memory_gib", "vcpu",
    "on_demand_hourly", "spot_hourly", "per_gpu_on_demand", "effective_per_gpu", "price_source",
    "as_of", "verified", "source",
)  # fmt: skip


def _emit(rows: list[dict[str, Any]], fields: tuple[str, ...], output: OutputFormat,
          title: str, document: dict[str, Any]) -> None:  # fmt: skip
    if output is OutputFormat.json:
        typer.echo(json.dumps(document | {"rows": rows}, indent=2, default=str))
        return
    if output is OutputFormat.csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(fields)
        writer.writerows([["" if r.get(f) is None else r.get(f) for f in fields] for r in rows])
        typer.echo(out.getvalue(), nl=False)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for field in fields:
        table.add_column(field.replace("_", " "))
    for r in rows:
        table.add_row(*("-" if r.get(f) is None else str(r.get(f)) for f in fields))
    Console().print(table)


def _output(value: OutputFormat | None) -> OutputFormat:
    if value is not None:
        return value
    return OutputFormat.table if sys.stdout.isatty() else OutputFormat.json


@pricing_app.command("list")
def list_prices(
    provider: Annotated[str | None, typer.Option(help="aws, gcp or azure.")] = None,
    gpu: Annotated[str | None, typer.Option(help="Only GPU models containing this text.")] = None,
    output: Annotated[OutputFormat | None, typer.Option("--output", "-o")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="finops.toml to use.")] = None,
) -> None:
    """Every catalog row with its date and source, and the price finops uses after overrides."""
    from finops_cli.pricing import load_catalog
    from finops_cli.settings import load_settings

    settings = load_settings({}, config_file=config)
    catalog = load_catalog(settings.pricing)
    providers = sorted({row.provider for row in catalog.rows})
    if provider and provider.lower() not in providers:
        raise UsageError(f"invalid --provider {provider!r}: one of {', '.join(providers)}")
    rows = []
    for row in catalog.rows:
        if provider and row.provider != provider.lower():
            continue
        if gpu and gpu.lower() not in row.gpu_model.lower():
            continue
        resolved = catalog.lookup(row.instance_type, row.region, "on-demand")
        rows.append(
            {
                "provider": row.provider,
                "instance_type": row.instance_type,
                "region": row.region,
                "gpu_model": row.gpu_model,
                "gpu_count": row.gpu_count,
                "gpu_memory_gib": row.gpu_memory_gib,
                "vcpu": row.vcpu,
                "on_demand_hourly": row.on_demand_hourly,
                "spot_hourly": row.spot_hourly,
                "per_gpu_on_demand": round(row.on_demand_hourly / row.gpu_count, 6)
                if row.on_demand_hourly is not None
                else None,
                "effective_per_gpu": round(resolved.per_gpu_hourly, 6) if resolved else None,
                "price_source": resolved.source if resolved else None,
                "as_of": row.as_of.isoformat(),
                "verified": "true" if row.verified else "false",
                "source": row.source,
            }
        )
    document = {
        "schema_version": "1",
        "kind": "pricing",
        "source": "catalog",
        "generated_at": rfc3339(datetime.now(UTC)),
        "currency": settings.currency,
    }
    _emit(rows, LIST_FIELDS, _output(output), "GPU price catalog ($/hour)", document)


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

    Point ``pricing.extra_catalog`` (or FINOPS_PRICING_EXTRA_CATALOG) at the file to use it.
    Needs pricing:GetProducts and ec2:DescribeSpotPriceHistory.
    """
    from finops_cli.pricing import load_catalog
    from finops_cli.pricing.aws_refresh import refresh_aws, write_catalog

    catalog = load_catalog()
    rows_in = list(catalog.rows)
    if not any(r.provider == "aws" and r.region == region for r in rows_in):
        # The packaged rows are us-east-1: refresh the same instance types for this region.
        reference = [r for r in rows_in if r.provider == "aws" and r.region == "us-east-1"]
        rows_in += [replace(r, region=region) for r in reference]
    result = refresh_aws(rows_in, region, with_spot=spot, profile=profile,
                         now=datetime.now(UTC))  # fmt: skip
    rows = [r for r in result.rows if r.provider == "aws" and r.region == region]
    if not result.on_demand:
        raise SourceError(
            f"the AWS Price List returned no on-demand price for any instance type in {region}: "
            "nothing written (check the region name)"
        )
    write_catalog(rows, output_file)
    typer.echo(
        f"finops: refreshed {len(result.on_demand)} on-demand and {len(result.spot)} spot prices "
        f"in {region}; wrote {output_file} (set pricing.extra_catalog to use it)",
        err=True,
    )
    if result.missing_on_demand:
        typer.echo(
            f"finops: warning: no live on-demand price for {', '.join(result.missing_on_demand)}",
            err=True,
        )


@data_command
def explain(ctx: CommandContext) -> None:
    """The $/GPU-hour each node was charged at in the window, where it came from, and the
    catalog's list price beside it."""
    from finops_cli.pricing import load_catalog

    catalog = load_catalog(ctx.settings.pricing)
    source = ctx.open_cost_source()
    try:
        with ctx.progress("Querying node prices"):
            data = source.gpus(ctx.window)
    finally:
        source.close()
    frame = data.gpus.merge(data.nodes, on="node", how="left").fillna(
        {"instance_type": "", "region": "", "capacity_type": ""}
    )
    rows = []
    for node, group in frame.groupby("node", sort=True):
        first = group.iloc[0]
        capacity = str(first["capacity_type"]) or "on-demand"
        listed = catalog.lookup(str(first["instance_type"]), str(first["region"]) or None, capacity)
        rows.append(
            {
                "node": str(node),
                "instance_type": str(first["instance_type"]),
                "capacity_type": capacity,
                "gpus": len(group),
                "charged_per_gpu": round(float(group["hourly_price"].mean()), 6),
                "charged_from": data.price_source,
                "catalog_per_gpu": round(listed.per_gpu_hourly, 6) if listed else None,
                "catalog_source": listed.source if listed else None,
            }
        )
    fields = ("node", "instance_type", "capacity_type", "gpus", "charged_per_gpu",
              "charged_from", "catalog_per_gpu", "catalog_source")  # fmt: skip
    document = {
        "schema_version": "1",
        "kind": "pricing-explain",
        "source": source.name,
        "generated_at": rfc3339(ctx.now),
        "window": {
            "start": rfc3339(ctx.window.start),
            "end": rfc3339(ctx.window.end),
            "label": ctx.window.label,
        },
        "currency": ctx.settings.currency,
        "notes": data.notes,
    }
    _emit(rows, fields, ctx.output, "Price per GPU-hour used, by node", document)


pricing_app.command("explain")(explain)
