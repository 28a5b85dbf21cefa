"""Reading and validating catalog CSV files: the packaged ones, a folder, or the user's extra one.

Split from ``catalog.py`` because validation is most of the code and none of the lookup: every
cell is checked on load so that a bad catalog is one ``UsageError`` naming the file, the row (the
header is row 1, so row numbers match the file's line numbers) and what is wrong, instead of a
wrong price later.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import re
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from finops_cli.errors import FinopsError, UsageError
from finops_cli.pricing.rows import COLUMNS, PROVIDERS, InstancePrice

_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_SHOWN = 40
_PACKAGE_DATA = ("_data", "pricing")

# --- parsing -------------------------------------------------------------------------------------


class _CellError(ValueError):
    """A bad cell; the parser adds the file and row."""


def _shown(value: str) -> str:
    text = value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 3] + "..."
    return repr(text)


def _text(cells: dict[str, str], column: str) -> str:
    value = cells[column].strip()
    if not value:
        raise _CellError(f"{column} is empty")
    return value


def _whole(cells: dict[str, str], column: str) -> int:
    raw = cells[column].strip()
    try:
        value = int(raw)
    except ValueError:
        raise _CellError(f"{column} must be a whole number (got {_shown(raw)})") from None
    if value < 1:
        raise _CellError(f"{column} must be at least 1 (got {_shown(raw)})")
    return value


def _number(raw: str, column: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _CellError(f"{column} must be a number (got {_shown(raw)})") from None
    if not math.isfinite(value):
        raise _CellError(f"{column} must be a finite number (got {_shown(raw)})")
    return value


def _positive(cells: dict[str, str], column: str) -> float:
    raw = cells[column].strip()
    value = _number(raw, column)
    if value <= 0:
        raise _CellError(f"{column} must be greater than 0 (got {_shown(raw)})")
    return value


def _price(cells: dict[str, str], column: str) -> float | None:
    raw = cells[column].strip()
    if not raw:
        return None
    value = _number(raw, column)
    if value < 0:
        raise _CellError(f"{column} must not be negative (got {_shown(raw)})")
    return value


def _as_of(cells: dict[str, str]) -> date:
    raw = cells["as_of"].strip()
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise _CellError(f"as_of must be a date YYYY-MM-DD (got {_shown(raw)})") from None


def _verified(cells: dict[str, str]) -> bool:
    raw = cells["verified"].strip()
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise _CellError(f"verified must be true or false (got {_shown(raw)})")


def _provider(cells: dict[str, str], expected: str | None) -> str:
    raw = cells["provider"].strip()
    value = raw.lower()
    if value not in PROVIDERS:
        raise _CellError(f"provider must be one of {', '.join(PROVIDERS)} (got {_shown(raw)})")
    if expected is not None and value != expected:
        raise _CellError(f"provider {value!r} does not belong in the {expected} catalog")
    return value


def _parse_row(cells: dict[str, str], expected_provider: str | None) -> InstancePrice:
    return InstancePrice(
        provider=_provider(cells, expected_provider),
        instance_type=_text(cells, "instance_type"),
        region=_text(cells, "region"),
        gpu_model=_text(cells, "gpu_model"),
        gpu_count=_whole(cells, "gpu_count"),
        gpu_memory_gib=_positive(cells, "gpu_memory_gib"),
        vcpu=_whole(cells, "vcpu"),
        memory_gib=_positive(cells, "memory_gib"),
        on_demand_hourly=_price(cells, "on_demand_hourly"),
        spot_hourly=_price(cells, "spot_hourly"),
        as_of=_as_of(cells),
        source=_text(cells, "source"),
        verified=_verified(cells),
    )


def _header(record: list[str], origin: str) -> list[str]:
    names = [name.strip() for name in record]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise UsageError(f"{origin}: row 1 (header): duplicate column(s) {', '.join(duplicated)}")
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise UsageError(f"{origin}: row 1 (header): missing column(s) {', '.join(missing)}")
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise UsageError(
            f"{origin}: row 1 (header): unknown column(s) {', '.join(map(repr, unknown))} "
            f"(the columns are {', '.join(COLUMNS)})"
        )
    return names


def parse_catalog(
    text: str, origin: str, *, expected_provider: str | None = None
) -> list[InstancePrice]:
    """Parse and validate catalog CSV text; ``origin`` names it in errors (usually its path).

    Raises ``UsageError`` ``"<origin>: row <n>: <what is wrong>"`` for the first problem: a
    missing, unknown or repeated column; a wrong number of cells; an empty required cell; a
    non-numeric, infinite or negative price; ``gpu_count`` or ``vcpu`` below 1; a bad ``as_of``
    date; a ``verified`` that is not true/false; an instance type and region listed twice; a
    provider other than ``expected_provider`` (packaged catalogs hold one provider each).
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        first = next(reader, None)
        if first is None or not any(cell.strip() for cell in first):
            raise UsageError(f"{origin}: row 1 (header): empty; expected {','.join(COLUMNS)}")
        names = _header(first, origin)
        rows: list[InstancePrice] = []
        first_seen: dict[tuple[str, str], int] = {}
        for record in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # blank lines are harmless
            if len(record) != len(names):
                raise UsageError(
                    f"{origin}: row {number}: has {len(record)} cells, the header has {len(names)}"
                )
            try:
                row = _parse_row(dict(zip(names, record, strict=True)), expected_provider)
            except _CellError as exc:
                raise UsageError(f"{origin}: row {number}: {exc}") from None
            if row.key in first_seen:
                raise UsageError(
                    f"{origin}: row {number}: duplicate instance_type+region "
                    f"{row.instance_type} {row.region} (first at row {first_seen[row.key]})"
                )
            first_seen[row.key] = number
            rows.append(row)
    except csv.Error as exc:
        raise UsageError(f"{origin}: row {reader.line_num}: not valid CSV: {exc}") from None
    return rows


