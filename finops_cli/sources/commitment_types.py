"""What a commitment is, whichever source reports it: the result types the commitment readers
(FOCUS files, Cost Explorer, EC2) give ``analytics.commitments``. Kept with the sources so that
sources never import analytics (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Term:
    """A commitment's term as an API knows it (EC2, Cost Explorer): for expiries."""

    commitment_id: str
    kind: str
    end: datetime | None
    start: datetime | None = None
    instance_type: str | None = None
    zone: str | None = None
    count: int | None = None
    source: str = ""


@dataclass(frozen=True)
class Commitment:
    """One commitment or reservation over the window."""

    commitment_id: str
    kind: str
    category: str | None
    type_name: str | None
    instance_types: tuple[str, ...]
    zones: tuple[str, ...]
    provider: str | None
    currency: str
    committed: float
    used: float
    unused: float
    utilisation: float | None
    used_hours: float
    unused_hours: float
    purchased: float  # Purchase rows' BilledCost in the window (upfront or recurring fees)
    end: datetime | None = None


@dataclass(frozen=True)
class CoverageRow:
    """GPU instance-hours that ran, by how they were bought, for one instance type."""

    instance_type: str
    committed_hours: float
    on_demand_hours: float
    spot_hours: float
    on_demand_cost: float

    @property
    def hours(self) -> float:
        return self.committed_hours + self.on_demand_hours + self.spot_hours

    @property
    def coverage(self) -> float | None:
        return self.committed_hours / self.hours if self.hours > 0 else None
