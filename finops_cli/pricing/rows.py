"""What a catalog row is: the CSV columns, ``InstancePrice``, ``ResolvedPrice`` and the names.

Split from ``catalog.py`` because these are the catalog's vocabulary, shared by the parser, the
lookup and the live AWS refresh (which writes rows back as CSV): none of them needs the others to
say what a price row or a capacity type is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

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
