"""Commitments from a FOCUS table in Athena through botocore's Stubber (real ``athena`` request and
response shapes): GetTableMetadata, StartQueryExecution, GetQueryExecution, paged
GetQueryResults. The table holds the same AWS FOCUS 1.2 and Azure-shaped 1.3 rows as the FOCUS
fixtures (``tests/support/focus_commitments.py``); Athena answers with what the query's WHERE
keeps (emulated here from the same ``GPU_PATTERN``), every cell as text the way Athena writes it
(doubles as ``3.96288E1``, NULL as no value). Unused money, utilisation, coverage and the planted
overlaps match the FOCUS file reader's to the cent."""

from __future__ import annotations

import re
from datetime import date

import pytest
from botocore.stub import ANY

from finops_cli.analytics.commitments import commitment_report
from finops_cli.errors import UsageError
from finops_cli.sources.athena import AthenaSource, TableSchema
from finops_cli.sources.athena_commitments import GPU_PATTERN, AthenaCommitments, commitment_query
from finops_cli.sources.focus_commitments import FocusCommitments
from tests.support import focus_commitments as fx
from tests.support.stubbed_aws import stubbed_client

START, END = date(2026, 10, 1), date(2026, 10, 4)
QUERY_ID = "1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b"
NUMERIC = {
    "BilledCost", "EffectiveCost", "ListCost", "ConsumedQuantity", "PricingQuantity",
    "CommitmentDiscountQuantity",
}  # fmt: skip
TIMES = {"ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd"}
COLUMNS = sorted(
    set(fx.AWS_COLUMNS) | set(fx.AZURE_COLUMNS) | {"ListCost", "x_InstanceType"}, key=str.lower
)


def _type(column: str) -> str:
    if column in NUMERIC:
        return "double"
    if column in TIMES:
        return "timestamp"
    return "string"


SCHEMA = TableSchema(
    {c.lower(): _type(c) for c in COLUMNS}, {"billing_period": "string"}
)  # an AWS Data Exports FOCUS table: lowercase names, partitioned by month


def _athena_text(column: str, value) -> str | None:
    """A cell as Athena's GetQueryResults writes it."""
    if value is None or value == "":
        return None
    if column in NUMERIC:
        return f"{float(value):.12E}".replace("E+", "E")  # Java's Double.toString style
    return str(value)


def _kept(row: dict) -> bool:
    """What the query's WHERE keeps (the SQL's own terms, in Python)."""
    if row.get("CommitmentDiscountId") or row.get("CapacityReservationId"):
        return True
    kind = row.get("x_InstanceType") or row.get("x_UsageType") or ""
    return (
        row.get("ChargeCategory") == "Usage"
        and row.get("ServiceCategory") == "Compute"
        and re.search(GPU_PATTERN, kind) is not None
    )


def _row(values):
    return {"Data": [{"VarCharValue": v} if v is not None else {} for v in values]}


@pytest.fixture
def athena():
    with stubbed_client("athena", "us-east-1") as pair:
        yield pair


def _stub(stubber, rows, selected):
    stubber.add_response(
        "get_table_metadata",
        {
            "TableMetadata": {
                "Name": "focus_export",
                "Columns": [{"Name": c.lower(), "Type": _type(c)} for c in COLUMNS],
                "PartitionKeys": [{"Name": "billing_period", "Type": "string"}],
            }
        },
        {
            "CatalogName": "AwsDataCatalog",
            "DatabaseName": "billing",
            "TableName": "focus_export",
            "WorkGroup": "finops",
        },
    )
    stubber.add_response(
        "start_query_execution",
        {"QueryExecutionId": QUERY_ID},
        {
            "QueryString": ANY,
            "QueryExecutionContext": {"Database": "billing", "Catalog": "AwsDataCatalog"},
            "WorkGroup": "finops",
        },
    )
    stubber.add_response(
        "get_query_execution",
        {"QueryExecution": {"QueryExecutionId": QUERY_ID, "Status": {"State": "RUNNING"}}},
        {"QueryExecutionId": QUERY_ID},
    )
    stubber.add_response(
        "get_query_execution",
        {
            "QueryExecution": {
                "QueryExecutionId": QUERY_ID,
                "Status": {"State": "SUCCEEDED"},
                "Statistics": {"DataScannedInBytes": 52_000_000},
            }
        },
        {"QueryExecutionId": QUERY_ID},
    )
    kept = [r for r in rows if _kept(r)]
    body = [_row([_athena_text(c, r.get(c)) for c in selected]) for r in kept]
    half = len(body) // 2
    header = _row([c.lower() for c in selected])  # Athena writes the labels lowercase
    stubber.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": [header, *body[:half]]}, "NextToken": "page-2"},
        {"QueryExecutionId": QUERY_ID},
    )
    stubber.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": body[half:]}},
        {"QueryExecutionId": QUERY_ID, "NextToken": "page-2"},
    )
    return kept


