"""``finops pricing list`` and ``refresh``: the catalog as a document, and a live AWS refresh."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finops_cli.errors import SourceError, UsageError
from finops_cli.render.format import iso

if TYPE_CHECKING:
    from finops_cli.settings import Settings


UNPRICED_NOTE = (
    "unpriced: {rows} {verb} no on-demand price in the catalog (see each row's source): set "
    "[pricing] instance_overrides or an extra_catalog to price them"
)


def pricing_list(
    settings: Settings, now: datetime, *, provider: str | None = None, gpu: str | None = None
) -> dict[str, Any]:
    """The ``pricing`` document: every catalog row, and the price finops uses after overrides.

    It reads no source and no window, so it takes the settings and the moment alone. Notes: the
    rows with no effective on-demand price (``priced`` false), and prices past the staleness age.
    """
    from finops_cli.pricing import load_catalog
    from finops_cli.pricing.catalog import staleness_note

    catalog = load_catalog(settings.pricing)
    providers = sorted({row.provider for row in catalog.rows})
    if provider and provider.lower() not in providers:
        raise UsageError(f"invalid --provider {provider!r}: one of {', '.join(providers)}")
    rows = []
    listed_dates = []
    unpriced = []
    for row in catalog.rows:
        if provider and row.provider != provider.lower():
            continue
        if gpu and gpu.lower() not in row.gpu_model.lower():
            continue
        resolved = catalog.lookup(row.instance_type, row.region, "on-demand")
        if resolved is None:
            unpriced.append(f"{row.provider} {row.instance_type} ({row.region})")
        elif resolved.as_of is not None:
            listed_dates.append(resolved.as_of)
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
                "priced": resolved is not None,
                "as_of": row.as_of.isoformat(),
                "verified": row.verified,
                "source": row.source,
            }
        )
    notes = []
    if unpriced:
        verb = "has" if len(unpriced) == 1 else "have"
        notes.append(UNPRICED_NOTE.format(rows=", ".join(unpriced), verb=verb))
    stale = staleness_note(listed_dates, now.date())
    if stale:
        notes.append(stale)
    return {
        "schema_version": "1",
        "kind": "pricing",
        "source": "catalog",
        "generated_at": iso(now),
        "currency": settings.currency,
        "rows": rows,
        "notes": notes,
    }


def pricing_refresh(
    now: datetime, *, region: str, output_file: Path, spot: bool, profile: str | None
) -> list[str]:
    """Read AWS prices live for ``region`` and write them as a catalog CSV at ``output_file``;
    what happened, as lines for stderr."""
    from finops_cli.pricing import load_catalog
    from finops_cli.pricing.aws_refresh import refresh_aws, write_catalog

    rows_in = list(load_catalog().rows)
    if not any(r.provider == "aws" and r.region == region for r in rows_in):
        # The packaged rows are us-east-1: refresh the same instance types for this region.
        reference = [r for r in rows_in if r.provider == "aws" and r.region == "us-east-1"]
        rows_in += [replace(r, region=region) for r in reference]
    result = refresh_aws(rows_in, region, with_spot=spot, profile=profile, now=now)
    rows = [r for r in result.rows if r.provider == "aws" and r.region == region]
    if not result.on_demand:
        raise SourceError(
            f"the AWS Price List returned no on-demand price for any instance type in {region}: "
            "nothing written (check the region name)"
        )
    write_catalog(rows, output_file)
    lines = [
        f"finops: refreshed {len(result.on_demand)} on-demand and {len(result.spot)} spot prices "
        f"in {region}; wrote {output_file} (set pricing.extra_catalog to use it)"
    ]
    if result.missing_on_demand:
        missing = ", ".join(result.missing_on_demand)
        lines.append(f"finops: warning: no live on-demand price for {missing}")
    return lines


def pricing_savings_plans(
    *, offer: Path, output_file: Path, family: str = "ComputeSavingsPlans", all_types: bool = False
) -> list[str]:
    """Read a downloaded Price List Savings Plans offer file and write its rates for the
    catalog's AWS GPU instance types (every priced type with ``all_types``) as a commitment
    rates CSV, merged over the packaged rates; what happened, as lines for stderr."""
    import json

    from finops_cli.errors import UsageError
    from finops_cli.pricing import load_catalog
    from finops_cli.pricing.aws_refresh import merge_rates, savings_plan_rates, write_rates
    from finops_cli.pricing.commitment_rates import load_rates

    try:
        with offer.open(encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as err:
        raise UsageError(f"--offer {offer}: cannot read it ({err.strerror})") from None
    except ValueError as err:
        raise UsageError(f"--offer {offer}: not JSON ({err})") from None
    rows = [r for r in load_catalog().rows if r.provider == "aws" and r.on_demand_hourly]
    on_demand = {
        (r.instance_type, r.region): (float(r.on_demand_hourly or 0), f"{r.source}, {r.as_of}")
        for r in rows
    }
    types = None if all_types else [r.instance_type for r in rows if r.gpu_count > 0]
    fresh = savings_plan_rates(document, on_demand, family=family, instance_types=types)
    if not fresh:
        raise UsageError(
            f"--offer {offer}: no Linux shared-tenancy rate of a catalog instance type with an "
            "on-demand price: nothing written (is it the Savings Plans offer file of a region "
            "the catalog prices?)"
        )
    write_rates(merge_rates(load_rates(), fresh), output_file)
    types_found = sorted({r.instance_type for r in fresh})
    return [
        f"finops: {len(fresh)} Savings Plan rate(s) for {len(types_found)} instance type(s) "
        f"({', '.join(types_found[:6])}{' ...' if len(types_found) > 6 else ''}); wrote "
        f"{output_file} (billing plan --rates {output_file} uses it)"
    ]