def _read_text(source: Traversable | Path, origin: str) -> str:
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{origin}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{origin}: cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{origin}: not UTF-8 text") from None


def read_catalog_file(path: Path, *, expected_provider: str | None = None) -> list[InstancePrice]:
    """Read and validate one catalog CSV file (see ``parse_catalog``)."""
    if path.is_dir():
        raise UsageError(f"{path}: is a directory, not a catalog CSV file")
    return parse_catalog(
        _read_text(path, str(path)), str(path), expected_provider=expected_provider
    )


# --- the packaged catalogs -----------------------------------------------------------------------


def packaged_catalog_dir() -> Traversable:
    """Where the packaged CSVs are: inside the installed wheel, or the repository's ``pricing/``.

    Wheels carry them as ``finops_cli/_data/pricing``; an editable install or a source checkout
    has only the top-level ``pricing/`` directory next to the package.
    """
    installed = resources.files("finops_cli").joinpath(*_PACKAGE_DATA)
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parents[2] / "pricing"
    if checkout.is_dir():
        return checkout
    raise FinopsError(
        "the packaged pricing catalogs are missing (looked in finops_cli/_data/pricing and "
        f"{checkout}): reinstall finops-cli"
    )


def _catalog_files(directory: Traversable) -> list[Traversable]:
    return sorted(
        (item for item in directory.iterdir() if item.name.endswith(".csv") and item.is_file()),
        key=lambda item: item.name,
    )


def load_directory(directory: Traversable) -> list[tuple[str, InstancePrice]]:
    """(file name, row) for every row of every ``*.csv`` in ``directory``, validated."""
    loaded: list[tuple[str, InstancePrice]] = []
    seen: dict[tuple[str, str], str] = {}
    for item in _catalog_files(directory):
        origin = str(item)
        stem = item.name.removesuffix(".csv").lower()
        expected = stem if stem in PROVIDERS else None
        for row in parse_catalog(_read_text(item, origin), origin, expected_provider=expected):
            if row.key in seen:
                raise UsageError(
                    f"{origin}: {row.instance_type} {row.region} is also listed in {seen[row.key]}"
                )
            seen[row.key] = item.name
            loaded.append((item.name, row))
    if not loaded:
        raise UsageError(f"{directory}: no pricing catalog rows found (*.csv)")
    return loaded


@functools.cache
def packaged_rows() -> tuple[tuple[str, InstancePrice], ...]:
    return tuple(load_directory(packaged_catalog_dir()))