def _selected(sql: str) -> list[str]:
    return re.findall(r' AS "([A-Za-z_]+)"', sql)


def test_same_report_as_the_focus_files_to_the_cent(athena, tmp_path):
    client, stubber = athena
    rows = fx.aws_rows() + fx.azure_rows()
    sql = commitment_query(SCHEMA, "billing.focus_export", START, END).sql
    kept = _stub(stubber, rows, _selected(sql))
    assert 0 < len(kept) < len(rows)  # the tax line and the credit stay in Athena
    source = AthenaSource(
        client, "billing.focus_export", database=None, workgroup="finops",
        output_location=None, sleep=lambda s: None,
    )  # fmt: skip
    reader = AthenaCommitments(source)
    report = commitment_report(reader.rows(START, END))
    assert any("scanned 52.0 MB" in n for n in reader.notes)

    fx.write_csv(fx.aws_rows(), fx.AWS_COLUMNS, tmp_path / "aws.csv", "NULL")
    fx.write_csv(fx.azure_rows(), fx.AZURE_COLUMNS, tmp_path / "azure.csv", "")
    files = commitment_report(FocusCommitments(tmp_path).rows(START, END))

    got = {c.commitment_id: c for c in report.commitments}
    want = {c.commitment_id: c for c in files.commitments}
    assert set(got) == set(want) == {fx.SP_ARN, fx.ODCR, fx.CB, fx.AZ_RES}
    for key, commitment in want.items():
        for field in ("committed", "used", "unused", "purchased", "used_hours", "unused_hours"):
            assert round(getattr(got[key], field), 2) == round(getattr(commitment, field), 2)
        assert got[key].kind == commitment.kind
    assert round(report.unused, 2) == round(files.unused, 2)
    assert abs(report.utilisation - files.utilisation) * 100 < 0.1
    a, b = report.total_coverage, files.total_coverage
    assert (a.committed_hours, a.on_demand_hours, a.spot_hours) == (
        b.committed_hours, b.on_demand_hours, b.spot_hours,
    )  # fmt: skip
    found = {o.reservation_id: o for o in report.overlaps}
    assert set(found) == set(fx.PLANTED_OVERLAPS)
    for key, (hours, money) in fx.PLANTED_OVERLAPS.items():
        assert found[key].hours == pytest.approx(hours)
        assert round(found[key].money, 2) == round(money, 2)


def test_the_sql_prunes_by_month_and_keeps_commitment_and_gpu_rows():
    sql = commitment_query(SCHEMA, "billing.focus_export", date(2026, 9, 28), END).sql
    assert "billing_period IN ('2026-09', '2026-10')" in sql
    assert "\"chargeperiodstart\" >= TIMESTAMP '2026-09-28 00:00:00 UTC'" in sql
    assert "\"chargeperiodstart\" < TIMESTAMP '2026-10-04 00:00:00 UTC'" in sql
    assert "coalesce(\"commitmentdiscountid\", '') <> ''" in sql
    assert "coalesce(\"capacityreservationid\", '') <> ''" in sql
    assert 'regexp_like(coalesce("x_instancetype", "x_usagetype", \'\')' in sql
    assert 'date_format("chargeperiodstart", \'%Y-%m-%dT%H:%i:%sZ\') AS "ChargePeriodStart"' in sql
    assert 'CAST("effectivecost" AS varchar) AS "EffectiveCost"' in sql
    assert '"contractapplied" AS "ContractApplied"' in sql
    assert "GROUP BY" not in sql


def test_gpu_pattern_matches_gpu_types_only():
    gpus = (
        "USE1-BoxUsage:p5.48xlarge", "BoxUsage:g6e.12xlarge", "g5.xlarge",
        "Standard_ND96isr_H100_v5", "a3-highgpu-8g", "USE1-CapacityBlock:p5.48xlarge",
    )  # fmt: skip
    for kind in gpus:
        assert re.search(GPU_PATTERN, kind), kind
    for kind in ("USE1-BoxUsage:m6i.xlarge", "ComputeSP:1yrNoUpfront", "Standard_D4s_v5", ""):
        assert not re.search(GPU_PATTERN, kind), kind


def test_older_focus_tables_and_cur_tables():
    older = TableSchema(
        {k: v for k, v in SCHEMA.columns.items() if k not in ("capacityreservationid",
                                                              "capacityreservationstatus",
                                                              "contractapplied")},
        {},
    )  # fmt: skip
    sql = commitment_query(older, "billing.focus10", START, END).sql
    assert "capacityreservationid" not in sql and "billing_period" not in sql
    cur = TableSchema({"line_item_usage_start_date": "timestamp"}, {})
    with pytest.raises(UsageError, match=r"CUR 2\.0"):
        commitment_query(cur, "billing.cur", START, END)
