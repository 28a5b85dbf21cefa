"""Athena through botocore's Stubber on real-shaped responses: the schema lookup, start, polling
with backoff, paginated results, a failed and a cancelled query, and SQL that escapes every
user value."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from botocore.stub import ANY

from finops_cli.errors import SourceError, UsageError
from finops_cli.sources.athena import AthenaSource, TableSchema, build_query, literal, split_table
from finops_cli.sources.billing import UNTAGGED, BillRequest, parse_dimension
from tests.support.stubbed_aws import stubbed_client

NOW = datetime(2026, 10, 20, tzinfo=UTC)
FOCUS_COLUMNS = [
    ("billedcost", "double"),
    ("effectivecost", "double"),
    ("chargeperiodstart", "timestamp"),
    ("billingperiodend", "timestamp"),
    ("billingcurrency", "string"),
    ("providername", "string"),
    ("servicename", "string"),
    ("servicecategory", "string"),
    ("pricingcategory", "string"),
    ("resourceid", "string"),
    ("x_usagetype", "string"),
    ("tags", "map<string,string>"),
]
QUERY_ID = "8b1c7a52-3f1e-4c1b-9a8e-2f6d5c4b3a21"


def _request(*by: str, **kw):
    base = {
        "start": date(2026, 10, 1),
        "end": date(2026, 10, 4),
        "granularity": "daily",
        "metric": "UnblendedCost",
        "group_by": tuple(parse_dimension(b, "team") for b in (by or ("team",))),
        "now": NOW,
    }
    return BillRequest(**(base | kw))


@pytest.fixture
def athena():
    with stubbed_client("athena", "eu-west-1") as pair:
        yield pair


def _source(client, sleeps=None, **kw):
    return AthenaSource(
        client,
        "billing.focus_export",
        database=None,
        workgroup="finops",
        output_location="s3://my-results/athena/",
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
        **kw,
    )


def _metadata(stubber, columns=FOCUS_COLUMNS, partitions=(("billing_period", "string"),)):
    stubber.add_response(
        "get_table_metadata",
        {
            "TableMetadata": {
                "Name": "focus_export",
                "Columns": [{"Name": n, "Type": t} for n, t in columns],
                "PartitionKeys": [{"Name": n, "Type": t} for n, t in partitions],
            }
        },
        {
            "CatalogName": "AwsDataCatalog",
            "DatabaseName": "billing",
            "TableName": "focus_export",
            "WorkGroup": "finops",
        },
    )


def _execution(state, reason=None, scanned=None):
    status = {"State": state}
    if reason:
        status["StateChangeReason"] = reason
    execution = {"QueryExecutionId": QUERY_ID, "Status": status}
    if scanned is not None:
        execution["Statistics"] = {"DataScannedInBytes": scanned}
    return {"QueryExecution": execution}


def _row(*values):
    return {"Data": [{"VarCharValue": v} if v is not None else {} for v in values]}


def test_start_poll_paginate_and_group(athena):
    client, stubber = athena
    _metadata(stubber)
    stubber.add_response(
        "start_query_execution",
        {"QueryExecutionId": QUERY_ID},
        {
            "QueryString": ANY,
            "QueryExecutionContext": {"Database": "billing", "Catalog": "AwsDataCatalog"},
            "WorkGroup": "finops",
            "ResultConfiguration": {"OutputLocation": "s3://my-results/athena/"},
        },
    )
    for state in ("QUEUED", "RUNNING", "RUNNING"):
        stubber.add_response(
            "get_query_execution", _execution(state), {"QueryExecutionId": QUERY_ID}
        )
    stubber.add_response(
        "get_query_execution",
        _execution("SUCCEEDED", scanned=123_456_789),
        {"QueryExecutionId": QUERY_ID},
    )
    header = _row("period", "estimated", "currency", "g0", "cost")
    stubber.add_response(
        "get_query_results",
        {
            "ResultSet": {
                "Rows": [header, _row("2026-10-01", "true", "USD", "nlp", "10.5")],
                "ResultSetMetadata": {"ColumnInfo": []},
            },
            "NextToken": "next",
        },
        {"QueryExecutionId": QUERY_ID},
    )
    stubber.add_response(
        "get_query_results",
        {
            "ResultSet": {
                "Rows": [_row("2026-10-02", "false", "USD", UNTAGGED, "2.25")],
                "ResultSetMetadata": {"ColumnInfo": []},
            }
        },
        {"QueryExecutionId": QUERY_ID, "NextToken": "next"},
    )
    sleeps: list[float] = []
    data = _source(client, sleeps).actual(_request())
    assert sleeps == [0.25, 0.4, pytest.approx(0.64)]  # backoff while queued and running
    assert list(data.frame["team"]) == ["nlp", UNTAGGED]
    assert data.frame["cost"].tolist() == [10.5, 2.25]
    assert data.frame["estimated"].tolist() == [True, False]
    assert data.scanned_bytes == 123_456_789
    assert any("scanned 123.5 MB" in n for n in data.notes)


@pytest.mark.parametrize(
    ("state", "reason", "needle"),
    [
        ("FAILED", "COLUMN_NOT_FOUND: line 3:10: Column 'x' cannot be resolved", "failed"),
        ("CANCELLED", "Query cancelled by user", "was cancelled"),
    ],
)
def test_failed_and_cancelled_queries_are_one_line(athena, state, reason, needle):
    client, stubber = athena
    _metadata(stubber)
    stubber.add_response("start_query_execution", {"QueryExecutionId": QUERY_ID}, None)
    stubber.add_response("get_query_execution", _execution("RUNNING"), None)
    stubber.add_response("get_query_execution", _execution(state, reason), None)
    with pytest.raises(SourceError) as err:
        _source(client).actual(_request())
    message = str(err.value)
    assert needle in message and QUERY_ID in message and reason.split(":")[0] in message
    assert "\n" not in message


def test_a_query_past_the_timeout_is_stopped(athena):
    client, stubber = athena
    _metadata(stubber)
    stubber.add_response("start_query_execution", {"QueryExecutionId": QUERY_ID}, None)
    stubber.add_response("get_query_execution", _execution("RUNNING"), None)
    stubber.add_response("stop_query_execution", {}, {"QueryExecutionId": QUERY_ID})
    clock = iter([0.0, 100.0])
    source = _source(client, clock=lambda: next(clock), timeout_s=50)
    with pytest.raises(SourceError, match="stopped it"):
        source.actual(_request())


def test_table_not_found_and_access_denied(athena):
    client, stubber = athena
    stubber.add_client_error(
        "get_table_metadata",
        service_error_code="MetadataException",
        service_message="Table focus_export not found",
    )
    with pytest.raises(UsageError, match="not found"):
        _source(client).actual(_request())
    stubber.add_client_error("get_table_metadata", service_error_code="AccessDeniedException")
    with pytest.raises(SourceError, match="grant athena:StartQueryExecution"):
        _source(client).actual(_request())


def test_explain_escapes_every_user_value(athena):
    client, stubber = athena
    _metadata(stubber)
    evil = "x'); DROP TABLE bill; --"
    request = _request(
        "team",
        f"tag:{evil}",
        services=("Amazon 'EC2'",),
        tags={evil: (evil, "")},
        instance_families=("p5",),
    )
    sql = _source(client).explain(request)
    assert "'x''); DROP TABLE bill; --'" in sql
    assert "'Amazon ''EC2'''" in sql
    # every quote in the SQL is balanced: stripping the literals leaves no stray quote
    import re

    assert "'" not in re.sub(r"'(?:[^']|'')*'", "", sql)
    assert '"billing"."focus_export"' in sql
    assert "billing_period IN ('2026-10')" in sql
    assert "TIMESTAMP '2026-10-01 00:00:00 UTC'" in sql
    assert "servicename" in sql and "element_at" in sql


def test_sql_for_text_columns_json_tags_and_cur2():
    text_schema = TableSchema(
        {
            "billedcost": "string",
            "chargeperiodstart": "string",
            "billingperiodend": "string",
            "billingcurrency": "string",
            "servicecategory": "string",
            "tags": "string",
        },
        {},
    )
    sql = build_query(_request(), text_schema, "db.t").sql
    assert "from_iso8601_timestamp" in sql and "json_parse" in sql
    assert 'CAST("billedcost" AS double)' in sql
    cur2 = TableSchema(
        {
            "line_item_usage_start_date": "timestamp",
            "bill_billing_period_end_date": "timestamp",
            "line_item_currency_code": "string",
            "line_item_unblended_cost": "double",
            "line_item_product_code": "string",
            "line_item_operation": "string",
            "line_item_usage_type": "string",
            "resource_tags": "map<string,string>",
        },
        {},
    )
    sql = build_query(_request("team", "instance-type", services=None), cur2, "db.cur").sql
    assert "'user_team'" in sql and "line_item_unblended_cost" in sql
    assert "'AmazonEC2'" in sql and "RunInstances%" in sql and "regexp_extract" in sql
    with pytest.raises(UsageError, match=r"CUR 2\.0"):
        build_query(_request(metric="AmortizedCost"), cur2, "db.cur")


def test_names_and_literals():
    assert literal("it's") == "'it''s'"
    assert split_table("db.tbl", None) == ("db", "tbl")
    assert split_table("tbl", "billing") == ("billing", "tbl")
    for bad in ("tbl", 'db."x"', "db.a b"):
        with pytest.raises(UsageError):
            split_table(bad, None)
