"""One typed settings object, merged from flags, ``FINOPS_*`` variables and ``finops.toml`` files.

The package, by job:

- :mod:`~finops_cli.settings.tables`: the settings tables, each setting declared once (type,
  default, check, env variable, flag, help, masking, trust guard) with ``setting(...)``;
- :mod:`~finops_cli.settings.checks`: the value checks the declarations name;
- :mod:`~finops_cli.settings.registry`: what is derived from the declarations (the env table and
  its help, the typer options and flag mapping, masking, the trust model's key sets);
- :mod:`~finops_cli.settings.loading`: reading and merging the layers into ``Settings``;
- :mod:`~finops_cli.settings.trust`: why a cloned repository's ``finops.toml`` cannot send the
  user's credentials elsewhere.

The names below are the public API; import them from ``finops_cli.settings``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from finops_cli.config_checks import ConfigError, SecretStr
    from finops_cli.settings.checks import parse_header_entries
    from finops_cli.settings.loading import APP_NAME, CONFIG_FILE_NAME, load_settings
    from finops_cli.settings.pricing import PricingOverrides
    from finops_cli.settings.registry import (
        CONFIG_ENV_VAR,
        ENVIRONMENT_VARIABLE_HELP,
        ENVIRONMENT_VARIABLES,
        settings_from_flags,
        typer_options,
    )
    from finops_cli.settings.tables import (
        BillingSettings,
        BudgetSettings,
        BudgetSpec,
        GpuStateSettings,
        LabelSettings,
        NotifySettings,
        OpenCostSettings,
        PrometheusSettings,
        Settings,
    )

# Each name is loaded from its module on first use: ``--help`` needs the declarations (for the
# shared flags) but not the loader, and importing one submodule runs this file first.
_HOMES = {
    "ConfigError": "finops_cli.config_checks",
    "SecretStr": "finops_cli.config_checks",
    "parse_header_entries": "finops_cli.settings.checks",
    "APP_NAME": "finops_cli.settings.loading",
    "CONFIG_FILE_NAME": "finops_cli.settings.loading",
    "load_settings": "finops_cli.settings.loading",
    "PricingOverrides": "finops_cli.settings.pricing",
    "CONFIG_ENV_VAR": "finops_cli.settings.registry",
    "ENVIRONMENT_VARIABLE_HELP": "finops_cli.settings.registry",
    "ENVIRONMENT_VARIABLES": "finops_cli.settings.registry",
    "settings_from_flags": "finops_cli.settings.registry",
    "typer_options": "finops_cli.settings.registry",
    **dict.fromkeys(
        (
            "BillingSettings",
            "BudgetSettings",
            "BudgetSpec",
            "GpuStateSettings",
            "LabelSettings",
            "NotifySettings",
            "OpenCostSettings",
            "PrometheusSettings",
            "Settings",
        ),
        "finops_cli.settings.tables",
    ),
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "APP_NAME",
    "CONFIG_ENV_VAR",
    "CONFIG_FILE_NAME",
    "ENVIRONMENT_VARIABLES",
    "ENVIRONMENT_VARIABLE_HELP",
    "BillingSettings",
    "BudgetSettings",
    "BudgetSpec",
    "ConfigError",
    "GpuStateSettings",
    "LabelSettings",
    "NotifySettings",
    "OpenCostSettings",
    "PricingOverrides",
    "PrometheusSettings",
    "SecretStr",
    "Settings",
    "load_settings",
    "parse_header_entries",
    "settings_from_flags",
    "typer_options",
]
