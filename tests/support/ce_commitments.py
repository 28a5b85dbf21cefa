"""A planted commitment scenario, answered the way Cost Explorer and EC2 answer it.

``fake_ce`` serves it over HTTP (Cost Explorer's JSON 1.1 protocol, EC2's query protocol with XML
answers), so the installed ``finops`` reads it through real boto3. Every answer is paged the way
the real API pages (``NextToken`` for the Savings Plans operations, ``NextPageToken`` for the
reservation ones and the recommendation, EC2's ``NextToken``) and every figure below is the
ground truth the end-to-end tests check to the cent.

The scenario, over three days (2026-10-01 to 2026-10-04, 72 hours):

* ``SP_GPU``: a Compute Savings Plan, $50/h: 3,600.00 committed, 1,908.4032 used (a p5.48xlarge
  for 48 h at 39.6288 and an m6i.xlarge at 0.1296), 1,691.5968 unused; ends in 10 days.
* ``SP_G6``: an EC2 Instance Savings Plan for g6, $2/h: 144.00 committed, 120.50 used, 23.50
  unused; ends in a year.
* ``SP_CPU``: an m6i Savings Plan, $1/h, fully used (not a GPU family: no family row).
* ``RI_G5``: two g5.12xlarge Reserved Instances, 144 purchased hours at an amortized 3.4032/h,
  30 of them unused (10 a day): fee 490.0608, unused 102.096; ends in 20 days.
* Reservation coverage: g5.12xlarge 114 reserved / 30 on-demand hours (170.16 on demand),
  p5.48xlarge 0 / 48 (2,641.92), m6i.xlarge 10 / 62 (not a GPU type).
* EC2: an on-demand capacity reservation (g6e.12xlarge, us-east-1a) ending in 5 days and a
  Capacity Block (4 x p5.48xlarge, us-east-1c) ending in 2 days; one page each of size 1.
* Cost Explorer's recommendation: 21.75/h (Compute SP, 1 year, no upfront, 30 days).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

START, END = date(2026, 10, 1), date(2026, 10, 4)
DAYS = (END - START).days
SP_GPU = "arn:aws:savingsplans::111122223333:savingsplan/0f1e2d3c-gpu"
SP_G6 = "arn:aws:savingsplans::111122223333:savingsplan/1a2b3c4d-g6"
SP_CPU = "arn:aws:savingsplans::111122223333:savingsplan/9e8d7c6b-cpu"
RI_G5 = "4c8e1d2a-1111-2222-3333-ri0g5000001"
ODCR = "cr-0a1b2c3d4e5f60001"
CB = "cr-0cb5c4b3a2f100002"
RECOMMENDED = 21.75

# (arn, type, family, hourly, used): used over the whole window
PLANS = (
    (SP_GPU, "Compute", "p5", 50.0, 48 * (39.6288 + 0.1296)),
    (SP_G6, "EC2Instance", "g6", 2.0, 120.5),
    (SP_CPU, "EC2Instance", "m6i", 1.0, 72.0),
)
RI_RATE = 3.4032
RI_HOURS_PER_DAY = 48.0
RI_UNUSED_PER_DAY = 10.0
# instance type -> (reserved hours, on-demand hours, on-demand cost) over the window
COVERAGE = {
    "g5.12xlarge": (114.0, 30.0, 30 * 5.672),
    "p5.48xlarge": (0.0, 48.0, 48 * 55.04),
    "m6i.xlarge": (10.0, 62.0, 62 * 0.192),
}


def _money(value: float) -> str:
    return f"{value:.10f}".rstrip("0").rstrip(".")


def _days() -> list[tuple[str, str]]:
    return [
        ((START + timedelta(days=i)).isoformat(), (START + timedelta(days=i + 1)).isoformat())
        for i in range(DAYS)
    ]


@dataclass
class CommitmentScenario:
    """Answers for the commitment operations; ``page_size`` items per page."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    page_size: int = 2

    # ---- ground truth ---------------------------------------------------------------------
    def ends(self) -> dict[str, datetime]:
        day = self.now.replace(hour=0, minute=0, second=0, microsecond=0)
        return {
            SP_GPU: day + timedelta(days=10),
            SP_G6: day + timedelta(days=365),
            SP_CPU: day + timedelta(days=200),
            RI_G5: day + timedelta(days=20),
            ODCR: day + timedelta(days=5),
            CB: day + timedelta(days=2),
        }

    @staticmethod
    def truth() -> dict[str, dict[str, float]]:
        """Per commitment: committed, used, unused money over the window."""
        out = {
            arn: {"committed": hourly * 72, "used": used, "unused": hourly * 72 - used}
            for arn, _, _, hourly, used in PLANS
        }
        fee = RI_RATE * RI_HOURS_PER_DAY * DAYS
        unused = RI_RATE * RI_UNUSED_PER_DAY * DAYS
        out[RI_G5] = {"committed": fee, "used": fee - unused, "unused": unused}
        return out

    # ---- paging ---------------------------------------------------------------------------
    def _page(self, items: list[Any], token: str | None) -> tuple[list[Any], str | None]:
        first = int(token.removeprefix("page-")) if token else 0
        rest = first + self.page_size
        return items[first:rest], (f"page-{rest}" if rest < len(items) else None)

    # ---- Cost Explorer ----------------------------------------------------------------------
    def answer(self, operation: str, body: dict[str, Any]) -> dict[str, Any] | None:
        handler = getattr(self, "_" + re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower(), None)
        return None if handler is None else handler(body)

    def _plan_detail(self, arn: str, kind: str, family: str, hourly: float, used: float) -> dict:
        total = hourly * 72
        return {
            "SavingsPlanArn": arn,
            "Attributes": {
                "EndDateTime": self.ends()[arn].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "InstanceFamily": family,
                "SavingsPlansType": kind,
                "Region": "us-east-1",
                "PaymentOption": "No Upfront",
            },
            "Utilization": {
                "TotalCommitment": _money(total),
                "UsedCommitment": _money(used),
                "UnusedCommitment": _money(total - used),
                "UtilizationPercentage": _money(100 * used / total),
            },
            "Savings": {"NetSavings": "0", "OnDemandCostEquivalent": _money(used / 0.72)},
            "AmortizedCommitment": {
                "AmortizedRecurringCommitment": _money(total),
                "AmortizedUpfrontCommitment": "0",
                "TotalAmortizedCommitment": _money(total),
            },
        }

    def _get_savings_plans_utilization_details(self, body: dict[str, Any]) -> dict[str, Any]:
        details = [self._plan_detail(*plan) for plan in PLANS]
        page, token = self._page(details, body.get("NextToken"))
        total = sum(p[3] for p in PLANS) * 72
        used = sum(p[4] for p in PLANS)
        answer: dict[str, Any] = {
            "SavingsPlansUtilizationDetails": page,
            "TimePeriod": body["TimePeriod"],
            "Total": {
                "Utilization": {
                    "TotalCommitment": _money(total),
                    "UsedCommitment": _money(used),
                    "UnusedCommitment": _money(total - used),
                    "UtilizationPercentage": _money(100 * used / total),
                }
            },
        }
        if token:
            answer["NextToken"] = token
        return answer

    def _get_savings_plans_utilization(self, body: dict[str, Any]) -> dict[str, Any]:
        total = sum(p[3] for p in PLANS) * 72
        used = sum(p[4] for p in PLANS)
        use = {
            "TotalCommitment": _money(total),
            "UsedCommitment": _money(used),
            "UnusedCommitment": _money(total - used),
            "UtilizationPercentage": _money(100 * used / total),
        }
        by_time = [
            {
                "TimePeriod": {"Start": a, "End": b},
                "Utilization": {
                    "TotalCommitment": _money(total / DAYS),
                    "UsedCommitment": _money(used / DAYS),
                    "UnusedCommitment": _money((total - used) / DAYS),
                    "UtilizationPercentage": _money(100 * used / total),
                },
            }
            for a, b in _days()
        ]
        return {"SavingsPlansUtilizationsByTime": by_time, "Total": {"Utilization": use}}

    def _get_savings_plans_coverage(self, body: dict[str, Any]) -> dict[str, Any]:
        rows = []
        for _, _, family, _, used in PLANS:
            on_demand = {"p5": 48 * 55.04, "g6": 12.0, "m6i": 0.0}[family]
            covered = used / 0.72
            rows.append(
                {
                    "Attributes": {"INSTANCE_TYPE_FAMILY": family},
                    "Coverage": {
                        "SpendCoveredBySavingsPlans": _money(covered),
                        "OnDemandCost": _money(on_demand),
                        "TotalCost": _money(covered + on_demand),
                        "CoveragePercentage": _money(100 * covered / (covered + on_demand)),
                    },
                    "TimePeriod": {"Start": START.isoformat(), "End": END.isoformat()},
                }
            )
        page, token = self._page(rows, body.get("NextToken"))
        answer: dict[str, Any] = {"SavingsPlansCoverages": page}
        if token:
            answer["NextToken"] = token
        return answer

    def _get_reservation_utilization(self, body: dict[str, Any]) -> dict[str, Any]:
        ends = self.ends()[RI_G5]
        periods = []
        for a, b in _days():
            used = RI_HOURS_PER_DAY - RI_UNUSED_PER_DAY
            use = {
                "UtilizationPercentage": _money(100 * used / RI_HOURS_PER_DAY),
                "PurchasedHours": _money(RI_HOURS_PER_DAY),
                "TotalActualHours": _money(used),
                "UnusedHours": _money(RI_UNUSED_PER_DAY),
                "TotalAmortizedFee": _money(RI_RATE * RI_HOURS_PER_DAY),
                "RICostForUnusedHours": _money(RI_RATE * RI_UNUSED_PER_DAY),
                "AmortizedRecurringFee": _money(RI_RATE * RI_HOURS_PER_DAY),
                "AmortizedUpfrontFee": "0",
                "OnDemandCostOfRIHoursUsed": _money(5.672 * used),
                "NetRISavings": _money((5.672 - RI_RATE) * used - RI_RATE * RI_UNUSED_PER_DAY),
            }
            periods.append(
                {
                    "TimePeriod": {"Start": a, "End": b},
                    "Groups": [
                        {
                            "Key": "SUBSCRIPTION_ID",
                            "Value": RI_G5,
                            "Attributes": {
                                "instanceType": "g5.12xlarge",
                                "availabilityZone": "us-east-1a",
                                "numberOfInstances": "2",
                                "endDateTime": ends.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                                "subscriptionStatus": "Active",
                            },
                            "Utilization": use,
                        }
                    ],
                    "Total": use,
                }
            )
        page, token = self._page(periods, body.get("NextPageToken"))
        answer: dict[str, Any] = {"UtilizationsByTime": page}
        if token:
            answer["NextPageToken"] = token
        return answer

    def _get_reservation_coverage(self, body: dict[str, Any]) -> dict[str, Any]:
        periods = []
        for a, b in _days():
            groups = []
            for itype, (reserved, on_demand, cost) in COVERAGE.items():
                total = reserved + on_demand
                groups.append(
                    {
                        "Attributes": {"instanceType": itype, "region": "us-east-1"},
                        "Coverage": {
                            "CoverageHours": {
                                "ReservedHours": _money(reserved / DAYS),
                                "OnDemandHours": _money(on_demand / DAYS),
                                "TotalRunningHours": _money(total / DAYS),
                                "CoverageHoursPercentage": _money(100 * reserved / total),
                            },
                            "CoverageCost": {"OnDemandCost": _money(cost / DAYS)},
                        },
                    }
                )
            periods.append({"TimePeriod": {"Start": a, "End": b}, "Groups": groups})
        page, token = self._page(periods, body.get("NextPageToken"))
        answer: dict[str, Any] = {"CoveragesByTime": page}
        if token:
            answer["NextPageToken"] = token
        return answer

    def _get_savings_plans_purchase_recommendation(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "Metadata": {
                "RecommendationId": "rec-0001",
                "GenerationTimestamp": "2026-10-04T06:00:00Z",
            },
            "SavingsPlansPurchaseRecommendation": {
                "AccountScope": "PAYER",
                "SavingsPlansType": body["SavingsPlansType"],
                "TermInYears": body["TermInYears"],
                "PaymentOption": body["PaymentOption"],
                "LookbackPeriodInDays": body["LookbackPeriodInDays"],
                "SavingsPlansPurchaseRecommendationSummary": {
                    "HourlyCommitmentToPurchase": _money(RECOMMENDED),
                    "EstimatedSavingsAmount": "4567.89",
                    "EstimatedSavingsPercentage": "22.5",
                    "CurrentOnDemandSpend": "20301.12",
                    "CurrencyCode": "USD",
                    "TotalRecommendationCount": "1",
                },
            },
        }

    # ---- EC2 ----------------------------------------------------------------------------------
    def ec2(self, operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
        ends = self.ends()
        if operation == "DescribeCapacityReservations":
            day = self.now.replace(hour=0, minute=0, second=0, microsecond=0)
            reservations = [
                {
                    "CapacityReservationId": ODCR,
                    "InstanceType": "g6e.12xlarge",
                    "InstancePlatform": "Linux/UNIX",
                    "AvailabilityZone": "us-east-1a",
                    "Tenancy": "default",
                    "TotalInstanceCount": 2,
                    "AvailableInstanceCount": 1,
                    "State": "active",
                    "StartDate": day - timedelta(days=60),
                    "EndDate": ends[ODCR],
                    "EndDateType": "limited",
                    "InstanceMatchCriteria": "open",
                    "CreateDate": day - timedelta(days=60),
                    "ReservationType": "default",
                },
                {
                    "CapacityReservationId": CB,
                    "InstanceType": "p5.48xlarge",
                    "InstancePlatform": "Linux/UNIX",
                    "AvailabilityZone": "us-east-1c",
                    "Tenancy": "default",
                    "TotalInstanceCount": 4,
                    "AvailableInstanceCount": 1,
                    "State": "active",
                    "StartDate": day - timedelta(days=12),
                    "EndDate": ends[CB],
                    "EndDateType": "limited",
                    "InstanceMatchCriteria": "targeted",
                    "CreateDate": day - timedelta(days=20),
                    "ReservationType": "capacity-block",
                },
            ]
            size = 1
            first = int(str(params.get("NextToken", "page-0")).removeprefix("page-"))
            answer: dict[str, Any] = {
                "CapacityReservations": reservations[first : first + size],
            }
            if first + size < len(reservations):
                answer["NextToken"] = f"page-{first + size}"
            return answer
        if operation == "DescribeCapacityBlockOfferings":
            start = params.get("StartDateRange") or self.now + timedelta(days=7)
            hours = int(params["CapacityDurationHours"])
            count = int(params["InstanceCount"])
            offers = []
            for n, (zone, rate) in enumerate((("us-east-1c", 31.464), ("us-east-1a", 33.0))):
                offers.append(
                    {
                        "CapacityBlockOfferingId": f"cbo-0abc{n:012d}",
                        "InstanceType": params["InstanceType"],
                        "AvailabilityZone": zone,
                        "InstanceCount": count,
                        "StartDate": start,
                        "EndDate": start + timedelta(hours=hours),
                        "CapacityBlockDurationHours": hours,
                        "UpfrontFee": _money(rate * hours * count),
                        "CurrencyCode": "USD",
                        "Tenancy": "default",
                    }
                )
            return {"CapacityBlockOfferings": offers}
        return None
