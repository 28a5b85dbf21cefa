"""The sample cluster's cloud bill, as FOCUS files and Cost Explorer answers, with planted flaws.

Every cluster node is billed from the same prices the simulator exports (``instance_price``, hour
by hour), so the bill and the cluster's own cost model agree to the cent, except where this module
plants a discrepancy on purpose, for ``finops billing compare`` to find:

- **a Savings Plan** covers both p5.48xlarge nodes at 28% off: their amortized (effective) cost is
  lower than the cluster's on-demand estimate; the plan's fee is its own line.
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
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from finops_cli.sample.scenario import HOUR_S, TEAM_KEY, NodeSpec
from finops_cli.sample.simulate import SampleCluster, _key

PAYER_ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
TEAM_TAG = "team"
CLUSTER_TAG = "eks:cluster-name"
SAVINGS_PLAN_DISCOUNT = 0.28
SAVINGS_PLAN_ARN = (
    "arn:aws:savingsplans::123456789012:savingsplan/5f2a9c1e-8d7b-4e3a-9b1c-0a6d2e4f8c13"
)
SAVINGS_PLAN_TYPES = ("p5.48xlarge",)
SPOT_BILLED_ON_DEMAND = "ip-10-0-3-32.ec2.internal"
OUTSIDE_NODE = "vision-dev-box"
OUTSIDE_TYPE = "g5.2xlarge"
OUTSIDE_PRICE = 1.212
OUTSIDE_ID = "i-0d4e5f6a7b8c9d0e1"
ON_DEMAND_PRICE = {"p5.48xlarge": 55.04, "g5.12xlarge": 5.672, "g6.xlarge": 0.8048}

EC2_COMPUTE = "Amazon Elastic Compute Cloud - Compute"  # Cost Explorer's SERVICE
EC2_OTHER = "EC2 - Other"
EC2_FOCUS = "Amazon Elastic Compute Cloud"  # FOCUS ServiceName (AWS Data Exports)


@dataclass(frozen=True)
class LineItem:
    """One daily line of the bill, in both vocabularies (Cost Explorer and FOCUS)."""

    start: datetime
    end: datetime
    resource_id: str
    resource_name: str
    ce_service: str
    focus_service: str
    service_category: str
    instance_type: str
    usage_type: str
    purchase: str  # Cost Explorer PURCHASE_TYPE
    pricing_category: str  # FOCUS PricingCategory
    quantity: float
    unit: str
    list_cost: float
    billed_cost: float  # UnblendedCost / BilledCost
    effective_cost: float  # AmortizedCost / EffectiveCost
    charge_category: str = "Usage"
    record_type: str = "Usage"
    account: str = PAYER_ACCOUNT
    region: str = "us-east-1"
    tags: dict[str, str] = field(default_factory=dict)
    commitment_id: str = ""
    description: str = ""


def instance_id(cluster: SampleCluster, node: NodeSpec) -> str:
    """The EC2 instance id the cluster exports in OpenCost's ``provider_id`` for ``node``."""
    return f"i-{_key(cluster.seed, node.name) % 16**17:017x}"


def node_teams(cluster: SampleCluster) -> dict[str, str]:
    """The team tag on each node's instance: the team of the workload holding most of its GPUs
    (the first listed on a tie); "" for a node whose biggest workload has no team label."""
    gpus: dict[str, dict[str, int]] = {}
    for w in cluster.workloads:
        if w.gpus:
            team = w.labels.get(TEAM_KEY, "")
            per = gpus.setdefault(w.node, {})
            per[team] = per.get(team, 0) + w.gpus
    return {node: max(per, key=lambda t: per[t]) for node, per in gpus.items()}


