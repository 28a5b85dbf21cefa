"""Energy and carbon per report row, from the ledger's energy (docs/cost-model.md#energy).

Pure. The source answers GPU kWh per group and region (each GPU entry's physical GPU energy x
the holder's share, like cost); this module lays them on the cost report's rows with the same
rules as cost, so rows + ``__unallocated__`` + ``__idle__`` add up to every GPU's energy, and
turns each region's kWh into kgCO2e as ``kWh x PUE(provider) x grid factor(region)``. A row
whose energy lies in a region without a factor has ``kg_co2e`` None (and a note says which).
Where the report has unit costs (``--by model``), each model also gets kWh and kgCO2e per 1M
tokens, and the energy of serving pods without a model label moves to the model their server
reports, as their cost does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from finops_cli.analytics.costs import UNALLOCATED, CostReport, CostRow, pod_filters
from finops_cli.analytics.unit_costs import UnitCost
from finops_cli.frames import records
from finops_cli.pricing.carbon import RegionFactor
from finops_cli.sources.interface import ENERGY_METHODS, EnergyData

_EPSILON = 1e-12


@dataclass(frozen=True)
class RowEnergy:
    """A row's GPU energy (kWh at the GPU, before facility overhead) and its emissions."""

    kwh: float
    kg_co2e: float | None  # kWh x PUE x grid factor, per region; None where a factor is missing


@dataclass(frozen=True)
class EnergySummary:
    """What the energy columns are made of: the method, the factors used, the totals."""

    method: str | None  # ENERGY_METHODS key, None when the cluster reports no power
    kwh: float
    kg_co2e: float | None
    factors: tuple[RegionFactor, ...]

    def as_json(self) -> dict[str, Any]:
        """The ``energy`` object of ``costs --energy`` and the chargeback report alike: the
        method, the totals and each region's PUE and grid factor."""
        return {
            "method": self.method,
            "energy_kwh": round(self.kwh, 6),
            "kg_co2e": None if self.kg_co2e is None else round(self.kg_co2e, 6),
            "factors": [
                {
                    "region": f.region,
                    "provider": f.provider,
                    "pue": f.pue,
                    "kg_co2e_per_kwh": f.kg_co2e_per_kwh,
                    "year": f.year,
                    "source": f.source,
                }
                for f in self.factors
            ],
        }


def attach_energy(
    report: CostReport,
    energy: EnergyData,
    factors: Mapping[str, RegionFactor],
    served: pd.DataFrame | None = None,
) -> CostReport:
    """The report with each row's ``RowEnergy`` and the report's ``EnergySummary``.

    ``factors`` maps every region in ``energy`` to its factor; ``served`` (``model``, ``region``,
    ``energy_kwh``) is the energy of unlabelled serving pods, moved from ``__unallocated__`` to
    their model in a ``--by model`` report with unit costs.
    """
    keys = list(report.group_by)
    per_row: dict[tuple[str, ...], dict[str, float]] = {}
    for record in records(energy.rows):
        values = tuple(str(record[k]) for k in keys)
        target = tuple(v or UNALLOCATED for v in values) if any(values) else ("",)
        _add(per_row, target, str(record["region"]), float(record["energy_kwh"]))
    held = _by_region(energy.cluster, "allocated_energy_kwh")
    whole = _by_region(energy.cluster, "capacity_energy_kwh")
    known: dict[str, float] = {}
    for regions in per_row.values():
        for region, kwh in regions.items():
            known[region] = known.get(region, 0.0) + kwh
    unallocated = per_row.pop(("",), {})
    if not pod_filters(report.filters):  # held energy that no row explains
        for region, kwh in held.items():
            extra = kwh - known.get(region, 0.0)
            if extra > _EPSILON:
                unallocated[region] = unallocated.get(region, 0.0) + extra
    if served is not None and report.group_by == ("model",):
        for record in records(served):
            region, kwh = str(record["region"]), float(record["energy_kwh"])
            _add(per_row, (str(record["model"]),), region, kwh)
            unallocated[region] = unallocated.get(region, 0.0) - kwh
    idle = {r: max(whole.get(r, 0.0) - held.get(r, 0.0), 0.0) for r in whole}

    rows: list[CostRow] = []
    for row in report.rows:
        if row.kind == "idle":
            regions = idle
        elif row.kind == "unallocated":
            regions = unallocated
        else:
            regions = per_row.get(tuple(row.keys[k] for k in keys), {})
        row_energy = _row_energy(regions, factors)
        rows.append(replace(row, energy=row_energy, unit=_unit_energy(row, row_energy)))
    shown = [r.energy for r in rows if r.energy is not None]
    missing = any(e.kg_co2e is None for e in shown)
    used = tuple(factors[r] for r in sorted(whole | held) if r in factors)
    summary = EnergySummary(
        energy.method,
        sum(e.kwh for e in shown),
        None if missing else sum(e.kg_co2e or 0.0 for e in shown),
        used,
    )
    notes = list(report.notes) + list(energy.notes)
    if energy.method is not None:
        notes.append(f"energy from {ENERGY_METHODS[energy.method]}")
    lacking = sorted(
        r or "(unknown region)" for r, f in factors.items() if f.kg_co2e_per_kwh is None
    )
    if lacking:
        notes.append(
            f"no grid carbon factor for {', '.join(lacking)}: kgCO2e is unknown there; set "
            "[carbon] grid_intensity (or default_region for nodes without a region label)"
        )
    return replace(report, rows=tuple(rows), energy=summary, notes=tuple(notes))


def _add(table: dict[tuple[str, ...], dict[str, float]], key: tuple[str, ...], region: str,
         kwh: float) -> None:  # fmt: skip
    slot = table.setdefault(key, {})
    slot[region] = slot.get(region, 0.0) + kwh


def _by_region(frame: pd.DataFrame, column: str) -> dict[str, float]:
    if not len(frame):
        return {}
    sums = frame.groupby("region")[column].sum()
    return {str(r): float(v) for r, v in sums.items()}


def _row_energy(regions: Mapping[str, float], factors: Mapping[str, RegionFactor]) -> RowEnergy:
    kwh = sum(regions.values())
    kg = 0.0
    for region, value in regions.items():
        factor = factors.get(region)
        if abs(value) <= _EPSILON:
            continue
        if factor is None or factor.kg_co2e_per_kwh is None:
            return RowEnergy(max(kwh, 0.0), None)
        kg += value * factor.pue * factor.kg_co2e_per_kwh
    return RowEnergy(max(kwh, 0.0), max(kg, 0.0))


def _unit_energy(row: CostRow, energy: RowEnergy) -> UnitCost | None:
    """The row's unit costs with kWh and kgCO2e per 1M tokens (None without tokens)."""
    unit = row.unit
    if unit is None or unit.tokens <= 0:
        return unit
    per_million = 1e6 / unit.tokens
    return replace(
        unit,
        kwh_per_1m_tokens=energy.kwh * per_million,
        kg_co2e_per_1m_tokens=None if energy.kg_co2e is None else energy.kg_co2e * per_million,
    )
