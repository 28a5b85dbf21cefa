"""Cost Explorer through botocore's Stubber, which checks every request and response against
the real ``ce`` API model: pagination, tag groups, untagged spend, estimated days, throttling,
access denied, the disk cache and the forecast."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import boto3
import botocore.config
import pytest
from botocore.stub import ANY

from finops_cli.errors import SourceError, UsageError
from finops_cli.sample.bill import SampleBill, SampleCostExplorer
from finops_cli.sources import aws
from finops_cli.sources.billing import UNTAGGED, BillRequest, Dimension, parse_dimension
from finops_cli.sources.cache import ResponseCache
from finops_cli.sources.cost_explorer import (
    EC2_COMPUTE,
    CostExplorerSource,
    filter_expression,
    forecast_metric,
    usage_request,
)
from tests.support.stubbed_aws import stubbed_client

NOW = datetime(2026, 10, 20, 15, 30, tzinfo=UTC)
FAKE_KEY = "AKIAIOSFODNN7EXAMPLE"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def ce():
    with stubbed_client(
        "ce",
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_SECRET,
        config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 1}),
    ) as pair:
        yield pair


def _request(**kw):
    base = {
        "start": date(2026, 10, 1),
        "end": date(2026, 10, 4),
        "granularity": "daily",
        "metric": "UnblendedCost",
        "group_by": (Dimension("team", "team"),),
        "now": NOW,
    }
    return BillRequest(**(base | kw))


def _result(day: str, groups: list[tuple[list[str], str]], estimated: bool = False) -> dict:
    following = f"2026-10-{int(day[-2:]) + 1:02d}"
    return {
        "TimePeriod": {"Start": day, "End": following},
        "Total": {},
        "Groups": [
            {"Keys": keys, "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
            for keys, amount in groups
        ],
        "Estimated": estimated,
    }


def test_pagination_tag_groups_untagged_and_estimated(ce):
    client, stubber = ce
    request = _request()
    params = usage_request(request)
    page1 = {
        "GroupDefinitions": [{"Type": "TAG", "Key": "team"}],
        "ResultsByTime": [
            _result("2026-10-01", [(["team$nlp"], "10.5"), (["team$"], "2.25")]),
            _result("2026-10-02", [(["team$nlp"], "11")]),
        ],
        "NextPageToken": "page-2",
    }
    page2 = {
        "ResultsByTime": [
            _result("2026-10-03", [(["team$research"], "7"), (["team$"], "1")], estimated=True)
        ]
    }
    stubber.add_response("get_cost_and_usage", page1, params)
    stubber.add_response("get_cost_and_usage", page2, params | {"NextPageToken": "page-2"})
    data = CostExplorerSource(client).actual(request)
    assert data.paid_calls == 2
    frame = data.frame
    assert list(frame.columns) == [
        "team",
        "period_start",
        "period_end",
        "estimated",
        "currency",
        "cost",
    ]
    assert set(frame["team"]) == {"nlp", "research", UNTAGGED}
    assert frame["cost"].sum() == pytest.approx(31.75)
    untagged = frame[frame["team"] == UNTAGGED]
    assert untagged["cost"].sum() == pytest.approx(3.25)
    assert frame.loc[frame["period_start"] == "2026-10-03", "estimated"].all()
    assert not frame.loc[frame["period_start"] == "2026-10-01", "estimated"].any()


def test_request_shape_default_filter_and_groups():
    request = _request(
        group_by=(parse_dimension("team", "owner"), parse_dimension("instance-type", "owner")),
        instance_families=("p5", "g6e"),
        tags={"env": ("prod", "")},
    )
    params = usage_request(request)
    assert params["TimePeriod"] == {"Start": "2026-10-01", "End": "2026-10-04"}
    assert params["Granularity"] == "DAILY"
    assert params["GroupBy"] == [
        {"Type": "TAG", "Key": "owner"},
        {"Type": "DIMENSION", "Key": "INSTANCE_TYPE"},
    ]
    parts = params["Filter"]["And"]
    assert parts[0] == {"Dimensions": {"Key": "SERVICE", "Values": [EC2_COMPUTE]}}
    assert parts[1]["Dimensions"]["Key"] == "INSTANCE_TYPE_FAMILY"
    assert parts[2] == {
        "Or": [
            {"Tags": {"Key": "env", "Values": ["prod"], "MatchOptions": ["EQUALS"]}},
            {"Tags": {"Key": "env", "MatchOptions": ["ABSENT"]}},
        ]
    }
    assert filter_expression(_request(services=())) is None
    assert forecast_metric("NetAmortizedCost") == "NET_AMORTIZED_COST"


@pytest.mark.parametrize("by", ["resource", "sku", "provider"])
def test_dimensions_cost_explorer_lacks_are_usage_errors(by):
    with pytest.raises(UsageError, match="Cost Explorer cannot group by"):
        usage_request(_request(group_by=(parse_dimension(by, "team"),)))


def test_more_than_two_groups_is_a_usage_error():
    dims = tuple(parse_dimension(b, "team") for b in ("team", "service", "region"))
    with pytest.raises(UsageError, match="at most two"):
        usage_request(_request(group_by=dims))


def test_throttling_that_outlasts_the_retries_is_one_line(ce):
    client, stubber = ce
    stubber.add_client_error(
        "get_cost_and_usage", service_error_code="LimitExceededException", http_status_code=400
    )
    with pytest.raises(SourceError) as err:
        CostExplorerSource(client).actual(_request())
    message = str(err.value)
    assert "throttling" in message and "LimitExceededException" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        (
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
            "ce:GetCostAndUsage",
            "grant ce:GetCostAndUsage",
        ),
        ("User not enabled for cost explorer access", "Cost Explorer is not enabled"),
    ],
)
def test_access_denied_and_not_enabled_say_what_to_do(ce, message, needle):
    client, stubber = ce
    stubber.add_client_error(
        "get_cost_and_usage",
        service_error_code="AccessDeniedException",
        service_message=message,
        http_status_code=400,
    )
    with pytest.raises(SourceError) as err:
        CostExplorerSource(client).actual(_request())
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_error_messages_never_carry_keys():
    text = aws.scrub(f"bad key {FAKE_KEY} and secret {FAKE_SECRET}\nsecond line")
    assert FAKE_KEY not in text and FAKE_SECRET not in text and "\n" not in text


def test_data_unavailable_and_expired_history(ce):
    client, stubber = ce
    stubber.add_client_error("get_cost_and_usage", service_error_code="DataUnavailableException")
    with pytest.raises(SourceError, match="no data"):
        CostExplorerSource(client).actual(_request())
    stubber.add_client_error("get_cost_and_usage", service_error_code="BillExpirationException")
    with pytest.raises(UsageError, match="13 months"):
        CostExplorerSource(client).actual(_request())


def test_cache_serves_the_second_call_and_expires(ce, tmp_path):
    client, stubber = ce
    request = _request()
    page = {"ResultsByTime": [_result("2026-10-01", [(["team$nlp"], "3")])]}
    stubber.add_response("get_cost_and_usage", page, usage_request(request))
    clock = [1_000_000.0]
    cache = ResponseCache(tmp_path / "cache", 3600, clock=lambda: clock[0])
    first = CostExplorerSource(client, cache=cache, identity={"profile": "a"}).actual(request)
    assert (first.paid_calls, first.cached_calls) == (1, 0)
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and files[0].suffix == ".json"  # no temporary file left behind
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
    second = CostExplorerSource(client, cache=cache, identity={"profile": "a"}).actual(request)
    assert (second.paid_calls, second.cached_calls) == (0, 1)
    assert second.frame.equals(first.frame)
    # another profile (account) never sees this answer; an expired one is asked again
    stubber.add_response("get_cost_and_usage", page, usage_request(request))
    other = CostExplorerSource(client, cache=cache, identity={"profile": "b"}).actual(request)
    assert other.paid_calls == 1
    clock[0] += 3601
    stubber.add_response("get_cost_and_usage", page, usage_request(request))
    assert (
        CostExplorerSource(client, cache=cache, identity={"profile": "a"})
        .actual(request)
        .paid_calls
        == 1
    )


def test_a_corrupt_cache_file_is_a_miss(ce, tmp_path):
    client, stubber = ce
    request = _request()
    cache = ResponseCache(tmp_path, 3600)
    source = CostExplorerSource(client, cache=cache)
    from finops_cli.sources.cache import cache_key

    key = cache_key({"operation": "get_cost_and_usage", "params": usage_request(request)})
    (tmp_path / f"{key}.json").write_text("{not json")
    stubber.add_response("get_cost_and_usage", {"ResultsByTime": []}, usage_request(request))
    assert source.actual(request).paid_calls == 1


def test_forecast_month_to_date_plus_rest_of_month(ce):
    client, stubber = ce
    request = _request(group_by=(), granularity="monthly")
    stubber.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-10-01", "End": "2026-10-20"},
                    "Total": {"UnblendedCost": {"Amount": "1900", "Unit": "USD"}},
                    "Groups": [],
                    "Estimated": True,
                }
            ]
        },
        {
            "TimePeriod": {"Start": "2026-10-01", "End": "2026-10-20"},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "Filter": {"Dimensions": {"Key": "SERVICE", "Values": [EC2_COMPUTE]}},
        },
    )
    stubber.add_response(
        "get_cost_forecast",
        {
            "Total": {"Amount": "1200.5", "Unit": "USD"},
            "ForecastResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-10-20", "End": "2026-11-01"},
                    "MeanValue": "1200.5",
                    "PredictionIntervalLowerBound": "1100",
                    "PredictionIntervalUpperBound": "1300",
                }
            ],
        },
        {
            "TimePeriod": {"Start": "2026-10-20", "End": "2026-11-01"},
            "Metric": "UNBLENDED_COST",
            "Granularity": "MONTHLY",
            "PredictionIntervalLevel": 80,
            "Filter": ANY,
        },
    )
    source = CostExplorerSource(client)
    result = source.forecast(request, 80)
    assert result.month_to_date == 1900 and result.month_to_date_estimated
    assert (result.mean, result.lower, result.upper) == (1200.5, 1100, 1300)
    assert source.paid_calls == 2


def test_sample_answers_pass_the_real_api_model(ce):
    """The sample's Cost-Explorer-shaped answers are valid responses of the real service."""
    client, stubber = ce
    fake = SampleCostExplorer(SampleBill(), NOW, page_size=2)
    request = _request(
        start=date(2026, 9, 28),
        end=date(2026, 10, 3),
        group_by=(Dimension("team", "team"), Dimension("instance_type")),
        services=(),
    )
    params = usage_request(request)
    token = None
    expected_pages = 0
    while True:
        call = params | ({"NextPageToken": token} if token else {})
        response = fake.get_cost_and_usage(**call)
        stubber.add_response("get_cost_and_usage", response, call)
        expected_pages += 1
        token = response.get("NextPageToken")
        if not token:
            break
    assert expected_pages == 3
    direct = CostExplorerSource(fake, paid=False).actual(request).frame
    stubbed = CostExplorerSource(client).actual(request).frame
    assert stubbed.equals(direct)
    assert UNTAGGED in set(direct["team"])
    forecast_params = {
        "TimePeriod": {"Start": "2026-10-20", "End": "2026-11-01"},
        "Metric": "AMORTIZED_COST",
        "Granularity": "DAILY",
        "PredictionIntervalLevel": 90,
    }
    stubber.add_response(
        "get_cost_forecast", fake.get_cost_forecast(**forecast_params), forecast_params
    )
    client.get_cost_forecast(**forecast_params)


