"""Live AWS refresh, against botocore's Stubber with responses shaped like the real APIs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from finops_cli.errors import EXIT_FAILURE, SourceError
from finops_cli.pricing import InstancePrice, load_catalog, read_catalog_file
from finops_cli.pricing.aws_refresh import (
    ON_DEMAND_SOURCE,
    SPOT_SOURCE,
    fetch_on_demand,
    fetch_spot,
    on_demand_filters,
    refresh_aws,
    refresh_rows,
    write_catalog,
)

boto3: Any = importlib.import_module("boto3")
Stubber: Any = importlib.import_module("botocore.stub").Stubber
botocore_exceptions: Any = importlib.import_module("botocore.exceptions")

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FAKE_KEYS = {"aws_access_key_id": "x", "aws_secret_access_key": "y"}


def pricing_client() -> Any:
    return boto3.client("pricing", region_name="us-east-1", **FAKE_KEYS)


def ec2_client() -> Any:
    return boto3.client("ec2", region_name="us-east-1", **FAKE_KEYS)


def price_list_item(
    instance_type: str, usd: str, *, sku: str = "Q5KJWQ2YNAMYTEWW", operation: str = "RunInstances"
) -> str:
    """One ``PriceList`` entry as the Price List API returns it: a JSON document in a string."""
    offer = f"{sku}.JRTCKXETXF"
    return json.dumps(
        {
            "product": {
                "productFamily": "Compute Instance",
                "attributes": {
                    "enhancedNetworkingSupported": "Yes",
                    "intelTurboAvailable": "Yes",
                    "memory": "2048 GiB",
                    "dedicatedEbsThroughput": "80000 Mbps",
                    "vcpu": "192",
                    "gpuMemory": "640 GB",
                    "capacitystatus": "Used",
                    "locationType": "AWS Region",
                    "storage": "8 x 3840 SSD",
                    "instanceFamily": "GPU instance",
                    "operatingSystem": "Linux",
                    "gpu": "8",
                    "regionCode": "us-east-1",
                    "servicecode": "AmazonEC2",
                    "physicalProcessor": "AMD EPYC 7R13 Processor",
                    "licenseModel": "No License required",
                    "instanceType": instance_type,
                    "tenancy": "Shared",
                    "usagetype": f"BoxUsage:{instance_type}",
                    "normalizationSizeFactor": "384",
                    "operation": operation,
                    "location": "US East (N. Virginia)",
                    "preInstalledSw": "NA",
                    "marketoption": "OnDemand",
                    "servicename": "Amazon Elastic Compute Cloud",
                },
                "sku": sku,
            },
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    offer: {
                        "priceDimensions": {
                            f"{offer}.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "endRange": "Inf",
                                "description": f"${usd} per On Demand Linux {instance_type} "
                                "Instance Hour",
                                "appliesTo": [],
                                "rateCode": f"{offer}.6YS6EN2CT7",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": usd},
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2026-03-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                }
            },
            "version": "20260301000000",
            "publicationDate": "2026-03-01T01:23:45Z",
        }
    )


def products_params(instance_type: str, token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ServiceCode": "AmazonEC2",
        "Filters": on_demand_filters(instance_type, "us-east-1"),
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    if token:
        params["NextToken"] = token
    return params


def spot_entry(zone: str, instance_type: str, price: str, hours_ago: float) -> dict[str, Any]:
    return {
        "AvailabilityZone": zone,
        "InstanceType": instance_type,
        "ProductDescription": "Linux/UNIX",
        "SpotPrice": price,
        "Timestamp": NOW - timedelta(hours=hours_ago),
    }


def spot_params(types: list[str], start: datetime, token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "InstanceTypes": types,
        "ProductDescriptions": ["Linux/UNIX"],
        "StartTime": start,
        "EndTime": NOW,
    }
    if token:
        params["NextToken"] = token
    return params


def stub_on_demand(stubber: Any) -> None:
    """p5.48xlarge over two pages, g5.12xlarge on one, p5e.48xlarge not on offer."""
    stubber.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [price_list_item("p5.48xlarge", "0.0000000000", sku="ZEROPLACEHOLDER")],
            "NextToken": "page-2-token",
        },
        products_params("p5.48xlarge"),
    )
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": [price_list_item("p5.48xlarge", "55.0400000000")]},
        products_params("p5.48xlarge", "page-2-token"),
    )
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": [price_list_item("g5.12xlarge", "5.6720000000")]},
        products_params("g5.12xlarge"),
    )
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": []},
        products_params("p5e.48xlarge"),
    )


SPOT_TYPES = ["g5.12xlarge", "g6.xlarge"]


def stub_spot(stubber: Any, start: datetime) -> None:
    """g5.12xlarge in three zones (older prices too) over two pages; g6.xlarge in one zone."""
    stubber.add_response(
        "describe_spot_price_history",
        {
            "SpotPriceHistory": [
                spot_entry("us-east-1a", "g5.12xlarge", "2.100000", 1),
                spot_entry("us-east-1a", "g5.12xlarge", "3.900000", 20),  # older: ignored
                spot_entry("us-east-1b", "g5.12xlarge", "2.500000", 5),
                spot_entry("us-east-1a", "g6.xlarge", "0.401000", 2),
            ],
            "NextToken": "spot-page-2",
        },
        spot_params(SPOT_TYPES, start),
    )
    stubber.add_response(
        "describe_spot_price_history",
        {
            "SpotPriceHistory": [
                spot_entry("us-east-1b", "g5.12xlarge", "1.000000", 30),  # older: ignored
                spot_entry("us-east-1c", "g5.12xlarge", "2.300000", 3),
            ],
            "NextToken": "",
        },
        spot_params(SPOT_TYPES, start, "spot-page-2"),
    )


@pytest.fixture
def stubbed_pricing() -> Iterator[tuple[Any, Any]]:
    client = pricing_client()
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def stubbed_ec2() -> Iterator[tuple[Any, Any]]:
    client = ec2_client()
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


# --- on-demand -----------------------------------------------------------------------------------


def test_fetch_on_demand_paginates_and_reads_the_price(stubbed_pricing: tuple[Any, Any]) -> None:
    client, stubber = stubbed_pricing
    stub_on_demand(stubber)
    prices = fetch_on_demand(client, ["p5.48xlarge", "g5.12xlarge", "p5e.48xlarge"], "us-east-1")
    assert prices == {"p5.48xlarge": 55.04, "g5.12xlarge": 5.672}


def test_the_filters_are_the_linux_on_demand_shared_tenancy_ones() -> None:
    filters = {f["Field"]: f["Value"] for f in on_demand_filters("p5.48xlarge", "eu-west-1")}
    assert filters == {
        "instanceType": "p5.48xlarge",
        "regionCode": "eu-west-1",
        "operatingSystem": "Linux",
        "preInstalledSw": "NA",
        "licenseModel": "No License required",
        "tenancy": "Shared",
        "capacitystatus": "Used",
        "marketoption": "OnDemand",
    }
    types = {f["Type"] for f in on_demand_filters("p5.48xlarge", "eu-west-1")}
    assert types == {"TERM_MATCH"}


def test_conflicting_products_prefer_plain_run_instances(
    stubbed_pricing: tuple[Any, Any],
) -> None:
    client, stubber = stubbed_pricing
    stubber.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [
                price_list_item(
                    "g6.xlarge", "0.9000000000", sku="A", operation="RunInstances:0g00"
                ),
                price_list_item("g6.xlarge", "0.8048000000", sku="B"),
            ],
        },
        products_params("g6.xlarge"),
    )
    assert fetch_on_demand(client, ["g6.xlarge"], "us-east-1") == {"g6.xlarge": 0.8048}


def test_unreadable_price_list_entry_is_a_source_error(stubbed_pricing: tuple[Any, Any]) -> None:
    client, stubber = stubbed_pricing
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": ["{not json"]},
        products_params("g6.xlarge"),
    )
    with pytest.raises(SourceError, match="unreadable PriceList entry"):
        fetch_on_demand(client, ["g6.xlarge"], "us-east-1")


def test_access_denied_is_one_line_naming_the_permission(stubbed_pricing: tuple[Any, Any]) -> None:
    client, stubber = stubbed_pricing
    stubber.add_client_error(
        "get_products",
        service_error_code="AccessDeniedException",
        service_message="User: arn:aws:iam::123456789012:user/ci is not authorized\n"
        "to perform: pricing:GetProducts",
        http_status_code=400,
        expected_params=products_params("p5.48xlarge"),
    )
    with pytest.raises(SourceError) as caught:
        fetch_on_demand(client, ["p5.48xlarge"], "us-east-1")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("AWS Price List (p5.48xlarge in us-east-1): AWS denied access")
    assert "AccessDeniedException" in message and "pricing:GetProducts permission" in message
    assert caught.value.exit_code == EXIT_FAILURE


def test_other_client_errors_are_one_line(stubbed_pricing: tuple[Any, Any]) -> None:
    client, stubber = stubbed_pricing
    stubber.add_client_error(
        "get_products", service_error_code="ThrottlingException", service_message="Rate\nexceeded"
    )
    with pytest.raises(SourceError, match=r"AWS answered ThrottlingException: Rate exceeded$"):
        fetch_on_demand(client, ["p5.48xlarge"], "us-east-1")


def test_expired_credentials_say_to_refresh_them(stubbed_pricing: tuple[Any, Any]) -> None:
    client, stubber = stubbed_pricing
    stubber.add_client_error("get_products", service_error_code="ExpiredTokenException")
    with pytest.raises(SourceError, match=r"rejected the credentials .* refresh them"):
        fetch_on_demand(client, ["p5.48xlarge"], "us-east-1")


class NoCredentialsClient:
    """What a client does when the default credential chain finds nothing."""

    def get_products(self, **_: Any) -> Any:
        raise botocore_exceptions.NoCredentialsError()

    def describe_spot_price_history(self, **_: Any) -> Any:
        raise botocore_exceptions.NoCredentialsError()


def test_missing_credentials_say_how_to_provide_them() -> None:
    with pytest.raises(SourceError) as caught:
        fetch_on_demand(NoCredentialsClient(), ["p5.48xlarge"], "us-east-1")
    assert "no AWS credentials found: set AWS_PROFILE" in str(caught.value)
    with pytest.raises(SourceError, match="no AWS credentials found"):
        fetch_spot(NoCredentialsClient(), ["g5.xlarge"], NOW, NOW)


def test_unreachable_endpoint_is_a_source_error() -> None:
    class Offline:
        def get_products(self, **_: Any) -> Any:
            raise botocore_exceptions.EndpointConnectionError(endpoint_url="https://pricing")

    with pytest.raises(SourceError, match="cannot reach AWS"):
        fetch_on_demand(Offline(), ["p5.48xlarge"], "us-east-1")


def test_non_aws_errors_propagate() -> None:
    class Broken:
        def get_products(self, **_: Any) -> Any:
            raise KeyError("bug")

    with pytest.raises(KeyError):
        fetch_on_demand(Broken(), ["p5.48xlarge"], "us-east-1")


# --- spot ----------------------------------------------------------------------------------------


def test_fetch_spot_takes_the_median_of_each_zones_latest_price(
    stubbed_ec2: tuple[Any, Any],
) -> None:
    client, stubber = stubbed_ec2
    start = NOW - timedelta(days=1)
    stub_spot(stubber, start)
    prices = fetch_spot(client, SPOT_TYPES, start, NOW)
    assert prices == {"g5.12xlarge": pytest.approx(2.3), "g6.xlarge": pytest.approx(0.401)}


def test_fetch_spot_of_nothing_asks_nothing() -> None:
    assert fetch_spot(NoCredentialsClient(), [], NOW, NOW) == {}


def test_spot_unauthorized_names_the_ec2_permission(stubbed_ec2: tuple[Any, Any]) -> None:
    client, stubber = stubbed_ec2
    stubber.add_client_error(
        "describe_spot_price_history",
        service_error_code="UnauthorizedOperation",
        service_message="You are not authorized to perform this operation.",
    )
    with pytest.raises(SourceError) as caught:
        fetch_spot(client, ["g5.12xlarge"], NOW - timedelta(hours=1), NOW)
    message = str(caught.value)
    assert "ec2:DescribeSpotPriceHistory permission" in message and "\n" not in message


# --- rows and files ------------------------------------------------------------------------------


def aws_rows() -> list[InstancePrice]:
    catalog = load_catalog()
    return [row for row in catalog if row.provider == "aws"]


def test_refresh_rows_updates_found_rows_only() -> None:
    rows = aws_rows()
    as_of = date(2026, 3, 2)
    refreshed = refresh_rows(
        rows,
        {"p5.48xlarge": 50.0, "g5.12xlarge": 5.5},
        {"g5.12xlarge": 2.2, "g6.xlarge": 0.4},
        as_of,
    )
    by_type = {row.instance_type: row for row in refreshed}
    assert [row.instance_type for row in refreshed] == [row.instance_type for row in rows]

    p5 = by_type["p5.48xlarge"]
    assert (p5.on_demand_hourly, p5.spot_hourly, p5.as_of) == (50.0, None, as_of)
    assert p5.source == ON_DEMAND_SOURCE and p5.verified

    g5 = by_type["g5.12xlarge"]
    assert (g5.on_demand_hourly, g5.spot_hourly) == (5.5, 2.2)
    assert g5.source == f"{ON_DEMAND_SOURCE}; {SPOT_SOURCE}"

    # Spot found but no on-demand price: the old on-demand price stays, with its citation.
    g6 = by_type["g6.xlarge"]
    assert (g6.on_demand_hourly, g6.spot_hourly, g6.as_of) == (0.8048, 0.4, as_of)
    assert g6.source == (
        "on-demand: AWS EC2 On-Demand pricing page; spot: typical snapshot as_of 2025-06-05; "
        f"{SPOT_SOURCE}"
    )

    untouched = {row.instance_type: row for row in rows}
    assert by_type["p4d.24xlarge"] == untouched["p4d.24xlarge"]


def test_write_catalog_round_trips_and_is_atomic(tmp_path: Path) -> None:
    rows = aws_rows()
    rows[0] = replace(rows[0], source='a "quoted", comma source')
    path = tmp_path / "aws.csv"
    write_catalog(rows, path)
    assert read_catalog_file(path, expected_provider="aws") == rows
    before = path.read_bytes()

    def failing() -> Iterator[InstancePrice]:
        yield rows[0]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_catalog(failing(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["aws.csv"]


def test_refresh_aws_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pricing, ec2 = pricing_client(), ec2_client()
    clients = {"pricing": pricing, "ec2": ec2}
    created: list[tuple[str, str]] = []

    def client(self: Any, service: str, region_name: str, **_: Any) -> Any:
        created.append((service, region_name))
        return clients[service]

    monkeypatch.setattr(boto3.session.Session, "client", client)
    rows = [
        row
        for row in aws_rows()
        if row.instance_type in ("p5.48xlarge", "g5.12xlarge", "g6.xlarge", "p5e.48xlarge")
    ]
    on_demand_types = [row.instance_type for row in rows]
    start = NOW - timedelta(days=1)
    with Stubber(pricing) as pricing_stub, Stubber(ec2) as ec2_stub:
        for name in on_demand_types:
            response = {
                "p5.48xlarge": [price_list_item("p5.48xlarge", "55.0400000000")],
                "g5.12xlarge": [price_list_item("g5.12xlarge", "5.6720000000")],
                "g6.xlarge": [price_list_item("g6.xlarge", "0.8048000000")],
                "p5e.48xlarge": [],
            }[name]
            pricing_stub.add_response(
                "get_products",
                {"FormatVersion": "aws_v1", "PriceList": response},
                products_params(name),
            )
        ec2_stub.add_response(
            "describe_spot_price_history",
            {"SpotPriceHistory": [spot_entry("us-east-1a", "g5.12xlarge", "2.0", 1)]},
            spot_params(on_demand_types, start),
        )
        result = refresh_aws(rows, "us-east-1", now=NOW)
        pricing_stub.assert_no_pending_responses()
        ec2_stub.assert_no_pending_responses()
    assert created == [("pricing", "us-east-1"), ("ec2", "us-east-1")]
    assert result.missing_on_demand == ["p5e.48xlarge"]
    assert result.spot == {"g5.12xlarge": 2.0}
    by_type = {row.instance_type: row for row in result.rows}
    assert by_type["g5.12xlarge"].spot_hourly == 2.0
    assert by_type["g6.xlarge"].spot_hourly is None  # no live spot price: the snapshot goes
    assert by_type["p5e.48xlarge"] == next(r for r in rows if r.instance_type == "p5e.48xlarge")
    assert all(
        row.as_of == NOW.date() for row in result.rows if row.instance_type != "p5e.48xlarge"
    )
    path = tmp_path / "aws.csv"
    write_catalog(result.rows, path)
    assert read_catalog_file(path) == result.rows


def test_refresh_aws_other_regions_ask_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boto3.session.Session, "client", lambda *_, **__: NoCredentialsClient())
    result = refresh_aws(aws_rows(), "eu-west-1", now=NOW)
    assert result.rows == aws_rows() and result.on_demand == {} and result.spot == {}


def test_importing_the_pricing_modules_does_not_import_boto3() -> None:
    code = (
        "import sys, finops_cli.pricing, finops_cli.pricing.aws_refresh; "
        "sys.exit(any(m.split('.')[0] in ('boto3', 'botocore') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
