"""Small pictures inside text: sparklines for trends, bars for shares."""

from __future__ import annotations

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
