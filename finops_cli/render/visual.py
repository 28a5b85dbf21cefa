"""Small pictures inside text: sparklines for trends, bars for shares."""

from __future__ import annotations

import math
from collections.abc import Sequence

_TICKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """One character per value, scaled to the series' own maximum (zero stays the lowest tick)."""
    if not values:
        return ""
    top = max(values)
    if top <= 0:
        return _TICKS[0] * len(values)
    last = len(_TICKS) - 1
    return "".join(_TICKS[min(last, max(0, round(v / top * last)))] for v in values)


def bar(share: float, width: int = 10) -> str:
    """A horizontal bar for a share in [0, 1], in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return ("█" * full + partial).ljust(width)


def nice_ticks(peak: float, most: int = 5) -> list[float]:
    """Axis ticks from 0 to at least ``peak`` at a round step (1, 2, 2.5 or 5 times a power of
    ten), at most ``most`` steps: 0 / 1,000 / 2,000 / 3,000 rather than 0 / 690 / 1,380."""
    if peak <= 0:
        return [0.0, 1.0]
    magnitude = 10 ** math.floor(math.log10(peak / most))
    step = next(
        m * magnitude for m in (1, 2, 2.5, 5, 10, 20) if m * magnitude * most >= peak * (1 - 1e-12)
    )
    count = math.ceil(peak / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def tick_label(value: float, step: float) -> str:
    """A tick's label with as many decimals as the step needs (``2.5``, ``1,000``)."""
    decimals = 0
    while decimals < 6 and abs(round(step, decimals) - step) > 1e-9 * max(1.0, abs(step)):
        decimals += 1
    return f"{value:,.{decimals}f}"
