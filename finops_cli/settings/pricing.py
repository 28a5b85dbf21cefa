"""User pricing overrides: negotiated discounts, private instance prices, a flat per-GPU rate.

``PricingOverrides`` is a frozen dataclass checked by :mod:`finops_cli.config_checks`, so that
the settings object can hold it as its ``[pricing]`` table as-is; validation problems then
surface as the settings loader's one-line ``UsageError`` naming the file or variable.
Constructed directly (tests, library use), a bad value raises ``ConfigError`` (a ``ValueError``);
``PricingOverrides.parse`` turns that into a ``UsageError``.

How these combine with the catalogs is documented in :mod:`finops_cli.pricing.catalog`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from finops_cli.config_checks import (
    Checked,
    ConfigError,
    Rule,
    number_in,
    optional,
    setting,
    settings_table,
    table_of,
    to_path,
)
from finops_cli.errors import UsageError
from finops_cli.settings.checks import NUMBER_NOT_BOOL

_PRICE = Rule(optional(number_in(ge=0)))


@settings_table
class InstanceOverride(Checked):
    """Private prices for one instance type; a missing price falls through to the catalogs."""

    on_demand_hourly: float | None = setting(None, _PRICE)
    spot_hourly: float | None = setting(None, _PRICE)

    def _check_whole(self, partial: bool) -> None:
        if self.on_demand_hourly is None and self.spot_hourly is None:
            raise ValueError("set on_demand_hourly, spot_hourly or both")


def _distinct_instance_types(
    value: dict[str, InstanceOverride],
) -> dict[str, InstanceOverride]:
    seen: dict[str, str] = {}
    for name in value:
        key = name.strip().lower()
        if not key:
            raise ValueError("instance types must not be empty")
        if key in seen:
            raise ValueError(f"{seen[key]!r} and {name!r} name the same instance type")
        seen[key] = name
    return value


@settings_table
class PricingOverrides(Checked):
    """The ``[pricing]`` settings table.

    - ``discount_percent``: a negotiated discount (e.g. an EDP) taken off on-demand *catalog*
      prices, packaged or ``extra_catalog``; never off spot prices or the overrides below.
    - ``instance_overrides``: instance type -> private ``on_demand_hourly`` / ``spot_hourly`` for
      the whole instance, used as given (no discount).
    - ``gpu_hourly``: one flat $/GPU-hour for every GPU, on-demand and spot alike; wins over
      everything else.
    - ``extra_catalog``: a CSV in the packaged catalog format whose rows replace packaged rows
      with the same instance type and region (and add new ones).
    """

    discount_percent: float = setting(
        0.0,
        Rule(number_in(ge=0, le=100), prepare=NUMBER_NOT_BOOL),
        env="FINOPS_PRICING_DISCOUNT_PERCENT",
        help="Negotiated discount (0-100) off on-demand catalog prices.",
    )
    instance_overrides: dict[str, InstanceOverride] = setting(  # file only
        dict, Rule(table_of(InstanceOverride.from_mapping), checks=(_distinct_instance_types,))
    )
    gpu_hourly: float | None = setting(
        None,
        Rule(optional(number_in(ge=0)), prepare=NUMBER_NOT_BOOL),
        env="FINOPS_PRICING_GPU_HOURLY",
        help="One flat $/GPU-hour for every GPU; wins over every catalog.",
    )
    # A redirect in the trust model: a project's catalog would set the prices the user reports.
    extra_catalog: Path | None = setting(
        None,
        Rule(optional(to_path), guard="redirect"),
        env="FINOPS_PRICING_EXTRA_CATALOG",
        help="CSV in the catalog format whose rows replace packaged ones.",
    )

    @property
    def is_empty(self) -> bool:
        """True when nothing is overridden, so catalog prices are used unchanged."""
        return (
            self.discount_percent == 0
            and not self.instance_overrides
            and self.gpu_hourly is None
            and self.extra_catalog is None
        )

    def instance_override(self, instance_type: str) -> tuple[str, InstanceOverride] | None:
        """The override for ``instance_type`` (case-insensitive) and the key it was given as."""
        wanted = instance_type.strip().lower()
        for name, override in self.instance_overrides.items():
            if name.strip().lower() == wanted:
                return name, override
        return None

    @classmethod
    def parse(cls, data: Mapping[str, Any], origin: str = "pricing overrides") -> Self:
        """Validate a plain mapping (a ``[pricing]`` TOML table), raising a one-line UsageError."""
        try:
            return cls.from_mapping(dict(data))
        except ConfigError as exc:
            first = exc.problems[0]
            where = ".".join(str(part) for part in first.loc) or "pricing"
            count = len(exc.problems)
            more = f" (and {count - 1} more problem(s))" if count > 1 else ""
            raise UsageError(f"{origin}: invalid pricing.{where}: {first.reason}{more}") from None
