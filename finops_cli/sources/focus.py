"""FOCUS 1.0-1.3 billing files (CSV, gzipped CSV, Parquet; one file or a folder), read in batches.

AWS Data Exports, Azure Cost Management, GCP and OCI all export FOCUS, so this one reader covers
every cloud's bill. Files are streamed with pyarrow (``pyarrow.csv.open_csv``,
``ParquetFile.iter_batches``): memory grows with one batch and the grouped answer, never with the
file, so a 5 GB export is read in a few hundred MB. Only the columns a request needs are
converted, and each string column arrives dictionary-encoded: dates, JSON tags and instance types
are parsed once per *distinct* value, not once per row, which is what makes it faster than loading
the file into a data frame. ``docs/billing.md`` has the measured figures.

A file that is not what it claims ends as one ``UsageError`` naming the file, the row (the header
is row 1) and the column: missing mandatory columns, dates that do not parse, costs that are not
numbers. The fast path reads typed columns; when the typed read fails, a slower pass reads the
file again as text only to find and name the first bad cell.

This module plans what each file must give a request and groups the batches; the file formats
live in ``focus_files.py`` and the decoding of cell values into shared codes in
``focus_values.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finops_cli.errors import UsageError
from finops_cli.sources.billing import (
    BILL_COLUMNS,
    METRIC_TO_FOCUS,
    UNTAGGED,
    BillData,
    BillRequest,
    BillSource,
    Dimension,
    instance_family,
)
from finops_cli.sources.focus_files import (
    BLOCK_SIZE,
    CSV_NULLS,
    FILE_SUFFIXES,
    PARQUET_BATCH_ROWS,
    csv_header,
    csv_stream,
    discover,
    file_kind,
    locate_csv,
    numeric_cost,
    parquet_footer_problem,
    resolve_columns,
)
from finops_cli.sources.focus_values import (
    Attribute,
    BadValue,
    Use,
    as_text,
    hashable,
    instance_type_of,
    one_line,
    parse_time,
    tag_value,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

__all__ = [
    "BLOCK_SIZE",
    "FILE_SUFFIXES",
    "FocusSource",
    "discover",
    "file_kind",
    "instance_type_of",
    "parse_time",
    "tag_value",
]

AGGREGATE_ROWS = 1 << 20  # buffer this many filtered rows (about 30 MB) between aggregations
COMPACT_ROWS = 200_000  # re-aggregate the partial results past this many rows

# Canonical FOCUS names of the columns the reader may use.
CHARGE_START = "ChargePeriodStart"
BILLING_PERIOD_END = "BillingPeriodEnd"
CURRENCY = "BillingCurrency"
TAGS = "Tags"
PROVIDER_NAMES = ("ServiceProviderName", "ProviderName")  # 1.3 first, then 1.0-1.2
INSTANCE_TYPE_SOURCES = ("x_InstanceType", "x_UsageType", "SkuPriceDetails")
DIMENSION_COLUMNS = {
    "service": "ServiceName",
    "account": "SubAccountId",
    "region": "RegionId",
    "usage_type": "x_UsageType",
    "purchase_option": "PricingCategory",
    "resource": "ResourceId",
    "sku": "SkuId",
}
COMPUTE_CATEGORY = "Compute"


@dataclass
class _Plan:
    """What one request needs from one file."""

    columns: dict[str, str]  # lowercased canonical -> actual
    cost: str  # actual name of the cost column
    period: Use
    estimated: Use
    currency: Use
    group: list[Use]
    filters: list[tuple[Use, Callable[[str], bool]]]
    notes: list[str]

    def uses(self) -> list[Use]:
        return [
            self.period,
            self.estimated,
            self.currency,
            *self.group,
            *(use for use, _ in self.filters),
        ]

    def read_columns(self) -> list[str]:
        """Actual names of the columns to convert, the cost first; absent ones left out."""
        names = [self.cost] + [
            self.columns[u.column.lower()] for u in self.uses() if u.column.lower() in self.columns
        ]
        return list(dict.fromkeys(names))


class FocusSource(BillSource):
    """Reads FOCUS exports from ``path`` (a file or a folder of them)."""

    name = "focus"

    def __init__(self, path: Path, *, block_size: int = BLOCK_SIZE) -> None:
        self.path = path
        self.block_size = block_size
        self.files = discover(path)
        self.rows_read = 0

    def actual(self, request: BillRequest) -> BillData:
        import pandas as pd

        metric = METRIC_TO_FOCUS.get(request.metric)
        if metric is None:
            raise UsageError(
                f"invalid --metric {request.metric!r}: expected one of {', '.join(METRIC_TO_FOCUS)}"
            )
        state = _Aggregation(request, metric)
        for path in self.files:
            self.rows_read += state.read_file(path, self.block_size)
        for path, count in state.missing_costs.items():
            if count:
                state.notes.append(
                    f"{path.name}: {count} row(s) in the window have no {metric} value (NULL or "
                    "empty): counted as 0"
                )
        rows = state.result()
        notes = list(dict.fromkeys(state.notes))
        frame = pd.DataFrame(rows, columns=[*request.columns, *BILL_COLUMNS])
        return BillData(source=self.name, metric=metric, frame=frame, notes=notes)


class _Aggregation:
    """Grouped sums over every batch of every file, by global attribute codes."""

    def __init__(self, request: BillRequest, metric: str) -> None:
        self.request = request
        self.metric = metric
        self.notes: list[str] = []
        self.missing_costs: dict[Path, int] = {}  # rows kept whose cost cell was NULL or empty
        self.start = _midnight(request.start)
        self.end = _midnight(request.end)
        self.period = Attribute("period")
        self.estimated = Attribute("estimated")
        self.currency = Attribute("currency")
        self.attributes: dict[str, Attribute] = {}
        self.group = [self.attribute(_label(d)) for d in request.group_by]
        self.partials: list[pa.Table] = []
        self.partial_rows = 0
        self.pending: list[pa.Table] = []  # filtered code rows not aggregated yet
        self.pending_rows = 0
        self.names = ["period", "estimated", "currency", *(f"g{i}" for i in range(len(self.group)))]

    def attribute(self, label: str) -> Attribute:
        if label not in self.attributes:
            self.attributes[label] = Attribute(label)
        return self.attributes[label]

    # ---- derivations that need the request ------------------------------------------------
    def _period(self, raw: Any) -> str:
        moment = parse_time(raw)
        if not self.start <= moment < self.end:
            return ""  # outside the window: filtered out
        day = moment.date()
        if self.request.granularity == "monthly":
            day = max(day.replace(day=1), self.request.start)
        return day.isoformat()

    def _estimated(self, raw: Any) -> str:
        moment = parse_time(raw)
        now = self.request.now
        return "true" if now is not None and moment > now else "false"

    @staticmethod
    def _currency(raw: Any) -> str:
        text = as_text(raw).strip().upper()
        if not text:
            raise BadValue("missing value")
        return text

    # ---- planning -------------------------------------------------------------------------
    def plan(self, path: Path, columns: dict[str, str]) -> _Plan:
        request = self.request
        notes: list[str] = []
        missing: list[str] = []

        def need(name: str) -> str:
            if name.lower() not in columns:
                missing.append(name)
            return name

        cost = need(self.metric)
        period = Use(self.period, need(CHARGE_START), self._period)
        estimated = Use(self.estimated, need(BILLING_PERIOD_END), self._estimated)
        currency = Use(self.currency, need(CURRENCY), self._currency)
        provider = next((p for p in PROVIDER_NAMES if p.lower() in columns), None)
        if provider is None:
            missing.append("ProviderName (or ServiceProviderName)")
        group = [
            self._use(d, attr, columns, need, notes)
            for d, attr in zip(request.group_by, self.group, strict=True)
        ]
        filters: list[tuple[Use, Callable[[str], bool]]] = []
        if request.services is None:  # compute usage, as Cost Explorer's EC2-instances default
            use = Use(self.attribute("text:ServiceCategory"), need("ServiceCategory"), as_text)
            filters.append((use, COMPUTE_CATEGORY.__eq__))
            use = Use(self.attribute("text:ChargeCategory"), need("ChargeCategory"), as_text)
            filters.append((use, "Usage".__eq__))
        elif request.services:
            use = Use(self.attribute("text:ServiceName"), need("ServiceName"), as_text)
            filters.append((use, set(request.services).__contains__))
        if request.instance_families:
            families = set(request.instance_families)
            use = self._instance_type(columns, need)
            filters.append((use, lambda v: instance_family(v) in families))
        for key, values in request.tags.items():
            accepted = {UNTAGGED if v == "" else v for v in values}
            filters.append((self._tag(key, columns, notes), accepted.__contains__))
        if missing:
            raise UsageError(
                f"{path}: row 1 (header): missing FOCUS column(s) {', '.join(missing)}; is this a "
                "FOCUS 1.0-1.3 export?"
            )
        actual_cost = columns[cost.lower()]
        return _Plan(columns, actual_cost, period, estimated, currency, group, filters, notes)

    def _use(
        self,
        dimension: Dimension,
        attr: Attribute,
        columns: dict[str, str],
        need: Callable[[str], str],
        notes: list[str],
    ) -> Use:
        if dimension.name in ("team", "tag"):
            return self._tag(str(dimension.key), columns, notes)
        if dimension.name == "instance_type":
            return self._instance_type(columns, need)
        if dimension.name == "provider":
            column = next((p for p in PROVIDER_NAMES if p.lower() in columns), PROVIDER_NAMES[1])
            return Use(attr, column, as_text)
        if dimension.name == "category":
            raise UsageError(
                "FOCUS files have no AWS cost categories: group by category with Cost Explorer"
            )
        return Use(attr, need(DIMENSION_COLUMNS[dimension.name]), as_text)

    def _tag(self, key: str, columns: dict[str, str], notes: list[str]) -> Use:
        if TAGS.lower() not in columns:
            notes.append(f"the FOCUS file(s) have no Tags column: all spend is {UNTAGGED}")

        def derive(raw: Any) -> str:
            return tag_value(raw, key)

        return Use(self.attribute(f"tag:{key}"), TAGS, derive, tag_key=key)

    def _instance_type(self, columns: dict[str, str], need: Callable[[str], str]) -> Use:
        attr = self.attribute("instance_type")
        for source in INSTANCE_TYPE_SOURCES:
            if source.lower() in columns:

                def derive(raw: Any, column: str = source) -> str:
                    return instance_type_of(raw, column)

                return Use(attr, source, derive)
        need("x_UsageType (or x_InstanceType or SkuPriceDetails, for instance types)")
        return Use(attr, "x_UsageType", as_text)

    # ---- reading --------------------------------------------------------------------------
    def read_file(self, path: Path, block_size: int) -> int:
        kind = file_kind(path)
        if kind == "parquet":
            return self._read_parquet(path)
        return self._read_csv(path, kind, block_size)

    def _read_csv(self, path: Path, kind: str, block_size: int) -> int:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        header = csv_header(path, kind)
        plan = self.plan(path, resolve_columns(header))
        self.notes.extend(plan.notes)
        read = plan.read_columns()
        types = {name: pa.dictionary(pa.int32(), pa.string()) for name in read}
        types[plan.cost] = pa.float64()
        rows = 0
        try:
            reader = pcsv.open_csv(
                csv_stream(path, kind),
                read_options=pcsv.ReadOptions(
                    block_size=block_size, column_names=header, skip_rows=1
                ),
                convert_options=pcsv.ConvertOptions(
                    include_columns=read,
                    column_types=types,
                    null_values=CSV_NULLS,
                    strings_can_be_null=False,
                ),
            )
            for batch in reader:
                self._batch(path, plan, batch, rows, header_rows=1)
                rows += batch.num_rows
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, EOFError) as err:
            raise locate_csv(path, kind, header, plan.cost, err) from None
        return rows

    def _read_parquet(self, path: Path) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        problem = parquet_footer_problem(path)
        if problem is not None:
            raise UsageError(f"{path}: {problem}")
        try:
            parquet = pq.ParquetFile(path)
            names = list(parquet.schema_arrow.names)
        except (pa.ArrowException, OSError) as err:
            raise UsageError(
                f"{path}: corrupt Parquet file: its footer (schema and row groups) cannot be "
                f"read: {one_line(err)}"
            ) from None
        plan = self.plan(path, resolve_columns(names))
        self.notes.extend(plan.notes)
        columns = plan.read_columns()
        rows = 0
        for group in range(parquet.metadata.num_row_groups):
            first = rows
            try:
                for batch in parquet.iter_batches(
                    batch_size=PARQUET_BATCH_ROWS, row_groups=[group], columns=columns
                ):
                    self._batch(path, plan, batch, rows, header_rows=0)
                    rows += batch.num_rows
            except (pa.ArrowException, OSError) as err:
                raise _corrupt_row_group(path, parquet, group, columns, first, err) from None
        return rows

    def _batch(
        self, path: Path, plan: _Plan, batch: pa.RecordBatch, offset: int, header_rows: int
    ) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        n = batch.num_rows
        if n == 0:
            return

        def column(canonical: str) -> Any:
            actual = plan.columns.get(canonical.lower())
            if actual is None:
                return pa.nulls(n, pa.string())
            return batch.column(batch.schema.get_field_index(actual))

        def fail(row_index: int, column_name: str, problem: str) -> UsageError:
            row = offset + row_index + 1 + header_rows
            return UsageError(f"{path}: row {row}, column {column_name}: {problem}")

        def codes(use: Use) -> npt.NDArray[np.int32]:
            array = column(use.column)
            if use.tag_key is not None and pa.types.is_map(array.type):
                return use.attribute.encode_map_lookup(array, use.tag_key)
            out = use.attribute.encode(array, use.column, use.derive)
            if use.attribute.errors:
                bad = np.flatnonzero(out == Attribute.BAD)
                if len(bad):
                    first = int(bad[0])
                    key = (use.column, hashable(array[first].as_py()))
                    problem = use.attribute.errors.get(key, "invalid value")
                    raise fail(first, plan.columns.get(use.column.lower(), use.column), problem)
            return out

        cost = batch.column(batch.schema.get_field_index(plan.cost))
        if not pa.types.is_floating(cost.type):
            cost = numeric_cost(cost, lambda i, p: fail(i, plan.cost, p))
        absent = cost.null_count
        if absent:  # NULL or empty: no charge recorded; counted below if the row is kept
            absent_rows = cost.is_null().to_numpy(zero_copy_only=False)
            cost = pc.fill_null(cost, 0.0)
        finite = pc.is_finite(cost)
        if not pc.all(finite).as_py():
            first = int(np.flatnonzero(~finite.to_numpy(zero_copy_only=False))[0])
            raise fail(first, plan.cost, f"not a finite number ({cost[first].as_py()!r})")
        period = codes(plan.period)
        keep = period != self.period.codes.get("", -2)
        arrays = [period, codes(plan.estimated), codes(plan.currency)]
        for use, accept in plan.filters:
            values = codes(use)
            allowed = np.array([accept(v) for v in use.attribute.values] + [False], dtype=bool)
            keep &= allowed[values]
        if not keep.any():
            return
        if absent:
            self.missing_costs[path] = self.missing_costs.get(path, 0) + int(
                np.count_nonzero(keep & absent_rows)
            )
        arrays += [codes(use) for use in plan.group]
        mask = pa.array(keep)
        self.pending.append(
            pa.table(
                {n: pc.filter(pa.array(a), mask) for n, a in zip(self.names, arrays, strict=True)}
                | {"cost": pc.filter(cost, mask)}
            )
        )
        self.pending_rows += self.pending[-1].num_rows
        if self.pending_rows >= AGGREGATE_ROWS:
            self._flush()

    def _flush(self) -> None:
        """Aggregate the buffered rows; compact the partial results when they pile up."""
        import pyarrow as pa

        if self.pending:
            self.partials.append(_aggregate(pa.concat_tables(self.pending), self.names))
            self.partial_rows += self.partials[-1].num_rows
            self.pending, self.pending_rows = [], 0
        if len(self.partials) > 1 and self.partial_rows > COMPACT_ROWS:
            self._compact()

    def _compact(self) -> None:
        import pyarrow as pa

        if len(self.partials) > 1:
            self.partials = [_aggregate(pa.concat_tables(self.partials), self.names)]
        self.partial_rows = self.partials[0].num_rows if self.partials else 0

    def result(self) -> list[dict[str, Any]]:
        """The grouped rows, codes decoded."""
        self._flush()
        self._compact()
        if not self.partials:
            return []
        table = self.partials[0].to_pydict()
        columns = [d.column for d in self.request.group_by]
        rows: list[dict[str, Any]] = []
        for i in range(len(table["cost"])):
            start = date.fromisoformat(self.period.values[table["period"][i]])
            row: dict[str, Any] = {
                column: attr.values[table[f"g{j}"][i]]
                for j, (column, attr) in enumerate(zip(columns, self.group, strict=True))
            }
            row["period_start"] = start.isoformat()
            row["period_end"] = _period_end(start, self.request).isoformat()
            row["estimated"] = self.estimated.values[table["estimated"][i]] == "true"
            row["currency"] = self.currency.values[table["currency"][i]]
            row["cost"] = float(table["cost"][i])
            rows.append(row)
        rows.sort(key=lambda r: (r["period_start"], *(r[c] for c in columns)))
        return rows


def _corrupt_row_group(
    path: Path, parquet: Any, group: int, columns: list[str], offset: int, err: BaseException
) -> UsageError:
    """The row group (and, read again one column at a time, the column) that cannot be decoded."""
    import pyarrow as pa

    count = parquet.metadata.row_group(group).num_rows
    where = f"row group {group + 1} of {parquet.metadata.num_row_groups}"
    where += f" (rows {offset + 1}-{offset + count})"
    for column in columns:
        try:
            parquet.read_row_group(group, columns=[column])
        except (pa.ArrowException, OSError) as again:
            return UsageError(
                f"{path}: corrupt Parquet data in {where}, column {column}: {one_line(again)}"
            )
    return UsageError(f"{path}: corrupt Parquet data in {where}: {one_line(err)}")


def _label(dimension: Dimension) -> str:
    if dimension.name in ("team", "tag"):
        return f"tag:{dimension.key}"
    if dimension.name == "instance_type":
        return "instance_type"
    if dimension.name == "provider":
        return "provider"
    return f"text:{DIMENSION_COLUMNS.get(dimension.name, dimension.name)}"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _period_end(start: date, request: BillRequest) -> date:
    if request.granularity == "monthly":
        following = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        return min(following, request.end)
    return start + timedelta(days=1)


def _aggregate(table: pa.Table, names: list[str]) -> pa.Table:
    grouped = table.group_by(names).aggregate([("cost", "sum")])
    return grouped.rename_columns(
        [("cost" if c == "cost_sum" else c) for c in grouped.column_names]
    )