def test_throttling_is_retried_with_backoff(monkeypatch):
    """Real retries: botocore's standard mode retries LimitExceededException, then succeeds."""
    import botocore.awsrequest

    client = boto3.client(
        "ce",
        region_name="us-east-1",
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_SECRET,
        config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 4}),
    )
    sleeps: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", sleeps.append)
    calls = []

    def answer(request, **kwargs):
        calls.append(request)
        if len(calls) < 3:
            body = json.dumps({"__type": "LimitExceededException", "message": "Rate exceeded"})
            return botocore.awsrequest.AWSResponse(request.url, 400, {}, _Raw(body))
        body = json.dumps({"ResultsByTime": [_result("2026-10-01", [(["team$nlp"], "5")])]})
        return botocore.awsrequest.AWSResponse(request.url, 200, {}, _Raw(body))

    client.meta.events.register("before-send.ce.GetCostAndUsage", answer)
    data = CostExplorerSource(client).actual(_request())
    assert len(calls) == 3 and len(sleeps) == 2
    assert data.paid_calls == 1 and data.frame["cost"].sum() == 5


class _Raw:
    def __init__(self, body: str) -> None:
        self._body = body.encode()

    def stream(self, **kwargs):
        yield self._body

    def read(self, *args, **kwargs):
        body, self._body = self._body, b""
        return body


def test_no_cache_asks_again_and_refreshes_the_cache(ce, tmp_path):
    client, stubber = ce
    request = _request()
    cache = ResponseCache(tmp_path, 3600)
    old = {"ResultsByTime": [_result("2026-10-01", [(["team$nlp"], "1")])]}
    new = {"ResultsByTime": [_result("2026-10-01", [(["team$nlp"], "2")])]}
    stubber.add_response("get_cost_and_usage", old, usage_request(request))
    stubber.add_response("get_cost_and_usage", new, usage_request(request))
    CostExplorerSource(client, cache=cache).actual(request)
    fresh = CostExplorerSource(client, cache=cache, refresh=True).actual(request)
    assert fresh.paid_calls == 1 and fresh.frame["cost"].sum() == 2
    again = CostExplorerSource(client, cache=cache).actual(request)
    assert again.cached_calls == 1 and again.frame["cost"].sum() == 2
