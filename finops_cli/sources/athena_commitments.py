"""The commitment rows of a FOCUS table in Athena, for ``finops billing commitments --athena``.

Commitments cannot be summed in SQL first (whether a row is a used or unused commitment, which
reservation it belongs to and which hour it fell in all matter: ``focus_commitments``), so this
query keeps rows, but only the ones the FOCUS file reader would keep:

* every row that names a commitment (``CommitmentDiscountId``) or a capacity reservation
  (``CapacityReservationId``), whatever its charge category (``Usage`` used/unused, ``Purchase``);
* ``Usage`` rows in ``Compute`` whose instance type is a GPU machine (``GPU_PATTERN`` on
  ``x_InstanceType`` / ``x_UsageType``; a table with neither keeps every compute usage row and
  the reader drops the rest).

The window is pruned like ``athena.py``'s grouped query: ``ChargePeriodStart`` in ``[start,
end)`` and, where the table is partitioned by a text ``billing_period``, only those months.
Columns are selected under their FOCUS names, as text (timestamps as ISO 8601, maps and rows as
JSON), so the rows go through the same ``focus_commitments`` reader as a FOCUS file: one set of
rules for what a row means. Columns a FOCUS version lacks (``CapacityReservationId`` before 1.1,
``ContractApplied`` before 1.3) are not selected and read as missing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from finops_cli.errors import UsageError
from finops_cli.sources.athena import (
    AthenaSource,
    Query,
    TableSchema,
    _months,
    identifier,
    literal,
    timestamp,
)
from finops_cli.sources.billing import GPU_FAMILIES

if TYPE_CHECKING:
    import pandas as pd

GPU_PATTERN = (
    r"(?i)(^|[:/])(("
    + "|".join(sorted((f.replace("-", r"\-") for f in GPU_FAMILIES), key=len, reverse=True))
    + r")\.[a-z0-9-]+|standard_n[cdv]\w*|(a2|a3|a4|g2|g4)-\w[\w-]*)$"
)
"""A GPU instance type at the end of ``x_InstanceType`` or ``x_UsageType`` (Java and Python
regular expressions alike): an AWS GPU family, an Azure N-series size, a GCP accelerator type."""


def _wanted() -> list[str]:
    from finops_cli.sources.focus_commitments import WANTED

    return [c for c in WANTED if c != "Tags"]


def commitment_query(schema: TableSchema, table: str, start: date, end: date) -> Query:
    """The SQL for the commitment and GPU usage rows of ``table`` (``db.table``) in the window."""
    if schema.format != "focus":
        raise UsageError(
            f"billing commitments --athena reads a FOCUS table; {table} is a CUR 2.0 table "
            "(its commitment columns differ): point --athena at a FOCUS 1.0-1.3 export table"
        )
    columns = schema.all
    for needed in ("chargeperiodstart", "chargecategory"):
        if needed not in columns:
            raise UsageError(
                f"Athena table {table} has no {needed} column: is it a FOCUS 1.0-1.3 table?"
            )
    selects = []
    for name in _wanted():
        column = name.lower()
        if column not in columns:
            continue
        kind = columns[column]
        ref = identifier(column)
        if kind.startswith("timestamp") or kind == "date":
            value = ref if kind.startswith("timestamp") else f"CAST({ref} AS timestamp)"
            expr = f"date_format({value}, '%Y-%m-%dT%H:%i:%sZ')"
        elif kind.startswith(("map", "row", "array")):
            expr = f"json_format(CAST({ref} AS json))"
        elif kind.startswith(("varchar", "string", "char")):
            expr = ref
        else:
            expr = f"CAST({ref} AS varchar)"
        selects.append(f"{expr} AS {identifier(name)}")
    start_ref = identifier("chargeperiodstart")
    kind = columns["chargeperiodstart"]
    if kind.startswith("timestamp"):
        moment = start_ref
    elif kind == "date":
        moment = f"CAST({start_ref} AS timestamp)"
    else:
        moment = f"from_iso8601_timestamp({start_ref})"
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC)
    where = [f"{moment} >= {timestamp(lo)}", f"{moment} < {timestamp(hi)}"]
    partition = schema.partitions.get("billing_period")
    if partition is not None and partition.startswith(("string", "varchar")):
        where.append(f"billing_period IN ({', '.join(literal(m) for m in _months(start, end))})")
    named = [
        f"coalesce({identifier(c)}, '') <> ''"
        for c in ("commitmentdiscountid", "capacityreservationid")
        if c in columns
    ]
    usage = [f"{identifier('chargecategory')} = 'Usage'"]
    if "servicecategory" in columns:
        usage.append(f"{identifier('servicecategory')} = 'Compute'")
    types = [identifier(c) for c in ("x_instancetype", "x_usagetype") if c in columns]
    if types:
        usage.append(f"regexp_like(coalesce({', '.join(types)}, ''), {literal(GPU_PATTERN)})")
    keep = [*named, "(" + " AND ".join(usage) + ")"]
    where.append("(" + "\n    OR ".join(keep) + ")")
    db, _, name = table.partition(".")
    sql = (
        "SELECT\n  "
        + ",\n  ".join(selects)
        + f"\nFROM {identifier(db)}.{identifier(name)}"
        + "\nWHERE "
        + "\n  AND ".join(where)
    )
    return Query(sql, ())


class AthenaCommitments:
    """Runs ``commitment_query`` through an ``AthenaSource`` (its polling, paging, errors) and
    reads the rows back as ``focus_commitments.COMMITMENT_COLUMNS``."""

    name = "athena"

    def __init__(self, source: AthenaSource) -> None:
        self.source = source
        self.notes: list[str] = []
        self.scanned_bytes: int | None = None

    def query(self, start: date, end: date) -> Query:
        table = f"{self.source.database}.{self.source.table}"
        return commitment_query(self.source.schema(), table, start, end)

    def rows(self, start: date, end: date) -> pd.DataFrame:
        from finops_cli.sources.athena import PRICE_PER_TB, _size
        from finops_cli.sources.focus_commitments import records_frame

        query = self.query(start, end)
        rows, execution = self.source.run(query.sql, header=True)
        header, body = [str(h) for h in rows[0]] if rows else [], rows[1:]
        records = [dict(zip(header, row, strict=False)) for row in body]
        scanned = execution.get("Statistics", {}).get("DataScannedInBytes")
        if isinstance(scanned, int):
            self.scanned_bytes = scanned
            self.notes.append(
                f"Athena scanned {_size(scanned)} (about ${scanned / 1e12 * PRICE_PER_TB:,.4f})"
            )
        if not records:
            import pandas as pd

            from finops_cli.sources.focus_commitments import COMMITMENT_COLUMNS

            self.notes.append("the Athena table has no commitment, reservation or GPU usage rows")
            return pd.DataFrame(columns=list(COMMITMENT_COLUMNS))
        return records_frame(records, start, end)
