"""The local Cost Explorer / EC2 endpoint rejects what the real API would reject: a request
that botocore's model refuses, an EC2 parameter the operation lacks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.support.ce_commitments import CommitmentScenario
from tests.support.fake_ce import fake_cost_explorer


def _post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_a_request_outside_the_model_is_refused_and_recorded():
    with fake_cost_explorer(commitments=CommitmentScenario()) as fake:
        status, text = _post(
            fake.url,
            json.dumps({"TimePeriod": {"Start": "2026-10-01"}, "Bogus": 1}).encode(),
            {
                "X-Amz-Target": "AWSInsightsIndexService.GetSavingsPlansUtilizationDetails",
                "Content-Type": "application/x-amz-json-1.1",
            },
        )
    assert status == 400 and "ValidationException" in text
    assert len(fake.invalid) == 1 and "Bogus" in fake.invalid[0] and "End" in fake.invalid[0]


@pytest.mark.parametrize(
    ("form", "needle"),
    [
        ("Action=DescribeCapacityReservations&Version=2016-11-15&Bogus=1", "unknown parameter"),
        ("Action=DescribeCapacityBlockOfferings&Version=2016-11-15&InstanceType=p5.48xlarge",
         "CapacityDurationHours"),
    ],
)  # fmt: skip
def test_ec2_requests_are_checked_against_the_model(form, needle):
    with fake_cost_explorer(commitments=CommitmentScenario()) as fake:
        status, text = _post(
            fake.url, form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )
    assert status == 400 and "<Code>" in text
    assert len(fake.invalid) == 1 and needle in fake.invalid[0]
