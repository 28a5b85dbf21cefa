"""FOCUS and CUR 2.0 tables in Athena: the same grouping as SQL, run where the bill lives.

Bills too large for one machine stay in S3: this source reads the table's schema
(``GetTableMetadata``, free), writes one ``GROUP BY`` query, starts it, polls it with backoff
and reads back only the grouped rows (``GetQueryResults``, paginated). User values reach the SQL
only through ``literal`` (string literals, quotes doubled) and ``identifier`` (double-quoted
names, checked first), so no value can change the query's shape; ``--explain`` prints the query
instead of running it.

Columns are found by name in the schema, so a FOCUS 1.0-1.3 export table (AWS Data Exports:
``billedcost``, ``chargeperiodstart``, ``tags`` as a map) and a CUR 2.0 table
(``line_item_unblended_cost``, ``line_item_usage_start_date``, ``resource_tags``) both work, and
so do tables whose timestamps are text or whose tags are JSON text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from finops_cli.errors import SourceError, UsageError
from finops_cli.sources import aws
from finops_cli.sources.billing import (
    BILL_COLUMNS,
    METRIC_TO_FOCUS,
    NO_INSTANCE_TYPE,
    UNTAGGED,
    BillData,
    BillRequest,
    BillSource,
    Dimension,
)

POLL_FIRST_S = 0.25
POLL_FACTOR = 1.6
POLL_MAX_S = 5.0
QUERY_TIMEOUT_S = 30 * 60.0
PRICE_PER_TB = 5.0  # Athena SQL, per TB scanned

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,254}")

# Logical field -> candidate columns (lowercase), per table format; the first present is used.
_FOCUS = {
    "start": ("chargeperiodstart",),
    "period_end": ("billingperiodend",),
    "currency": ("billingcurrency",),
    "tags": ("tags",),
    "service": ("servicename",),
    "category": ("servicecategory",),
    "charge_category": ("chargecategory",),
    "instance_type": ("x_instancetype", "x_usagetype"),
    "account": ("subaccountid",),
    "region": ("regionid",),
    "usage_type": ("x_usagetype",),
    "purchase_option": ("pricingcategory",),
    "resource": ("resourceid",),
    "sku": ("skuid",),
    "provider": ("serviceprovidername", "providername"),
}
_CUR2 = {
    "start": ("line_item_usage_start_date",),
    "period_end": ("bill_billing_period_end_date",),
    "currency": ("line_item_currency_code",),
    "tags": ("resource_tags",),
    "service": ("line_item_product_code",),
    "operation": ("line_item_operation",),
    "instance_type": ("product_instance_type", "line_item_usage_type"),
    "account": ("line_item_usage_account_id",),
    "region": ("product_region_code", "product_region"),
    "usage_type": ("line_item_usage_type",),
    "purchase_option": ("pricing_term", "line_item_line_item_type"),
    "resource": ("line_item_resource_id",),
    "sku": ("product_sku",),
}
_CUR2_METRICS = {
    "UnblendedCost": "line_item_unblended_cost",
    "BilledCost": "line_item_unblended_cost",
    "NetUnblendedCost": "line_item_net_unblended_cost",
}


def literal(value: str) -> str:
    """A SQL string literal whose content is exactly ``value`` (quotes doubled)."""
    if "\x00" in value:
        raise UsageError("a value for Athena contains a NUL character")
    return "'" + value.replace("'", "''") + "'"


def identifier(name: str) -> str:
    """A double-quoted identifier; names are checked before they get here."""
    return '"' + name.replace('"', '""') + '"'


def timestamp(moment: datetime) -> str:
    return f"TIMESTAMP '{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC'"


def split_table(text: str, database: str | None) -> tuple[str, str]:
    """``db.table`` or ``table`` (with the configured database), both checked."""
    db, sep, table = text.strip().rpartition(".")
    if not sep:
        db = database or ""
    if not db:
        raise UsageError(
            f"--athena {text!r}: no database: write DATABASE.TABLE or set billing.athena_database "
            "(FINOPS_ATHENA_DATABASE)"
        )
    for what, name in (("database", db), ("table", table)):
        if not _NAME.fullmatch(name):
            raise UsageError(
                f"--athena {text!r}: invalid {what} name {name!r} (letters, digits, '_' and '-')"
            )
    return db, table


@dataclass(frozen=True)
class TableSchema:
    """Column name (lowercase) -> Athena type (lowercase), and the partition keys."""

    columns: dict[str, str]
    partitions: dict[str, str]

    @property
    def all(self) -> dict[str, str]:
        return self.columns | self.partitions

    @property
    def format(self) -> str:
        if "line_item_usage_start_date" in self.all:
            return "cur2"
        return "focus"


@dataclass(frozen=True)
class Query:
    sql: str
    group_columns: tuple[str, ...]


class _Builder:
    """Writes the grouped query for one request against one table schema."""

    def __init__(self, request: BillRequest, schema: TableSchema, table: str) -> None:
        self.request = request
        self.schema = schema
        self.table = table
        self.fields = _CUR2 if schema.format == "cur2" else _FOCUS

    def column(self, logical: str, *, required: bool = True) -> str | None:
        for candidate in self.fields.get(logical, ()):
            if candidate in self.schema.all:
                return candidate
        if required:
            names = " or ".join(self.fields.get(logical, (logical,)))
            raise UsageError(
                f"Athena table {self.table} has no {names} column, needed for {logical}: is it a "
                "FOCUS 1.0-1.3 or CUR 2.0 table?"
            )
        return None

    def time_expr(self, logical: str) -> str:
        name = str(self.column(logical))
        kind = self.schema.all[name]
        if kind.startswith("timestamp"):
            return identifier(name)
        if kind == "date":
            return f"CAST({identifier(name)} AS timestamp)"
        return f"from_iso8601_timestamp({identifier(name)})"

    def cost_expr(self) -> str:
        metric = self.request.metric
        if self.schema.format == "cur2":
            name = _CUR2_METRICS.get(metric)
            if name is None:
                raise UsageError(
                    f"--metric {metric} is not available from a CUR 2.0 table (use UnblendedCost "
                    "or NetUnblendedCost, or query a FOCUS export table for EffectiveCost)"
                )
        else:
            focus = METRIC_TO_FOCUS.get(metric)
            if focus is None:
                raise UsageError(f"invalid --metric {metric!r}")
            name = focus.lower()
        if name not in self.schema.all:
            raise UsageError(f"Athena table {self.table} has no {name} column (--metric {metric})")
        kind = self.schema.all[name]
        column = identifier(name)
        return column if kind in ("double", "float", "real") else f"CAST({column} AS double)"

    def tag_expr(self, key: str) -> str:
        name = self.column("tags", required=False)
        if name is None:
            return literal(UNTAGGED)
        column = identifier(name)
        keys = [key, f"user:{key}"]
        if self.schema.format == "cur2":
            keys += [f"user_{re.sub(r'[^A-Za-z0-9]', '_', key)}"]
        if self.schema.all[name].startswith("map"):
            lookups = [f"element_at({column}, {literal(k)})" for k in keys]
        else:
            parsed = f"try(CAST(json_parse({column}) AS map(varchar, json)))"
            lookups = [
                f"json_extract_scalar(element_at({parsed}, {literal(k)}), '$')" for k in keys
            ]
        return f"coalesce(nullif(coalesce({', '.join(lookups)}), ''), {literal(UNTAGGED)})"

    def dimension_expr(self, dimension: Dimension) -> str:
        if dimension.name in ("team", "tag"):
            return self.tag_expr(str(dimension.key))
        if dimension.name == "category":
            raise UsageError("Athena tables have no AWS cost categories: use Cost Explorer")
        if dimension.name == "provider" and self.schema.format == "cur2":
            return literal("AWS")
        if dimension.name == "instance_type":
            return self.instance_type_expr()
        name = str(self.column(dimension.name))
        return f"coalesce(CAST({identifier(name)} AS varchar), '')"

    def instance_type_expr(self) -> str:
        name = str(self.column("instance_type"))
        column = identifier(name)
        if name.endswith("usagetype") or name.endswith("usage_type"):
            extracted = (
                f"regexp_extract({column}, '[:/]([a-z][a-z0-9-]*[0-9][a-z0-9-]*[.][0-9a-z-]+)$', 1)"
            )
        else:
            extracted = column
        return f"coalesce(nullif({extracted}, ''), {literal(NO_INSTANCE_TYPE)})"

    def filters(self) -> list[str]:
        request = self.request
        start = self.time_expr("start")
        lo = datetime(request.start.year, request.start.month, request.start.day, tzinfo=UTC)
        hi = datetime(request.end.year, request.end.month, request.end.day, tzinfo=UTC)
        out = [f"{start} >= {timestamp(lo)}", f"{start} < {timestamp(hi)}"]
        partition = self.schema.partitions.get("billing_period")
        if partition is not None and partition.startswith(("string", "varchar")):
            months = _months(request.start, request.end)
            out.append(f"billing_period IN ({', '.join(literal(m) for m in months)})")
        if request.services is None:
            if self.schema.format == "cur2":
                out.append(f"{identifier(str(self.column('service')))} = 'AmazonEC2'")
                operation = identifier(str(self.column("operation")))
                out.append(f"{operation} LIKE 'RunInstances%'")
            else:
                category = identifier(str(self.column("category")))
                out.append(f"{category} = 'Compute'")
                charge = self.column("charge_category", required=False)
                if charge is not None:
                    out.append(f"{identifier(charge)} = 'Usage'")
        elif request.services:
            service = identifier(str(self.column("service")))
            out.append(f"{service} IN ({', '.join(literal(s) for s in request.services)})")
        if request.instance_families:
            families = ", ".join(literal(f) for f in request.instance_families)
            out.append(f"split_part({self.instance_type_expr()}, '.', 1) IN ({families})")
        for key, values in request.tags.items():
            wanted = ", ".join(literal(UNTAGGED if v == "" else v) for v in values)
            out.append(f"{self.tag_expr(key)} IN ({wanted})")
        return out

    def build(self) -> Query:
        request = self.request
        unit = "month" if request.granularity == "monthly" else "day"
        start = self.time_expr("start")
        now = request.now or datetime.now(UTC)
        selects = [
            f"date_format(date_trunc('{unit}', {start}), '%Y-%m-%d') AS period",
            f"max({self.time_expr('period_end')}) > {timestamp(now)} AS estimated",
            f"coalesce(upper({identifier(str(self.column('currency')))}), 'USD') AS currency",
        ]
        names = []
        for i, dimension in enumerate(request.group_by):
            selects.append(f"{self.dimension_expr(dimension)} AS g{i}")
            names.append(f"g{i}")
        selects.append(f"sum({self.cost_expr()}) AS cost")
        group = ", ".join(["1", "3", *(str(i + 4) for i in range(len(names)))])
        where = "\n  AND ".join(self.filters())
        db, _, table = self.table.partition(".")
        sql = (
            "SELECT\n  "
            + ",\n  ".join(selects)
            + f"\nFROM {identifier(db)}.{identifier(table)}"
            + f"\nWHERE {where}"
            + f"\nGROUP BY {group}"
            + f"\nORDER BY {group}"
        )
        return Query(sql, tuple(names))


def _months(start: date, end: date) -> list[str]:
    months, day = [], start.replace(day=1)
    while day < end:
        months.append(f"{day:%Y-%m}")
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def build_query(request: BillRequest, schema: TableSchema, table: str) -> Query:
    """The SQL for ``request`` against ``table`` (``db.table``) with ``schema``."""
    return _Builder(request, schema, table).build()


class AthenaSource(BillSource):
    """Runs the grouped query in Athena and reads back the grouped rows."""

    name = "athena"

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        database: str | None,
        workgroup: str,
        output_location: str | None,
        catalog: str = "AwsDataCatalog",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        timeout_s: float = QUERY_TIMEOUT_S,
    ) -> None:
        self.client = client
        self.database, self.table = split_table(table, database)
        self.workgroup = workgroup
        self.output_location = output_location
        self.catalog = catalog
        self.sleep = sleep
        self.clock = clock
        self.timeout_s = timeout_s
        self._schema: TableSchema | None = None

    def _aws(self, operation: str, **params: Any) -> Any:
        import botocore.exceptions

        try:
            return getattr(self.client, operation)(**params)
        except botocore.exceptions.ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            message = aws.scrub(str(err.response.get("Error", {}).get("Message", "")))
            if code == "MetadataException":
                raise UsageError(
                    f"Athena table {self.database}.{self.table} not found in catalog "
                    f"{self.catalog}: {message}"
                ) from None
            raise aws.translate(err, "athena", operation) from None
        except botocore.exceptions.BotoCoreError as err:
            raise aws.translate(err, "athena", operation) from None

    def schema(self) -> TableSchema:
        if self._schema is None:
            answer = self._aws(
                "get_table_metadata",
                CatalogName=self.catalog,
                DatabaseName=self.database,
                TableName=self.table,
                WorkGroup=self.workgroup,
            )
            metadata = answer.get("TableMetadata", {})
            self._schema = TableSchema(
                {c["Name"].lower(): c.get("Type", "").lower() for c in metadata.get("Columns", [])},
                {
                    c["Name"].lower(): c.get("Type", "").lower()
                    for c in metadata.get("PartitionKeys", [])
                },
            )
        return self._schema

    def query(self, request: BillRequest) -> Query:
        return build_query(request, self.schema(), f"{self.database}.{self.table}")

    def explain(self, request: BillRequest) -> str:
        return self.query(request).sql + ";\n"

    def run(
        self, sql: str, *, header: bool = False
    ) -> tuple[list[list[str | None]], dict[str, Any]]:
        """Start, poll with backoff until done, read every result page; (rows, execution); the
        header row (the column names) first where ``header``."""
        params: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "WorkGroup": self.workgroup,
        }
        if self.output_location:
            params["ResultConfiguration"] = {"OutputLocation": self.output_location}
        query_id = self._aws("start_query_execution", **params)["QueryExecutionId"]
        try:
            execution = self._wait(query_id)
        except KeyboardInterrupt:
            self._stop(query_id)
            raise
        rows: list[list[str | None]] = []
        paginator = self.client.get_paginator("get_query_results")
        import botocore.exceptions

        try:
            for page in paginator.paginate(QueryExecutionId=query_id):
                for row in page.get("ResultSet", {}).get("Rows", []):
                    rows.append([cell.get("VarCharValue") for cell in row.get("Data", [])])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
            raise aws.translate(err, "athena", "get_query_results") from None
        return (rows if header else rows[1:]), execution  # the first row is the header

    def _wait(self, query_id: str) -> dict[str, Any]:
        delay = POLL_FIRST_S
        deadline = self.clock() + self.timeout_s
        while True:
            execution = self._aws("get_query_execution", QueryExecutionId=query_id)[
                "QueryExecution"
            ]
            status = execution.get("Status", {})
            state = status.get("State")
            if state == "SUCCEEDED":
                return dict(execution)
            if state in ("FAILED", "CANCELLED"):
                reason = aws.scrub(str(status.get("StateChangeReason") or "no reason given"))
                error = status.get("AthenaError", {})
                kind = f", {error['ErrorType']}" if error.get("ErrorType") else ""
                verb = "failed" if state == "FAILED" else "was cancelled"
                raise SourceError(f"Athena query {query_id} {verb}{kind}: {reason}")
            if self.clock() >= deadline:
                self._stop(query_id)
                raise SourceError(
                    f"Athena query {query_id} still {str(state).lower()} after "
                    f"{self.timeout_s / 60:.0f} minutes: stopped it; narrow the window"
                )
            self.sleep(delay)
            delay = min(delay * POLL_FACTOR, POLL_MAX_S)

    def _stop(self, query_id: str) -> None:
        try:
            self.client.stop_query_execution(QueryExecutionId=query_id)
        except Exception:  # best effort on the way out
            return

    def actual(self, request: BillRequest) -> BillData:
        import pandas as pd

        query = self.query(request)
        rows, execution = self.run(query.sql)
        columns = request.columns
        records = []
        for row in rows:
            period, estimated, currency, *groups, cost = row
            if period is None:
                continue
            start = max(date.fromisoformat(period), request.start)
            end = (
                min((start.replace(day=1) + timedelta(days=32)).replace(day=1), request.end)
                if request.granularity == "monthly"
                else start + timedelta(days=1)
            )
            record: dict[str, Any] = dict(zip(columns, (g or "" for g in groups), strict=True))
            record |= {
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "estimated": str(estimated).lower() == "true",
                "currency": currency or "USD",
                "cost": float(cost) if cost not in (None, "") else 0.0,
            }
            records.append(record)
        scanned = execution.get("Statistics", {}).get("DataScannedInBytes")
        notes = []
        if isinstance(scanned, int):
            notes.append(
                f"Athena scanned {_size(scanned)} (about ${scanned / 1e12 * PRICE_PER_TB:,.4f})"
            )
        frame = pd.DataFrame(records, columns=[*columns, *BILL_COLUMNS])
        return BillData(
            source=self.name,
            metric=request.metric,
            frame=frame,
            notes=notes,
            paid_calls=1,
            scanned_bytes=scanned if isinstance(scanned, int) else None,
        )


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.1f} {unit}" if unit != "B" else f"{n} B"
        value /= 1000
    return f"{n} B"


def open_athena(
    table: str,
    *,
    profile: str | None,
    region: str | None,
    database: str | None,
    workgroup: str,
    output_location: str | None,
) -> AthenaSource:
    split_table(table, database)  # a bad name is the user's to fix before any AWS set-up
    boto_session = aws.session(profile)
    athena_client = aws.client("athena", boto_session, region or boto_session.region_name)
    return AthenaSource(
        athena_client,
        table,
        database=database,
        workgroup=workgroup,
        output_location=output_location,
    )
