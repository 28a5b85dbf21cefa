"""The chargeback tests' shared set-up: the sample cluster's labels, a custom ``Period``, the
sample ledger attributed to groups, and ``build_document`` with the defaults every test uses
(USD, generated at the period's end, labelled with the period)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from finops_cli.analytics.chargeback import Period, build_document
from finops_cli.analytics.costs import CostReport, attribute_costs
from finops_cli.sources.interface import CostRequest
from finops_cli.sources.sample import SampleCostSource
from finops_cli.timewindow import Window

LABELS = {k: f"ai-finops.io/{k}" for k in ("team", "project", "model", "environment")}


def period(start: datetime, end: datetime, previous_start: datetime) -> Period:
    """A ``custom`` period ``[start, end)`` whose previous period is ``[previous_start, start)``."""
    return Period(start, end, f"{start:%Y-%m-%d}_{end:%Y-%m-%d}", "custom", previous_start, start)


def sample_report(
    start: datetime, end: datetime, keys: tuple[str, ...] = ("team",), *, seed: int = 42
) -> CostReport:
    """The sample cluster's costs over ``[start, end)`` attributed to ``keys`` (hourly steps)."""
    source = SampleCostSource(LABELS, seed=seed)
    request = CostRequest(Window(start, end, "t"), keys, {}, 3600)
    return attribute_costs(source.costs(request), keys, {}, start, end)


def chargeback_doc(
    report: CostReport,
    *,
    period: Period,
    previous: CostReport | None = None,
    by: str = "team",
    share: str = "none",
    budgets: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """``build_document`` as the tests call it; ``extra`` passes ``extras`` / ``commitments``."""
    return build_document(
        report=report,
        previous=previous,
        by=by,
        period=period,
        share_idle=share,
        currency="USD",
        generated_at=period.end,
        window_label=period.label,
        budgets=budgets or {},
        **extra,
    )