def _hours(start: int, end: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    first = -(-start // HOUR_S) * HOUR_S
    return np.arange(first, end - HOUR_S + 1, HOUR_S, dtype=np.int64)


def _days(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        following = day + timedelta(days=1)
        yield max(day, start), min(following, end)
        day = following


class SampleBill:
    """The bill of ``cluster`` for whole hours in ``[start, end)`` (clipped at ``now``)."""

    def __init__(self, cluster: SampleCluster | None = None, *, seed: int = 42) -> None:
        self.cluster = cluster or SampleCluster(seed)
        self.node_teams = node_teams(self.cluster)

    def line_items(self, start: datetime, end: datetime, now: datetime) -> list[LineItem]:
        end = min(end, now.replace(minute=0, second=0, microsecond=0))
        items: list[LineItem] = []
        for day_start, day_end in _days(start, end):
            items.extend(self._day(day_start, day_end))
        return items

    def _day(self, start: datetime, end: datetime) -> Iterator[LineItem]:
        lo, hi = int(start.timestamp()), int(end.timestamp())
        hours = _hours(lo, hi)
        if not len(hours):
            return
        n = float(len(hours))
        sp_hourly = 0.0
        for node in self.cluster.nodes:
            prices = self.cluster.instance_price(node, hours)
            cost = float(prices.sum())
            tags = {CLUSTER_TAG: self.cluster.name}
            if self.node_teams.get(node.name):
                tags[TEAM_TAG] = self.node_teams[node.name]
            base = LineItem(
                start=start,
                end=end,
                resource_id=instance_id(self.cluster, node),
                resource_name=node.name,
                ce_service=EC2_COMPUTE,
                focus_service=EC2_FOCUS,
                service_category="Compute",
                instance_type=node.instance_type,
                usage_type=f"BoxUsage:{node.instance_type}",
                purchase="On Demand Instances",
                pricing_category="Standard",
                quantity=n,
                unit="Hours",
                list_cost=cost,
                billed_cost=cost,
                effective_cost=cost,
                region=node.region,
                tags=tags,
                description=f"On Demand Linux {node.instance_type} Instance Hour",
            )
            if node.is_spot and node.name != SPOT_BILLED_ON_DEMAND:
                on_demand = ON_DEMAND_PRICE.get(node.instance_type, node.hourly_price) * n
                base = replace(
                    base,
                    usage_type=f"SpotUsage:{node.instance_type}",
                    purchase="Spot Instances",
                    pricing_category="Dynamic",
                    list_cost=on_demand,
                    description=f"Spot Linux {node.instance_type} Instance Hour",
                )
            elif node.name == SPOT_BILLED_ON_DEMAND:  # planted: priced as spot, billed on-demand
                on_demand = ON_DEMAND_PRICE[node.instance_type] * n
                base = replace(base, list_cost=on_demand, billed_cost=on_demand)
                base = replace(base, effective_cost=on_demand)
            elif node.instance_type in SAVINGS_PLAN_TYPES:  # planted: covered by a Savings Plan
                effective = cost * (1.0 - SAVINGS_PLAN_DISCOUNT)
                sp_hourly += effective / n
                base = replace(
                    base,
                    purchase="Savings Plans",
                    pricing_category="Committed",
                    billed_cost=0.0,
                    effective_cost=effective,
                    commitment_id=SAVINGS_PLAN_ARN,
                    description=f"Savings Plan covered {node.instance_type} Instance Hour",
                )
            yield base
            yield self._volume(node, start, end, n, tags)
        yield from self._others(start, end, n, sp_hourly)

    def _volume(
        self, node: NodeSpec, start: datetime, end: datetime, hours: float, tags: dict[str, str]
    ) -> LineItem:
        gib = 500.0 if node.gpu_count > 1 else 200.0
        cost = gib * 0.08 / 730.0 * hours
        return LineItem(
            start=start,
            end=end,
            resource_id=f"vol-{_key(self.cluster.seed, 'vol', node.name) % 16**17:017x}",
            resource_name=f"{node.name} root",
            ce_service=EC2_OTHER,
            focus_service=EC2_FOCUS,
            service_category="Storage",
            instance_type="NoInstanceType",
            usage_type="EBS:VolumeUsage.gp3",
            purchase="On Demand Instances",
            pricing_category="Standard",
            quantity=gib * hours / 730.0,
            unit="GB-Mo",
            list_cost=cost,
            billed_cost=cost,
            effective_cost=cost,
            region=node.region,
            tags=dict(tags),
            description="gp3 volume storage",
        )

    def _others(
        self, start: datetime, end: datetime, n: float, sp_hourly: float
    ) -> Iterator[LineItem]:
        system = {CLUSTER_TAG: self.cluster.name, TEAM_TAG: "platform"}

        def item(**kw: Any) -> LineItem:
            defaults: dict[str, Any] = {
                "start": start,
                "end": end,
                "ce_service": EC2_COMPUTE,
                "focus_service": EC2_FOCUS,
                "service_category": "Compute",
                "instance_type": "NoInstanceType",
                "purchase": "On Demand Instances",
                "pricing_category": "Standard",
                "quantity": n,
                "unit": "Hours",
            }
            cost = kw.pop("cost")
            merged = defaults | kw
            merged.setdefault("list_cost", cost)
            merged.setdefault("billed_cost", cost)
            merged.setdefault("effective_cost", cost)
            return LineItem(**merged)

        for i in range(2):
            yield item(
                resource_id=f"i-{_key(self.cluster.seed, 'system', i) % 16**17:017x}",
                resource_name=f"ip-10-0-0-{5 + i}.ec2.internal",
                instance_type="m6i.xlarge",
                usage_type="BoxUsage:m6i.xlarge",
                tags=dict(system),
                cost=0.192 * n,
                description="On Demand Linux m6i.xlarge Instance Hour",
            )
        # planted: a GPU instance that is not a node of the cluster, in another account
        yield item(
            resource_id=OUTSIDE_ID,
            resource_name=OUTSIDE_NODE,
            instance_type=OUTSIDE_TYPE,
            usage_type=f"BoxUsage:{OUTSIDE_TYPE}",
            account=OTHER_ACCOUNT,
            tags={TEAM_TAG: "vision"},
            cost=OUTSIDE_PRICE * n,
            description=f"On Demand Linux {OUTSIDE_TYPE} Instance Hour",
        )
        yield item(
            resource_id=f"arn:aws:eks:us-east-1:{PAYER_ACCOUNT}:cluster/{self.cluster.name}",
            resource_name=self.cluster.name,
            ce_service="Amazon Elastic Container Service for Kubernetes",
            focus_service="Amazon Elastic Kubernetes Service",
            service_category="Containers",
            usage_type="USE1-AmazonEKS-Hours:perCluster",
            tags=dict(system),
            cost=0.10 * n,
            description="EKS cluster hours",
        )
        yield item(
            resource_id="sample-datasets",
            resource_name="sample-datasets",
            ce_service="Amazon Simple Storage Service",
            focus_service="Amazon Simple Storage Service",
            service_category="Storage",
            usage_type="TimedStorage-ByteHrs",
            quantity=40_000.0 * n / 730.0,
            unit="GB-Mo",
            tags={TEAM_TAG: "research"},
            cost=40_000.0 * 0.021 / 730.0 * n,
            description="S3 Standard storage",
        )
        yield item(
            resource_id="",
            resource_name="",
            ce_service="AWS Data Transfer",
            focus_service="AWS Data Transfer",
            service_category="Networking",
            usage_type="DataTransfer-Out-Bytes",
            quantity=20.0 * n,
            unit="GB",
            cost=0.09 * 20.0 * n,
            description="Data transfer out to the internet",
        )
        if sp_hourly > 0:
            fee = sp_hourly * n
            yield item(
                resource_id=SAVINGS_PLAN_ARN,
                resource_name="compute-savings-plan",
                ce_service="Savings Plans for AWS Compute usage",
                focus_service="Savings Plans for AWS Compute usage",
                usage_type="ComputeSP:1yrNoUpfront",
                purchase="Savings Plans",
                pricing_category="Committed",
                charge_category="Purchase",
                record_type="SavingsPlanRecurringFee",
                commitment_id=SAVINGS_PLAN_ARN,
                cost=fee,
                list_cost=0.0,
                billed_cost=fee,
                effective_cost=0.0,
                description="Savings Plan recurring fee",
            )


# ---- FOCUS ------------------------------------------------------------------------------------
def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _month(moment: datetime) -> tuple[datetime, datetime]:
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first, (first + timedelta(days=32)).replace(day=1)


FOCUS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")


def focus_rows(items: Iterable[LineItem], version: str = "1.2") -> list[dict[str, Any]]:
    """FOCUS rows: every mandatory column of ``version``, and the conditional ones used here."""
    if version not in FOCUS_VERSIONS:
        raise ValueError(f"FOCUS version {version!r}: expected one of {FOCUS_VERSIONS}")
    rows = []
    for it in items:
        period_start, period_end = _month(it.start)
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


# ---- Cost Explorer -------------------------------------------------------------------------
_METRICS = {
    "UnblendedCost": "billed_cost",
    "NetUnblendedCost": "billed_cost",
    "BlendedCost": "billed_cost",
    "AmortizedCost": "effective_cost",
    "NetAmortizedCost": "effective_cost",
    "UsageQuantity": "quantity",
}
_FORECAST_METRICS = {
    "UNBLENDED_COST": "billed_cost",
    "NET_UNBLENDED_COST": "billed_cost",
    "BLENDED_COST": "billed_cost",
    "AMORTIZED_COST": "effective_cost",
    "NET_AMORTIZED_COST": "effective_cost",
}


def _dimension(item: LineItem, key: str) -> str:
    values = {
        "SERVICE": item.ce_service,
        "INSTANCE_TYPE": item.instance_type,
        "INSTANCE_TYPE_FAMILY": item.instance_type.split(".")[0]
        if item.instance_type != "NoInstanceType"
        else "NoInstanceTypeFamily",
        "LINKED_ACCOUNT": item.account,
        "REGION": item.region,
        "USAGE_TYPE": item.usage_type,
        "PURCHASE_TYPE": item.purchase,
        "RECORD_TYPE": item.record_type,
        "RESOURCE_ID": item.resource_id,
    }
    return values.get(key, "")


def _matches(item: LineItem, expression: dict[str, Any]) -> bool:
    """Cost Explorer's filter ``Expression``: And, Or, Not, Dimensions, Tags."""
    if "And" in expression:
        return all(_matches(item, e) for e in expression["And"])
    if "Or" in expression:
        return any(_matches(item, e) for e in expression["Or"])
    if "Not" in expression:
        return not _matches(item, expression["Not"])
    if "Dimensions" in expression:
        spec = expression["Dimensions"]
        return _dimension(item, spec["Key"]) in spec.get("Values", [])
    if "Tags" in expression:
        spec = expression["Tags"]
        value = item.tags.get(spec["Key"], "")
        if "ABSENT" in spec.get("MatchOptions", []):
            return value == ""
        return value in spec.get("Values", [])
    if "CostCategories" in expression:
        return False
    raise ValueError(f"unsupported filter expression: {sorted(expression)}")


class SampleCostExplorer:
    """A stand-in for boto3's ``ce`` client answering from the sample bill.

    Results are paged ``page_size`` periods at a time with ``NextPageToken`` (as the real service
    pages long answers), and every period in the open billing month is ``Estimated``.
    """

    def __init__(self, bill: SampleBill, now: datetime, *, page_size: int = 10) -> None:
        self.bill = bill
        self.now = now
        self.page_size = page_size
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _items(self, period: dict[str, str], expression: dict[str, Any] | None) -> list[LineItem]:
        start = datetime.fromisoformat(period["Start"]).replace(tzinfo=UTC)
        end = datetime.fromisoformat(period["End"]).replace(tzinfo=UTC)
        items = self.bill.line_items(start, end, self.now)
        return [i for i in items if expression is None or _matches(i, expression)]

    def _periods(self, period: dict[str, str], granularity: str) -> list[tuple[date, date]]:
        start, end = date.fromisoformat(period["Start"]), date.fromisoformat(period["End"])
        out, day = [], start
        while day < end:
            if granularity == "MONTHLY":
                following = min((day.replace(day=1) + timedelta(days=32)).replace(day=1), end)
            else:
                following = day + timedelta(days=1)
            out.append((day, following))
            day = following
        return out

    def get_cost_and_usage(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("get_cost_and_usage", params))
        metrics: list[str] = params["Metrics"]
        groups: list[dict[str, str]] = params.get("GroupBy", [])
        periods = self._periods(params["TimePeriod"], params["Granularity"])
        first = int(params.get("NextPageToken") or 0)
        items = self._items(params["TimePeriod"], params.get("Filter"))
        open_month = _month(self.now)[0].date()
        results = []
        for start, end in periods[first : first + self.page_size]:
            inside = [i for i in items if start <= i.start.date() < end]
            estimated = end > open_month
            result: dict[str, Any] = {
                "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
                "Total": {},
                "Groups": [],
                "Estimated": estimated,
            }
            if not groups:
                result["Total"] = {m: _amount(sum(_metric(i, m) for i in inside)) for m in metrics}
            else:
                buckets: dict[tuple[str, ...], list[LineItem]] = {}
                for it in inside:
                    buckets.setdefault(tuple(_group_key(it, g) for g in groups), []).append(it)
                result["Groups"] = [
                    {
                        "Keys": list(keys),
                        "Metrics": {m: _amount(sum(_metric(i, m) for i in its)) for m in metrics},
                    }
                    for keys, its in sorted(buckets.items())
                ]
            results.append(result)
        response: dict[str, Any] = {
            "GroupDefinitions": groups,
            "ResultsByTime": results,
            "DimensionValueAttributes": [],
        }
        if first + self.page_size < len(periods):
            response["NextPageToken"] = str(first + self.page_size)
        return response

    def get_cost_forecast(self, **params: Any) -> dict[str, Any]:
        """A run-rate forecast: the last 7 days' mean daily cost, with a widening interval."""
        self.calls.append(("get_cost_forecast", params))
        attribute = _FORECAST_METRICS[params["Metric"]]
        level = int(params.get("PredictionIntervalLevel", 80))
        start = date.fromisoformat(params["TimePeriod"]["Start"])
        end = date.fromisoformat(params["TimePeriod"]["End"])
        history_end = datetime(start.year, start.month, start.day, tzinfo=UTC)
        history = [
            i
            for i in self.bill.line_items(history_end - timedelta(days=7), history_end, self.now)
            if params.get("Filter") is None or _matches(i, params["Filter"])
        ]
        daily = sum(getattr(i, attribute) for i in history) / 7.0
        spread = {70: 0.8, 80: 1.0, 90: 1.3, 95: 1.6, 99: 2.1}.get(level, 1.0)
        results, total = [], 0.0
        for p_start, p_end in self._periods(params["TimePeriod"], params["Granularity"]):
            days = (p_end - p_start).days
            mean = daily * days
            width = mean * (0.04 + 0.01 * days**0.5) * spread
            total += mean
            results.append(
                {
                    "TimePeriod": {"Start": p_start.isoformat(), "End": p_end.isoformat()},
                    "MeanValue": f"{mean:.10f}",
                    "PredictionIntervalLowerBound": f"{max(mean - width, 0.0):.10f}",
                    "PredictionIntervalUpperBound": f"{mean + width:.10f}",
                }
            )
        del end
        return {
            "Total": {"Amount": f"{total:.10f}", "Unit": "USD"},
            "ForecastResultsByTime": results,
        }


def _metric(item: LineItem, metric: str) -> float:
    return float(getattr(item, _METRICS[metric]))


def _amount(value: float) -> dict[str, str]:
    return {"Amount": f"{value:.10f}", "Unit": "USD"}


def _group_key(item: LineItem, group: dict[str, str]) -> str:
    if group["Type"] == "TAG":
        return f"{group['Key']}${item.tags.get(group['Key'], '')}"
    if group["Type"] == "COST_CATEGORY":
        return f"{group['Key']}$"
    return _dimension(item, group["Key"])


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
