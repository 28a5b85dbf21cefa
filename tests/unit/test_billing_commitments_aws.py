"""Commitments from Cost Explorer and EC2 through botocore's Stubber, which checks every request
and response against the real ``ce`` and ``ec2`` models: Savings Plan utilisation details
(paged), Reserved Instance utilisation by subscription, reservation and Savings Plan coverage,
the purchase recommendation, capacity reservations and Capacity Block offerings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import boto3
import botocore.config
import pytest
from botocore.stub import Stubber

from finops_cli.analytics.commitments import commitment_report, expiring
from finops_cli.errors import SourceError
from finops_cli.sources.commitments_aws import CommitmentApis
from finops_cli.sources.cost_explorer import CostExplorerSource

START, END = date(2026, 10, 1), date(2026, 10, 8)
PERIOD = {"Start": "2026-10-01", "End": "2026-10-08"}
SP_ARN = "arn:aws:savingsplans::111122223333:savingsplan/sp-1"


def _client(service):
    return boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.fixture
def apis():
    ce, ec2 = _client("ce"), _client("ec2")
    with Stubber(ce) as ce_stub, Stubber(ec2) as ec2_stub:
        yield CommitmentApis(CostExplorerSource(ce), ec2), ce_stub, ec2_stub
        ce_stub.assert_no_pending_responses()
        ec2_stub.assert_no_pending_responses()


def _sp_detail(arn, total, used, end):
    return {
        "SavingsPlanArn": arn,
        "Attributes": {"EndDateTime": end, "InstanceFamily": "p5", "SavingsPlansType": "Compute"},
        "Utilization": {
            "TotalCommitment": str(total),
            "UsedCommitment": str(used),
            "UnusedCommitment": str(total - used),
            "UtilizationPercentage": str(100 * used / total),
        },
        "AmortizedCommitment": {"TotalAmortizedCommitment": str(total)},
    }


def test_savings_plan_utilisation_details_paged(apis):
    api, ce, _ = apis
    request = {"TimePeriod": PERIOD}
    ce.add_response(
        "get_savings_plans_utilization_details",
        {
            "SavingsPlansUtilizationDetails": [
                _sp_detail(SP_ARN, 8400.0, 6048.0, "2027-01-01T00:00:00.000Z")
            ],
            "TimePeriod": PERIOD,
            "NextToken": "page-2",
        },
        request,
    )
    ce.add_response(
        "get_savings_plans_utilization_details",
        {
            "SavingsPlansUtilizationDetails": [
                _sp_detail("arn:sp-2", 100.0, 100.0, "2026-10-20T00:00:00Z")
            ],
            "TimePeriod": PERIOD,
        },
        request | {"NextToken": "page-2"},
    )
    plans, terms = api.savings_plans(START, END)
    assert [p.commitment_id for p in plans] == [SP_ARN, "arn:sp-2"]
    assert plans[0].unused == pytest.approx(2352.0)
    assert plans[0].utilisation == pytest.approx(0.72)
    assert api.ce.paid_calls == 2
    soon = expiring(terms, datetime(2026, 10, 8, tzinfo=UTC), timedelta(days=30))
    assert [t.commitment_id for t in soon] == ["arn:sp-2"]


def test_reservations_by_subscription_and_coverage(apis):
    api, ce, _ = apis
    aggregates = {
        "PurchasedHours": "168", "TotalActualHours": "120", "UnusedHours": "48",
        "TotalAmortizedFee": "1680.0", "RICostForUnusedHours": "480.0",
        "UtilizationPercentage": "71.43",
    }  # fmt: skip
    ce.add_response(
        "get_reservation_utilization",
        {
            "UtilizationsByTime": [
                {
                    "TimePeriod": PERIOD,
                    "Groups": [
                        {
                            "Key": "SUBSCRIPTION_ID",
                            "Value": "ri-123",
                            "Attributes": {
                                "instanceType": "g6e.12xlarge",
                                "availabilityZone": "us-east-1a",
                                "endDateTime": "2026-10-15T00:00:00.000Z",
                            },
                            "Utilization": aggregates,
                        }
                    ],
                    "Total": aggregates,
                }
            ],
            "Total": aggregates,
        },
        {"TimePeriod": PERIOD, "GroupBy": [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}]},
    )
    ce.add_response(
        "get_reservation_coverage",
        {
            "CoveragesByTime": [
                {
                    "TimePeriod": PERIOD,
                    "Groups": [
                        {
                            "Attributes": {"instanceType": "g6e.12xlarge"},
                            "Coverage": {
                                "CoverageHours": {
                                    "OnDemandHours": "40", "ReservedHours": "120",
                                    "TotalRunningHours": "160", "CoverageHoursPercentage": "75",
                                },
                                "CoverageCost": {"OnDemandCost": "419.71"},
                            },
                        }
                    ],
                }
            ]
        },
        {"TimePeriod": PERIOD, "GroupBy": [{"Type": "DIMENSION", "Key": "INSTANCE_TYPE"}]},
    )  # fmt: skip
    reservations, terms = api.reservations(START, END)
    coverage = api.reservation_coverage(START, END)
    assert reservations[0].unused == pytest.approx(480.0)
    assert reservations[0].utilisation == pytest.approx(1200 / 1680)
    assert reservations[0].unused_hours == 48
    assert terms[0].zone == "us-east-1a"
    assert coverage[0].coverage == pytest.approx(0.75)
    assert coverage[0].on_demand_cost == pytest.approx(419.71)


def test_savings_plans_coverage_and_recommendation(apis):
    api, ce, _ = apis
    ce.add_response(
        "get_savings_plans_coverage",
        {
            "SavingsPlansCoverages": [
                {
                    "Attributes": {"INSTANCE_TYPE_FAMILY": "p5"},
                    "Coverage": {
                        "SpendCoveredBySavingsPlans": "6048", "OnDemandCost": "1000",
                        "TotalCost": "7048", "CoveragePercentage": "85.8",
                    },
                    "TimePeriod": PERIOD,
                }
            ]
        },
        {"TimePeriod": PERIOD, "GroupBy": [{"Type": "DIMENSION", "Key": "INSTANCE_TYPE_FAMILY"}]},
    )  # fmt: skip
    ce.add_response(
        "get_savings_plans_purchase_recommendation",
        {
            "Metadata": {"RecommendationId": "rec-1"},
            "SavingsPlansPurchaseRecommendation": {
                "SavingsPlansType": "COMPUTE_SP",
                "TermInYears": "ONE_YEAR",
                "PaymentOption": "NO_UPFRONT",
                "LookbackPeriodInDays": "THIRTY_DAYS",
                "SavingsPlansPurchaseRecommendationSummary": {
                    "HourlyCommitmentToPurchase": "36.5",
                    "EstimatedSavingsAmount": "5000",
                    "EstimatedSavingsPercentage": "18.5",
                    "CurrentOnDemandSpend": "27000",
                    "CurrencyCode": "USD",
                },
            },
        },
        {
            "SavingsPlansType": "COMPUTE_SP",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
            "LookbackPeriodInDays": "THIRTY_DAYS",
        },
    )
    assert api.savings_plans_coverage(START, END) == {"p5": (6048.0, 1000.0)}
    recommendation = api.recommendation()
    assert recommendation is not None
    assert recommendation.hourly_commitment == 36.5


def test_capacity_reservations_and_block_offerings(apis):
    api, _, ec2 = apis
    ends = datetime(2026, 10, 10, 11, 30, tzinfo=UTC)
    ec2.add_response(
        "describe_capacity_reservations",
        {
            "CapacityReservations": [
                {
                    "CapacityReservationId": "cr-0cb1",
                    "InstanceType": "p5.48xlarge",
                    "AvailabilityZone": "us-east-1c",
                    "TotalInstanceCount": 4,
                    "AvailableInstanceCount": 1,
                    "State": "active",
                    "StartDate": datetime(2026, 10, 3, 11, 30, tzinfo=UTC),
                    "EndDate": ends,
                    "ReservationType": "capacity-block",
                },
                {
                    "CapacityReservationId": "cr-0odcr",
                    "InstanceType": "g6e.12xlarge",
                    "AvailabilityZone": "us-east-1a",
                    "TotalInstanceCount": 2,
                    "AvailableInstanceCount": 1,
                    "State": "active",
                    "ReservationType": "default",
                },
            ]
        },
        {"MaxResults": 1000},
    )
    start = datetime(2026, 11, 1, tzinfo=UTC)
    ec2.add_response(
        "describe_capacity_block_offerings",
        {
            "CapacityBlockOfferings": [
                {
                    "CapacityBlockOfferingId": "cbo-1",
                    "InstanceType": "p5.48xlarge",
                    "AvailabilityZone": "us-east-1a",
                    "InstanceCount": 8,
                    "StartDate": start,
                    "EndDate": start + timedelta(days=14),
                    "CapacityBlockDurationHours": 336,
                    "UpfrontFee": "84574.08",
                    "CurrencyCode": "USD",
                }
            ]
        },
        {
            "InstanceType": "p5.48xlarge",
            "InstanceCount": 8,
            "CapacityDurationHours": 336,
            "StartDateRange": start,
        },
    )
    terms = api.capacity_reservations()
    assert [(t.commitment_id, t.kind) for t in terms] == [
        ("cr-0cb1", "capacity-block"),
        ("cr-0odcr", "capacity-reservation"),
    ]
    assert terms[0].end == ends
    offers = api.block_offerings("p5.48xlarge", 8, 336, start)
    assert offers[0].hourly_per_instance == pytest.approx(84574.08 / 336 / 8)
    import pandas as pd

    from finops_cli.sources.focus_commitments import COMMITMENT_COLUMNS

    report = commitment_report(
        pd.DataFrame(columns=list(COMMITMENT_COLUMNS)),
        terms=terms,
        now=datetime(2026, 10, 8, tzinfo=UTC),
    )
    assert [t.commitment_id for t in report.expiring] == ["cr-0cb1"]


def test_access_denied_is_one_line(apis):
    api, ce, _ = apis
    ce.add_client_error(
        "get_savings_plans_utilization_details",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform ce:GetSavingsPlansUtilizationDetails",
        http_status_code=400,
    )
    with pytest.raises(SourceError) as err:
        api.savings_plans(START, END)
    assert "\n" not in str(err.value)
    assert "ce:GetSavingsPlansUtilizationDetails" in str(err.value)
