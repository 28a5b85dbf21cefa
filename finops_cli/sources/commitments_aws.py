"""Commitments as AWS's own APIs report them: Cost Explorer and EC2.

When there is no FOCUS export, Cost Explorer already computes utilisation and coverage per
Savings Plan and per reservation; EC2 knows each capacity reservation's (and Capacity Block's)
size, zone and end date, which no bill row carries. This module asks:

* ``ce:GetSavingsPlansUtilizationDetails``: per Savings Plan, total / used / unused commitment
  and its attributes (end date, instance family, region); paged on ``NextToken``;
* ``ce:GetReservationUtilization`` grouped by ``SUBSCRIPTION_ID``: per Reserved Instance,
  purchased / used / unused hours and the amortized fee of the unused ones;
* ``ce:GetReservationCoverage`` grouped by ``INSTANCE_TYPE``: reserved vs on-demand hours;
* ``ce:GetSavingsPlansCoverage`` grouped by ``INSTANCE_TYPE_FAMILY``: covered vs on-demand spend;
* ``ce:GetSavingsPlansPurchaseRecommendation``: Cost Explorer's own hourly commitment;
* ``ec2:DescribeCapacityReservations`` (paged) and ``ec2:DescribeCapacityBlockOfferings``.

Every Cost Explorer page is a paid request ($0.01), counted through ``CostExplorerSource``;
EC2 calls are free. Answers become the analytics' own types (``analytics.commitments``), so the
command renders them like a FOCUS bill's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from finops_cli.errors import FinopsError
from finops_cli.sources import aws
from finops_cli.sources.commitment_types import Commitment, CoverageRow, Term

if TYPE_CHECKING:
    from finops_cli.sources.cost_explorer import CostExplorerSource

MAX_PAGES = 200
GPU_FILTER_FAMILIES = ("g4dn", "g5", "g6", "g6e", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200")


@dataclass(frozen=True)
class Recommendation:
    """Cost Explorer's Savings Plan purchase recommendation (its summary)."""

    hourly_commitment: float
    estimated_savings: float | None
    estimated_savings_pct: float | None
    current_on_demand_spend: float | None
    lookback_days: str
    term: str
    payment: str
    savings_plan_type: str


@dataclass(frozen=True)
class BlockOffering:
    """An EC2 Capacity Block offering: its total upfront fee and what it buys."""

    offering_id: str
    instance_type: str
    zone: str
    count: int
    start: datetime | None
    end: datetime | None
    hours: int
    upfront: float
    currency: str

    @property
    def hourly_per_instance(self) -> float:
        return self.upfront / (self.hours * self.count) if self.hours and self.count else 0.0


