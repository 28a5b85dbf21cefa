"""The packaged GPU instance price catalogs, user overrides on top, and price resolution.

The catalogs are CSV files (``pricing/aws.csv``, ``gcp.csv``, ``azure.csv`` in the repository,
``finops_cli/_data/pricing`` inside the wheel), one row per instance type and region, each row
dated (``as_of``), cited (``source``) and flagged ``verified`` or not. They are validated on load:
a malformed catalog is a ``UsageError`` naming the file, the row (the header is row 1, so row
numbers match the file's line numbers) and what is wrong.

Resolution order for ``PriceCatalog.lookup`` (the first that has a price wins):

1. ``pricing.gpu_hourly`` override: a flat $/GPU-hour for every GPU, on-demand and spot alike;
   the instance price is that rate x the instance's GPU count.
2. ``pricing.instance_overrides[<type>]``: a private ``on_demand_hourly`` / ``spot_hourly`` for
   the whole instance, used as given. An override without the asked-for capacity type falls
   through to the catalogs.
3. ``pricing.extra_catalog``: the user's CSV, in the same format and validated the same way; its
   rows replace packaged rows with the same instance type and region, and add new ones.
4. The packaged catalog.
5. None: no price is known. Nothing is invented; in particular a missing spot price is None, not
   a fraction of the on-demand price.

``pricing.discount_percent`` is taken off *on-demand catalog* prices (3 and 4) only: never off
spot prices, which are market prices, nor off the overrides in 1 and 2, which are already net.

Within the catalogs a row is chosen by instance type (case-insensitive; Azure sizes match with
or without their ``Standard_`` prefix) and region: the exact region if the catalog has it, else
the provider's reference region (the region the list prices were read for, ``REFERENCE_REGIONS``),
else the first row listed for that instance type; both fallbacks set ``region_fallback``.

The per-GPU price is the instance price divided by the instance's GPU count: a multi-GPU
instance's price covers all its GPUs (and its CPU and RAM), so charging each GPU the whole
instance price would overstate cost 4-8x.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from finops_cli.errors import FinopsError, UsageError
from finops_cli.pricing.overrides import PricingOverrides

COLUMNS: tuple[str, ...] = (
    "provider",
    "instance_type",
    "region",
    "gpu_model",
    "gpu_count",
    "gpu_memory_gib",
    "vcpu",
    "memory_gib",
    "on_demand_hourly",
    "spot_hourly",
    "as_of",
    "source",
    "verified",
)
"""The catalog CSV columns, in the order ``write_catalog`` writes them."""

PROVIDERS: tuple[str, ...] = ("aws", "gcp", "azure")

REFERENCE_REGIONS: dict[str, str] = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}
"""Per provider, the region its packaged list prices are for and that lookups fall back to."""

CapacityType = Literal["on-demand", "spot"]

_CAPACITY_ALIASES: dict[str, CapacityType] = {
    "on-demand": "on-demand",
    "on_demand": "on-demand",
    "ondemand": "on-demand",
    "regular": "on-demand",
    "normal": "on-demand",
    "spot": "spot",
    "preemptible": "spot",
    "low-priority": "spot",
    "lowpriority": "spot",
}
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_SHOWN = 40
_AZURE_PREFIX = "standard_"
_PACKAGE_DATA = ("_data", "pricing")


def normalize_capacity_type(value: str | None) -> CapacityType | None:
    """Map the spellings Kubernetes node labels use (``spot``, ``SPOT``, ``on-demand``,
    ``ON_DEMAND``, GKE ``preemptible``, AKS ``Regular``/``Spot``) to ``on-demand``/``spot``.

    None for anything else, including None: the caller decides what an unknown type means.
    """
    if value is None:
        return None
    return _CAPACITY_ALIASES.get(value.strip().lower())


def normalize_region(region: str) -> str:
    """Compare regions case- and space-insensitively (Azure's ``East US`` is ``eastus``)."""
    return "".join(region.split()).lower()


def attached_gpu_instance_type(machine_type: str, accelerator: str) -> str:
    """The catalog key of a GCP machine with attached GPUs, e.g. ``n1-standard-4+nvidia-tesla-t4``.

    GCP bills an N1 VM and its attached GPUs separately and the node's instance-type label names
    only the VM; the accelerator is the ``cloud.google.com/gke-accelerator`` label value.
    """
    return f"{machine_type.strip()}+{accelerator.strip()}"


@dataclass(frozen=True)
class InstancePrice:
    """One catalog row: an instance type in a region, its GPUs, and its $/hour prices.

    ``gpu_memory_gib`` is per GPU; ``on_demand_hourly`` / ``spot_hourly`` are for the whole
    instance and None where unknown (``spot_hourly`` is a typical snapshot, not a live price).
    """

    provider: str
    instance_type: str
    region: str
    gpu_model: str
    gpu_count: int
    gpu_memory_gib: float
    vcpu: int
    memory_gib: float
    on_demand_hourly: float | None
    spot_hourly: float | None
    as_of: date
    source: str
    verified: bool

    @property
    def key(self) -> tuple[str, str]:
        """Identity within a catalog: instance type and region, compared case-insensitively."""
        return self.instance_type.lower(), normalize_region(self.region)

    def price(self, capacity_type: CapacityType) -> float | None:
        """The whole instance's list price for ``capacity_type``, None where unknown."""
        return self.on_demand_hourly if capacity_type == "on-demand" else self.spot_hourly

    def to_csv_row(self) -> dict[str, str]:
        """The row as CSV cells, in the format ``parse_catalog`` reads back exactly."""
        return {
            "provider": self.provider,
            "instance_type": self.instance_type,
            "region": self.region,
            "gpu_model": self.gpu_model,
            "gpu_count": str(self.gpu_count),
            "gpu_memory_gib": _number_text(self.gpu_memory_gib),
            "vcpu": str(self.vcpu),
            "memory_gib": _number_text(self.memory_gib),
            "on_demand_hourly": _number_text(self.on_demand_hourly),
            "spot_hourly": _number_text(self.spot_hourly),
            "as_of": self.as_of.isoformat(),
            "source": self.source,
            "verified": "true" if self.verified else "false",
        }


@dataclass(frozen=True)
class ResolvedPrice:
    """The price chosen for an instance, and where it came from (for ``--explain-prices``).

    ``source`` is short and machine-friendly (``catalog:aws.csv as_of 2025-06-05``,
    ``extra_catalog:my.csv as_of ...``, ``override:<origin> pricing.gpu_hourly``); ``citation``
    is the catalog row's own ``source`` column. ``as_of`` is None for overrides.
    """

    instance_type: str
    region: str | None
    capacity_type: CapacityType
    instance_hourly: float
    per_gpu_hourly: float
    gpu_count: int
    source: str
    as_of: date | None
    verified: bool
    region_fallback: bool = False
    discount_percent: float = 0.0
    citation: str | None = None


def _number_text(value: float | None) -> str:
    if value is None:
        return ""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


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


def _load_directory(directory: Traversable) -> list[tuple[str, InstancePrice]]:
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
def _packaged_rows() -> tuple[tuple[str, InstancePrice], ...]:
    return tuple(_load_directory(packaged_catalog_dir()))


# --- the catalog ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    row: InstancePrice
    label: str  # "catalog:aws.csv" or "extra_catalog:mine.csv"
    extra: bool


class PriceCatalog:
    """All catalog rows with the user's overrides; ``lookup`` resolves one instance's price."""

    def __init__(
        self,
        entries: Sequence[tuple[str, InstancePrice]],
        overrides: PricingOverrides | None = None,
        *,
        extra_entries: Sequence[tuple[str, InstancePrice]] = (),
        overrides_origin: str = "settings",
    ) -> None:
        self.overrides = overrides if overrides is not None else PricingOverrides()
        self.overrides_origin = overrides_origin
        merged: dict[tuple[str, str], _Entry] = {}
        for name, row in entries:
            merged[row.key] = _Entry(row, f"catalog:{name}", extra=False)
        for name, row in extra_entries:
            merged.pop(row.key, None)  # a replaced row moves to the end, with the extra rows
            merged[row.key] = _Entry(row, f"extra_catalog:{name}", extra=True)
        self._entries = tuple(merged.values())
        self._by_type: dict[str, list[_Entry]] = {}
        for entry in self._entries:
            self._by_type.setdefault(entry.row.instance_type.lower(), []).append(entry)

    @property
    def rows(self) -> tuple[InstancePrice, ...]:
        """Every row in effect: packaged rows, with the extra catalog's replacing and adding."""
        return tuple(entry.row for entry in self._entries)

    def __iter__(self) -> Iterator[InstancePrice]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self._entries)

    def label_of(self, row: InstancePrice) -> str | None:
        """``catalog:aws.csv`` or ``extra_catalog:<file>`` for a row in effect, else None."""
        for entry in self._entries:
            if entry.row == row:
                return entry.label
        return None

    def _candidates(self, instance_type: str) -> list[_Entry]:
        key = instance_type.strip().lower()
        for candidate in (key, _AZURE_PREFIX + key, key.removeprefix(_AZURE_PREFIX)):
            found = self._by_type.get(candidate)
            if found:
                return found
        return []

    def _match(self, instance_type: str, region: str | None) -> tuple[_Entry, bool] | None:
        candidates = self._candidates(instance_type)
        if not candidates:
            return None
        if region is not None and region.strip():
            wanted = normalize_region(region)
            for entry in candidates:
                if entry.row.key[1] == wanted:
                    return entry, False
        else:
            wanted = None
        reference = REFERENCE_REGIONS.get(candidates[0].row.provider)
        for entry in candidates:
            if reference is not None and entry.row.key[1] == normalize_region(reference):
                return entry, wanted is not None
        return candidates[0], True

    def find(self, instance_type: str, region: str | None = None) -> InstancePrice | None:
        """The row ``lookup`` would price ``instance_type`` from (same region fallback)."""
        match = self._match(instance_type, region)
        return match[0].row if match is not None else None

    def lookup(
        self,
        instance_type: str,
        region: str | None = None,
        capacity_type: str = "on-demand",
        *,
        gpu_count: int | None = None,
    ) -> ResolvedPrice | None:
        """Resolve the $/hour of ``instance_type`` in ``region`` (module docstring: the order).

        ``capacity_type`` is ``on-demand`` or ``spot`` (or a label spelling of either, see
        ``normalize_capacity_type``). ``gpu_count`` is the node's GPU count, used only when the
        catalog does not know the instance type, so that an override can still be split per
        GPU; without it such an instance has no price. Returns None where nothing is known.
        """
        capacity = normalize_capacity_type(capacity_type)
        if capacity is None:
            raise ValueError(f"unknown capacity type {capacity_type!r}: use on-demand or spot")
        match = self._match(instance_type, region)
        entry, fallback = match if match is not None else (None, False)
        row = entry.row if entry is not None else None
        count = row.gpu_count if row is not None else gpu_count
        if count is None or count < 1:
            return None
        name = row.instance_type if row is not None else instance_type
        overrides = self.overrides
        origin = f"override:{self.overrides_origin}"

        if overrides.gpu_hourly is not None:
            rate = overrides.gpu_hourly
            return ResolvedPrice(
                instance_type=name,
                region=region,
                capacity_type=capacity,
                instance_hourly=rate * count,
                per_gpu_hourly=rate,
                gpu_count=count,
                source=f"{origin} pricing.gpu_hourly",
                as_of=None,
                verified=True,
            )

        found = overrides.instance_override(instance_type)
        if found is None and row is not None:
            found = overrides.instance_override(row.instance_type)
        if found is not None:
            key, override = found
            field = "on_demand_hourly" if capacity == "on-demand" else "spot_hourly"
            price = getattr(override, field)
            if price is not None:
                return ResolvedPrice(
                    instance_type=name,
                    region=region,
                    capacity_type=capacity,
                    instance_hourly=price,
                    per_gpu_hourly=price / count,
                    gpu_count=count,
                    source=f"{origin} pricing.instance_overrides.{key}.{field}",
                    as_of=None,
                    verified=True,
                )

        if entry is None or row is None:
            return None
        listed = row.price(capacity)
        if listed is None:
            return None
        discount = overrides.discount_percent if capacity == "on-demand" else 0.0
        price = listed * (1 - discount / 100)
        source = f"{entry.label} as_of {row.as_of.isoformat()}"
        if discount:
            source += f" less {discount:g}% discount"
        return ResolvedPrice(
            instance_type=row.instance_type,
            region=row.region,
            capacity_type=capacity,
            instance_hourly=price,
            per_gpu_hourly=price / row.gpu_count,
            gpu_count=row.gpu_count,
            source=source,
            as_of=row.as_of,
            verified=row.verified,
            region_fallback=fallback,
            discount_percent=discount,
            citation=row.source,
        )


