"""The sample bill's line items: what each node, volume and service costs, day by day.

Split from ``bill.py`` because the bill's contents (and the discrepancies planted in them) are one
job and the two ways of serving them, FOCUS files (``bill.py``) and Cost Explorer answers
(``cost_explorer.py``), are others; both read these same ``LineItem`` objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
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
SAVINGS_PLAN_HOURLY = 85.0  # committed $/h; both p5 nodes use 2 x 55.04 x 0.72 = 79.2576 of it
SAVINGS_PLAN_TYPE = "Compute Savings Plan"
RESERVATION_ID = "cr-0e5a3b1c7d9f20001"
RESERVATION_TYPE = "g5.12xlarge"  # one slot, targeted matching: the cluster's nodes never use it
RESERVATION_ZONE = "us-east-1a"
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
    commitment_status: str = ""  # Used / Unused (FOCUS 1.1+; 1.0's ChargeSubcategory)
    commitment_type: str = ""
    commitment_category: str = ""
    reservation_id: str = ""
    reservation_status: str = ""


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
                    commitment_status="Used",
                    commitment_type=SAVINGS_PLAN_TYPE,
                    commitment_category="Spend",
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
            fee = SAVINGS_PLAN_HOURLY * n
            sp = {
                "resource_id": SAVINGS_PLAN_ARN,
                "resource_name": "compute-savings-plan",
                "ce_service": "Savings Plans for AWS Compute usage",
                "focus_service": "Savings Plans for AWS Compute usage",
                "usage_type": "ComputeSP:1yrNoUpfront",
                "purchase": "Savings Plans",
                "pricing_category": "Committed",
                "commitment_id": SAVINGS_PLAN_ARN,
                "commitment_type": SAVINGS_PLAN_TYPE,
                "commitment_category": "Spend",
            }
            yield item(
                **sp,
                charge_category="Purchase",
                record_type="SavingsPlanRecurringFee",
                cost=fee,
                list_cost=0.0,
                billed_cost=fee,
                effective_cost=0.0,
                description="Savings Plan recurring fee",
            )
            unused = fee - sp_hourly * n
            if unused > 1e-9:  # planted: the commitment the p5 nodes did not use
                yield item(
                    **sp,
                    record_type="SavingsPlanRecurringFee",
                    quantity=unused,
                    unit="USD",
                    cost=unused,
                    list_cost=0.0,
                    billed_cost=0.0,
                    effective_cost=unused,
                    commitment_status="Unused",
                    description="Savings Plan unused commitment",
                )
        # planted: an on-demand capacity reservation for one g5.12xlarge, idle every hour while
        # the cluster's two g5.12xlarge nodes run on demand beside it
        price = ON_DEMAND_PRICE[RESERVATION_TYPE]
        yield item(
            resource_id=RESERVATION_ID,
            resource_name="g5-reserved-capacity",
            instance_type=RESERVATION_TYPE,
            usage_type=f"UnusedBox:{RESERVATION_TYPE}",
            reservation_id=RESERVATION_ID,
            reservation_status="Unused",
            cost=price * n,
            description=f"Unused reservation Linux {RESERVATION_TYPE} Instance Hour",
        )


def billing_month(moment: datetime) -> tuple[datetime, datetime]:
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first, (first + timedelta(days=32)).replace(day=1)