def _float(value: Any) -> float:
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return 0.0


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _attribute(attributes: dict[str, str], *names: str) -> str | None:
    lowered = {k.lower(): v for k, v in attributes.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value:
            return value
    return None


class CommitmentApis:
    """Cost Explorer (through a ``CostExplorerSource``, which counts paid calls and turns errors
    into one line) and an optional EC2 client."""

    def __init__(self, ce: CostExplorerSource, ec2: Any = None) -> None:
        self.ce = ce
        self.ec2 = ec2

    @property
    def name(self) -> str:
        return self.ce.name

    def _ce_pages(self, operation: str, params: dict[str, Any], token: str) -> list[dict[str, Any]]:
        pages: list[dict[str, Any]] = []
        next_token: str | None = None
        while True:
            page_params = dict(params)
            if next_token:
                page_params[token] = next_token
            page = self.ce._call(operation, page_params)
            pages.append(page)
            next_token = page.get(token) or None
            if next_token is None:
                return pages
            if len(pages) >= MAX_PAGES:
                raise FinopsError(f"Cost Explorer {operation} returned more than {MAX_PAGES} pages")

    # ---- Cost Explorer ----------------------------------------------------------------------
    def savings_plans(self, start: date, end: date) -> tuple[list[Commitment], list[Term]]:
        params = {"TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()}}
        pages = self._ce_pages("get_savings_plans_utilization_details", params, "NextToken")
        out, terms = [], []
        for page in pages:
            for item in page.get("SavingsPlansUtilizationDetails", []):
                arn = str(item.get("SavingsPlanArn", ""))
                use = item.get("Utilization", {})
                attributes = item.get("Attributes", {}) or {}
                total, used = _float(use.get("TotalCommitment")), _float(use.get("UsedCommitment"))
                unused = _float(use.get("UnusedCommitment"))
                family = _attribute(attributes, "InstanceFamily")
                ends = _time(_attribute(attributes, "EndDateTime", "endDateTime"))
                out.append(
                    Commitment(
                        commitment_id=arn,
                        kind="savings-plan",
                        category="Spend",
                        type_name=_attribute(attributes, "SavingsPlansType"),
                        instance_types=(family,) if family else (),
                        zones=(),
                        provider="AWS",
                        currency="USD",
                        committed=total,
                        used=used,
                        unused=unused,
                        utilisation=used / total if total > 0 else None,
                        used_hours=0.0,
                        unused_hours=0.0,
                        purchased=_float(
                            item.get("AmortizedCommitment", {}).get("TotalAmortizedCommitment")
                        ),
                        end=ends,
                    )
                )
                terms.append(Term(arn, "savings-plan", ends, source="cost-explorer"))
        return out, terms

    def reservations(self, start: date, end: date) -> tuple[list[Commitment], list[Term]]:
        params = {
            "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
            "GroupBy": [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}],
        }
        pages = self._ce_pages("get_reservation_utilization", params, "NextPageToken")
        merged: dict[str, dict[str, Any]] = {}
        for page in pages:
            for period in page.get("UtilizationsByTime", []):
                for group in period.get("Groups", []):
                    key = str(group.get("Value") or group.get("Key") or "")
                    entry = merged.setdefault(
                        key,
                        {"attributes": group.get("Attributes", {}) or {}, "fee": 0.0,
                         "unused_fee": 0.0, "hours": 0.0, "unused_hours": 0.0},
                    )  # fmt: skip
                    use = group.get("Utilization", {})
                    entry["fee"] += _float(use.get("TotalAmortizedFee"))
                    entry["unused_fee"] += _float(use.get("RICostForUnusedHours"))
                    entry["hours"] += _float(use.get("PurchasedHours"))
                    entry["unused_hours"] += _float(use.get("UnusedHours"))
        out, terms = [], []
        for key, entry in merged.items():
            attributes = entry["attributes"]
            itype = _attribute(attributes, "instanceType")
            zone = _attribute(attributes, "availabilityZone")
            ends = _time(_attribute(attributes, "endDateTime"))
            fee, unused = entry["fee"], entry["unused_fee"]
            out.append(
                Commitment(
                    commitment_id=key,
                    kind="reserved-instance",
                    category="Usage",
                    type_name="Reserved Instance",
                    instance_types=(itype,) if itype else (),
                    zones=(zone,) if zone else (),
                    provider="AWS",
                    currency="USD",
                    committed=fee,
                    used=fee - unused,
                    unused=unused,
                    utilisation=(fee - unused) / fee if fee > 0 else None,
                    used_hours=entry["hours"] - entry["unused_hours"],
                    unused_hours=entry["unused_hours"],
                    purchased=0.0,
                    end=ends,
                )
            )
            terms.append(Term(key, "reserved-instance", ends, instance_type=itype, zone=zone,
                              source="cost-explorer"))  # fmt: skip
        return out, terms

    def reservation_coverage(self, start: date, end: date) -> list[CoverageRow]:
        """Reserved vs on-demand instance-hours per instance type (Cost Explorer has no spot
        hours here: they are left at 0, and the document says so)."""
        params = {
            "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
            "GroupBy": [{"Type": "DIMENSION", "Key": "INSTANCE_TYPE"}],
        }
        pages = self._ce_pages("get_reservation_coverage", params, "NextPageToken")
        hours: dict[str, list[float]] = {}
        for page in pages:
            for period in page.get("CoveragesByTime", []):
                for group in period.get("Groups", []):
                    itype = _attribute(group.get("Attributes", {}) or {}, "instanceType")
                    if not itype:
                        continue
                    coverage = group.get("Coverage", {})
                    cover = coverage.get("CoverageHours", {})
                    row = hours.setdefault(itype, [0.0, 0.0, 0.0])
                    row[0] += _float(cover.get("ReservedHours"))
                    row[1] += _float(cover.get("OnDemandHours"))
                    row[2] += _float(coverage.get("CoverageCost", {}).get("OnDemandCost"))
        return [CoverageRow(t, r, o, 0.0, c) for t, (r, o, c) in sorted(hours.items())]

    def savings_plans_coverage(self, start: date, end: date) -> dict[str, tuple[float, float]]:
        """Per instance family: (spend covered by Savings Plans, on-demand spend)."""
        params = {
            "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
            "GroupBy": [{"Type": "DIMENSION", "Key": "INSTANCE_TYPE_FAMILY"}],
        }
        pages = self._ce_pages("get_savings_plans_coverage", params, "NextToken")
        out: dict[str, tuple[float, float]] = {}
        for page in pages:
            for item in page.get("SavingsPlansCoverages", []):
                family = _attribute(item.get("Attributes", {}) or {}, "INSTANCE_TYPE_FAMILY")
                if not family:
                    continue
                data = item.get("Coverage", {})
                covered, on_demand = out.get(family, (0.0, 0.0))
                out[family] = (
                    covered + _float(data.get("SpendCoveredBySavingsPlans")),
                    on_demand + _float(data.get("OnDemandCost")),
                )
        return out

    def recommendation(
        self,
        *,
        term: str = "ONE_YEAR",
        payment: str = "NO_UPFRONT",
        lookback: str = "THIRTY_DAYS",
        plan_type: str = "COMPUTE_SP",
    ) -> Recommendation | None:
        params = {
            "SavingsPlansType": plan_type,
            "TermInYears": term,
            "PaymentOption": payment,
            "LookbackPeriodInDays": lookback,
        }
        page = self._ce_pages("get_savings_plans_purchase_recommendation", params, "NextPageToken")
        found = page[0].get("SavingsPlansPurchaseRecommendation", {}) if page else {}
        summary = found.get("SavingsPlansPurchaseRecommendationSummary")
        if not summary:
            return None
        return Recommendation(
            hourly_commitment=_float(summary.get("HourlyCommitmentToPurchase")),
            estimated_savings=_float(summary.get("EstimatedSavingsAmount")),
            estimated_savings_pct=_float(summary.get("EstimatedSavingsPercentage")),
            current_on_demand_spend=_float(summary.get("CurrentOnDemandSpend")),
            lookback_days=lookback,
            term=term,
            payment=payment,
            savings_plan_type=plan_type,
        )

    # ---- EC2 --------------------------------------------------------------------------------
    def _ec2(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        import botocore.exceptions

        try:
            return dict(getattr(self.ec2, operation)(**params))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
            raise aws.translate(err, "ec2", operation) from None

    def capacity_reservations(self) -> list[Term]:
        """Every capacity reservation and Capacity Block the account holds, with its end."""
        if self.ec2 is None:
            return []
        out: list[Term] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"MaxResults": 1000}
            if token:
                params["NextToken"] = token
            page = self._ec2("describe_capacity_reservations", params)
            for item in page.get("CapacityReservations", []):
                kind = (
                    "capacity-block"
                    if item.get("ReservationType") == "capacity-block"
                    else "capacity-reservation"
                )
                out.append(
                    Term(
                        commitment_id=str(item.get("CapacityReservationId", "")),
                        kind=kind,
                        end=_time(item.get("EndDate")),
                        start=_time(item.get("StartDate")),
                        instance_type=item.get("InstanceType"),
                        zone=item.get("AvailabilityZone"),
                        count=item.get("TotalInstanceCount"),
                        source="ec2",
                    )
                )
            token = page.get("NextToken") or None
            if token is None:
                break
        return out

    def block_offerings(
        self, instance_type: str, count: int, hours: int, start: datetime | None
    ) -> list[BlockOffering]:
        """Capacity Block offerings for ``count`` x ``instance_type`` over ``hours``."""
        if self.ec2 is None:
            return []
        params: dict[str, Any] = {
            "InstanceType": instance_type,
            "InstanceCount": count,
            "CapacityDurationHours": hours,
        }
        if start is not None:
            params["StartDateRange"] = start
        page = self._ec2("describe_capacity_block_offerings", params)
        return [
            BlockOffering(
                offering_id=str(item.get("CapacityBlockOfferingId", "")),
                instance_type=str(item.get("InstanceType", instance_type)),
                zone=str(item.get("AvailabilityZone", "")),
                count=int(item.get("InstanceCount") or count),
                start=_time(item.get("StartDate")),
                end=_time(item.get("EndDate")),
                hours=int(item.get("CapacityBlockDurationHours") or hours),
                upfront=_float(item.get("UpfrontFee")),
                currency=str(item.get("CurrencyCode") or "USD"),
            )
            for item in page.get("CapacityBlockOfferings", [])
        ]
