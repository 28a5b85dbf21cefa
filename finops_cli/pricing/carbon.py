"""The packaged carbon tables: grid intensity per cloud region and PUE per provider.

``pricing/carbon/grid_intensity.csv`` holds location-based grid emission factors (kgCO2e per
kWh) with the source and data year of each row; ``pricing/carbon/pue.csv`` the facility
overhead (power usage effectiveness) per provider, with its source. Both are read from the
package, never the network; ``[carbon]`` settings override either, and a factor whose data year
is more than ``STALE_AFTER_YEARS`` before the report's is named in a staleness note, as old
catalog prices are. Rows whose source gives no data year are left out of the table rather than
guessed (docs/cost-model.md#energy-and-carbon).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from finops_cli.errors import FinopsError
from finops_cli.pricing.parse import packaged_catalog_dir

STALE_AFTER_YEARS = 3
GRID_COLUMNS = ("provider", "region", "location", "kg_co2e_per_kwh", "year", "source", "as_of")
PUE_COLUMNS = ("provider", "pue", "source", "as_of")


@dataclass(frozen=True)
class RegionFactor:
    """What turns a region's GPU kWh into kgCO2e: ``kwh x pue x kg_co2e_per_kwh``."""

    region: str
    provider: str
    pue: float
    kg_co2e_per_kwh: float | None  # None: no factor known for the region
    year: int | None  # the grid data's year (None for an override)
    source: str


@dataclass(frozen=True)
class CarbonTables:
    grid: dict[str, tuple[str, float, int, str]]  # region -> provider, factor, year, source
    pue: dict[str, tuple[float, str]]  # provider -> PUE, source

    def factor(
        self,
        region: str,
        grid_overrides: Mapping[str, float] | None = None,
        pue_overrides: Mapping[str, float] | None = None,
    ) -> RegionFactor:
        """The factor of ``region``: an override wins over the table, for either part."""
        grid_overrides = grid_overrides or {}
        pue_overrides = pue_overrides or {}
        provider, value, year, source = self.grid.get(region, ("", 0.0, 0, ""))
        known: float | None = value if region in self.grid else None
        if region in grid_overrides:
            known, year, source = grid_overrides[region], 0, "[carbon] grid_intensity override"
        pue, pue_source = self.pue.get(provider, (1.0, "no PUE known: 1.0"))
        if provider in pue_overrides or (not provider and "default" in pue_overrides):
            pue = pue_overrides.get(provider, pue_overrides.get("default", 1.0))
            pue_source = "[carbon] pue override"
        return RegionFactor(
            region, provider, pue, known, year or None, f"{source}; PUE: {pue_source}"
        )


def load_carbon_tables() -> CarbonTables:
    """Read and check both packaged tables; a malformed row is a one-line ``FinopsError``."""
    folder = packaged_catalog_dir().joinpath("carbon")
    grid: dict[str, tuple[str, float, int, str]] = {}
    for line, row in _rows(folder.joinpath("grid_intensity.csv").read_text(), GRID_COLUMNS):
        try:
            value, year = float(row["kg_co2e_per_kwh"]), int(row["year"])
        except ValueError:
            raise FinopsError(f"grid_intensity.csv row {line}: bad factor or year") from None
        if not 0 <= value <= 2 or not row["source"] or row["region"] in grid:
            raise FinopsError(f"grid_intensity.csv row {line}: bad factor, source or duplicate")
        grid[row["region"]] = (row["provider"], value, year, row["source"])
    pue: dict[str, tuple[float, str]] = {}
    for line, row in _rows(folder.joinpath("pue.csv").read_text(), PUE_COLUMNS):
        try:
            value = float(row["pue"])
        except ValueError:
            raise FinopsError(f"pue.csv row {line}: bad PUE") from None
        if not 1 <= value <= 3:
            raise FinopsError(f"pue.csv row {line}: PUE must be between 1 and 3")
        pue[row["provider"]] = (value, row["source"])
    return CarbonTables(grid, pue)


def _rows(text: str, columns: tuple[str, ...]) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != columns:
        raise FinopsError(f"carbon table header must be {','.join(columns)}")
    for line, row in enumerate(reader, start=2):
        yield line, {k: (v or "").strip() for k, v in row.items()}


def carbon_staleness_note(factors: Iterable[RegionFactor], year: int) -> str | None:
    """One line naming the grid factors older than ``STALE_AFTER_YEARS`` before ``year``."""
    old = sorted(
        {(f.year, f.region) for f in factors if f.year and year - f.year > STALE_AFTER_YEARS}
    )
    if not old:
        return None
    regions = ", ".join(f"{region} ({data_year})" for data_year, region in old)
    return (
        f"stale grid factors: {regions} over {STALE_AFTER_YEARS} years old; check them or set "
        "[carbon] grid_intensity overrides"
    )
