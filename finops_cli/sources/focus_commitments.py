"""FOCUS 1.0-1.3 files, read row by row for what commitments and reservations cover.

``focus.py`` groups a bill into sums; commitments cannot be summed first: whether a row is a
used or unused commitment, which reservation it belongs to, and which hour it fell in all
matter. This reader therefore keeps rows, but only the ones that can matter to commitments:

* every row that names a commitment (``CommitmentDiscountId``) or a capacity reservation
  (``CapacityReservationId``), whatever its charge category (``Usage`` used/unused, ``Purchase``);
* every ``Usage`` row of a GPU instance type (the hours that coverage is computed over, and the
  on-demand hours an idle reservation could have absorbed).

Everything else (storage, data transfer, CPU instances without commitments, taxes) is dropped
batch by batch, so memory follows the commitment and GPU rows, not the file. Cells that are
``NULL``/empty are missing values, as everywhere else in the FOCUS reader
(``focus_values.missing``). Columns a FOCUS version lacks (``CapacityReservationId`` before 1.1,
``ContractApplied`` before 1.3) are read as missing. The frame's columns are ``COMMITMENT_COLUMNS``.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finops_cli.errors import UsageError
from finops_cli.sources.billing import NO_INSTANCE_TYPE, is_gpu_machine
from finops_cli.sources.focus_files import (
    PARQUET_BATCH_ROWS,
    csv_header,
    csv_stream,
    discover,
    file_kind,
    parquet_footer_problem,
    resolve_columns,
)
from finops_cli.sources.focus_values import (
    BadValue,
    instance_type_of,
    missing,
    one_line,
    parse_time,
    shorten,
)

if TYPE_CHECKING:
    import pandas as pd

COMMITMENT_COLUMNS = (
    "start", "end", "hours", "charge_category", "pricing_category", "commitment_id",
    "commitment_type", "commitment_category", "commitment_status", "commitment_quantity",
    "commitment_unit", "reservation_id", "reservation_status", "instance_type", "zone", "region",
    "resource_id", "provider", "billed_cost", "effective_cost", "currency", "usage_type",
    "contract_applied", "charge_subcategory", "list_cost",
)  # fmt: skip
"""One row per kept bill row: ``start``/``end`` the charge period (aware UTC); ``hours`` the
instance-hours the row is for (``usage_hours``); texts are None where the cell is missing;
costs are floats as billed (a missing billed or effective cost is 0; a missing ``ListCost``,
the on-demand price of the row, is NaN: the chargeback's commitment discount needs it)."""

TEXT_COLUMNS = {
    "ChargeCategory": "charge_category",
    "ChargeSubcategory": "charge_subcategory",
    "PricingCategory": "pricing_category",
    "CommitmentDiscountId": "commitment_id",
    "CommitmentDiscountType": "commitment_type",
    "CommitmentDiscountCategory": "commitment_category",
    "CommitmentDiscountStatus": "commitment_status",
    "CommitmentDiscountUnit": "commitment_unit",
    "CapacityReservationId": "reservation_id",
    "CapacityReservationStatus": "reservation_status",
    "AvailabilityZone": "zone",
    "RegionId": "region",
    "ResourceId": "resource_id",
    "BillingCurrency": "currency",
    "x_UsageType": "usage_type",
    "ContractApplied": "contract_applied",
}
NUMBER_COLUMNS = {
    "BilledCost": "billed_cost",
    "EffectiveCost": "effective_cost",
    "ListCost": "list_cost",
    "CommitmentDiscountQuantity": "commitment_quantity",
    "ConsumedQuantity": "consumed_quantity",
    "PricingQuantity": "pricing_quantity",
}
UNIT_COLUMNS = ("ConsumedUnit", "PricingUnit")
PROVIDER_NAMES = ("ServiceProviderName", "ProviderName")
INSTANCE_TYPE_SOURCES = ("x_InstanceType", "x_UsageType", "SkuPriceDetails")
REQUIRED = ("ChargePeriodStart", "ChargeCategory", "BilledCost", "BillingCurrency")
HOUR_UNITS = frozenset({"hour", "hours", "hrs", "hr", "h", "instance-hours", "instance hours"})


def is_hour_unit(unit: Any) -> bool:
    """``Hours``, ``Hrs``, ``1 Hour``...: a unit that counts hours (FOCUS leaves it free text)."""
    text = missing(unit)
    if text is None:
        return False
    words = str(text).strip().lower().split()
    return bool(words) and words[-1] in HOUR_UNITS


def usage_hours(
    consumed: float | None,
    consumed_unit: Any,
    pricing: float | None,
    pricing_unit: Any,
    start: datetime,
    end: datetime | None,
) -> float:
    """The instance-hours a row stands for: ``ConsumedQuantity`` when counted in hours, else
    ``PricingQuantity`` in hours, else the length of its charge period (one instance)."""
    if consumed is not None and is_hour_unit(consumed_unit):
        return consumed
    if pricing is not None and is_hour_unit(pricing_unit):
        return pricing
    if end is None or end <= start:
        return 1.0
    return (end - start).total_seconds() / 3600.0


class FocusCommitments:
    """The commitment and GPU rows of FOCUS files at ``path`` in ``[start, end)``."""

    name = "focus"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files = discover(path)
        self.notes: list[str] = []

    def rows(self, start: date, end: date) -> pd.DataFrame:
        import pandas as pd

        low = datetime(start.year, start.month, start.day, tzinfo=UTC)
        high = datetime(end.year, end.month, end.day, tzinfo=UTC)
        parts = [part for path in self.files for part in _read(path, low, high, self.notes)]
        if not parts:
            return pd.DataFrame(columns=list(COMMITMENT_COLUMNS))
        return pd.concat(parts, ignore_index=True)[list(COMMITMENT_COLUMNS)]


def _batches(path: Path, wanted: list[str]) -> Any:
    """(header row count, batches as pandas frames of text cells) for one file."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    kind = file_kind(path)
    if kind == "parquet":
        problem = parquet_footer_problem(path)
        if problem is not None:
            raise UsageError(f"{path}: {problem}")
        try:
            parquet = pq.ParquetFile(path)
            columns = resolve_columns(list(parquet.schema_arrow.names))
            read = [columns[c.lower()] for c in wanted if c.lower() in columns]
            _check(path, columns)
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=read):
                yield columns, 0, batch.to_pandas()
        except (pa.ArrowException, OSError) as err:
            raise UsageError(f"{path}: not a readable Parquet file: {one_line(err)}") from None
        return
    header = csv_header(path, kind)
    columns = resolve_columns(header)
    _check(path, columns)
    read = [columns[c.lower()] for c in wanted if c.lower() in columns]
    try:
        reader = pcsv.open_csv(
            csv_stream(path, kind),
            read_options=pcsv.ReadOptions(column_names=header, skip_rows=1),
            convert_options=pcsv.ConvertOptions(
                include_columns=read, column_types={c: pa.string() for c in read}
            ),
        )
        for batch in reader:
            yield columns, 1, batch.to_pandas()
    except (pa.ArrowInvalid, OSError, EOFError) as err:
        raise UsageError(f"{path}: not a readable FOCUS CSV file: {one_line(err)}") from None


def _check(path: Path, columns: dict[str, str]) -> None:
    lacking = [c for c in REQUIRED if c.lower() not in columns]
    if not any(p.lower() in columns for p in PROVIDER_NAMES):
        lacking.append("ProviderName (or ServiceProviderName)")
    if lacking:
        raise UsageError(
            f"{path}: row 1 (header): missing FOCUS column(s) {', '.join(lacking)}; is this a "
            "FOCUS 1.0-1.3 export?"
        )


WANTED = list(
    dict.fromkeys(
        [
            "ChargePeriodStart",
            "ChargePeriodEnd",
            *TEXT_COLUMNS,
            *NUMBER_COLUMNS,
            *UNIT_COLUMNS,
            *PROVIDER_NAMES,
            *INSTANCE_TYPE_SOURCES,
        ]
    )
)


def _read(path: Path, low: datetime, high: datetime, notes: list[str]) -> list[pd.DataFrame]:
    out: list[pd.DataFrame] = []
    batch = _Batch(path, low, high)
    for columns, header_rows, frame in _batches(path, WANTED):
        kept = batch.kept(columns, header_rows, frame)
        if kept is not None:
            out.append(kept)
    if not out:
        notes.append(f"{path.name}: no commitment, reservation or GPU usage rows in the window")
    return out


class _Batch:
    """Turns one batch of text cells into kept rows; caches parsed dates and instance types
    across the batches of a file (a bill repeats the same few hundred values)."""

    def __init__(self, path: Path, low: datetime, high: datetime) -> None:
        self.path = path
        self.low = low
        self.high = high
        self.offset = 0
        self.header_rows = 0
        self.times: dict[Any, datetime] = {}
        self.types: dict[tuple[str, Any], str] = {}

    def fail(self, i: int, column: str, problem: str) -> UsageError:
        row = self.offset + i + 1 + self.header_rows
        return UsageError(f"{self.path}: row {row}, column {column}: {problem}")

    def when(self, raw: Any, i: int, column: str) -> datetime | None:
        value = _clean(raw)
        if value is None:
            return None
        if value not in self.times:
            try:
                self.times[value] = parse_time(value)
            except BadValue as bad:
                raise self.fail(i, column, str(bad)) from None
        return self.times[value]

    def instance_types(self, frame: pd.DataFrame, actual: dict[str, str | None]) -> list[str]:
        """Per row, the first of ``INSTANCE_TYPE_SOURCES`` that names a type (a table mixing
        providers, as in Athena, has ``x_InstanceType`` on some rows, ``x_UsageType`` on others)."""
        sources = [s for s in INSTANCE_TYPE_SOURCES if actual.get(s) in frame]
        if not sources:
            return [NO_INSTANCE_TYPE] * len(frame)
        columns = [frame[str(actual[s])].astype(object).tolist() for s in sources]
        out = []
        for cells in zip(*columns, strict=True):
            found = NO_INSTANCE_TYPE
            for source, raw in zip(sources, cells, strict=True):
                key = (source, raw)
                if key not in self.types:
                    self.types[key] = instance_type_of(_clean(raw), source)
                if self.types[key] != NO_INSTANCE_TYPE:
                    found = self.types[key]
                    break
            out.append(found)
        return out

    def kept(
        self, columns: dict[str, str], header_rows: int, frame: pd.DataFrame
    ) -> pd.DataFrame | None:

        self.header_rows = header_rows
        try:
            return self._kept(columns, frame)
        finally:
            self.offset += len(frame)

    def _kept(self, columns: dict[str, str], frame: pd.DataFrame) -> pd.DataFrame | None:
        import pandas as pd

        actual = {c: columns.get(c.lower()) for c in WANTED}

        def text(canonical: str) -> pd.Series:
            name = actual.get(canonical)
            if name is None or name not in frame:
                return pd.Series([None] * len(frame), index=frame.index, dtype=object)
            return pd.Series(frame[name].astype(object).map(_clean), index=frame.index)

        start_name = str(actual["ChargePeriodStart"])
        starts: list[datetime] = []
        for i, raw in enumerate(frame[start_name]):
            moment = self.when(raw, i, start_name)
            if moment is None:
                raise self.fail(i, start_name, "missing value")
            starts.append(moment)
        end_name = actual.get("ChargePeriodEnd")
        ends = [
            self.when(raw, i, str(end_name)) if end_name in frame else None
            for i, raw in enumerate(frame[end_name] if end_name in frame else [None] * len(frame))
        ]
        instance = pd.Series(self.instance_types(frame, actual), index=frame.index)
        category = text("ChargeCategory").map(lambda v: str(v or "").lower())
        gpu = instance.map(is_gpu_machine)
        in_window = pd.Series([self.low <= s < self.high for s in starts], index=frame.index)
        keep = in_window & (
            text("CommitmentDiscountId").notna()
            | text("CapacityReservationId").notna()
            | ((category == "usage") & gpu)
        )
        if not keep.any():
            return None
        kept = pd.DataFrame({column: text(canonical) for canonical, column in TEXT_COLUMNS.items()})
        provider = next((p for p in PROVIDER_NAMES if actual.get(p) in frame), None)
        kept["provider"] = text(provider) if provider else None
        kept["start"] = starts
        kept["end"] = ends
        kept["instance_type"] = instance
        for canonical, column in NUMBER_COLUMNS.items():
            kept[column] = _numbers(text(canonical), self.fail, str(actual.get(canonical)))
        for column in ("billed_cost", "effective_cost"):
            kept[column] = kept[column].fillna(0.0)
        kept["currency"] = kept["currency"].fillna("USD").str.upper()
        consumed_unit, pricing_unit = text("ConsumedUnit"), text("PricingUnit")
        kept["hours"] = [
            usage_hours(
                _maybe(kept.at[i, "consumed_quantity"]),
                consumed_unit.at[i],
                _maybe(kept.at[i, "pricing_quantity"]),
                pricing_unit.at[i],
                starts[n],
                ends[n],
            )
            for n, i in enumerate(kept.index)
        ]
        return kept[keep].reset_index(drop=True)[list(COMMITMENT_COLUMNS)]


def records_frame(records: list[dict[str, Any]], start: date, end: date) -> pd.DataFrame:
    """``COMMITMENT_COLUMNS`` from FOCUS rows already in memory (the sample cluster's bill)."""
    import pandas as pd

    low = datetime(start.year, start.month, start.day, tzinfo=UTC)
    high = datetime(end.year, end.month, end.day, tzinfo=UTC)
    names = list(dict.fromkeys(k for r in records for k in r))
    frame = pd.DataFrame(
        {n: [None if r.get(n) is None else str(r[n]) for r in records] for n in names}
    )
    kept = _Batch(Path("sample bill"), low, high).kept(resolve_columns(names), 1, frame)
    return pd.DataFrame(columns=list(COMMITMENT_COLUMNS)) if kept is None else kept


def _clean(raw: Any) -> Any:
    """A cell as text, or None where it is a missing value."""
    if raw is None:
        return None
    if isinstance(raw, float) and math.isnan(raw):  # NaN from pandas
        return None
    value = missing(raw)
    if value is None:
        return None
    return value.strip() if isinstance(value, str) else value


def _maybe(value: Any) -> float | None:
    return None if value is None or math.isnan(float(value)) else float(value)


def _numbers(values: pd.Series, fail: Any, column: str) -> pd.Series:
    """A column of numbers; a cell that is text but not a number names its row and column."""
    import pandas as pd

    out = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & out.isna()
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise fail(i, column, f"not a number ({shorten(values.iloc[i])!r})")
    return out.astype(float)
