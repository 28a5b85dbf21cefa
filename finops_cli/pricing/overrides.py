"""The ``[pricing]`` settings table, kept importable here for the catalog code that uses it.

The class lives in :mod:`finops_cli.settings.pricing` with the other settings tables, so that
declaring the settings (and so the CLI's options, for ``--help``) does not import the catalog
package (csv, importlib.resources) on start-up.
"""

from __future__ import annotations

from finops_cli.settings.pricing import InstanceOverride, PricingOverrides

__all__ = ["InstanceOverride", "PricingOverrides"]
