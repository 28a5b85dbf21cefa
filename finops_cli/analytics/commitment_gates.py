"""``billing commitments --fail-on``: thresholds on what commitments cover and waste.

A gate is ``METRIC OP NUMBER`` (``utilisation<0.8``, ``coverage<60%``, ``unused>500``,
``idle>0``, ``expiring>0``); percentages may be written ``80%`` or ``0.8``. What each metric
reads, so that one gate means one thing in CI:

* ``utilisation``: every commitment's utilisation (one under-used commitment trips it);
* ``coverage``: the committed share of all GPU instance-hours that ran;
* ``unused``: the unused commitment money in total, in the bill's currency;
* ``idle``: the money lost to reservations idle while on-demand instances of their type ran;
* ``expiring``: how many commitments end in the window ahead.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from finops_cli.analytics.commitments import CommitmentReport
from finops_cli.errors import UsageError

METRICS = ("utilisation", "coverage", "unused", "idle", "expiring")
SHARES = ("utilisation", "coverage")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_GATE = re.compile(r"^\s*([a-z]+)\s*(<=|>=|<|>)\s*([0-9]+(?:\.[0-9]*)?)\s*(%?)\s*$")
ALIASES = {"utilization": "utilisation"}


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    value: float
    text: str


def parse_gate(text: str) -> Gate:
    """``utilisation<0.8`` to a ``Gate``; anything else is a one-line usage error."""
    match = _GATE.match(text.lower())
    metric = ALIASES.get(match.group(1), match.group(1)) if match else ""
    if not match or metric not in METRICS:
        raise UsageError(
            f"invalid --fail-on {text!r}: expected METRIC<NUMBER or METRIC>NUMBER with METRIC one "
            f"of {', '.join(METRICS)} (e.g. utilisation<0.8, coverage<60%, unused>500, idle>0)"
        )
    value = float(match.group(3))
    if match.group(4) == "%":
        if metric not in SHARES:
            raise UsageError(f"invalid --fail-on {text!r}: {metric} is not a percentage")
        value /= 100.0
    elif metric in SHARES and value > 1:
        value /= 100.0  # utilisation<80 means 80%
    return Gate(metric, match.group(2), value, text.strip())


def tripped(report: CommitmentReport, gates: Sequence[Gate]) -> list[str]:
    """A line per gate that trips, naming what tripped it."""
    out = []
    for gate in gates:
        compare = OPERATORS[gate.op]
        if gate.metric == "utilisation":
            who = [
                f"{c.commitment_id} {c.utilisation * 100:.1f}%"
                for c in report.commitments
                if c.utilisation is not None and compare(c.utilisation, gate.value)
            ]
            if who:
                out.append(f"{gate.text}: {', '.join(who[:5])}" + (" ..." if len(who) > 5 else ""))
            continue
        value = {
            "coverage": report.total_coverage.coverage,
            "unused": report.unused,
            "idle": report.overlap_money,
            "expiring": float(len(report.expiring)),
        }[gate.metric]
        if value is not None and compare(value, gate.value):
            shown = f"{value * 100:.1f}%" if gate.metric in SHARES else f"{value:,.2f}"
            out.append(f"{gate.text}: {gate.metric} is {shown}")
    return out
