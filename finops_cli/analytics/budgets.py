"""Budgets: which applies to a row, and the status rules that turn spend into a verdict.

The rules (documented in docs/forecast.md), checked in this order:

- ``exceeded``: spend so far this month is above the budget;
- ``critical``: the month-end projection reaches ``critical_percent`` of the budget;
- ``warning``: the projection reaches ``warning_percent`` of the budget;
- ``on_track``: otherwise. A row without a budget has no status (``None``).

Before these: ``no_spend`` when the budget's team (or project) has no GPU spend at all in the
history read, today included: most often a misspelt name. It is not ``on_track`` (a typo must
never read as a team under budget) and ranks with ``warning`` for ``--fail-on``: ``--fail-on
warning`` trips on it, ``critical`` and ``exceeded`` do not.

The point projection decides, not the top of its interval: a gate that fires on the upper bound
cries wolf every month on a noisy team. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finops_cli.errors import UsageError

if TYPE_CHECKING:
    from finops_cli.settings import BudgetSettings, BudgetSpec

STATUSES = ("on_track", "warning", "critical", "exceeded")
"""Ordered from best to worst; ``--fail-on LEVEL`` trips on LEVEL and anything worse."""
NO_SPEND = "no_spend"
"""The status of a budget whose team or project spent nothing in the history: a level with
``warning`` for ``--fail-on``."""
_LEVEL = {**{s: i for i, s in enumerate(STATUSES)}, NO_SPEND: STATUSES.index("warning")}

_AMOUNT = re.compile(r"[0-9][0-9_,]*(\.[0-9]+)?|\.[0-9]+")


@dataclass(frozen=True)
class Budget:
    """A resolved monthly budget: thresholds filled in from the defaults."""

    scope: str  # "team", "project" or "total"
    name: str
    monthly: float
    warning_percent: float
    critical_percent: float
    owner: str | None
    origin: str  # "finops.toml" (any configuration source) or "--budget"


def parse_budget_flag(text: str) -> tuple[str, float]:
    """``TEAM=AMOUNT`` from ``--budget``; a one-line UsageError naming the flag otherwise."""
    team, sep, amount = text.partition("=")
    hint = "expected TEAM=AMOUNT with a positive amount, e.g. --budget nlp=25000"
    if not sep or not team.strip():
        raise UsageError(f"invalid --budget {text!r}: {hint}")
    raw = amount.strip()
    if not _AMOUNT.fullmatch(raw):
        raise UsageError(f"invalid --budget {text!r}: {hint}")
    value = float(raw.replace("_", "").replace(",", ""))
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"invalid --budget {text!r}: {hint}")
    return team.strip(), value


def resolve_budgets(
    settings: BudgetSettings, flags: dict[str, float] | None = None
) -> dict[tuple[str, str], Budget]:
    """Budgets by ``(scope, name)``: the configuration's, then ``--budget`` amounts on top.

    A ``--budget`` for a team that the configuration knows keeps that team's thresholds and owner
    and replaces only the amount, so a one-off what-if run changes one thing.
    """

    def make(scope: str, name: str, spec: BudgetSpec | None, amount: float | None) -> Budget:
        monthly = amount if amount is not None else (spec.monthly if spec else 0.0)
        return Budget(
            scope=scope,
            name=name,
            monthly=monthly,
            warning_percent=(spec.warning_percent if spec else None) or settings.warning_percent,
            critical_percent=(spec.critical_percent if spec else None) or settings.critical_percent,
            owner=spec.owner if spec else None,
            origin="--budget" if amount is not None else "finops.toml",
        )

    out: dict[tuple[str, str], Budget] = {}
    for name, spec in settings.teams.items():
        out[("team", name)] = make("team", name, spec, None)
    for name, spec in settings.projects.items():
        out[("project", name)] = make("project", name, spec, None)
    if settings.total is not None:
        out[("total", "")] = make("total", "", settings.total, None)
    for name, amount in (flags or {}).items():
        out[("team", name)] = make("team", name, settings.teams.get(name), amount)
    return out


def budget_status(
    actual: float, projected: float, budget: Budget | None, *, spent: bool = True
) -> str | None:
    """The status rule of the module docstring; ``spent``: any GPU spend in the history."""
    if budget is None:
        return None
    if not spent:
        return NO_SPEND
    if actual > budget.monthly:
        return "exceeded"
    if projected >= budget.monthly * budget.critical_percent / 100:
        return "critical"
    if projected >= budget.monthly * budget.warning_percent / 100:
        return "warning"
    return "on_track"


def at_least(status: str | None, level: str) -> bool:
    """Whether ``status`` is ``level`` or worse (a row without a budget never is;
    ``no_spend`` ranks with ``warning``)."""
    return status is not None and _LEVEL[status] >= _LEVEL[level]
