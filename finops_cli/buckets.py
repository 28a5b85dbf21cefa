"""How a window is cut into buckets: aligned to UTC hours or days, tiling ``(start, end]``.

Full buckets sit on multiples of the bucket size (so a daily bucket is a UTC day); a window that
starts or ends between boundaries gets a partial bucket at either edge. Both sources cut the
same way, so a bucket from the sample cluster and one from Prometheus cover the same instants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DAY_S = 86400
HOUR_S = 3600


def bucket_size(window_s: float) -> int:
    """Hourly buckets up to two months, daily beyond (keeps answers small on long windows).

    Not daily throughout, though costs show nothing finer than a day: a bucket is the smallest
    piece a query the server refuses as too big can be cut into, and a fleet's whole day can be
    over a limit (Prometheus' --query.max-samples) where its hours are not."""
    return HOUR_S if window_s <= 62 * DAY_S else DAY_S


@dataclass(frozen=True)
class BucketPlan:
    """Full buckets end at ``first_full_end``, ``+ bucket_s``, ... ``last_full_end``;
    ``partials`` are ``(end, length_s)`` of the edge buckets shorter than ``bucket_s``."""

    bucket_s: int
    first_full_end: int | None
    last_full_end: int | None
    partials: tuple[tuple[int, int], ...]


def plan(start: int, end: int, bucket_s: int) -> BucketPlan:
    first_boundary = -(-start // bucket_s) * bucket_s
    last_boundary = end // bucket_s * bucket_s
    if first_boundary >= end:
        return BucketPlan(bucket_s, None, None, ((end, end - start),))
    partials = []
    if first_boundary > start:
        partials.append((first_boundary, first_boundary - start))
    if end > last_boundary:
        partials.append((end, end - last_boundary))
    first_full = first_boundary + bucket_s
    if first_full > last_boundary:
        return BucketPlan(bucket_s, None, None, tuple(partials))
    return BucketPlan(bucket_s, first_full, last_boundary, tuple(partials))


def bucket_end(start: int, end: int, bucket_s: int, instant: Any) -> Any:
    """The end of the bucket holding ``instant`` (in ``(start, end]``; an int or an int array)."""
    aligned = -(-instant // bucket_s) * bucket_s
    if isinstance(aligned, int):
        return min(aligned, end)
    import numpy as np

    return np.minimum(aligned, end)
