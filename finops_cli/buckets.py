"""How a window is cut into buckets that tile ``(start, end]`` exactly, ending at ``end``.

Both sources and the query library cut the same way, so a bucket from the sample cluster and one
from Prometheus cover the same instants.
"""

from __future__ import annotations

from typing import Any

DAY_S = 86400
HOUR_S = 3600


def bucket_size(window_s: float) -> int:
    """Hourly buckets up to two months, daily beyond (keeps answers small on long windows)."""
    return HOUR_S if window_s <= 62 * DAY_S else DAY_S


def plan(start: int, end: int, bucket_s: int) -> tuple[int, int]:
    """``(full_buckets, remainder_s)``: full buckets end at ``end``; the remainder opens it."""
    full, remainder = divmod(end - start, bucket_s)
    return int(full), int(remainder)


def bucket_end(start: int, end: int, bucket_s: int, instant: Any) -> Any:
    """The end of the bucket holding ``instant`` (in ``(start, end]``; an int or an int array)."""
    return end - ((end - instant) // bucket_s) * bucket_s
