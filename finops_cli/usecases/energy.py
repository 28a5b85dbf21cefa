"""``--energy``: the carbon factors of the regions a report's energy lies in, and the rows.

Shared by ``costs`` and ``report chargeback``: loads the packaged carbon tables (no network),
applies the ``[carbon]`` overrides and ``default_region``, and hands the pure
``analytics.energy.attach_energy`` what it needs; the staleness note is added here because it
needs today's date.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from finops_cli.usecases.context import RunContext

if TYPE_CHECKING:
    import pandas as pd

    from finops_cli.analytics.costs import CostReport
    from finops_cli.sources.interface import EnergyData, InferenceData


def with_energy(
    run: RunContext,
    report: CostReport,
    energy: EnergyData | None,
    inference: InferenceData | None = None,
) -> CostReport:
    """The report with energy and kgCO2e per row (``analytics.energy``)."""
    from finops_cli.analytics.energy import attach_energy
    from finops_cli.pricing.carbon import carbon_staleness_note, load_carbon_tables
    from finops_cli.sources.interface import EnergyData

    if energy is None:  # a source that cannot tell
        import pandas as pd

        energy = EnergyData(pd.DataFrame(), pd.DataFrame(), None, [])
    carbon = run.settings.carbon
    fallback = carbon.default_region or ""
    energy = replace(
        energy, rows=_regions(energy.rows, fallback), cluster=_regions(energy.cluster, fallback)
    )
    served = None if inference is None else inference.energy
    if served is not None:
        served = _regions(served, fallback)
    regions: set[str] = set()
    for frame in (energy.rows, energy.cluster, served):
        if frame is not None and "region" in frame:
            regions |= {str(r) for r in frame["region"]}
    tables = load_carbon_tables()
    factors = {r: tables.factor(r, carbon.grid_intensity, carbon.pue) for r in sorted(regions)}
    report = attach_energy(report, energy, factors, served)
    stale = carbon_staleness_note(factors.values(), run.window.end.year)
    if stale:
        report = replace(report, notes=(*report.notes, stale))
    return report


def _regions(frame: pd.DataFrame, fallback: str) -> pd.DataFrame:
    """``region`` "" (a node without a region label) read as ``[carbon] default_region``."""
    if not len(frame) or "region" not in frame or not fallback:
        return frame
    return frame.assign(region=frame["region"].replace("", fallback))
