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
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finops_cli.errors import UsageError
from finops_cli.sources.billing import (
    BILL_COLUMNS,
    METRIC_TO_FOCUS,
    NO_INSTANCE_TYPE,
    UNTAGGED,
    BillData,
    BillRequest,
    BillSource,
    Dimension,
    instance_family,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

FILE_SUFFIXES = (".csv", ".csv.gz", ".gz", ".parquet", ".pq")
BLOCK_SIZE = 4 << 20  # CSV bytes per batch: about 12k FOCUS rows
PARQUET_BATCH_ROWS = 65_536
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
_USAGE_INSTANCE = re.compile(r"(?:^|[:/])([a-z][a-z0-9-]*[0-9][a-z0-9-]*\.[0-9a-z-]+)$")
_NUMBER = r"^\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*$"


class _BadValue(Exception):  # noqa: N818 - internal signal, never leaves the module
    """A raw value a derivation cannot use; carries the reason shown to the user."""


Derive = Callable[[Any], str]


@dataclass
class _Attribute:
    """A group or filter value, encoded as small integer codes shared by every batch and file.

    Files name and shape the source differently (``x_UsageType`` here, ``x_InstanceType``
    there), so each read says which column it derives from and how; a distinct raw value is
    derived once per (column, value), and equal derived values share one code, which is what
    lets partial aggregates of different files merge by code.
    """

    label: str
    values: list[str] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)
    raw: dict[tuple[str, Any], int] = field(default_factory=dict)
    errors: dict[tuple[str, Any], str] = field(default_factory=dict)
    by_column: dict[str, tuple[Any, list[int]]] = field(default_factory=dict)  # text seen, codes

    BAD = -1

    def value_code(self, value: str) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code

    def code_of(self, column: str, derive: Derive, raw: Any) -> int:
        key = (column, _hashable(raw))
        found = self.raw.get(key)
        if found is not None:
            return found
        try:
            code = self.value_code(derive(raw))
        except _BadValue as bad:
            self.errors[key] = str(bad)
            code = self.BAD
        self.raw[key] = code
        return code

    def encode(self, array: Any, column: str, derive: Derive) -> npt.NDArray[np.int32]:
        """Codes for a column of a batch (any type; dictionary-encoded on the way).

        Text dictionaries are matched against the raw values seen before in one vectorised
        ``index_in``; only values never seen go through ``derive``.
        """
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not pa.types.is_dictionary(array.type):
            array = pc.dictionary_encode(array)
        dictionary = array.dictionary
        null_code = self.code_of(column, derive, None)
        if pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type):
            seen, seen_codes = self.by_column.get(column, (pa.array([], pa.string()), []))
            where = pc.index_in(dictionary.cast(pa.string()), value_set=seen)
            positions = np.array(where.fill_null(-1).to_numpy(zero_copy_only=False))
            fresh = np.flatnonzero(positions < 0)
            if len(fresh):
                values = dictionary.take(pa.array(fresh)).to_pylist()
                codes = [self.code_of(column, derive, v) for v in values]
                positions[fresh] = np.arange(len(seen_codes), len(seen_codes) + len(fresh))
                seen = pa.concat_arrays([seen, pa.array(values, pa.string())])
                seen_codes = [*seen_codes, *codes]
                self.by_column[column] = (seen, seen_codes)
            table = np.append(np.asarray(seen_codes, np.int32)[positions], np.int32(null_code))
        else:
            table = np.array(
                [self.code_of(column, derive, v) for v in dictionary.to_pylist()] + [null_code],
                np.int32,
            )
        indices = array.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
        return np.asarray(table[indices], dtype=np.int32)

    def encode_map_lookup(self, array: Any, key: str) -> npt.NDArray[np.int32]:
        """Codes for a map-typed ``Tags`` column (Parquet from Athena or Data Exports)."""
        import numpy as np
        import pyarrow.compute as pc

        found = pc.coalesce(
            pc.map_lookup(array, key, "first"), pc.map_lookup(array, f"user:{key}", "first")
        )
        encoded = pc.dictionary_encode(found)
        dictionary = encoded.dictionary.to_pylist()
        table = np.array(
            [self.value_code(str(v) if v else UNTAGGED) for v in dictionary]
            + [self.value_code(UNTAGGED)],
            np.int32,
        )
        indices = encoded.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
        return np.asarray(table[indices], dtype=np.int32)


@dataclass(frozen=True)
class _Use:
    """One attribute read from one file: the file's column (canonical name) and how to derive."""

    attribute: _Attribute
    column: str
    derive: Derive
    tag_key: str | None = None  # Tags: the key, for map-typed columns


