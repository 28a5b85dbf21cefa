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
