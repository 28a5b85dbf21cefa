"""User pricing overrides: negotiated discounts, private instance prices, a flat per-GPU rate.

``PricingOverrides`` is a frozen pydantic model so that the settings object can hold it as its
``[pricing]`` table as-is; validation problems then surface as the settings loader's one-line
``UsageError`` naming the file or variable. Constructed directly (tests, library use), a bad value
raises pydantic's ``ValidationError``; ``PricingOverrides.parse`` turns that into a ``UsageError``.

How these combine with the catalogs is documented in :mod:`finops_cli.pricing.catalog`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from finops_cli.errors import UsageError

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class InstanceOverride(BaseModel):
    """Private prices for one instance type; a missing price falls through to the catalogs."""

    model_config = _FROZEN

    on_demand_hourly: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    spot_hourly: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _something_set(self) -> Self:
        if self.on_demand_hourly is None and self.spot_hourly is None:
            raise ValueError("set on_demand_hourly, spot_hourly or both")
        return self


class PricingOverrides(BaseModel):
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

    model_config = _FROZEN

    discount_percent: float = Field(default=0.0, ge=0, le=100, allow_inf_nan=False)
    instance_overrides: dict[str, InstanceOverride] = Field(default_factory=dict)
    gpu_hourly: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    extra_catalog: Path | None = None

    @field_validator("discount_percent", "gpu_hourly", mode="before")
    @classmethod
    def _number_not_bool(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("must be a number")
        return value

    @field_validator("instance_overrides")
    @classmethod
    def _distinct_instance_types(
        cls, value: dict[str, InstanceOverride]
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
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False)
            first = errors[0]
            where = ".".join(str(part) for part in first["loc"]) or "pricing"
            message = first["msg"].removeprefix("Value error, ")
            more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
            raise UsageError(f"{origin}: invalid pricing.{where}: {message}{more}") from None