def _hashable(raw: Any) -> Any:
    return raw if raw is None or isinstance(raw, str | int | float | datetime | date) else str(raw)


# ---- derivations ----------------------------------------------------------------------------
def parse_time(raw: Any) -> datetime:
    """A FOCUS date-time (ISO 8601 text, or a Parquet timestamp) as aware UTC."""
    if raw is None or raw == "":
        raise _BadValue("missing value")
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, date):
        moment = datetime(raw.year, raw.month, raw.day)
    else:
        text = str(raw).strip()
        try:
            moment = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise _BadValue(f"not an ISO 8601 date-time ({_short(text)!r})") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def tag_value(raw: Any, key: str) -> str:
    """The value of ``key`` in a FOCUS ``Tags`` JSON object; ``__untagged__`` when absent."""
    if raw is None or raw == "":
        return UNTAGGED
    try:
        tags = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise _BadValue(f"not a JSON object ({_short(raw)!r})") from None
    if not isinstance(tags, dict):
        raise _BadValue(f"not a JSON object ({_short(raw)!r})")
    value = tags.get(key)
    if value is None:
        value = tags.get(f"user:{key}")  # AWS prefixes user-defined tags in some exports
    if value is None or value == "":
        return UNTAGGED
    return value if isinstance(value, str) else json.dumps(value)


def instance_type_of(raw: Any, column: str) -> str:
    """An instance type from ``x_InstanceType``, ``x_UsageType`` or ``SkuPriceDetails``."""
    if raw is None or raw == "":
        return NO_INSTANCE_TYPE
    text = str(raw).strip()
    if column == "x_InstanceType":
        return text or NO_INSTANCE_TYPE
    if column == "SkuPriceDetails":
        try:
            details = json.loads(text)
        except ValueError:
            return NO_INSTANCE_TYPE
        if isinstance(details, dict):
            for key in ("InstanceType", "x_InstanceType", "instanceType"):
                if isinstance(details.get(key), str) and details[key]:
                    return str(details[key])
        return NO_INSTANCE_TYPE
    match = _USAGE_INSTANCE.search(text)
    return match.group(1) if match else NO_INSTANCE_TYPE


def _text(raw: Any) -> str:
    return "" if raw is None else str(raw)


# ---- files ----------------------------------------------------------------------------------
def discover(path: Path) -> list[Path]:
    """The FOCUS files at ``path``: the file itself, or every CSV/Parquet file under a folder."""
    if not path.exists():
        raise UsageError(f"--focus {str(path)!r}: no such file or folder")
    if path.is_file():
        return [path]
    found = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
        and p.name.lower().endswith(FILE_SUFFIXES)
    )
    if not found:
        raise UsageError(
            f"--focus {str(path)!r}: no FOCUS files (*.csv, *.csv.gz, *.parquet) in this folder"
        )
    return found


