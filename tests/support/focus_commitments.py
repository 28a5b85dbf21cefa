"""Realistic FOCUS 1.2 and 1.3 exports with commitments, written by the tests.

Two providers' shapes: an AWS Data Exports FOCUS 1.2 file (``ProviderName``, ``x_UsageType``,
``AvailabilityZone``, ``NULL`` for every missing cell, Savings Plan / on-demand capacity
reservation / Capacity Block rows, used and unused, Purchase rows, a credit and a tax line) and an
Azure-shaped FOCUS 1.3 file (``ServiceProviderName``, ``x_InstanceType`` sizes, a reservation
with ``ContractApplied``, empty cells instead of ``NULL``).

Planted idle-while-on-demand overlaps (``PLANTED_OVERLAPS``) are what the reader must find:
each with its hours and the money of the on-demand hours the idle reservation could have
absorbed. Everything else is computed from the rows independently by the tests.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2026, 10, 1, tzinfo=UTC)
HOURS = 72
P5 = 55.04
P5_SP = 39.6288  # 28% off on demand
P5_CB = 31.464
G6E = 10.49264
SP_ARN = "arn:aws:savingsplans::111122223333:savingsplan/0f1e2d3c-gpu"
ODCR = "cr-0a1b2c3d4e5f60001"
CB = "cr-0cb5c4b3a2f100002"
AZ_RES = "/providers/Microsoft.Capacity/reservationOrders/ro-1/reservations/res-h100"

AWS_COLUMNS = [
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "CapacityReservationId", "CapacityReservationStatus", "ChargeCategory",
    "ChargeClass", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
    "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus", "CommitmentDiscountType", "CommitmentDiscountUnit",
    "ConsumedQuantity", "ConsumedUnit", "EffectiveCost", "ListCost", "PricingCategory",
    "PricingQuantity", "PricingUnit", "ProviderName", "RegionId", "ResourceId",
    "ServiceCategory", "ServiceName", "SubAccountId", "Tags", "x_UsageType",
]  # fmt: skip
AZURE_COLUMNS = [
    "BilledCost", "BillingCurrency", "BillingPeriodEnd", "ChargeCategory", "ChargePeriodEnd",
    "ChargePeriodStart", "CapacityReservationId", "CapacityReservationStatus",
    "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountStatus",
    "CommitmentDiscountType", "ConsumedQuantity", "ConsumedUnit", "ContractApplied",
    "EffectiveCost", "PricingCategory", "PricingQuantity", "PricingUnit", "RegionId",
    "ResourceId", "ServiceCategory", "ServiceName", "ServiceProviderName", "Tags",
    "x_InstanceType",
]  # fmt: skip

PLANTED_OVERLAPS = {
    # reservation: (hours, money): on-demand instances of its type that ran while it sat idle
    ODCR: (10.0, 10 * G6E),  # hours 10-19, same zone us-east-1a (us-east-1b hours do not count)
    CB: (5.0, 5 * P5),  # hours 30-33 in its zone, hour 40 from a row that names no zone
}


def _hour(h: int) -> tuple[str, str]:
    a = START + timedelta(hours=h)
    return a.strftime("%Y-%m-%dT%H:%M:%SZ"), (a + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def aws_rows() -> list[dict[str, Any]]:
    """The AWS FOCUS 1.2 rows (missing cells left out; written as NULL)."""
    rows: list[dict[str, Any]] = []

    def usage(h: int, **kw: Any) -> None:
        start, end = _hour(h)
        base = {
            "ChargePeriodStart": start,
            "ChargePeriodEnd": end,
            "ChargeCategory": "Usage",
            "ChargeFrequency": "Usage-Based",
            "ServiceCategory": "Compute",
            "ServiceName": "Amazon Elastic Compute Cloud",
            "ConsumedQuantity": 1,
            "ConsumedUnit": "Hrs",
            "PricingQuantity": 1,
            "PricingUnit": "Hours",
            "PricingCategory": "Standard",
        }
        rows.append(base | kw)

    for h in range(HOURS):
        # Savings Plan: $50/h commitment; one p5 on it for 48 h, then nothing.
        if h < 48:
            usage(
                h, x_UsageType="USE1-BoxUsage:p5.48xlarge", ResourceId="i-0p5sp000000000001",
                AvailabilityZone="us-east-1a", PricingCategory="Committed", BilledCost=0,
                EffectiveCost=P5_SP, ListCost=P5, CommitmentDiscountId=SP_ARN,
                CommitmentDiscountType="Compute Savings Plan", CommitmentDiscountCategory="Spend",
                CommitmentDiscountStatus="Used", CommitmentDiscountQuantity=P5_SP,
                CommitmentDiscountUnit="USD", Tags='{"user:team": "research"}',
            )  # fmt: skip
            usage(
                h, x_UsageType="USE1-BoxUsage:m6i.xlarge", ResourceId="i-0cpu0000000000001",
                AvailabilityZone="us-east-1a", PricingCategory="Committed", BilledCost=0,
                EffectiveCost=0.1296, CommitmentDiscountId=SP_ARN,
                CommitmentDiscountType="Compute Savings Plan", CommitmentDiscountCategory="Spend",
                CommitmentDiscountStatus="Used",
            )  # fmt: skip
            unused = 50.0 - P5_SP - 0.1296
        else:
            unused = 50.0
        usage(
            h, x_UsageType="ComputeSP:1yrNoUpfront", ResourceId=SP_ARN, BilledCost=0,
            EffectiveCost=unused, PricingCategory="Committed", CommitmentDiscountId=SP_ARN,
            CommitmentDiscountType="Compute Savings Plan", CommitmentDiscountCategory="Spend",
            CommitmentDiscountStatus="Unused", ConsumedQuantity=None, ConsumedUnit=None,
            PricingQuantity=unused, PricingUnit="USD",
        )  # fmt: skip
        start, end = _hour(h)
        rows.append(
            {
                "ChargePeriodStart": start, "ChargePeriodEnd": end, "ChargeCategory": "Purchase",
                "ChargeFrequency": "Recurring", "ServiceCategory": "Compute",
                "ServiceName": "Savings Plans for AWS Compute usage", "BilledCost": 50.0,
                "EffectiveCost": 0, "ResourceId": SP_ARN, "CommitmentDiscountId": SP_ARN,
                "CommitmentDiscountType": "Compute Savings Plan",
                "CommitmentDiscountCategory": "Spend",
            }
        )  # fmt: skip
        # On-demand capacity reservation: 2 x g6e.12xlarge in us-east-1a, one instance in it.
        usage(
            h, x_UsageType="USE1-BoxUsage:g6e.12xlarge", ResourceId="i-0g6eodcr00000001",
            AvailabilityZone="us-east-1a", BilledCost=G6E, EffectiveCost=G6E,
            CapacityReservationId=ODCR, CapacityReservationStatus="Used",
        )  # fmt: skip
        usage(
            h, x_UsageType="USE1-UnusedBox:g6e.12xlarge", ResourceId=ODCR,
            AvailabilityZone="us-east-1a", BilledCost=G6E, EffectiveCost=G6E,
            CapacityReservationId=ODCR, CapacityReservationStatus="Unused", ConsumedQuantity=None,
        )  # fmt: skip
        if 10 <= h < 20:  # planted: on demand beside the idle reservation, same zone
            usage(
                h, x_UsageType="USE1-BoxUsage:g6e.12xlarge", ResourceId="i-0g6eod0000000001",
                AvailabilityZone="us-east-1a", BilledCost=G6E, EffectiveCost=G6E,
            )  # fmt: skip
        if 30 <= h < 36:  # not an overlap: another zone
            usage(
                h, x_UsageType="USE1-BoxUsage:g6e.12xlarge", ResourceId="i-0g6eod0000000002",
                AvailabilityZone="us-east-1b", BilledCost=G6E, EffectiveCost=G6E,
            )  # fmt: skip
        if h < 24:  # spot
            usage(
                h, x_UsageType="USE1-SpotUsage:g6e.12xlarge", ResourceId="i-0g6espot00000001",
                AvailabilityZone="us-east-1b", BilledCost=4.8, EffectiveCost=4.8,
                PricingCategory="Dynamic",
            )  # fmt: skip
        # Capacity Block: 4 x p5.48xlarge in us-east-1c for hours 24-47; 3 used, 1 idle.
        if 24 <= h < 48:
            for n in range(3):
                usage(
                    h, x_UsageType="USE1-CapacityBlock:p5.48xlarge",
                    ResourceId=f"i-0p5cb00000000000{n}", AvailabilityZone="us-east-1c",
                    BilledCost=0, EffectiveCost=P5_CB, PricingCategory="Committed",
                    CapacityReservationId=CB, CapacityReservationStatus="Used",
                    CommitmentDiscountId=CB, CommitmentDiscountType="Capacity Block",
                    CommitmentDiscountCategory="Usage", CommitmentDiscountStatus="Used",
                    CommitmentDiscountQuantity=1, CommitmentDiscountUnit="Hours",
                )  # fmt: skip
            usage(
                h, x_UsageType="USE1-CapacityBlock:p5.48xlarge", ResourceId=CB,
                AvailabilityZone="us-east-1c", BilledCost=0, EffectiveCost=P5_CB,
                PricingCategory="Committed", CapacityReservationId=CB,
                CapacityReservationStatus="Unused", CommitmentDiscountId=CB,
                CommitmentDiscountType="Capacity Block", CommitmentDiscountCategory="Usage",
                CommitmentDiscountStatus="Unused", CommitmentDiscountQuantity=1,
                CommitmentDiscountUnit="Hours", ConsumedQuantity=None,
            )  # fmt: skip
        if 30 <= h < 34:  # planted: on demand p5 in the block's zone while a block slot idles
            usage(
                h, x_UsageType="USE1-BoxUsage:p5.48xlarge", ResourceId="i-0p5od00000000001",
                AvailabilityZone="us-east-1c", BilledCost=P5, EffectiveCost=P5,
            )  # fmt: skip
        if h == 40:  # planted: a row that names no zone still matches by type
            usage(
                h, x_UsageType="USE1-BoxUsage:p5.48xlarge", ResourceId="i-0p5od00000000002",
                AvailabilityZone=None, BilledCost=P5, EffectiveCost=P5,
            )  # fmt: skip
        if h == 60:  # on demand p5 after the block ended: no overlap
            usage(
                h, x_UsageType="USE1-BoxUsage:p5.48xlarge", ResourceId="i-0p5od00000000003",
                AvailabilityZone="us-east-1c", BilledCost=P5, EffectiveCost=P5,
            )  # fmt: skip
    start, end = _hour(24)
    rows.append(
        {
            "ChargePeriodStart": start, "ChargePeriodEnd": end, "ChargeCategory": "Purchase",
            "ChargeFrequency": "One-Time", "ServiceCategory": "Compute",
            "ServiceName": "Amazon Elastic Compute Cloud", "BilledCost": 4 * 24 * P5_CB,
            "EffectiveCost": 0, "ResourceId": CB, "CommitmentDiscountId": CB,
            "CapacityReservationId": CB, "CommitmentDiscountType": "Capacity Block",
            "CommitmentDiscountCategory": "Usage", "x_UsageType": "USE1-CapacityBlock:p5.48xlarge",
        }
    )  # fmt: skip
    start, end = _hour(5)
    rows.append(  # a credit on a GPU instance and a tax line: not commitments, not hours
        {
            "ChargePeriodStart": start, "ChargePeriodEnd": end, "ChargeCategory": "Credit",
            "ServiceCategory": "Compute", "BilledCost": -100.0, "EffectiveCost": -100.0,
            "x_UsageType": "USE1-BoxUsage:p5.48xlarge",
            "ServiceName": "Amazon Elastic Compute Cloud",
        }
    )  # fmt: skip
    rows.append(
        {
            "ChargePeriodStart": start, "ChargePeriodEnd": end, "ChargeCategory": "Tax",
            "ServiceCategory": "Other", "BilledCost": 12.0, "EffectiveCost": 12.0,
            "ServiceName": "Tax",
        }
    )  # fmt: skip
    for row in rows:
        row.setdefault("BillingCurrency", "USD")
        row.setdefault("BillingPeriodEnd", "2026-11-01T00:00:00Z")
        row.setdefault("BillingPeriodStart", "2026-10-01T00:00:00Z")
        row.setdefault("ProviderName", "AWS")
        row.setdefault("RegionId", "us-east-1")
        row.setdefault("BillingAccountId", "111122223333")
        row.setdefault("SubAccountId", "444455556666")
    return rows


def azure_rows() -> list[dict[str, Any]]:
    """The Azure-shaped FOCUS 1.3 rows: a reservation for two H100 VMs, one idle for a day."""
    rows: list[dict[str, Any]] = []
    size = "Standard_ND96isr_H100_v5"
    for h in range(HOURS):
        start, end = _hour(h)
        base = {
            "ChargePeriodStart": start, "ChargePeriodEnd": end, "ChargeCategory": "Usage",
            "ServiceCategory": "Compute", "ServiceName": "Virtual Machines",
            "ServiceProviderName": "Microsoft", "BillingCurrency": "usd",
            "BillingPeriodEnd": "2026-11-01T00:00:00Z", "RegionId": "eastus",
            "x_InstanceType": size, "ConsumedUnit": "1 Hour", "PricingUnit": "1 Hour",
        }  # fmt: skip
        contract = json.dumps({"Elements": [{"ContractId": "ea-1", "ContractCommitmentId": "c1"}]})
        vms = 2 if h < 48 else 1
        for n in range(vms):
            rows.append(
                base | {
                    "BilledCost": 0, "EffectiveCost": 60.0, "ConsumedQuantity": 1,
                    "PricingQuantity": 1, "PricingCategory": "Committed",
                    "ResourceId": f"/subscriptions/s/vm/h100-{n}", "CommitmentDiscountId": AZ_RES,
                    "CommitmentDiscountType": "Reservation", "CommitmentDiscountCategory": "Usage",
                    "CommitmentDiscountStatus": "Used", "ContractApplied": contract,
                }
            )  # fmt: skip
        if vms == 1:
            rows.append(
                base | {
                    "BilledCost": 0, "EffectiveCost": 60.0, "PricingQuantity": 1,
                    "PricingCategory": "Committed", "ResourceId": AZ_RES,
                    "CommitmentDiscountId": AZ_RES, "CommitmentDiscountType": "Reservation",
                    "CommitmentDiscountCategory": "Usage", "CommitmentDiscountStatus": "Unused",
                }
            )  # fmt: skip
        rows.append(
            base | {
                "BilledCost": 98.32, "EffectiveCost": 98.32, "ConsumedQuantity": 1,
                "PricingQuantity": 1, "PricingCategory": "Standard",
                "ResourceId": "/subscriptions/s/vm/h100-od",
            }
        )  # fmt: skip
    return rows


def write_csv(rows: list[dict[str, Any]], columns: list[str], path: Path, null: str) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([null if row.get(c) is None else row[c] for c in columns])
    return path


def write_parquet(rows: list[dict[str, Any]], columns: list[str], path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    numeric = {
        "BilledCost", "EffectiveCost", "ListCost", "ConsumedQuantity", "PricingQuantity",
        "CommitmentDiscountQuantity",
    }  # fmt: skip
    table = {
        c: pa.array(
            [_cell(r.get(c), c in numeric) for r in rows],
            pa.float64() if c in numeric else pa.string(),
        )
        for c in columns
    }
    pq.write_table(pa.table(table), path)
    return path


def _cell(value: Any, numeric: bool) -> Any:
    if value is None:
        return None
    return float(value) if numeric else str(value)
