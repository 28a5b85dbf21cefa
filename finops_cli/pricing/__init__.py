"""GPU instance prices: the packaged, dated catalogs and the user's overrides.

``load_catalog(overrides)`` gives a ``PriceCatalog``; ``PriceCatalog.lookup`` resolves one
instance's $/hour and per-GPU $/hour and says where the price came from. The live AWS refresh is
in ``finops_cli.pricing.aws_refresh``, which is not imported here so that boto3 stays out of the
CLI's start-up.

The catalog is three modules: ``rows`` (what a row and a resolved price are), ``parse`` (reading and
validating the CSVs) and ``catalog`` (overrides on top, and the lookup).
"""

from __future__ import annotations

from finops_cli.pricing.catalog import PriceCatalog, load_catalog
from finops_cli.pricing.overrides import InstanceOverride, PricingOverrides
from finops_cli.pricing.parse import packaged_catalog_dir, parse_catalog, read_catalog_file
from finops_cli.pricing.rows import (
    COLUMNS,
    PROVIDERS,
    REFERENCE_REGIONS,
    CapacityType,
    InstancePrice,
    ResolvedPrice,
    attached_gpu_instance_type,
    normalize_capacity_type,
    normalize_region,
)

__all__ = [
    "COLUMNS",
    "PROVIDERS",
    "REFERENCE_REGIONS",
    "CapacityType",
    "InstanceOverride",
    "InstancePrice",
    "PriceCatalog",
    "PricingOverrides",
    "ResolvedPrice",
    "attached_gpu_instance_type",
    "load_catalog",
    "normalize_capacity_type",
    "normalize_region",
    "packaged_catalog_dir",
    "parse_catalog",
    "read_catalog_file",
]