def file_kind(path: Path) -> str:
    """``parquet``, ``gzip`` (gzipped CSV) or ``csv``, from the first bytes, not the name."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as err:
        raise UsageError(f"{path}: cannot read: {err.strerror or err}") from None
    if magic == b"PAR1":
        return "parquet"
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    return "csv"


def _csv_header(path: Path, kind: str) -> list[str]:
    import csv

    opener: Any = gzip.open if kind == "gzip" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, EOFError, csv.Error) as err:
        raise UsageError(f"{path}: row 1: cannot read the CSV header: {_one_line(err)}") from None
    if not header:
        raise UsageError(f"{path}: row 1: empty file, no FOCUS header")
    return [h.strip() for h in header]


def _resolve(names: list[str]) -> dict[str, str]:
    """Canonical FOCUS name, lowercased -> the name used in the file (case-insensitive match)."""
    out: dict[str, str] = {}
    for name in names:
        out.setdefault(name.lower(), name)
    return out


@dataclass
class _Plan:
    """What one request needs from one file."""

    columns: dict[str, str]  # lowercased canonical -> actual
    cost: str  # actual name of the cost column
    period: _Use
    estimated: _Use
    currency: _Use
    group: list[_Use]
    filters: list[tuple[_Use, Callable[[str], bool]]]
    notes: list[str]

    def uses(self) -> list[_Use]:
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
        self.start = _midnight(request.start)
        self.end = _midnight(request.end)
        self.period = _Attribute("period")
        self.estimated = _Attribute("estimated")
        self.currency = _Attribute("currency")
        self.attributes: dict[str, _Attribute] = {}
        self.group = [self.attribute(_label(d)) for d in request.group_by]
        self.partials: list[pa.Table] = []
        self.partial_rows = 0
        self.pending: list[pa.Table] = []  # filtered code rows not aggregated yet
        self.pending_rows = 0
        self.names = ["period", "estimated", "currency", *(f"g{i}" for i in range(len(self.group)))]

    def attribute(self, label: str) -> _Attribute:
        if label not in self.attributes:
            self.attributes[label] = _Attribute(label)
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
        text = _text(raw).strip().upper()
        if not text:
            raise _BadValue("missing value")
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
        period = _Use(self.period, need(CHARGE_START), self._period)
        estimated = _Use(self.estimated, need(BILLING_PERIOD_END), self._estimated)
        currency = _Use(self.currency, need(CURRENCY), self._currency)
        provider = next((p for p in PROVIDER_NAMES if p.lower() in columns), None)
        if provider is None:
            missing.append("ProviderName (or ServiceProviderName)")
        group = [
            self._use(d, attr, columns, need, notes)
            for d, attr in zip(request.group_by, self.group, strict=True)
        ]
        filters: list[tuple[_Use, Callable[[str], bool]]] = []
        if request.services is None:  # compute usage, as Cost Explorer's EC2-instances default
            use = _Use(self.attribute("text:ServiceCategory"), need("ServiceCategory"), _text)
            filters.append((use, COMPUTE_CATEGORY.__eq__))
            use = _Use(self.attribute("text:ChargeCategory"), need("ChargeCategory"), _text)
            filters.append((use, "Usage".__eq__))
        elif request.services:
            use = _Use(self.attribute("text:ServiceName"), need("ServiceName"), _text)
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
        attr: _Attribute,
        columns: dict[str, str],
        need: Callable[[str], str],
        notes: list[str],
    ) -> _Use:
        if dimension.name in ("team", "tag"):
            return self._tag(str(dimension.key), columns, notes)
        if dimension.name == "instance_type":
            return self._instance_type(columns, need)
        if dimension.name == "provider":
            column = next((p for p in PROVIDER_NAMES if p.lower() in columns), PROVIDER_NAMES[1])
            return _Use(attr, column, _text)
        if dimension.name == "category":
            raise UsageError(
                "FOCUS files have no AWS cost categories: group by category with Cost Explorer"
            )
        return _Use(attr, need(DIMENSION_COLUMNS[dimension.name]), _text)

    def _tag(self, key: str, columns: dict[str, str], notes: list[str]) -> _Use:
        if TAGS.lower() not in columns:
            notes.append(f"the FOCUS file(s) have no Tags column: all spend is {UNTAGGED}")

        def derive(raw: Any) -> str:
            return tag_value(raw, key)

        return _Use(self.attribute(f"tag:{key}"), TAGS, derive, tag_key=key)

    def _instance_type(self, columns: dict[str, str], need: Callable[[str], str]) -> _Use:
        attr = self.attribute("instance_type")
        for source in INSTANCE_TYPE_SOURCES:
            if source.lower() in columns:

                def derive(raw: Any, column: str = source) -> str:
                    return instance_type_of(raw, column)

                return _Use(attr, source, derive)
        need("x_UsageType (or x_InstanceType or SkuPriceDetails, for instance types)")
        return _Use(attr, "x_UsageType", _text)

    # ---- reading --------------------------------------------------------------------------
    def read_file(self, path: Path, block_size: int) -> int:
        kind = file_kind(path)
        if kind == "parquet":
            return self._read_parquet(path)
        return self._read_csv(path, kind, block_size)

    def _read_csv(self, path: Path, kind: str, block_size: int) -> int:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        header = _csv_header(path, kind)
        plan = self.plan(path, _resolve(header))
        self.notes.extend(plan.notes)
        read = plan.read_columns()
        types = {name: pa.dictionary(pa.int32(), pa.string()) for name in read}
        types[plan.cost] = pa.float64()
        rows = 0
        try:
            reader = pcsv.open_csv(
                _csv_stream(path, kind),
                read_options=pcsv.ReadOptions(
                    block_size=block_size, column_names=header, skip_rows=1
                ),
                convert_options=pcsv.ConvertOptions(
                    include_columns=read, column_types=types, strings_can_be_null=False
                ),
            )
            for batch in reader:
                self._batch(path, plan, batch, rows, header_rows=1)
                rows += batch.num_rows
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, EOFError) as err:
            raise _locate_csv(path, kind, header, plan.cost, err) from None
        return rows

    def _read_parquet(self, path: Path) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
            names = list(parquet.schema_arrow.names)
        except (pa.ArrowException, OSError) as err:
            raise UsageError(f"{path}: not a readable Parquet file: {_one_line(err)}") from None
        plan = self.plan(path, _resolve(names))
        self.notes.extend(plan.notes)
        rows = 0
        try:
            for batch in parquet.iter_batches(
                batch_size=PARQUET_BATCH_ROWS, columns=plan.read_columns()
            ):
                self._batch(path, plan, batch, rows, header_rows=0)
                rows += batch.num_rows
        except (pa.ArrowException, OSError) as err:
            raise UsageError(f"{path}: not a readable Parquet file: {_one_line(err)}") from None
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

        def codes(use: _Use) -> npt.NDArray[np.int32]:
            array = column(use.column)
            if use.tag_key is not None and pa.types.is_map(array.type):
                return use.attribute.encode_map_lookup(array, use.tag_key)
            out = use.attribute.encode(array, use.column, use.derive)
            if use.attribute.errors:
                bad = np.flatnonzero(out == _Attribute.BAD)
                if len(bad):
                    first = int(bad[0])
                    key = (use.column, _hashable(array[first].as_py()))
                    problem = use.attribute.errors.get(key, "invalid value")
                    raise fail(first, plan.columns.get(use.column.lower(), use.column), problem)
            return out

        cost = batch.column(batch.schema.get_field_index(plan.cost))
        if not pa.types.is_floating(cost.type):
            cost = _numeric(cost, lambda i, p: fail(i, plan.cost, p))
        if cost.null_count:
            first = int(np.flatnonzero(cost.is_null().to_numpy(zero_copy_only=False))[0])
            raise fail(first, plan.cost, "missing value (not a number)")
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


def _numeric(array: Any, fail: Callable[[int, str], UsageError]) -> Any:
    """A Parquet cost column that is not float (decimal, integer, or text) as float64."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        ok = pc.match_substring_regex(array, _NUMBER).fill_null(True)
        bad = np.flatnonzero(~ok.to_numpy(zero_copy_only=False))
        if len(bad):
            value = array[int(bad[0])].as_py()
            raise fail(int(bad[0]), f"not a number ({_short(value)!r})")
    try:
        return pc.cast(array, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise fail(0, f"not a number column ({_one_line(err)})") from None


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300]


