"""Savings Plan rates from a Price List bulk Savings Plans offer file (the ``savingsPlan`` JSON:
``products`` with ``productFamily`` / ``purchaseOption`` / ``purchaseTerm``, ``terms.savingsPlan``
with ``rates[].discountedRate``), no network. The fixture is shaped like the published file; its
prices are test values chosen to give round discounts off the catalog's on-demand prices."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from finops_cli.errors import UsageError
from finops_cli.pricing.aws_refresh import merge_rates, savings_plan_rates, write_rates
from finops_cli.pricing.commitment_rates import find_rate, load_rates, parse_rates

OFFER = Path(__file__).parents[1] / "fixtures" / "pricing" / "savings-plan-offer.json"
ON_DEMAND = {
    ("p5.48xlarge", "us-east-1"): (55.04, "AWS News Blog 2025-06-05 price reduction, 2025-06-05"),
    ("p4d.24xlarge", "us-east-1"): (21.957642, "catalog"),
    ("g5.12xlarge", "us-east-1"): (5.672, "catalog"),
    ("g6.xlarge", "us-east-1"): (0.8048, "catalog"),
    ("m6i.xlarge", "us-east-1"): (0.192, "catalog"),
}
GPUS = ("p5.48xlarge", "p4d.24xlarge", "g5.12xlarge", "g6.xlarge")


def _offer() -> dict:
    return json.loads(OFFER.read_text())


def test_compute_savings_plan_rates_and_discounts():
    rates = savings_plan_rates(_offer(), ON_DEMAND, instance_types=GPUS)
    got = {(r.instance_type, r.term, r.payment): r for r in rates}
    # Linux shared tenancy only: the Windows and dedicated p5 rates, the CPU type and the
    # us-west-2 rate (no catalog price there) are left out
    assert set(got) == {
        ("p5.48xlarge", "1yr", "no-upfront"),
        ("p5.48xlarge", "3yr", "all-upfront"),
        ("p4d.24xlarge", "1yr", "no-upfront"),
        ("g5.12xlarge", "1yr", "no-upfront"),
        ("g6.xlarge", "1yr", "no-upfront"),
    }
    discounts = {k: r.discount for k, r in got.items()}
    assert discounts[("p5.48xlarge", "1yr", "no-upfront")] == pytest.approx(0.25)
    assert discounts[("p5.48xlarge", "3yr", "all-upfront")] == pytest.approx(0.50)
    assert discounts[("p4d.24xlarge", "1yr", "no-upfront")] == pytest.approx(0.23)
    assert discounts[("g5.12xlarge", "1yr", "no-upfront")] == pytest.approx(0.28)
    assert discounts[("g6.xlarge", "1yr", "no-upfront")] == pytest.approx(0.26)
    p5 = got[("p5.48xlarge", "1yr", "no-upfront")]
    assert p5.hourly == pytest.approx(41.28) and p5.region == "us-east-1"
    assert p5.kind == "savings-plan" and p5.verified and p5.as_of == date(2026, 11, 20)
    assert "Compute Savings Plan, version 20261120163512" in p5.source
    assert "55.04" in p5.source


def test_ec2_instance_family_and_every_type():
    rates = savings_plan_rates(_offer(), ON_DEMAND, family="EC2InstanceSavingsPlans")
    (p5,) = rates
    assert p5.discount == pytest.approx(0.30) and "EC2 Instance Savings Plan" in p5.source
    every = savings_plan_rates(_offer(), ON_DEMAND)
    assert "m6i.xlarge" in {r.instance_type for r in every}


def test_merged_written_and_read_back(tmp_path):
    fresh = savings_plan_rates(_offer(), ON_DEMAND, instance_types=GPUS)
    packaged = load_rates()
    merged = merge_rates(packaged, fresh)
    path = tmp_path / "aws.csv"
    write_rates(merged, path)
    back = parse_rates(path.read_text(), str(path))
    assert len(back) == len(packaged) + len(fresh)
    assert {r.kind for r in back} == {"capacity-block", "savings-plan"}
    p5 = find_rate(back, "savings-plan", "p5.48xlarge", "us-east-1")
    assert p5 is not None and p5.term == "1yr" and p5.payment == "no-upfront"
    assert p5.discount == pytest.approx(0.25) and p5.verified
    fallback = find_rate(back, "savings-plan", "g6e.12xlarge")  # not in the offer: the "*" row
    assert fallback is not None and fallback.instance_type == "*" and not fallback.verified
    again = merge_rates(back, fresh)  # refreshing twice replaces, never duplicates
    assert len(again) == len(back)


@pytest.mark.parametrize(
    "document", [{}, {"products": [], "terms": {}}, {"products": [], "terms": {"savingsPlan": []}}]
)
def test_not_an_offer_file_is_a_usage_error(document):
    with pytest.raises(UsageError, match="not a Price List Savings Plans offer file"):
        savings_plan_rates(document, ON_DEMAND)
