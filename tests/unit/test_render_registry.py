"""Every document kind a command writes has its renderers registered, and they all run.

The documents come from the use cases themselves on the sample cluster, so a new command whose
document kind is missing from ``render/registry.py`` fails here rather than on a user's ``-o csv``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from finops_cli.render.registry import RENDERERS, render
from finops_cli.settings import load_settings
from finops_cli.timewindow import Window
from finops_cli.usecases import (
    anomalies,
    billing,
    commitments,
    costs,
    forecast,
    inventory,
    plan,
    pricing,
    report,
)
from finops_cli.usecases.context import RunContext

NOW = datetime(2026, 11, 25, 6, tzinfo=UTC)


def _run(days: int = 2) -> RunContext:
    settings = load_settings({"source": "sample"}, config_file=None)
    end = datetime(2026, 11, 25, tzinfo=UTC)
    window = Window(end.replace(day=25 - days), end, f"{days}d ending 2026-11-25")
    return RunContext(settings, window, NOW, quiet=True)


def _chargeback() -> dict[str, Any]:
    run = _run()
    options = report.ChargebackOptions(month="2026-10", details=False)
    return report.chargeback(run, options, report.chargeback_period(run, options))


BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "costs": lambda: costs.costs(_run(), costs.CostsOptions()),
    "gpus": lambda: inventory.gpus(_run()),
    "rightsize": lambda: inventory.rightsize(_run()),
    "pricing": lambda: pricing.pricing_list(_run().settings, NOW),
    "pricing-explain": lambda: inventory.pricing_explain(_run()),
    "forecast": lambda: (
        forecast.forecast(_run(7), forecast.ForecastOptions(history="14d")).document
    ),
    "anomalies": lambda: (
        anomalies.anomalies(_run(), anomalies.AnomalyOptions(baseline="7d")).document
    ),
    "billing-actual": lambda: billing.billing_actual(_run(), billing.BillOptions()),
    "billing-forecast": lambda: billing.billing_forecast(
        _run(), billing.BillOptions(), granularity="monthly", prediction_interval=80
    ),
    "billing-compare": lambda: (
        billing.billing_compare(
            _run(), billing.BillOptions("AmortizedCost"), threshold=5.0, fail_on_flagged=False
        ).document
    ),
    "billing-commitments": lambda: (
        commitments.billing_commitments(_run(), commitments.CommitmentOptions()).document
    ),
    "billing-plan": lambda: plan.billing_plan(
        _run(), plan.PlanOptions(gpus=16, instance_type="p5.48xlarge", days=2)
    ),
    "chargeback": _chargeback,
}


def test_every_document_kind_is_registered() -> None:
    assert set(BUILDERS) == set(RENDERERS)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_each_kind_renders_in_each_registered_format(kind: str) -> None:
    from rich.console import Console

    document = BUILDERS[kind]()
    assert document["kind"] == kind
    assert render(document, "json").endswith("}\n")
    for fmt in RENDERERS[kind]:
        out = render(document, fmt, 100)
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(out)))
            assert rows and all(len(r) == len(rows[0]) for r in rows)
        elif fmt == "table":
            console = Console(file=io.StringIO(), width=100)
            console.print(out)
        else:
            assert out


def test_an_unregistered_format_is_a_usage_error() -> None:
    from finops_cli.errors import UsageError

    with pytest.raises(UsageError, match="cannot be written as table"):
        render({"kind": "chargeback"}, "table")
