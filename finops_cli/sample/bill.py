"""The sample cluster's cloud bill, as FOCUS files and Cost Explorer answers, with planted flaws.

Every cluster node is billed from the same prices the simulator exports (``instance_price``, hour
by hour), so the bill and the cluster's own cost model agree to the cent, except where this module
plants a discrepancy on purpose, for ``finops billing compare`` to find:

- **a Savings Plan** covers both p5.48xlarge nodes at 28% off: their amortized (effective) cost is
  lower than the cluster's on-demand estimate; the plan's fee is its own line. Its commitment
  (85.00/h) is more than the two nodes use (79.2576/h): the rest is an ``Unused`` row every day.
- **an idle capacity reservation**: one g5.12xlarge slot (``RESERVATION_ID``), unused every hour
  while the cluster's two g5.12xlarge nodes run on demand beside it (an overlap
  ``billing commitments`` finds: 24 h and 136.128 a day).
- **a spot node billed on-demand**: the cluster prices ``ip-10-0-3-32`` (g6.xlarge) as spot, the
  bill charges it the on-demand rate (capacity fell back to on-demand; the label stayed "spot").
- **a node outside the cluster**: a g5.2xlarge "vision-dev-box" in another linked account, billed
  but not a node of the cluster.

Around them sit the usual other lines (two CPU system nodes, EBS volumes, the EKS control plane,
S3, data transfer), team tags on most resources (a node carries the team of its biggest
workload, so the idle notebook's node is untagged), and an open billing month
(the current one) whose lines are "estimated". Line items are daily, as AWS Data Exports writes
them; ``SampleCostExplorer`` answers ``get_cost_and_usage`` and ``get_cost_forecast`` from them in
the exact response shapes of the real API (tests run them through botocore's Stubber).

The line items themselves are made in ``line_items.py`` and the Cost Explorer stand-in lives in
``cost_explorer.py``; this module writes them as FOCUS files and re-exports both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finops_cli.sample.cost_explorer import SampleCostExplorer
from finops_cli.sample.line_items import (
    CLUSTER_TAG,
    EC2_COMPUTE,
    EC2_FOCUS,
    EC2_OTHER,
    ON_DEMAND_PRICE,
    OTHER_ACCOUNT,
    OUTSIDE_ID,
    OUTSIDE_NODE,
    OUTSIDE_PRICE,
    OUTSIDE_TYPE,
    PAYER_ACCOUNT,
    RESERVATION_ID,
    RESERVATION_TYPE,
    SAVINGS_PLAN_ARN,
    SAVINGS_PLAN_DISCOUNT,
    SAVINGS_PLAN_HOURLY,
    SAVINGS_PLAN_TYPES,
    SPOT_BILLED_ON_DEMAND,
    TEAM_TAG,
    LineItem,
    SampleBill,
    billing_month,
    instance_id,
    node_teams,
)
from finops_cli.timewindow import TIMESTAMP

# The line items and the Cost Explorer stand-in lived here; they stay importable from here.
__all__ = [
    "CLUSTER_TAG",
    "EC2_COMPUTE",
    "EC2_FOCUS",
    "EC2_OTHER",
    "FOCUS_VERSIONS",
    "ON_DEMAND_PRICE",
    "OTHER_ACCOUNT",
    "OUTSIDE_ID",
    "OUTSIDE_NODE",
    "OUTSIDE_PRICE",
    "OUTSIDE_TYPE",
    "PAYER_ACCOUNT",
    "RESERVATION_ID",
    "RESERVATION_TYPE",
    "SAVINGS_PLAN_ARN",
    "SAVINGS_PLAN_DISCOUNT",
    "SAVINGS_PLAN_HOURLY",
    "SAVINGS_PLAN_TYPES",
    "SPOT_BILLED_ON_DEMAND",
    "TEAM_TAG",
    "LineItem",
    "SampleBill",
    "SampleCostExplorer",
    "focus_rows",
    "instance_id",
    "main",
    "node_teams",
    "write_focus",
]


# ---- FOCUS ------------------------------------------------------------------------------------
def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP)


FOCUS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")


def focus_rows(items: Iterable[LineItem], version: str = "1.2") -> list[dict[str, Any]]:
    """FOCUS rows: every mandatory column of ``version``, and the conditional ones used here."""
    if version not in FOCUS_VERSIONS:
        raise ValueError(f"FOCUS version {version!r}: expected one of {FOCUS_VERSIONS}")
    rows = []
    for it in items:
        period_start, period_end = billing_month(it.start)
        row: dict[str, Any] = {
            "BilledCost": round(it.billed_cost, 10),
            "EffectiveCost": round(it.effective_cost, 10),
            "ListCost": round(it.list_cost, 10),
            "ContractedCost": round(it.list_cost, 10),
            "BillingAccountId": PAYER_ACCOUNT,
            "BillingAccountName": "sample-org",
            "BillingCurrency": "USD",
            "BillingPeriodStart": _iso(period_start),
            "BillingPeriodEnd": _iso(period_end),
            "ChargePeriodStart": _iso(it.start),
            "ChargePeriodEnd": _iso(it.end),
            "ChargeCategory": it.charge_category,
            "ChargeClass": "",
            "ChargeDescription": it.description,
            "ChargeFrequency": "Recurring" if it.charge_category == "Purchase" else "Usage-Based",
            "CommitmentDiscountId": it.commitment_id,
            "ConsumedQuantity": round(it.quantity, 6),
            "ConsumedUnit": it.unit,
            "InvoiceIssuerName": "Amazon Web Services, Inc.",
            "PricingCategory": it.pricing_category,
            "PricingQuantity": round(it.quantity, 6),
            "PricingUnit": it.unit,
            "RegionId": it.region,
            "RegionName": "US East (N. Virginia)",
            "ResourceId": it.resource_id,
            "ResourceName": it.resource_name,
            "ResourceType": "Instance" if it.instance_type != "NoInstanceType" else "",
            "ServiceCategory": it.service_category,
            "ServiceName": it.focus_service,
            "SkuId": f"{it.usage_type}:{it.pricing_category}",
            "SubAccountId": it.account,
            "SubAccountName": "research-dev" if it.account == OTHER_ACCOUNT else "ml-prod",
            "Tags": json.dumps(it.tags, sort_keys=True) if it.tags else "",
            "x_UsageType": it.usage_type,
        }
        if version == "1.3":
            row["ServiceProviderName"] = "AWS"
            row["HostProviderName"] = "AWS"
        else:
            row["ProviderName"] = "AWS"
            row["PublisherName"] = "AWS"
        if version in ("1.1", "1.2", "1.3") and it.instance_type != "NoInstanceType":
            row["SkuPriceDetails"] = json.dumps({"InstanceType": it.instance_type})
        if it.commitment_id:
            row["CommitmentDiscountType"] = it.commitment_type
            row["CommitmentDiscountCategory"] = it.commitment_category
        if version == "1.0":
            status = it.commitment_status  # 1.0 has no capacity reservation columns
            row["ChargeSubcategory"] = f"{status} Commitment" if status else ""
        else:
            row["CommitmentDiscountStatus"] = it.commitment_status
            row["CapacityReservationId"] = it.reservation_id
            row["CapacityReservationStatus"] = it.reservation_status
        rows.append(row)
    return rows


def write_focus(
    items: Iterable[LineItem], path: Path, *, version: str = "1.2", file_format: str = "csv"
) -> int:
    """Write a FOCUS file: ``csv``, ``csv.gz`` or ``parquet``. Returns the number of rows."""
    import gzip

    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    rows = focus_rows(items, version)
    columns = sorted({k for r in rows for k in r}) if rows else ["BilledCost"]
    table = pa.table({c: [r.get(c, "") for r in rows] for c in columns})
    if file_format == "parquet":
        pq.write_table(table, path)
    elif file_format == "csv.gz":
        with gzip.open(path, "wb") as handle:
            pcsv.write_csv(table, handle)
    elif file_format == "csv":
        pcsv.write_csv(table, path)
    else:
        raise ValueError(f"unknown FOCUS file format {file_format!r}")
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    """``python -m finops_cli.sample.bill``: write the sample cluster's bill as a FOCUS file."""
    import argparse
    import sys

    from finops_cli.errors import FinopsError
    from finops_cli.timewindow import parse_time

    parser = argparse.ArgumentParser(
        prog="python -m finops_cli.sample.bill",
        description="Write the sample cluster's bill (with its planted discrepancies) as FOCUS.",
    )
    parser.add_argument("--start", required=True, help="RFC 3339 or YYYY-MM-DD (UTC)")
    parser.add_argument("--end", required=True, help="RFC 3339 or YYYY-MM-DD (UTC), exclusive")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--focus-version", default="1.2", choices=FOCUS_VERSIONS)
    parser.add_argument("--format", default="", choices=("", "csv", "csv.gz", "parquet"))
    parser.add_argument("-o", "--output", type=Path, required=True, help="the file to write")
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    try:
        start, end = parse_time(args.start, now=now), parse_time(args.end, now=now)
    except FinopsError as err:
        parser.error(str(err))
    if end <= start:
        parser.error("--end must be after --start")
    name = args.output.name.lower()
    file_format = args.format or next(
        (f for f in ("parquet", "csv.gz", "csv") if name.endswith(f".{f}")), "csv"
    )
    items = SampleBill(seed=args.seed).line_items(start, end, now)
    rows = write_focus(items, args.output, version=args.focus_version, file_format=file_format)
    print(f"wrote {rows} FOCUS {args.focus_version} rows to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