def _extra_entries(path: Path) -> list[tuple[str, InstancePrice]]:
    try:
        rows = read_catalog_file(path)
    except UsageError as exc:
        raise UsageError(f"pricing.extra_catalog: {exc}") from None
    return [(path.name, row) for row in rows]


def load_catalog(
    overrides: PricingOverrides | None = None,
    *,
    catalog_dir: Path | None = None,
    overrides_origin: str = "settings",
) -> PriceCatalog:
    """The packaged catalogs (or those in ``catalog_dir``) with ``overrides`` applied.

    ``overrides_origin`` says where the overrides came from (``finops.toml``) in the ``source``
    of prices they set. Raises ``UsageError`` for a malformed catalog or extra catalog.
    """
    if catalog_dir is None:
        entries: Sequence[tuple[str, InstancePrice]] = _packaged_rows()
    else:
        entries = _load_directory(catalog_dir)
    extra: list[tuple[str, InstancePrice]] = []
    if overrides is not None and overrides.extra_catalog is not None:
        extra = _extra_entries(overrides.extra_catalog)
    return PriceCatalog(entries, overrides, extra_entries=extra, overrides_origin=overrides_origin)


__all__ = [
    "COLUMNS",
    "PROVIDERS",
    "REFERENCE_REGIONS",
    "CapacityType",
    "InstancePrice",
    "PriceCatalog",
    "ResolvedPrice",
    "attached_gpu_instance_type",
    "load_catalog",
    "normalize_capacity_type",
    "normalize_region",
    "packaged_catalog_dir",
    "parse_catalog",
    "read_catalog_file",
]