def _csv_stream(path: Path, kind: str) -> Any:
    import pyarrow as pa

    raw = pa.OSFile(str(path), "rb")
    return pa.CompressedInputStream(raw, "gzip") if kind == "gzip" else raw


def _locate_csv(
    path: Path, kind: str, header: list[str], cost: str, err: BaseException
) -> UsageError:
    """Read the file again as plain text, only to name the first row the typed read refused."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    message = _one_line(err)
    bad_rows: list[tuple[int | None, str]] = []

    def invalid(row: Any) -> str:
        bad_rows.append((row.number, str(row.text)))
        return "error"

    try:
        reader = pcsv.open_csv(
            _csv_stream(path, kind),
            read_options=pcsv.ReadOptions(
                use_threads=False, block_size=BLOCK_SIZE, column_names=header, skip_rows=1
            ),
            parse_options=pcsv.ParseOptions(invalid_row_handler=invalid),
            convert_options=pcsv.ConvertOptions(
                include_columns=[cost], column_types={cost: pa.string()}
            ),
        )
        offset = 0
        for batch in reader:
            values = batch.column(0)
            ok = pc.match_substring_regex(values, _NUMBER).to_numpy(zero_copy_only=False)
            bad = np.flatnonzero(~ok.astype(bool))
            if len(bad):
                i = int(bad[0])
                value = values[i].as_py()
                problem = "missing value (not a number)" if value == "" else "not a number"
                shown = "" if value == "" else f" ({_short(value)!r})"
                return UsageError(f"{path}: row {offset + i + 2}, column {cost}: {problem}{shown}")
            offset += batch.num_rows
    except (pa.ArrowInvalid, OSError, EOFError) as again:
        if bad_rows:
            number, text = bad_rows[0]
            where = f"row {number}" if number is not None else "a row"
            return UsageError(
                f"{path}: {where}: not valid CSV, {len(header)} columns expected: {_short(text)!r}"
            )
        message = _one_line(again)
    if kind == "gzip" and ("gzip" in message.lower() or "compress" in message.lower()):
        return UsageError(f"{path}: not a readable gzip file: {message}")
    return UsageError(f"{path}: not a readable FOCUS CSV file: {message}")
