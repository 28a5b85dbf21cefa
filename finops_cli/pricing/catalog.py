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

What a row is lives in ``rows.py`` and reading and validating the CSVs in ``parse.py``; this module
merges the catalogs with the overrides and resolves prices.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from finops_cli.errors import UsageError
from finops_cli.pricing.overrides import PricingOverrides
from finops_cli.pricing.parse import load_directory, packaged_rows, read_catalog_file
from finops_cli.pricing.rows import (
    REFERENCE_REGIONS,
    InstancePrice,
    ResolvedPrice,
    normalize_capacity_type,
    normalize_region,
)

_AZURE_PREFIX = "standard_"

STALE_AFTER_DAYS = 180
"""A catalog price dated (``as_of``) more than this many days before today is stale: commands
that price from the catalog say so on stderr and in their JSON ``notes`` (docs/pricing.md)."""


def staleness_note(
    dates: Iterable[date], today: date, *, max_age_days: int = STALE_AFTER_DAYS
) -> str | None:
    """One line naming how many catalog prices are older than ``max_age_days``, or None.

    ``dates`` are the ``as_of`` of the prices used (or listed); overrides carry no date and are
    never stale.
    """
    dated = list(dates)
    old = sorted(d for d in dated if (today - d).days > max_age_days)
    if not old:
        return None
    span = old[0].isoformat() if old[0] == old[-1] else f"{old[0]} to {old[-1]}"
    verb = "is" if len(old) == 1 else "are"
    return (
        f"stale prices: {len(old)} of {len(dated)} catalog prices {verb} over {max_age_days} days "
        f"old (as_of {span}, today {today.isoformat()}); check them, refresh AWS rows with "
        "'finops pricing refresh', or set [pricing] overrides"
    )


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
        self.used: dict[tuple[str, str, str], date] = {}  # catalog prices lookup returned
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

    def staleness_note(self, today: date) -> str | None:
        """``staleness_note`` over the dated catalog prices ``lookup`` has returned so far."""
        return staleness_note(self.used.values(), today)

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
        self.used[(row.instance_type, row.region, capacity)] = row.as_of
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
        entries: Sequence[tuple[str, InstancePrice]] = packaged_rows()
    else:
        entries = load_directory(catalog_dir)
    extra: list[tuple[str, InstancePrice]] = []
    if overrides is not None and overrides.extra_catalog is not None:
        extra = _extra_entries(overrides.extra_catalog)
    return PriceCatalog(entries, overrides, extra_entries=extra, overrides_origin=overrides_origin)
